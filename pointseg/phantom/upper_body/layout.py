"""Placing the whole spine: per-level sizes C1..L5, the curved centreline (cervical lordosis, thoracic
kyphosis, lumbar lordosis, scoliosis), the frames of every vertebra, the sacrum and the pelvis.

Body coordinates are millimetres with the origin at the centre of the S1 top endplate, x to the patient's
right, y anterior, z superior. The trunk frame places them in the world (the patient's shift and yaw);
each vertebra has its own frame on the centreline with u to the right, v anterior and w along the tangent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointseg.phantom.geometry import Frame, rot
from pointseg.phantom.spine_parts import Centreline, SacralGeometry, curve_frame
from pointseg.phantom.upper_body.anatomy import CERVICAL_DEG, KYPHOSIS_DEG, LORDOSIS_DEG, SPINE, SPINE_TABLE
from pointseg.phantom.upper_body.params import UpperBodyParams

MEAN_SACRAL_SLOPE_DEG = 28.0


@dataclass(frozen=True)
class VertebraGeometry:
    """Sizes of one vertebra in mm (``SPINE_TABLE`` times the case's scale and jitter); see the table."""

    name: str
    a: float
    b: float
    hh: float
    disc: float
    cw: float
    pw: float
    tp: float
    tpb: float
    spl: float
    sph: float
    drop: float
    beta: float
    lam: float

    @property
    def region(self) -> str:
        """"C", "T" or "L"."""
        return self.name[0]


@dataclass
class SpineLevel:
    """One vertebra placed on the spine."""

    name: str
    g: VertebraGeometry
    s: float               # arc length of the body centre above the S1 top endplate (mm)
    c_body: np.ndarray     # centre in body coordinates
    frame: Frame           # world frame


@dataclass
class SpineLayout:
    """The spine, sacrum and pelvis of one case."""

    trunk: Frame           # body coordinates -> world
    levels: list[SpineLevel]
    curve: Centreline      # in body coordinates
    sacrum: Frame          # origin S1 top endplate centre, w along the sacral axis (world)
    pelvis: Frame          # same origin, w vertical up to the pelvic tilt (world)
    sacral: SacralGeometry

    def level(self, name: str) -> SpineLevel:
        """The level called ``name`` ("C1" .. "L5")."""
        return self.levels[SPINE.index(name)]

    def to_body(self, frame: Frame, p) -> np.ndarray:
        """Body coordinates of the local point ``p`` of ``frame``."""
        world = frame.o + frame.R @ np.asarray(p, float)
        return self.trunk.R.T @ (world - self.trunk.o)

    def in_frame(self, frame: Frame) -> Frame:
        """``frame`` (world) expressed in body coordinates."""
        return Frame(self.trunk.R.T @ (frame.o - self.trunk.o), self.trunk.R.T @ frame.R)

    def axis_at(self, z) -> tuple[np.ndarray, np.ndarray]:
        """x and y (body coordinates) of the spine's centreline at heights ``z``."""
        order = np.argsort(self.curve.pos[:, 2])
        zs = self.curve.pos[order, 2]
        return (np.interp(z, zs, self.curve.pos[order, 0]), np.interp(z, zs, self.curve.pos[order, 1]))


def vertebra_geometry(p: UpperBodyParams) -> list[VertebraGeometry]:
    """Sizes of C1..L5 for this case."""
    sc, out = p.build.scale, []
    for n, name in enumerate(SPINE):
        a, b, h, disc, cw, pw, tp, tpb, spl, sph, drop, beta, lam = SPINE_TABLE[name]
        ja, jb, jh = p.spine.level_jitter[n]
        out.append(VertebraGeometry(name, a * sc * ja, b * sc * jb, 0.5 * h * sc * jh,
                                    disc * sc * p.spine.disc_jitter[n], cw * sc, pw * sc, tp * sc * ja, tpb * sc,
                                    spl * sc, sph * sc, drop * sc, beta, lam * sc))
    return out


def arc_lengths(geo: list[VertebraGeometry]) -> list[float]:
    """Arc length of each body centre above the S1 top endplate, stacking bodies and discs upward."""
    s = [0.0] * len(geo)
    s[-1] = geo[-1].disc + geo[-1].hh
    for n in range(len(geo) - 2, -1, -1):
        s[n] = s[n + 1] + geo[n + 1].hh + geo[n].disc + geo[n].hh
    return s


def _bend(s, s0, s1, total_deg):
    """Tangent angle gained along [s0, s1] with a sine-shaped curvature (zero at both ends), in radians."""
    u = np.clip((s - s0) / max(s1 - s0, 1.0), 0.0, 1.0)
    return math.radians(total_deg) * 0.5 * (1.0 - np.cos(np.pi * u))


def centreline(p: UpperBodyParams, geo: list[VertebraGeometry], s: list[float]) -> Centreline:
    """Spine centreline in body coordinates, every 0.5 mm of arc length from the sacrum to above C1.

    The sagittal tangent angle falls by the lordosis from S1 to the top of L1, rises by the kyphosis to the
    top of T1 and falls by the cervical lordosis to the top of C2; its value at S1 is chosen so that C7 lies
    ``balance_mm`` in front of S1. The scoliosis is a C (or S) shaped lateral offset from L4 to T1.
    """
    top = {name: s[n] + geo[n].hh for n, name in enumerate(SPINE)}
    sp = p.spine
    arc = np.arange(-160.0, s[0] + 40.0, 0.5)
    rel = (_bend(arc, 0.0, top["L1"], -LORDOSIS_DEG * sp.lordosis)
           + _bend(arc, top["L1"], top["T1"], KYPHOSIS_DEG * sp.kyphosis)
           + _bend(arc, top["T1"], top["C2"], -CERVICAL_DEG * sp.cervical))
    s_lo, s_hi = s[SPINE.index("L4")], s[SPINE.index("T1")]
    u = np.clip((arc - s_lo) / (s_hi - s_lo), 0.0, 1.0)
    shape = np.sin(2 * np.pi * u) * np.sin(np.pi * u) if sp.scoliosis_double else np.sin(np.pi * u) ** 2
    x = sp.scoliosis_mm * shape
    dx = np.clip(np.gradient(x, arc), -0.5, 0.5)
    c = np.sqrt(1.0 - dx * dx)
    i0, i7 = int(np.argmin(np.abs(arc))), int(np.argmin(np.abs(arc - s[SPINE.index("C7")])))
    thetas = np.radians(np.linspace(0.0, 60.0, 121))
    reach = [np.trapezoid(np.sin(t0 + rel[i0:i7 + 1]) * c[i0:i7 + 1], arc[i0:i7 + 1]) for t0 in thetas]
    theta0 = float(np.interp(sp.balance_mm, reach, thetas))
    phi = theta0 + rel
    t = np.stack([dx, np.sin(phi) * c, np.cos(phi) * c], axis=1)
    pos = np.concatenate([[[0.0, 0.0, 0.0]], np.cumsum(0.5 * (t[1:] + t[:-1]) * 0.5, axis=0)])
    pos -= pos[i0]
    return Centreline(arc, pos, t)


def spine_layout(p: UpperBodyParams) -> SpineLayout:
    """Place C1..L5, the sacrum and the pelvis along the spine curve."""
    geo = vertebra_geometry(p)
    s = arc_lengths(geo)
    curve = centreline(p, geo, s)
    trunk = Frame(np.asarray(p.shift_mm, float), rot(2, p.yaw_deg))

    def to_world(c, R):
        return Frame(trunk.o + trunk.R @ c, trunk.R @ R)

    levels = []
    for n, g in enumerate(geo):
        xs = float(np.interp(s[n], curve.s, curve.pos[:, 0]))
        c, R = curve_frame(curve, s[n], p.spine.axial_rot_deg[n] + 0.4 * xs)
        levels.append(SpineLevel(g.name, g, s[n], c, to_world(c, R)))
    c1, R1 = curve_frame(curve, 0.0, 0.0)
    l5 = geo[-1]
    sacral = SacralGeometry(a=0.97 * l5.a, b=0.95 * l5.b, hh=14.0 * p.build.scale, cw=l5.cw, beta=50.0)
    pelvis_R = R1 @ rot(0, MEAN_SACRAL_SLOPE_DEG + p.pelvic_tilt_deg)     # turns with the sacrum
    return SpineLayout(trunk, levels, curve, to_world(c1, R1), to_world(c1, pelvis_R), sacral)
