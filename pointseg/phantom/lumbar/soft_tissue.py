"""Soft tissue: torso (skin, fat, muscle wall), viscera, muscles, vessels and canal around the spine, discs,
and the muscles of the pelvis.

Painted before the bones, in this order; later tissue is blended over earlier tissue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointseg.phantom.geometry import Body, Capsule, Clip, EllCyl, Ellipsoid, Fn, Loft, Prim, rot, sd_ellipse
from pointseg.phantom.lumbar.anatomy import LEVELS
from pointseg.phantom.lumbar.bones import wing_fn
from pointseg.phantom.lumbar.layout import Layout, Level, LevelGeometry
from pointseg.phantom.lumbar.params import PhantomParams
from pointseg.phantom.render import Canvas, alpha, blend, paint_solid
from pointseg.phantom.tissue import (HU_BLOOD, HU_BOWEL, HU_CSF, HU_DISC, HU_EPIDURAL_FAT, HU_GAS, HU_KIDNEY, HU_LIVER,
                                     HU_SINUS_FAT, HU_SKIN, HU_SPLEEN, HU_STOMACH, HU_SUBCUT_FAT, HU_VISCERAL_FAT)


@dataclass(frozen=True)
class OrganHU:
    """HU of the organs and vessels that take up intravenous contrast."""

    kidney: float
    liver: float
    spleen: float
    ivc: float
    aorta: float

    @classmethod
    def of(cls, p: PhantomParams) -> OrganHU:
        """Enhanced values when the case has contrast, else the plain ones."""
        c = p.contrast
        return cls(kidney=150.0 if c else HU_KIDNEY, liver=100.0 if c else HU_LIVER,
                   spleen=110.0 if c else HU_SPLEEN, ivc=110.0 if c else HU_BLOOD, aorta=p.aorta_hu)


# ------------------------------------------------------------------- torso
def _torso_prims(lay: Layout, p: PhantomParams):
    """Outer torso and inner (muscle wall) ellipses following the lordosis."""
    curve = lay.curve
    zs, ys = curve.pos[:, 2], curve.pos[:, 1]
    keep = (zs > -150) & (zs < 150)
    poly = [float(c) for c in np.polyfit(zs[keep], 0.8 * ys[keep], 2)]
    A, B = p.torso_semi_mm
    f = p.fat_mm
    back = -(lay.level("L3").g.b + 58.0 * p.scale + 10.0 + f.posterior)
    z_l4 = float(lay.level("L4").c_body[2])

    def ellipse(da, db, dv):
        def fn(u, v, w):
            yc = (poly[0] * w + poly[1]) * w + poly[2] + back + B + dv
            flare = 0.3 * np.maximum(z_l4 - w, 0.0)
            return sd_ellipse(u, v - yc, A - da + flare, B - db)
        big = 1e4
        return Fn(fn, (-big, -big, -big), (big, big, big))

    inner_shift = 0.5 * (f.posterior - f.anterior)
    outer = ellipse(0.0, 0.0, 0.0)
    inner = ellipse(2.0 + f.lateral, 2.0 + 0.5 * (f.anterior + f.posterior), inner_shift)
    cavity = ellipse(2.0 + f.lateral + f.wall, 2.0 + 0.5 * (f.anterior + f.posterior) + f.wall, inner_shift)
    return outer, inner, cavity


def paint_torso(cv: Canvas, lay: Layout, p: PhantomParams):
    """Skin, subcutaneous fat, muscle wall and intra-abdominal fat (whole volume).

    The trunk frame only rotates about S-I, so its coordinates separate into
    an (I, J, 1) in-plane part and a (1, 1, K) height, which keeps this cheap.
    """
    outer, inner, _ = _torso_prims(lay, p)
    fr = lay.trunk
    x, y, z = ((cv.axes[a] - fr.o[a]).astype(np.float32) for a in range(3))
    R = fr.R.astype(np.float32)
    u = x[:, None, None] * R[0, 0] + y[None, :, None] * R[1, 0]
    v = x[:, None, None] * R[0, 1] + y[None, :, None] * R[1, 1]
    w = z[None, None, :]
    layers = ((outer, [(0.0, HU_SKIN), (2.0, HU_SUBCUT_FAT)]),
              (inner, [(0.0, p.muscle_hu), (p.fat_mm.wall, HU_VISCERAL_FAT)]))
    for prim, insets in layers:
        d = prim.sdf(u, v, w)
        for inset, hu in insets:
            blend(cv.hu, alpha(d + inset, cv.h), hu)


# ------------------------------------------------------------------ viscera
def paint_viscera(cv: Canvas, lay: Layout, p: PhantomParams):
    """Bowel with gas (air-fluid levels), stomach, liver, spleen and kidneys."""
    _, _, cavity = _torso_prims(lay, p)
    items = _bowel_items(lay, p) + _upper_organ_items(lay, p, OrganHU.of(p))
    paint_solid(cv, lay.trunk, [(Clip(prim, cavity), v) for prim, v in items])


def _gas_cap(loop: Ellipsoid, level: float) -> Prim:
    """Gas in the non-dependent (anterior) part of a loop above ``level``."""
    cv = loop.c[1] + level * max(loop.r)
    return Clip(loop, Fn(lambda u, v, w: cv - v, *loop.bounds()))


def _bowel_items(lay: Layout, p: PhantomParams):
    """Small-bowel loops and colon; some contain gas above an air-fluid level."""
    brng = np.random.default_rng(p.bowel_seed)
    var = p.config.variation
    front = float(lay.level("L3").g.b) + 30.0
    items = []
    for ix in range(6):
        for iz in range(4):
            c = (-90.0 + 36.0 * ix + 12.0 * var * brng.uniform(-1, 1),
                 front + 25.0 + 10.0 * (iz % 2) + 20.0 * var * brng.uniform(-1, 1),
                 -130.0 + 42.0 * iz + 12.0 * var * brng.uniform(-1, 1))
            radii = np.array([17.0, 13.0, 15.0]) * (1.0 + 0.35 * brng.uniform(-1, 1, 3))
            loop = Ellipsoid(c, radii, rot(2, float(brng.uniform(0, 180))))
            items.append((loop, HU_BOWEL + float(brng.uniform(-15, 15))))
            if brng.random() < 0.35:
                items.append((_gas_cap(loop, float(brng.uniform(-0.2, 0.6))), HU_GAS))
    for sgn, zc in ((1.0, -60.0), (-1.0, -30.0)):
        colon = Ellipsoid((sgn * 88.0, 15.0, zc), (20.0, 20.0, 75.0))
        items.append((colon, HU_BOWEL))
        items.append((_gas_cap(colon, float(brng.uniform(-0.3, 0.4))), HU_GAS))
    return items


def _upper_organ_items(lay: Layout, p: PhantomParams, hu: OrganHU):
    """Stomach, liver, spleen and kidneys placed relative to T12..L2."""
    to_trunk = lay.trunk.R.T @ lay.body.R
    z = {lv.name: to_trunk @ lv.c_body for lv in lay.levels}
    j = [np.asarray(x) for x in p.organ_jitter_mm]
    stomach = Ellipsoid(np.array([-55.0, 65.0, z["T12"][2] + 5.0]) + j[0], (45.0, 35.0, 55.0))
    liver = Ellipsoid(np.array([75.0, 25.0, z["T12"][2] + 15.0]) + j[1], (85.0, 85.0, 80.0))
    spleen = Ellipsoid(np.array([-85.0, -20.0, z["T12"][2] + 25.0]) + j[2], (30.0, 50.0, 45.0), rot(2, -35.0))
    items = [(stomach, HU_STOMACH), (_gas_cap(stomach, 0.4), HU_GAS), (liver, hu.liver), (spleen, hu.spleen)]
    for sgn, name, jj in ((1.0, "L2", j[3]), (-1.0, "L1", j[4])):
        c = z[name] + np.array([sgn * 62.0, -8.0, 5.0]) + jj
        axes = rot(2, -sgn * 30.0) @ rot(1, sgn * 12.0)
        items.append((Ellipsoid(c, (26.0, 21.0, 55.0), axes), hu.kidney))
        sinus = c + axes @ np.array([-sgn * 14.0, 0.0, 0.0])
        items.append((Ellipsoid(sinus, (9.0, 9.0, 24.0), axes), HU_SINUS_FAT))
    return items


# ------------------------------------------------------- around the spine
# Soft tissue around the spine, per level: name -> (cu, cv, a, b) in the vertebra
# frame; mirrored structures are given for the right side (u > 0).
_PARASPINAL = {"T11": (16, 20), "T12": (18, 22), "L1": (20, 24), "L2": (22, 25),
               "L3": (23, 26), "L4": (23, 26), "L5": (21, 24)}


def _soft_specs(g: LevelGeometry, sc: float) -> dict:
    """Cross-sections (cu, cv, a, b) in mm of the soft tissue around one level."""
    a, b, cw, name = g.a, g.b, g.cw, g.name
    k = LEVELS.index(name) - LEVELS.index("L1")       # -2 at T11, 0 at L1, 4 at L5
    su, sv = (x * sc for x in _PARASPINAL[name])
    spec = {"paraspinal": (6.0 + su, -b - 8.0 - sv, su, sv)}
    ru, rv = ((7.0 + 3.6 * k) * sc, (6.0 + 2.6 * k) * sc) if k >= 0 else (1.0, 1.0)
    spec["psoas"] = (a + ru - 4.0, -0.3 * b + 3.0 * max(k, 0), ru, rv)
    ql = (14.0 * sc, 9.0 * sc) if 0 <= k <= 3 else (2.0, 2.0)
    spec["quadratus"] = (g.tp * 0.85 + 12.0, -b - 12.0, *ql)
    spec["aorta"] = (-(0.25 * a + 5.0), b + 12.0, 11.0 * sc, 11.0 * sc)
    spec["ivc"] = (0.5 * a + 7.0, b + 9.0, 13.0 * sc, 9.0 * sc)
    cd = 0.95 * b + 1.0
    spec["epidural"] = (0.0, -b - cd / 2, cw + 0.5, cd / 2 + 0.5)
    spec["dural"] = (0.0, -b - cd / 2 + 0.5, 0.75 * cw, 0.4 * cd)
    return spec


def _pelvic_psoas(spec: dict) -> tuple:
    cu, cv, a, b = spec["psoas"]
    return (cu + 12.0, cv + 10.0, a, b)


def _loft_span(lay: Layout, n: int) -> tuple[float, float, float, float]:
    """(d_lo, d_hi, w0, w1) of the lofts around level n: distances (mm) to the centres below and above, and
    the w range, halfway to the neighbours (40 mm above the top level)."""
    levels, hh = lay.levels, lay.levels[n].g.hh
    d_hi = hh + (levels[n - 1].g.disc + levels[n - 1].g.hh if n > 0 else 40.0)
    d_lo = hh + levels[n].g.disc + (levels[n + 1].g.hh if n + 1 < len(levels) else lay.sacral.hh)
    return d_lo, d_hi, -0.5 * d_lo - 1.5, (0.5 * d_hi + 1.5 if n > 0 else hh + 40.0)


def _level_soft_items(lay: Layout, n: int, p: PhantomParams, hu: OrganHU):
    """Lofted muscles, vessels and canal contents around level n (its frame)."""
    lv, sc = lay.levels[n], p.scale
    here = _soft_specs(lv.g, sc)
    above = _soft_specs(lay.levels[n - 1].g, sc) if n > 0 else here
    below = _soft_specs(lay.levels[n + 1].g, sc) if n + 1 < len(lay.levels) else dict(here, psoas=_pelvic_psoas(here))
    d_lo, d_hi, w0, w1 = _loft_span(lay, n)
    colours = {"paraspinal": p.muscle_hu, "psoas": p.muscle_hu, "quadratus": p.muscle_hu,
               "aorta": hu.aorta, "ivc": hu.ivc, "epidural": HU_EPIDURAL_FAT, "dural": HU_CSF}
    items = []
    for name, value in colours.items():
        if name in ("aorta", "ivc") and LEVELS.index(lv.name) > LEVELS.index("L4"):
            continue
        top_lo = 0.0 if (name == "aorta" and lv.name == "L4") else w0
        mirror = name in ("paraspinal", "psoas", "quadratus")
        for sgn in ((1.0, -1.0) if mirror else (1.0,)):
            def m(q):
                return (sgn * q[0], *q[1:])
            items.append((Loft(m(here[name]), m(below[name]), m(above[name]), d_lo, d_hi, top_lo, w1), value))
    items += _iliac_vessel_items(lv, hu)
    return items


def _iliac_vessel_items(lv: Level, hu: OrganHU):
    """Common iliac arteries from the aortic bifurcation (L4) and veins (L5)."""
    a, b, hh = lv.g.a, lv.g.b, lv.g.hh
    if lv.name == "L4":
        start = (-0.25 * a - 5.0, b + 12.0, 0.0)
        return [(Capsule(start, end, 7.0, 6.0), hu.aorta)
                for end in ((-50.0, b + 25.0, -100.0), (35.0, b + 25.0, -100.0))]
    if lv.name == "L5":
        start = (0.5 * a + 5.0, b + 9.0, hh + 5.0)
        return [(Capsule(start, end, 8.0, 7.0), hu.ivc) for end in ((-45.0, b + 8.0, -80.0), (48.0, b + 8.0, -80.0))]
    return []


def paint_spine_soft_tissue(cv: Canvas, lay: Layout, p: PhantomParams):
    """Per level: paraspinal, quadratus, psoas, vessels, canal; then discs."""
    hu = OrganHU.of(p)
    for n, lv in enumerate(lay.levels):
        paint_solid(cv, lv.frame, _level_soft_items(lay, n, p, hu))
    for disc in lay.discs:
        up, lo = disc.upper, disc.lower
        body = Body(0.0, 0.5 * (up.a + lo.a), 0.5 * (up.b + lo.b), disc.half_gap + 3.5,
                    waist=-0.05, notch=2.0, rnd=2.0, concave=0.0)
        paint_solid(cv, disc.frame, [(body, HU_DISC)])


# ------------------------------------------------------------------ pelvis
def paint_pelvis_soft_tissue(cv: Canvas, lay: Layout, p: PhantomParams):
    """Iliacus inside and gluteal muscles outside the iliac wings, pelvic psoas."""
    mus = p.muscle_hu
    sc = p.scale
    items = []
    for sgn in (1.0, -1.0):
        items.append((Fn(*wing_fn(p, sgn, (-24.0, 0.0))), mus))
        items.append((Fn(*wing_fn(p, sgn, (0.0, 28.0))), mus))
        items.append((EllCyl(sgn * 50.0 * sc, 15.0 * sc, 21.0 * sc, 16.0 * sc, -110.0, 15.0), mus))
    paint_solid(cv, lay.pelvis, items)
    b1 = lay.sacral.b
    multifidus = [(EllCyl(sgn * 20.0 * sc, -b1 - 30.0 * sc, 14.0 * sc, 11.0 * sc, -70.0 * sc, 5.0), mus)
                  for sgn in (1.0, -1.0)]
    paint_solid(cv, lay.sacrum, multifidus)
