"""Hip bones and femora.

Each hip bone is built in the pelvis frame (origin at the S1 top endplate, ``layout``): a fan-shaped
iliac wing from the crest down to the acetabulum, the acetabular cup around the femoral head, the pubic
rami meeting at the symphysis, the ischium with its tuberosity (the obturator foramen is the gap between
them) and the sacroiliac part along the sacrum. The femur has its head in the cup, the neck, the
trochanters and the shaft down to mid-thigh, with marrow inside the shaft.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pointseg.labels import LabelSet
from pointseg.phantom.geometry import Box, Capsule, Ellipsoid, Fn, Reframe, sd_ellipse
from pointseg.phantom.render import Bone, Canvas, paint_bone, paint_solid
from pointseg.phantom.sampling import BoneDensity
from pointseg.phantom.spine_parts import si_mass
from pointseg.phantom.upper_body.anatomy import HU_MARROW
from pointseg.phantom.upper_body.layout import SpineLayout
from pointseg.phantom.upper_body.params import UpperBodyParams
from pointseg.phantom.upper_body.thorax import SIDES

FEMUR_LENGTH_MM = 320.0      # shaft below the greater trochanter (the field of view ends above its end)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


@dataclass
class Hip:
    """One side's hip joint and femur, in the pelvis frame."""

    sgn: float
    centre: np.ndarray        # acetabulum = femoral head centre
    head_r: float
    neck: np.ndarray          # unit direction of the femoral neck
    shaft_top: np.ndarray
    shaft: np.ndarray         # unit direction of the shaft (down)
    symphysis: np.ndarray


def hips(lay: SpineLayout, p: UpperBodyParams) -> list[Hip]:
    """Both hip joints and femora of this case (pelvis frame; the shafts hang down in the body)."""
    sc, out = p.build.scale, []
    to_pelvis = lay.pelvis.R.T @ lay.trunk.R
    for n, sgn in enumerate((1.0, -1.0)):
        centre = np.array([sgn * 90.0, 30.0, -100.0]) * sc
        neck = _unit((sgn * 0.77, 0.18, -0.6))
        ab = math.radians(p.limbs.hip_abduction_deg[n])
        shaft = to_pelvis @ _unit((-sgn * (0.12 - math.sin(ab)), 0.06, -1.0))
        top = centre + np.array([sgn * 50.0, -2.0, -42.0]) * sc
        out.append(Hip(sgn, centre, 24.0 * sc, neck, top, shaft, np.array([0.0, 75.0, -128.0]) * sc))
    return out


CREST_MM = 38.0       # height of the iliac crest above the S1 top endplate (pelvis frame)


def wing_section(sc: float, w):
    """The iliac wing's axial ellipse at height ``w`` (pelvis frame): lateral centre, A-P centre, semi-axes.

    It narrows and moves out going down from the crest, so the wing flares like a fan seen from the front.
    """
    depth = np.maximum(CREST_MM * sc - w, 0.0)
    return 0.3 * depth, 20.0 * sc, 128.0 * sc - 0.72 * depth, 75.0 * sc - 0.22 * depth


def _wing(sc: float, sgn: float) -> Fn:
    """Iliac wing: a shell around ``wing_section``, thick at the crest and above the acetabulum."""
    wc, w_low = CREST_MM * sc, -78.0 * sc

    def fn(u, v, w):
        su = sgn * u
        cu, cv, a, b = wing_section(sc, w)
        depth = np.maximum(wc - w, 0.0)
        de = sd_ellipse(su - cu, v - cv, a, b)
        thick = 1.8 + 2.4 * np.clip(1.0 - depth / 15.0, 0.0, 1.0) + 0.15 * np.maximum(depth - 60.0 * sc, 0.0)
        d = np.abs(de) - thick
        top = wc - 0.008 / sc * (v - 8.0 * sc) ** 2
        front = v - (52.0 * sc - 0.1 * depth)
        back = (0.6 * np.maximum(depth - 75.0 * sc, 0.0) - 48.0 * sc) - v      # the greater sciatic notch
        lim = np.maximum(np.maximum(w - top, w_low - w), np.maximum(25.0 * sc - su, np.maximum(front, back)))
        return np.maximum(d, lim)

    lo = np.array([min(sgn * 20.0, sgn * 145.0) * sc, -60.0 * sc, w_low])
    hi = np.array([max(sgn * 20.0, sgn * 145.0) * sc, 60.0 * sc, wc + 2.0])
    return Fn(fn, lo, hi)


def _cup(hip: Hip) -> Fn:
    """Acetabular wall: a ball around the head cut by the plane of the socket's opening."""
    c, r = hip.centre, hip.head_r + 14.0
    opening = _unit((hip.sgn * 1.0, 0.35, -0.55))

    def fn(u, v, w):
        du, dv, dw = u - c[0], v - c[1], w - c[2]
        ball = np.sqrt(du * du + dv * dv + dw * dw) - r
        return np.maximum(ball, du * opening[0] + dv * opening[1] + dw * opening[2] - 5.0)

    return Fn(fn, c - r, c + r)


def _hip_prims(lay: SpineLayout, hip: Hip, sc: float) -> tuple[list, list]:
    """Prims of one hip bone (pelvis frame) and the socket to carve."""
    sgn, c, sy = hip.sgn, hip.centre, hip.symphysis
    side = np.array([sgn, 1.0, 1.0])
    tuberosity = c + np.array([-sgn * 25.0, -25.0, -58.0]) * sc
    M = lay.pelvis.R.T @ lay.sacrum.R
    prims = [_wing(sc, sgn), _cup(hip),
             Capsule(side * np.array([76.0, 22.0, -52.0]) * sc, c + np.array([-sgn * 2.0, -4.0, 20.0]) * sc, 17.0 * sc),
             Capsule(c + np.array([-sgn * 10.0, -18.0, 5.0]) * sc, tuberosity, 15.0 * sc, 11.0 * sc),
             Ellipsoid(tuberosity, np.array([12.0, 16.0, 18.0]) * sc),
             Capsule(c + np.array([-sgn * 14.0, 18.0, -8.0]) * sc, sy + np.array([sgn * 14.0, -4.0, 8.0]) * sc,
                     11.0 * sc, 9.0 * sc),
             Box(sy + np.array([sgn * 12.5, 0.0, -8.0]) * sc, np.array([9.5, 8.0, 22.0]) * sc, 5.0),
             Capsule(sy + np.array([sgn * 14.0, -6.0, -26.0]) * sc, tuberosity + np.array([sgn * 3.0, 8.0, -5.0]) * sc,
                     7.0 * sc, 7.5 * sc),
             Reframe(si_mass(lay.sacral, sc, sgn), M)]
    socket = Capsule(c, c, hip.head_r + 2.0)
    return prims, [socket]


def _femur_prims(hip: Hip, sc: float) -> list:
    """Head, neck, trochanters and shaft (pelvis frame)."""
    c, sgn, top, d = hip.centre, hip.sgn, hip.shaft_top, hip.shaft
    return [Capsule(c, c, hip.head_r),
            Capsule(c, c + hip.neck * 48.0 * sc, 15.0 * sc, 17.0 * sc),
            Ellipsoid(c + np.array([sgn * 58.0, -6.0, -12.0]) * sc, np.array([14.0, 19.0, 24.0]) * sc),
            Capsule(c + hip.neck * 40.0 * sc, top + d * 30.0 * sc, 16.0 * sc, 15.0 * sc),
            Ellipsoid(top + d * 35.0 * sc + np.array([-sgn * 14.0, -8.0, 0.0]) * sc, np.array([8.0, 8.0, 10.0]) * sc),
            Capsule(top, top + d * FEMUR_LENGTH_MM * sc, 15.0 * sc, 13.5 * sc)]


def femur_top(lay: SpineLayout, hip: Hip) -> float:
    """Highest body-coordinate z of the femur (the top of its head or of the greater trochanter)."""
    tops = [hip.centre + np.array([0.0, 0.0, hip.head_r]),
            hip.centre + np.array([hip.sgn * 58.0, -6.0, 12.0]) * (hip.head_r / 24.0)]
    return max(float(lay.to_body(lay.pelvis, q)[2]) for q in tops)


def paint_pelvis(cv: Canvas, lay: SpineLayout, all_hips: list[Hip], dens: BoneDensity, labels: LabelSet, sc: float):
    """Hip bones and femora (labelled), with marrow in the femoral shafts."""
    for hip in all_hips:
        side = SIDES[hip.sgn]
        prims, socket = _hip_prims(lay, hip, sc)
        paint_bone(cv, Bone(lay.pelvis, prims, labels.id_of(f"hip_{side}"), tuple(socket), k=5.0),
                   replace(dens, t_cort=1.4))
    for hip in all_hips:
        paint_bone(cv, Bone(lay.pelvis, _femur_prims(hip, sc), labels.id_of(f"femur_{SIDES[hip.sgn]}"), k=4.0), dens)
        top, d = hip.shaft_top, hip.shaft
        paint_solid(cv, lay.pelvis, [(Capsule(top + d * 60.0 * sc, top + d * (FEMUR_LENGTH_MM - 10.0) * sc, 8.5 * sc),
                                      HU_MARROW)])

