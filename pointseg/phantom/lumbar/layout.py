"""Placing the spine: per-level geometry, the curved centreline, the frames of T11..L5, discs, sacrum and
pelvis, and the grid of the field of view.

World coordinates are RAS millimetres with the centre of L3 near the origin. The body frame is the
spine's (L3 centre, global rotation); each vertebra has its own frame on the centreline with u to the
right, v anterior and w along the tangent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pointseg.phantom.geometry import Frame, rot
from pointseg.phantom.lumbar.anatomy import FOV_Y_CENTRE, FOV_Z_CENTRE, LEVELS
from pointseg.phantom.lumbar.params import FovCut, PhantomConfig, PhantomParams
from pointseg.phantom.render import Canvas
from pointseg.phantom.spine_parts import LEVEL_TABLE, Centreline, SacralGeometry, curve_frame


@dataclass(frozen=True)
class LevelGeometry:
    """Sizes of one vertebra in mm (``LEVEL_TABLE`` times the case's scale and jitter).

    Attributes
    ----------
    name : str
        "T11" .. "L5".
    a, b, hh : float
        Body semi-width (R-L), semi-depth (A-P) and half height.
    disc : float
        Height of the disc below.
    cw, pw : float
        Canal half-width and pedicle half-width.
    tp, tpb : float
        Transverse process tip: distance from the midline and backward offset.
    spl, sph : float
        Spinous process length and half-height.
    beta : float
        Facet joint angle to the sagittal plane, degrees.
    thoracic : bool
        T11 and T12 (they carry ribs).
    """

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
    beta: float
    thoracic: bool


@dataclass
class Level:
    """One vertebra placed on the spine."""

    name: str
    g: LevelGeometry      # geometry in mm
    s: float              # arc length of the body centre (mm, L3 = 0)
    c_body: np.ndarray    # body-frame centre
    frame: Frame          # world frame


@dataclass
class Disc:
    """An intervertebral disc: its frame (mid-gap), the geometry above and below, and the half gap (mm)."""

    frame: Frame
    upper: LevelGeometry
    lower: LevelGeometry | SacralGeometry
    half_gap: float


@dataclass
class Layout:
    """Frames of everything that follows the spine."""

    levels: list[Level]
    body: Frame           # body frame: L3 centre, global rotation
    trunk: Frame          # trunk frame: L3 centre, rotation about S-I only (torso, viscera)
    sacrum: Frame         # origin S1 top endplate centre, w along the sacral axis
    pelvis: Frame         # origin S1 top endplate centre, w vertical (+ tilt)
    discs: list[Disc]     # T11-T12 .. L5-S1
    curve: Centreline
    sacral: SacralGeometry

    def level(self, name: str) -> Level:
        """The level called ``name`` ("T11" .. "L5")."""
        return next(lv for lv in self.levels if lv.name == name)


def level_geometry(p: PhantomParams) -> list[LevelGeometry]:
    """Sizes of T11..L5 for this case."""
    sc = p.scale
    out = []
    for n, name in enumerate(LEVELS):
        a, b, h, disc, cw, pw, tp, tpb, spl, sph, beta = LEVEL_TABLE[name]
        ja, jb, jh = p.level_jitter[n]
        out.append(LevelGeometry(name=name, a=a * sc * ja, b=b * sc * jb, hh=0.5 * h * sc * jh,
                                 disc=disc * sc * p.disc_jitter[n], cw=cw * sc, pw=pw * sc, tp=tp * sc * ja,
                                 tpb=tpb * sc, spl=spl * sc, sph=sph * sc, beta=beta,
                                 thoracic=name.startswith("T")))
    return out


def centreline(p: PhantomParams, s_lo: float, s_hi: float, s_base: float, s_top: float) -> Centreline:
    """Spine centreline in the body frame, sampled every 0.5 mm of arc length.

    The sagittal tangent angle gives lordosis with its apex at L3 (s = 0); the
    lateral offset is a smooth C-shaped scoliosis between ``s_base`` (top of
    S1, which stays in the midline) and ``s_top``.
    """
    s = np.arange(s_lo, s_hi + 0.5, 0.5)
    L = p.lordosis
    phi = np.radians(L * np.where(s < 0, -0.17 * s + 0.0013 * s * s, -0.15 * s))
    span = (s - s_base) / max(s_top - s_base, 1.0)
    x = p.scoliosis_mm * np.sin(np.pi * np.clip(span, 0.0, 1.0)) ** 2
    dx = np.clip(np.gradient(x, s), -0.5, 0.5)
    c = np.sqrt(1.0 - dx * dx)
    t = np.stack([dx, np.sin(phi) * c, np.cos(phi) * c], axis=1)
    pos = np.concatenate([[[0.0, 0.0, 0.0]], np.cumsum(0.5 * (t[1:] + t[:-1]) * 0.5, axis=0)])
    pos -= np.array([np.interp(0.0, s, pos[:, d]) for d in range(3)])
    return Centreline(s, pos, t)


def _arc_lengths(geo: list[LevelGeometry]) -> tuple[list[float], float]:
    """Arc length of each body centre (L3 = 0) and of the S1 top endplate, stacking bodies and discs."""
    i3 = LEVELS.index("L3")
    s = [0.0] * len(geo)
    for n in range(i3 - 1, -1, -1):
        s[n] = s[n + 1] + geo[n + 1].hh + geo[n].disc + geo[n].hh
    for n in range(i3 + 1, len(geo)):
        s[n] = s[n - 1] - geo[n - 1].hh - geo[n - 1].disc - geo[n].hh
    return s, s[-1] - geo[-1].hh - geo[-1].disc


def layout(p: PhantomParams) -> Layout:
    """Place T11..L5, discs, sacrum and pelvis along the spine curve."""
    geo = level_geometry(p)
    s, s_s1 = _arc_lengths(geo)
    curve = centreline(p, s_s1 - 140.0, s[0] + 60.0, s_s1, s[0] + 20.0)
    rx, ry, rz = p.global_rot_deg
    Rg = rot(2, rz) @ rot(1, ry) @ rot(0, rx)
    tg = np.asarray(p.shift_mm, float)

    def to_world(c, R):
        return Frame(Rg @ c + tg, Rg @ R)

    levels = []
    for n, g in enumerate(geo):
        xs = float(np.interp(s[n], curve.s, curve.pos[:, 0]))
        c, R = curve_frame(curve, s[n], p.axial_rot_deg[n] + 0.4 * xs)
        levels.append(Level(g.name, g, s[n], c, to_world(c, R)))
    c1, R1 = curve_frame(curve, s_s1, 0.0)
    sacral = SacralGeometry(a=0.97 * geo[-1].a, b=0.95 * geo[-1].b, hh=14.0 * p.scale, cw=geo[-1].cw, beta=50.0)
    discs = _discs(levels, curve, s_s1, sacral, to_world)
    pelvis = to_world(c1, rot(0, p.pelvic_tilt_deg))
    trunk = Frame(tg, rot(2, rz))
    return Layout(levels, Frame(tg, Rg), trunk, to_world(c1, R1), pelvis, discs, curve, sacral)


def _discs(levels: list[Level], curve: Centreline, s_s1: float, sacral: SacralGeometry, to_world) -> list[Disc]:
    """The discs T11-T12 .. L5-S1, framed at the middle of each gap."""
    discs = []
    for n, up in enumerate(levels):
        lo_g = levels[n + 1].g if n + 1 < len(levels) else replace(sacral, hh=0.0)
        s_lo = levels[n + 1].s if n + 1 < len(levels) else s_s1
        s_mid = 0.5 * ((up.s - up.g.hh) + (s_lo + lo_g.hh))
        c, R = curve_frame(curve, s_mid, 0.0)
        discs.append(Disc(to_world(c, R), up.g, lo_g, 0.5 * up.g.disc))
    return discs


def make_canvas(cfg: PhantomConfig, lay: Layout, cut: FovCut | None) -> tuple[Canvas, float | None]:
    """Grid of the field of view, cut along S-I through L1 or L5 if drawn; also the world z (mm) of the cut."""
    sp = np.asarray(cfg.spacing, float)
    fov = np.asarray(cfg.fov_mm, float)
    shape = np.maximum(np.round(fov / sp).astype(int), 1)
    centre = np.array([0.0, FOV_Y_CENTRE, FOV_Z_CENTRE])
    origin = centre - (shape - 1) / 2.0 * sp
    if cut is None:
        return Canvas(shape, sp, origin), None
    lv = lay.level(cut.vertebra)
    z_cut = float(lv.frame.o[2] + cut.fraction * 2.0 * lv.g.hh)
    if cut.vertebra == "L1":
        shape[2] = int(np.clip(np.floor((z_cut - origin[2]) / sp[2]) + 1, 1, shape[2]))
    else:
        k0 = int(np.clip(np.ceil((z_cut - origin[2]) / sp[2]), 0, shape[2] - 1))
        origin[2] += k0 * sp[2]
        shape[2] -= k0
    return Canvas(shape, sp, origin), z_cut
