"""Spine parts both phantoms build on: the reference sizes of T11..L5, the centreline and the frames along it,
the sizes of S1, the articular processes beside a facet joint plane, and the sacrum's plate, canal and
sacroiliac mass (signed distances in mm, like ``geometry``).

The lumbar phantom (``lumbar``) places and paints exactly these levels; the upper body (``upper_body``) takes
the rows of T11..L5 into its own table of C1..L5 and builds its sacrum and sacroiliac joints from the same
pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointseg.phantom.geometry import Box, Fn, Frame, HalfClip, extrude, rot, round2, sd_ellipse

# Per level: body semi-width a, semi-depth b, body height, disc below, canal
# half-width, pedicle half-width, TP tip distance from midline, TP backward
# offset, spinous length, spinous half-height, facet angle to sagittal (deg).
LEVEL_TABLE = {
    "T11": (17.5, 14.0, 22.0, 7.0, 8.5, 3.5, 30.0, 16.0, 28.0, 8.0, 15.0),
    "T12": (19.0, 14.5, 23.5, 8.0, 9.0, 3.5, 24.0, 10.0, 28.0, 8.5, 20.0),
    "L1": (20.5, 15.0, 25.0, 9.0, 10.5, 3.5, 32.0, 10.0, 30.0, 9.0, 25.0),
    "L2": (22.0, 15.8, 26.5, 10.0, 11.0, 4.0, 38.0, 10.0, 31.0, 10.0, 30.0),
    "L3": (23.5, 16.5, 27.5, 11.0, 11.5, 4.5, 44.0, 9.0, 31.0, 10.0, 35.0),
    "L4": (25.0, 17.2, 28.5, 11.5, 12.0, 5.5, 41.0, 8.0, 29.0, 9.5, 42.0),
    "L5": (26.0, 18.0, 29.0, 10.0, 12.5, 7.0, 38.0, 6.0, 24.0, 7.5, 48.0),
}


# ----------------------------------------------------- S1, centreline, frames
@dataclass(frozen=True)
class SacralGeometry:
    """Sizes of S1 in mm: body semi-axes a, b, half height hh, canal half-width cw, facet angle beta (deg)."""

    a: float
    b: float
    hh: float
    cw: float
    beta: float


@dataclass
class Centreline:
    """Spine centreline in the body frame: arc length ``s`` (mm; 0 at L3 in the lumbar phantom, at the S1 top
    endplate in the upper body), positions ``pos`` and tangents ``t`` (both (N, 3))."""

    s: np.ndarray
    pos: np.ndarray
    t: np.ndarray


def curve_frame(curve: Centreline, s: float, axial_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Body-frame centre and axes (u right, v anterior, w along the tangent)."""
    c = np.array([np.interp(s, curve.s, curve.pos[:, d]) for d in range(3)])
    t = np.array([np.interp(s, curve.s, curve.t[:, d]) for d in range(3)])
    t /= np.linalg.norm(t)
    a = np.array([0.0, 1.0, 0.0]) - t[1] * t
    a /= np.linalg.norm(a)
    r = np.cross(a, t)
    return c, np.stack([r, a, t], axis=1) @ rot(2, axial_deg)


# ----------------------------------------------------------- facet joints
def plane_in(src: Frame, dst: Frame, point, normal):
    """Express a plane given in frame ``src`` in frame ``dst``."""
    pw, nw = src.o + src.R @ point, src.R @ normal
    return dst.R.T @ (pw - dst.o), dst.R.T @ nw


def facet(joint, w0, w1, superior: bool, gap: float = 1.2):
    """Articular process beside a facet joint plane ``joint`` = (point, normal) in the vertebra's frame.

    The superior process lies on the +normal side, the inferior one on the
    -normal side; both are clipped to keep a ``gap`` (mm) along the plane.
    """
    point, normal = (np.asarray(x, float) for x in joint)
    normal = normal / np.linalg.norm(normal)
    e = np.cross(normal, [0.0, 0.0, 1.0])
    e /= np.linalg.norm(e)
    axes = np.stack([e, normal, np.cross(e, normal)], axis=1)
    sign = 1.0 if superior else -1.0
    c = point + sign * (0.5 * gap + 2.6) * normal
    c[2] = 0.5 * (w0 + w1)
    box = Box(c, (6.0, 2.6, 0.5 * (w1 - w0)), 1.5, axes)
    return HalfClip(box, point, -sign * normal, 0.5 * gap)


# ------------------------------------------------------------------ sacrum
def _sacral_outline(sg: SacralGeometry, sc: float):
    """Half-width, front and back (mm) of the sacral plate as functions of (u, w)."""
    b1, a1 = sg.b, sg.a
    w_top, kk = 52.0 * sc, 0.0022 / sc

    def half_width(w, v):
        return np.maximum(w_top + 0.38 * w, 10.0 * sc) + 0.3 * (v - kk * w * w + 0.5 * b1)

    def front(au, w):
        return 0.5 * b1 - 0.25 * np.maximum(au - a1, 0.0) - 0.004 / sc * au * au + kk * w * w

    def back(au, w):
        return -(b1 + 20.0 * sc) + 0.006 / sc * au * au - 0.12 * w + kk * w * w

    return half_width, front, back


def sacral_wedge(sg: SacralGeometry, sc: float):
    """Sacral plate with alae: tapers and curves anteriorly going down."""
    half_width, front, back = _sacral_outline(sg, sc)
    w_top, length = 52.0 * sc, 105.0 * sc

    def fn(u, v, w):
        au = np.abs(u)
        d = round2(au - half_width(w, v), np.maximum(v - front(au, w), back(au, w) - v), 4.0)
        return np.maximum(d, np.maximum(w - (-3.0 - 0.15 * au), -length - w))

    return Fn(fn, (-w_top, -(sg.b + 22.0 * sc), -length), (w_top, sg.b + 30.0, 0.0))


def sacral_canal(sg: SacralGeometry, sc: float):
    """Sacral canal, narrowing going down (carved out of the sacrum)."""
    b1, kk = sg.b, 0.0022 / sc

    def fn(u, v, w):
        f = np.clip(1.0 + w / (100.0 * sc), 0.4, 1.0)
        vc = -(b1 + 8.0 * sc) - 0.06 * w + kk * w * w
        d2 = sd_ellipse(u, v - vc, 11.0 * sc * f, 5.5 * sc * f)
        return extrude(d2, np.abs(w + 45.0 * sc) - 55.0 * sc)

    return Fn(fn, (-12.0 * sc, -(b1 + 16.0 * sc), -100.0 * sc), (12.0 * sc, 10.0, 10.0 * sc))


def si_mass(sg: SacralGeometry, sc: float, sgn: float):
    """Sacroiliac part of the ilium along the lateral border of the sacrum."""
    half_width, front, back = _sacral_outline(sg, sc)

    def fn(u, v, w):
        hw = half_width(w, v) + 2.5
        su = sgn * u
        au = np.minimum(np.abs(u), 60.0 * sc)
        d = round2(np.maximum(hw - su, su - hw - 24.0 * sc),
                   np.maximum(v - front(au, w) + 4.0, back(au, w) - 10.0 - v), 8.0)
        return round2(d, np.maximum(w + 5.0, -70.0 * sc - w), 5.0)

    lo = np.array([min(sgn * 20.0, sgn * 90.0), -80.0, -75.0 * sc])
    hi = np.array([max(sgn * 20.0, sgn * 90.0), 40.0, 0.0])
    return Fn(fn, lo, hi)
