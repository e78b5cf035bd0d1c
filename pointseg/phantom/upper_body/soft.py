"""Soft tissue of the upper body: skin, subcutaneous fat and muscle of the trunk, arms and thighs; the body
cavity (mediastinal and visceral fat); discs, spinal canal, psoas and iliacus.

The trunk and the cavity are stacks of axial ellipses (wider behind or in front of their centre) whose
parameters follow the skeleton along S-I, smoothed, one value per slice. The trunk frame only turns about
S-I, so a slab of slices needs (I, J, 1) in-plane and (1, 1, K) height coordinates: the whole volume is
painted slab by slab without building 3-D coordinate arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pointseg.phantom.coarse import Grid, coarse_grid, factors, upsample
from pointseg.phantom.curves import tube
from pointseg.phantom.geometry import Body, Capsule, EllCyl, Fn, Frame, sd_ellipse, smin
from pointseg.phantom.render import Canvas, alpha, blend, paint_solid
from pointseg.phantom.tissue import HU_CSF, HU_DISC, HU_EPIDURAL_FAT, HU_SKIN, HU_SUBCUT_FAT, HU_VISCERAL_FAT
from pointseg.phantom.upper_body.layout import SpineLayout
from pointseg.phantom.upper_body.params import UpperBodyParams
from pointseg.phantom.upper_body.pelvis import CREST_MM, Hip, wing_section
from pointseg.phantom.upper_body.shoulder import Arm, soft_tissue_prims
from pointseg.phantom.upper_body.thorax import RibCage

SLAB = 24          # slices painted at a time


@dataclass
class Sections:
    """Axial ellipses along S-I: columns z, xc, yc, a, bp, ba (mm, body coordinates), on a regular z grid."""

    table: np.ndarray

    @classmethod
    def smooth(cls, knots, sigma_mm: float = 10.0, step: float = 2.0) -> Sections:
        """Resample unordered knots (z, xc, yc, a, bp, ba) on a ``step`` grid and smooth along z; each column
        is interpolated over the knots where it is not NaN."""
        k = np.asarray(sorted(knots, key=lambda r: r[0]), float)
        z = np.arange(k[0, 0], k[-1, 0] + step, step)
        cols = [np.interp(z, k[~np.isnan(k[:, c]), 0], k[~np.isnan(k[:, c]), c]) for c in range(1, 6)]
        cols = [ndimage.gaussian_filter1d(c, sigma_mm / step, mode="nearest") for c in cols]
        return cls(np.stack([z] + cols, axis=1))

    def at(self, z) -> list[np.ndarray]:
        """xc, yc, a, bp, ba at heights ``z`` (float32; the end values outside the range)."""
        t = self.table
        return [np.interp(z, t[:, 0], t[:, c]).astype(np.float32) for c in range(1, 6)]

    def sdf(self, u, v, w, inset=(0.0, 0.0, 0.0)):
        """Signed distance (approximate) to the stack, each ellipse shrunk by ``inset`` (lateral, back, front);
        outside its S-I range, the distance to the end plane."""
        xc, yc, a, bp, ba = self.at(w)
        b = np.where(v > yc, ba - inset[2], bp - inset[1])
        d = sd_ellipse(u - xc, v - yc, np.maximum(a - inset[0], 0.5), np.maximum(b, 0.5))
        t = self.table
        return np.maximum(d, np.maximum(t[0, 0] - w, w - t[-1, 0]))

    def prim(self, inset=(0.0, 0.0, 0.0)) -> Fn:
        """The stack as a primitive of the trunk frame, bounded by its largest ellipse."""
        t = self.table
        lo = np.array([(t[:, 1] - t[:, 3]).min(), (t[:, 2] - t[:, 4]).min(), t[0, 0]])
        hi = np.array([(t[:, 1] + t[:, 3]).max(), (t[:, 2] + t[:, 5]).max(), t[-1, 0]])
        return Fn(lambda u, v, w: self.sdf(u, v, w, inset), lo, hi)


@dataclass
class Outlines:
    """The body's surface (outer), its muscle (fat removed) and the body cavity."""

    outer: Sections
    cavity: Sections
    fat: tuple[float, float, float]    # subcutaneous fat of the trunk: lateral, back, front (mm)
    limb_fat: float


def outlines(lay: SpineLayout, cage: RibCage, arm_list: list[Arm], hip_list: list[Hip], p: UpperBodyParams) -> Outlines:
    """Trunk and cavity sections following neck, shoulders, rib cage, abdomen and pelvis."""
    f, belly = p.build.fat_mm, p.build.belly_mm
    fat = (f.lateral, f.posterior, f.anterior + 0.6 * belly)
    outer, cavity = _neck_sections(lay, p), []
    _chest_sections(lay, cage, arm_list, p.build.scale, fat, outer, cavity)
    _abdomen_sections(lay, cage, hip_list, p, fat, outer, cavity)
    _pelvis_sections(lay, hip_list, p, fat, outer, cavity)
    return Outlines(Sections.smooth(outer, sigma_mm=14.0), Sections.smooth(cavity, sigma_mm=6.0), fat, 0.5 * f.lateral)


def _back(g, sc: float) -> float:
    """Distance (mm) from a vertebral body's centre to the surface of the back muscles behind it."""
    return g.b + g.lam + 0.75 * g.spl + 22.0 * sc


def _neck_sections(lay: SpineLayout, p: UpperBodyParams) -> list:
    """The neck around C1..C7, continued upward (the head lies above the field of view)."""
    sc, f = p.build.scale, p.build.fat_mm
    out = []
    for lv in lay.levels[:7]:
        x, y, z = lv.c_body
        neck = (x, y + 14.0 * sc, 50.0 * sc + 0.4 * f.lateral, _back(lv.g, sc) - 14.0 * sc + 0.4 * f.posterior,
                48.0 * sc + 0.4 * f.anterior)
        out.append((z,) + neck)
        if lv.name == "C1":
            out.append((z + 100.0,) + neck)
    return out


def _chest_sections(lay: SpineLayout, cage: RibCage, arm_list: list[Arm], sc: float, fat, outer: list, cavity: list):
    """Shoulders and chest: the hoops of the ribs (each parameter at the height where that part of the rib
    lies, see ``_refit``), widened to the shoulders near the glenoids; the lung apices above rib 1."""
    glen = [arm.scapula.o for arm in arm_list]
    half = 0.5 * abs(glen[0][0] - glen[1][0])
    zg = float(np.mean([q[2] for q in glen]))
    nan = float("nan")
    sides = np.array([(h.z_side, h.yc, h.a) for h in cage.hoops])
    for k, hoop in enumerate(cage.hoops, start=1):
        lv = lay.level(f"T{k}")
        a = hoop.a + 24.0 * sc
        if hoop.z_side > zg - 110.0:
            a = max(a, half + 22.0 * sc - max(zg - 50.0 - hoop.z_side, 0.0) * 0.4)
        outer.append((hoop.z_side, hoop.xc, hoop.yc, a + fat[0], nan, nan))
        cavity.append((hoop.z_side, hoop.xc, hoop.yc, hoop.a - 8.0 * sc, nan, nan))
        bp = _refit(hoop, sides, hoop.z_back, -1.0, 5.0 * sc)
        back = max(bp + 33.0 * sc, hoop.yc - lv.c_body[1] + _back(lv.g, sc) - 2.0 * sc)
        outer.append((hoop.z_back, nan, nan, nan, back + fat[1], nan))
        cavity.append((hoop.z_back, nan, nan, nan, bp, nan))
        if k <= 9:
            ba = _refit(hoop, sides, hoop.z_front, 1.0, 3.0 * sc)
            outer.append((hoop.z_front, nan, nan, nan, nan, ba + 29.0 * sc + fat[2]))
            cavity.append((hoop.z_front, nan, nan, nan, nan, ba))
    x_top, y_top = cage.hoops[0].xc, cage.hoops[0].yc
    apex = lay.to_body(lay.level("T1").frame, (0.0, 0.0, 0.0))[2] + 14.0 * sc
    cavity.append((apex, x_top, y_top - 8.0 * sc, 18.0 * sc, 18.0 * sc, 18.0 * sc))
    t1 = lay.level("T1")
    outer.append((zg + 38.0 * sc, x_top, y_top - 10.0 * sc, 0.55 * half + fat[0], t1.g.b + 55.0 * sc + fat[1],
                  40.0 * sc + fat[2]))
    outer.append((zg + 25.0 * sc, x_top, y_top - 5.0 * sc, half + 10.0 * sc + fat[0], 85.0 * sc + fat[1],
                  60.0 * sc + fat[2]))


def _abdomen_sections(lay: SpineLayout, cage: RibCage, hip_list: list[Hip], p: UpperBodyParams, fat, outer: list,
                      cavity: list):
    """L1..L5: the front runs from below the xiphoid to above the symphysis, bulging by the belly."""
    sc, belly = p.build.scale, p.build.belly_mm
    tip = cage.sternum_point(-cage.sternum_sections[0, 0])
    sym = lay.to_body(lay.pelvis, hip_list[0].symphysis)
    top, bottom = tip[1] + 22.0 * sc, sym[1] + 28.0 * sc
    for name in ("L1", "L2", "L3", "L4", "L5"):
        lv = lay.level(name)
        x, y, z = lv.c_body
        t = float(np.clip((tip[2] - z) / (tip[2] - sym[2]), 0.0, 1.0))
        front = top + (bottom - top) * t + (12.0 * sc + belly) * math.sin(math.pi * t)
        yc = y + 40.0 * sc
        a = 125.0 * sc * p.build.chest_width + 0.5 * belly
        outer.append((z, x, yc, a + fat[0], yc - y + _back(lv.g, sc) + fat[1], front - yc + fat[2]))
        cavity.append((z, x, yc, a - 14.0 * sc, yc - y + lv.g.b + 5.0, front - yc - 12.0 * sc))


def _refit(hoop, sides: np.ndarray, z: float, sgn: float, inset: float) -> float:
    """Depth behind (sgn -1) or in front (+1) of the cavity's centre at height ``z`` such that its ellipse,
    as wide as the hoops' sides there, meets this rib (``inset`` mm inside it) halfway out."""
    order = np.argsort(sides[:, 0])
    yc = float(np.interp(z, sides[order, 0], sides[order, 1]))
    a = float(np.interp(z, sides[order, 0], sides[order, 2])) - 8.0
    x = 0.5 * a
    depth = hoop.ba if sgn > 0 else hoop.bp
    y_rib = hoop.yc + sgn * depth * np.sqrt(max(1.0 - (x / hoop.a) ** 2, 0.05))
    return max(sgn * (y_rib - yc) - inset, 10.0) / np.sqrt(0.75)


def _pelvis_sections(lay: SpineLayout, hip_list: list[Hip], p: UpperBodyParams, fat, outer: list, cavity: list):
    """Sections at the iliac crest, the hip joints and below the symphysis (trunk ends, thighs go on)."""
    sc, belly = p.build.scale, p.build.belly_mm

    def body(q):
        return lay.to_body(lay.pelvis, q)

    hip = hip_list[0]
    crest, joint = body((0.0, 20.0 * sc, 30.0 * sc)), body(np.array([0.0, hip.centre[1], hip.centre[2]]))
    sym = body(hip.symphysis)
    sacrum_back = body((0.0, -40.0 * sc, -40.0 * sc))
    a_hip = abs(hip.centre[0]) + 58.0 * sc + 14.0 * sc + 28.0 * sc
    for z, a, front in ((crest[2], 150.0 * sc + 0.5 * belly, 95.0 * sc + 0.6 * belly),
                        (joint[2], a_hip, sym[1] - joint[1] + 30.0 * sc + 0.3 * belly),
                        (sym[2] - 30.0 * sc, a_hip - 5.0 * sc, sym[1] - joint[1] + 25.0 * sc)):
        yc = joint[1] + 5.0 * sc
        outer.append((z, joint[0], yc, a + fat[0], yc - sacrum_back[1] + 48.0 * sc + fat[1], front + fat[2]))
    outer.append((sym[2] - 60.0 * sc, joint[0], joint[1], 1.0, 1.0, 1.0))
    yc = joint[1] + 10.0 * sc
    cavity.append((crest[2], crest[0], yc, 105.0 * sc, yc - sacrum_back[1] - 25.0 * sc, 85.0 * sc))
    cavity.append((joint[2], joint[0], yc, 55.0 * sc, yc - sacrum_back[1] - 40.0 * sc, sym[1] - yc - 12.0 * sc))
    cavity.append((sym[2] - 20.0 * sc, joint[0], yc, 10.0, 10.0, 10.0))


def _slabs(cv: Canvas | Grid, trunk: Frame, z_range):
    """(k0, k1, u, v, w): in-plane body coordinates (I, J, 1) and heights (1, 1, K) per slab in ``z_range``."""
    x = (cv.axes[0] - trunk.o[0]).astype(np.float32)[:, None, None]
    y = (cv.axes[1] - trunk.o[1]).astype(np.float32)[None, :, None]
    R = trunk.R.astype(np.float32)
    u, v = x * R[0, 0] + y * R[1, 0], x * R[0, 1] + y * R[1, 1]
    z = cv.axes[2] - trunk.o[2]
    ks = np.nonzero((z >= z_range[0]) & (z <= z_range[1]))[0]
    if len(ks) == 0:
        return
    for k0 in range(int(ks[0]), int(ks[-1]) + 1, SLAB):
        k1 = min(k0 + SLAB, int(ks[-1]) + 1)
        yield k0, k1, u, v, z[k0:k1].astype(np.float32)[None, None, :]


def _limb_prims(arm_list: list[Arm], hip_list: list[Hip], lay: SpineLayout, sc: float, inset: float) -> list:
    """Arms and thighs (trunk frame), shrunk by ``inset`` mm."""
    prims = []
    for arm in arm_list:
        for prim in soft_tissue_prims(arm, sc, 10.0 - inset):
            prims.append(prim)
    for hip in hip_list:
        top = lay.to_body(lay.pelvis, hip.centre + np.array([-hip.sgn * 10.0, 5.0, -20.0]) * sc)
        end = lay.to_body(lay.pelvis, hip.shaft_top + hip.shaft * 330.0 * sc
                          + np.array([-hip.sgn * 18.0, 15.0, 0.0]) * sc)
        prims.append(Capsule(top, end, 92.0 * sc + 8.0 - inset, 78.0 * sc + 8.0 - inset))
    return prims


def paint_body(cv: Canvas, lay: SpineLayout, ol: Outlines, arm_list, hip_list, p: UpperBodyParams):
    """Skin, subcutaneous fat and muscle of the trunk and limbs, then the cavity's fat (whole volume).

    The three surfaces are smooth: their distances are computed on a coarse grid and interpolated.
    """
    sc, trunk = p.build.scale, lay.trunk
    f = factors(cv.spacing)
    grid = coarse_grid(cv, tuple(slice(0, n) for n in cv.shape), f)
    d_out = np.full(grid.shape, 1e3, np.float32)
    d_in = np.full(grid.shape, 1e3, np.float32)
    d_cav = np.full(grid.shape, 1e3, np.float32)
    for k0, k1, u, v, w in _slabs(grid, trunk, (-np.inf, np.inf)):
        d_out[:, :, k0:k1] = ol.outer.sdf(u, v, w)
        d_in[:, :, k0:k1] = ol.outer.sdf(u, v, w, ol.fat)
        d_cav[:, :, k0:k1] = ol.cavity.sdf(u, v, w)
    for target, inset, k in ((d_out, 0.0, 20.0), (d_in, ol.limb_fat, 12.0)):
        for prim in _limb_prims(arm_list, hip_list, lay, sc, inset):
            box = grid.box(trunk, *prim.bounds(), pad=k)
            if box is not None:
                target[box] = smin(target[box], prim.sdf(*grid.coords(trunk, box)), k)
    step = f[2] * max(1, SLAB // f[2])
    for k0 in range(0, cv.shape[2], step):
        n = min(step, cv.shape[2] - k0)
        coarse = (slice(None), slice(None), slice(k0 // f[2], k0 // f[2] + (n - 1) // f[2] + 2))
        shape = (cv.shape[0], cv.shape[1], n)
        out, inner, cav = (upsample(d[coarse], f, shape) for d in (d_out, d_in, d_cav))
        hu = cv.hu[:, :, k0:k0 + n]
        blend(hu, alpha(out, cv.h), HU_SKIN)
        blend(hu, alpha(out + 2.0, cv.h), HU_SUBCUT_FAT)
        blend(hu, alpha(inner, cv.h), p.build.muscle_hu)
        blend(hu, alpha(cav, cv.h), HU_VISCERAL_FAT)


def paint_spine_soft_tissue(cv: Canvas, lay: SpineLayout, p: UpperBodyParams):
    """Discs between the bodies C2..S1, epidural fat and dural sac in the canal."""
    items_by_frame = []
    for n, lv in enumerate(lay.levels):
        g = lv.g
        cd = 0.95 * g.b + 1.0 if g.region != "C" else 1.1 * g.b + 4.0
        span = g.hh + g.disc + 4.0
        canal = [(EllCyl(0.0, -g.b - cd / 2, g.cw + 0.5, cd / 2 + 0.5, -span, span), HU_EPIDURAL_FAT),
                 (EllCyl(0.0, -g.b - cd / 2 + 0.5, 0.75 * g.cw, 0.4 * cd, -span, span), HU_CSF)]
        items_by_frame.append((lv.frame, canal))
        if lv.name != "C1" and n + 1 < len(lay.levels):
            lo = lay.levels[n + 1]
            centre = -g.hh - 0.5 * g.disc
            body = Body(centre, 0.5 * (g.a + lo.g.a), 0.5 * (g.b + lo.g.b), 0.5 * g.disc + 2.5, waist=-0.05,
                        notch=2.0, rnd=1.5, concave=0.0)
            items_by_frame.append((lv.frame, [(body, HU_DISC)]))
    l5 = lay.levels[-1].g
    items_by_frame.append((lay.levels[-1].frame, [(Body(-l5.hh - 0.5 * l5.disc, l5.a, l5.b, 0.5 * l5.disc + 2.5,
                                                        waist=-0.05, notch=2.0, rnd=1.5, concave=0.0), HU_DISC)]))
    for frame, items in items_by_frame:
        paint_solid(cv, frame, items)


def paint_muscles(cv: Canvas, lay: SpineLayout, hip_list: list[Hip], p: UpperBodyParams):
    """Psoas from T12 along the lumbar bodies to the lesser trochanter, iliacus inside the iliac wings."""
    sc, mus = p.build.scale, p.build.muscle_hu
    items = []
    for hip in hip_list:
        sgn = hip.sgn
        pts, radii = [], []
        for n, name in enumerate(("T12", "L1", "L2", "L3", "L4", "L5")):
            g = lay.level(name).g
            r = (4.0 + 3.2 * n) * sc
            pts.append(lay.to_body(lay.level(name).frame, (sgn * (g.a + r - 5.0), -0.3 * g.b + 2.5 * n, 0.0)))
            radii.append(r)
        for q, r in ((hip.centre + np.array([-sgn * 28.0, 28.0, 20.0]) * sc, 22.0 * sc),
                     (hip.centre + np.array([-sgn * 10.0, 30.0, -25.0]) * sc, 18.0 * sc),
                     (hip.shaft_top + hip.shaft * 35.0 * sc + np.array([-sgn * 10.0, 0.0, 0.0]) * sc, 10.0 * sc)):
            pts.append(lay.to_body(lay.pelvis, q))
            radii.append(r)
        items += [(prim, mus) for prim in tube(pts, radii)]
        wall = _iliacus(sc, sgn)
        paint_solid(cv, lay.pelvis, [(wall, mus)])
    paint_solid(cv, lay.trunk, items)


def _iliacus(sc: float, sgn: float) -> Fn:
    """Iliacus: a 22 mm band on the inner surface of the iliac wing (pelvis frame)."""
    wc = CREST_MM * sc - 6.0

    def fn(u, v, w):
        cu, cv, a, b = wing_section(sc, w)
        de = sd_ellipse(sgn * u - cu, v - cv, a, b)
        band = np.maximum(-de - 22.0 * sc, de + 4.0)
        lim = np.maximum(np.maximum(w - wc, -70.0 * sc - w),
                         np.maximum(20.0 * sc - sgn * u, np.abs(v - 10.0 * sc) - 45.0 * sc))
        return np.maximum(band, lim)

    lo = np.array([min(sgn * 15.0, sgn * 140.0) * sc, -60.0 * sc, -72.0 * sc])
    hi = np.array([max(sgn * 15.0, sgn * 140.0) * sc, 60.0 * sc, wc])
    return Fn(fn, lo, hi)
