"""Organs and vessels of the upper body, painted over the body cavity before the bones.

Labelled (ids of the label set): lungs, heart, liver, spleen, kidneys, urinary bladder; unlabelled:
airway, esophagus, great vessels, lung vessels, stomach, gallbladder, bowel and rectum. A voxel carries an
organ's label when its centre lies inside the organ and nothing unlabelled was painted over it later.
The lungs fill the chest cavity above the diaphragm's domes and beside the mediastinum (heart, great
vessels, spine); the abdominal organs lie below the domes. Points are body coordinates unless noted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointseg.labels import LabelSet
from pointseg.phantom.coarse import paint_smooth
from pointseg.phantom.curves import bezier, tube
from pointseg.phantom.geometry import Capsule, Clip, Ellipsoid, Fn, Frame, Prim, rot
from pointseg.phantom.render import Canvas, alpha, blend
from pointseg.phantom.tissue import (HU_BLOOD, HU_BOWEL, HU_GAS, HU_KIDNEY, HU_LIVER, HU_SINUS_FAT, HU_SPLEEN,
                                     HU_STOMACH, HU_VISCERAL_FAT)
from pointseg.phantom.upper_body.anatomy import HU_AIRWAY, HU_LUNG, HU_MYOCARDIUM, HU_URINE
from pointseg.phantom.upper_body.layout import SpineLayout
from pointseg.phantom.upper_body.params import UpperBodyParams
from pointseg.phantom.upper_body.pelvis import Hip
from pointseg.phantom.upper_body.soft import Outlines
from pointseg.phantom.upper_body.thorax import RibCage

Item = tuple  # (prim, hu, label): label None keeps the labels under it, 0 clears them


def paint_items(cv: Canvas, frame: Frame, items):
    """Paint (prim, hu, label) items in order with anti-aliased edges; set labels where inside."""
    for prim, hu, label in items:
        box = cv.box(frame, *prim.bounds(), pad=cv.h)
        if box is None:
            continue
        d = prim.sdf(*cv.coords(frame, box))
        blend(cv.hu[box], alpha(d, cv.h), hu)
        if label is not None:
            cv.labels[box][d < 0] = label


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _fn(fn, lo, hi) -> Fn:
    return Fn(fn, np.asarray(lo, float), np.asarray(hi, float))


@dataclass
class Diaphragm:
    """Two paraboloid domes (right higher); ``z_at`` is their upper envelope (mm, body coordinates)."""

    right: np.ndarray     # dome tops (x, y, z)
    left: np.ndarray
    rx: float
    ry: float
    drop: float

    def z_at(self, x, y):
        def dome(c):
            return c[2] - self.drop * (((x - c[0]) / self.rx) ** 2 + ((y - c[1]) / self.ry) ** 2)
        return np.maximum(dome(self.right), dome(self.left))


@dataclass
class Mediastinum:
    """Heart (centre, axes, radii), the aorta's and the airway's centrelines and radii."""

    heart: Ellipsoid
    aorta: tuple[np.ndarray, np.ndarray]
    airway: tuple[np.ndarray, np.ndarray]
    top: float            # height above which the upper mediastinum (great vessels) is wide


def diaphragm(lay: SpineLayout, p: UpperBodyParams) -> Diaphragm:
    """Domes at T9 (right) and 12 mm lower (left), moved by the case's inspiration."""
    sc = p.build.scale
    t9 = lay.level("T9").c_body
    y0 = lay.level("T10").c_body[1] + 50.0 * sc
    z = t9[2] + 10.0 * sc + p.viscera.diaphragm_mm
    return Diaphragm(np.array([t9[0] + 55.0 * sc, y0, z]), np.array([t9[0] - 55.0 * sc, y0, z - 12.0 * sc]),
                     75.0 * sc, 85.0 * sc, 50.0 * sc)


def mediastinum(lay: SpineLayout, cage: RibCage, dia: Diaphragm, p: UpperBodyParams) -> Mediastinum:
    """Heart on the diaphragm's centre, aorta (root, arch, descending, abdominal) and trachea with bronchi."""
    sc, hs = p.build.scale, p.viscera.heart_scale
    t8 = lay.level("T8")
    x0, y0 = t8.c_body[0], t8.c_body[1] + t8.g.b
    e1 = _unit((-0.65, 0.55, -0.45))
    e2 = _unit(np.cross([0.0, 0.0, 1.0], e1))
    radii = np.array([58.0, 43.0, 38.0]) * sc * hs
    centre = np.array([x0 - 28.0 * sc, y0 + 16.0 * sc + 43.0 * sc * hs, 0.0])
    centre[2] = float(dia.z_at(centre[0], centre[1])) + 40.0 * sc * hs
    heart = Ellipsoid(centre, radii, np.stack([e1, e2, np.cross(e1, e2)], axis=1))
    base = centre - e1 * 35.0 * sc
    pts = [base, base + np.array([6.0, -5.0, 40.0]) * sc]
    t4, t3 = lay.level("T4").c_body, lay.level("T3").c_body
    pts += [np.array([t3[0] + 4.0 * sc, t3[1] + 45.0 * sc, t4[2] + 25.0 * sc]),
            np.array([t3[0] - 14.0 * sc, t3[1] + 22.0 * sc, t4[2] + 28.0 * sc]),
            np.array([t4[0] - 24.0 * sc, t4[1] + 8.0 * sc, t4[2]])]
    radii_a = [15.0, 15.0, 13.0, 12.5, 12.0]
    for name in ("T6", "T8", "T10", "T12", "L1", "L2", "L3", "L4"):
        lv = lay.level(name)
        front = min(1.0, max(0.0, (lv.c_body[2] - t4[2]) / (lay.level("L1").c_body[2] - t4[2])))
        local = (-(0.25 * lv.g.a + 18.0 - 6.0 * front), lv.g.b * (0.2 + 0.9 * front) + 2.0, 0.0)
        pts.append(lay.to_body(lv.frame, local))
        radii_a.append(12.0 - 2.0 * front)
    aorta = (np.array(pts), np.array(radii_a) * sc)
    top = lay.level("C3").c_body
    t5 = lay.level("T5")
    carina = lay.to_body(t5.frame, (0.0, t5.g.b + 24.0 * sc, 0.0))
    trachea = [lay.to_body(lay.level(n).frame, (0.0, lay.level(n).g.b + 18.0 * sc, 0.0)) for n in ("C3", "C6", "T2")]
    air = [np.array([top[0], top[1] + 20.0 * sc, top[2] + 30.0])] + trachea + [carina]
    airway = (np.array(air), np.full(len(air), 9.0 * sc))
    return Mediastinum(heart, aorta, airway, float(t4[2]))


def _bronchi(lay: SpineLayout, med: Mediastinum, sc: float) -> list[tuple[np.ndarray, float]]:
    """Main and lobar bronchi from the carina: (points, radius) per branch."""
    carina = med.airway[0][-1]
    t6 = lay.level("T6").c_body
    out = []
    for sgn in (1.0, -1.0):
        hilum = np.array([t6[0] + sgn * 48.0 * sc, t6[1] + 34.0 * sc, t6[2] + 8.0 * sc])
        out.append((np.array([carina, hilum]), 6.5 * sc))
        for d in ((20.0, 0.0, 45.0), (30.0, 10.0, -10.0), (25.0, -15.0, -50.0)):
            end = hilum + np.array([sgn * d[0], d[1], d[2]]) * sc
            out.append((np.array([hilum, end]), 4.0 * sc))
    return out


def lung_prim(lay: SpineLayout, ol: Outlines, dia: Diaphragm, med: Mediastinum, sgn: float, sc: float) -> Fn:
    """One lung: the chest cavity above the diaphragm, on its side of the mediastinum."""
    cav = ol.cavity
    heart, (apts, arad) = med.heart, med.aorta
    aorta = tube(apts[2:7], arad[2:7])
    t = cav.table
    top = t[-1, 0]
    bottom = float(min(dia.right[2], dia.left[2]) - dia.drop * 2.2)

    def fn(u, v, w):
        d = cav.sdf(u, v, w) + 1.0
        d = np.maximum(d, dia.z_at(u, v) + 3.0 - w)
        xs, ys = lay.axis_at(w)
        spine = np.minimum(np.sqrt((u - xs) ** 2 + ((v - ys) / 1.15) ** 2) - 24.0 * sc,
                           np.maximum(v - ys, np.abs(u - xs) - 30.0 * sc))
        band = np.abs(u - xs - 4.0 * sc) - np.where(w > med.top, 30.0 * sc, 9.0 * sc)
        med_d = np.minimum(np.minimum(heart.sdf(u, v, w) + 5.0, spine), band)
        for seg in aorta:
            med_d = np.minimum(med_d, seg.sdf(u, v, w) + 4.0)
        d = np.maximum(d, -med_d)
        return np.maximum(d, 4.0 * sc - sgn * (u - xs))

    xs = t[:, 1]
    lo = np.array([min((xs - t[:, 3]).min(), xs.min()) if sgn < 0 else xs.min(), (t[:, 2] - t[:, 4]).min(), bottom])
    hi = np.array([max((xs + t[:, 3]).max(), xs.max()) if sgn > 0 else xs.max(), (t[:, 2] + t[:, 5]).max(), top])
    return _fn(fn, lo, hi)


def _vessel_tree(lay: SpineLayout, rng: np.random.Generator, sc: float, hu: float) -> list[Item]:
    """Pulmonary vessels: branches from each hilum toward the lung's periphery, tapering."""
    t6 = lay.level("T6").c_body
    items = []
    for sgn in (1.0, -1.0):
        hilum = np.array([t6[0] + sgn * 45.0 * sc, t6[1] + 28.0 * sc, t6[2]])
        for n in range(9):
            el = math.radians(-70.0 + 140.0 * (n + rng.uniform(0.0, 1.0)) / 9.0)
            az = math.radians(rng.uniform(-60.0, 60.0))
            direction = np.array([sgn * math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
            length = rng.uniform(70.0, 110.0) * sc
            pts = hilum + np.linspace(0.0, 1.0, 6)[:, None] * direction * length
            pts[:, :2] += rng.normal(0.0, 4.0, (6, 2))
            items += [(prim, hu, None) for prim in tube(pts, np.linspace(4.5, 1.5, 6) * sc)]
            side = pts[3] + _unit(direction + rng.normal(0.0, 0.6, 3)) * 30.0 * sc
            branch = tube(np.array([pts[2], pts[3], side]), np.array([2.5, 2.0, 1.2]) * sc)
            items += [(prim, hu, None) for prim in branch]
    return items


def paint_chest(cv: Canvas, lay: SpineLayout, cage: RibCage, ol: Outlines, dia: Diaphragm, med: Mediastinum,
                p: UpperBodyParams, labels: LabelSet):
    """Esophagus, airway walls, lungs with vessels and bronchi, heart, great vessels, neck vessels."""
    sc, v = p.build.scale, p.viscera
    trunk = lay.trunk
    blood = v.aorta_hu
    vein = 0.5 * (v.aorta_hu + HU_BLOOD) if v.contrast else HU_BLOOD
    rng = np.random.default_rng(v.bowel_seed + 1)
    air_pts, air_r = med.airway
    eso = [lay.to_body(lay.level(n).frame, (-3.0 * sc, lay.level(n).g.b + 7.0 * sc, 0.0))
           for n in ("C3", "T2", "T5", "T8", "T10")]
    items: list[Item] = [(prim, 40.0, 0) for prim in tube(np.array(eso), 7.5 * sc)]
    items += [(prim, 40.0, 0) for prim in tube(air_pts, air_r + 2.0)]
    bronchi = _bronchi(lay, med, sc)
    items += [(prim, 40.0, 0) for pts, r in bronchi[:1] + bronchi[4:5] for prim in tube(pts, r + 1.5)]
    paint_items(cv, trunk, items)
    paint_smooth(cv, trunk, [(lung_prim(lay, ol, dia, med, sgn, sc), HU_LUNG, labels.id_of(f"lung_{side}"))
                             for sgn, side in ((1.0, "right"), (-1.0, "left"))])
    items = []
    items += _vessel_tree(lay, rng, sc, vein if v.contrast else HU_BLOOD)
    items += [(prim, HU_AIRWAY, None) for prim in tube(air_pts, air_r)]
    items += [(prim, HU_AIRWAY, None) for pts, r in bronchi for prim in tube(pts, r)]
    heart = med.heart
    items.append((Ellipsoid(heart.c, np.asarray(heart.r) + 4.0, heart.axes), HU_VISCERAL_FAT, 0))
    items.append((heart, HU_MYOCARDIUM, labels.id_of("heart")))
    chambers = Ellipsoid(heart.c, np.asarray(heart.r) - 9.0 * sc, heart.axes)
    items.append((chambers, blood if v.contrast else HU_BLOOD, None))
    apts, arad = med.aorta
    items += [(prim, blood, 0) for prim in tube(apts, arad)]
    items += _neck_and_veins(lay, med, sc, blood, vein)
    paint_items(cv, trunk, items)


def _neck_and_veins(lay: SpineLayout, med: Mediastinum, sc: float, blood: float, vein: float) -> list[Item]:
    """Carotids, jugular veins, superior vena cava and the pulmonary trunk."""
    items = []
    c2, t2 = lay.level("C2").c_body, lay.level("T2").c_body
    for sgn in (1.0, -1.0):
        for dx, dy, r, hu in ((22.0, 20.0, 4.0, blood), (32.0, 22.0, 6.0, vein)):
            pts = np.array([c2 + np.array([sgn * dx, dy, 10.0]) * sc,
                            t2 + np.array([sgn * dx * 0.8, dy + 20.0, 0.0]) * sc])
            items += [(prim, hu, 0) for prim in tube(pts, r * sc)]
    heart = med.heart
    base = heart.c - np.asarray(heart.axes)[:, 0] * 35.0 * sc
    svc = np.array([base + np.array([22.0, -5.0, 0.0]) * sc, base + np.array([24.0, -8.0, 60.0]) * sc,
                    t2 + np.array([20.0, 40.0, 0.0]) * sc])
    items += [(prim, vein, 0) for prim in tube(svc, 9.0 * sc)]
    t5 = lay.level("T5").c_body
    pa = bezier(heart.c + np.array([-10.0, 30.0, 35.0]) * sc, heart.c + np.array([-20.0, 25.0, 70.0]) * sc,
                t5 + np.array([-15.0, 60.0, 5.0]) * sc, t5 + np.array([-5.0, 45.0, 0.0]) * sc, 5)
    items += [(prim, vein, 0) for prim in tube(pa, 13.0 * sc)]
    return items


def paint_abdomen(cv: Canvas, lay: SpineLayout, ol: Outlines, dia: Diaphragm, hip_list: list[Hip],
                  p: UpperBodyParams, labels: LabelSet):
    """Bowel, stomach, liver, gallbladder, spleen, kidneys, inferior vena cava, bladder and rectum."""
    sc, v = p.build.scale, p.viscera
    trunk = lay.trunk
    j = [np.asarray(x) * sc for x in v.organ_jitter_mm]
    cavity = ol.cavity.prim((2.0, 2.0, 2.0))
    contrast = v.contrast

    def below(prim: Prim, gap: float = 6.0) -> Prim:
        lo, hi = prim.bounds()
        return Clip(Clip(prim, Fn(lambda x, y, z: z - (dia.z_at(x, y) - gap), lo, hi)), cavity)

    items: list[Item] = _bowel(lay, ol, p, cavity)
    r, lt = dia.right, dia.left
    stomach = Ellipsoid(lt + np.array([5.0, 55.0, -65.0]) * sc + j[4], np.array([45.0, 38.0, 60.0]) * sc, rot(1, 25.0))
    items += [(below(stomach), HU_STOMACH, 0),
              (Clip(below(stomach), Fn(lambda x, y, z: stomach.c[2] + 25.0 * sc - z, *stomach.bounds())), HU_GAS, 0)]
    ls = v.liver_scale * sc
    right_lobe = Ellipsoid(r + np.array([0.0, 10.0, -66.0]) * sc + j[0], np.array([88.0, 82.0, 76.0]) * ls)
    left_lobe = Ellipsoid(r + np.array([-80.0, 45.0, -50.0]) * sc + j[0], np.array([68.0, 40.0, 32.0]) * ls)
    items += [(below(prim), 100.0 if contrast else HU_LIVER, labels.id_of("liver")) for prim in (right_lobe, left_lobe)]
    gall = Ellipsoid(r + np.array([-10.0, 60.0, -112.0]) * sc + j[0], np.array([14.0, 16.0, 30.0]) * sc)
    items.append((below(gall), HU_URINE, 0))
    spleen = Ellipsoid(lt + np.array([-35.0, -55.0, -70.0]) * sc + j[1], np.array([26.0, 55.0, 45.0]) * sc,
                       rot(2, -40.0))
    items.append((below(spleen, 10.0), 110.0 if contrast else HU_SPLEEN, labels.id_of("spleen")))
    paint_items(cv, trunk, items)
    for sgn, name, jj in ((1.0, "L2", j[2]), (-1.0, "L1", j[3])):
        lv = lay.level(name)
        c = np.array([sgn * 64.0, -16.0, 5.0]) * sc + lv.frame.R.T @ lay.trunk.R @ jj
        axes = rot(2, -sgn * 30.0) @ rot(1, sgn * 12.0)
        kidney = Ellipsoid(c, np.array([26.0, 21.0, 55.0]) * sc, axes)
        sinus = Ellipsoid(c + axes @ np.array([-sgn * 14.0, 0.0, 0.0]) * sc, np.array([9.0, 9.0, 24.0]) * sc, axes)
        label = labels.id_of("kidney_right" if sgn > 0 else "kidney_left")
        paint_items(cv, lv.frame, [(Ellipsoid(c, np.array([38.0, 32.0, 68.0]) * sc, axes), HU_VISCERAL_FAT, 0),
                                   (kidney, 150.0 if contrast else HU_KIDNEY, label), (sinus, HU_SINUS_FAT, None)])
    ivc = [lay.to_body(lay.level(n).frame, (0.5 * lay.level(n).g.a + 8.0 * sc, lay.level(n).g.b + 9.0 * sc, 0.0))
           for n in ("L4", "L2", "T12")]
    ivc.append(r + np.array([-30.0, 5.0, -20.0]) * sc)
    paint_items(cv, trunk, [(prim, 110.0 if contrast else HU_BLOOD, 0) for prim in tube(np.array(ivc), 11.0 * sc)])
    _paint_pelvic_organs(cv, lay, hip_list, p, labels)


def _bowel(lay: SpineLayout, ol: Outlines, p: UpperBodyParams, cavity: Prim) -> list[Item]:
    """Small-bowel loops and colon between the lower ribs and the pelvis; some hold gas (anterior)."""
    sc, var = p.build.scale, p.config.variation
    brng = np.random.default_rng(p.viscera.bowel_seed)
    l1, l5 = lay.level("L1").c_body, lay.level("L5").c_body
    xc, yc, a, bp, ba = (float(q) for q in ol.cavity.at(0.5 * (l1[2] + l5[2])))
    items = []
    for ix in range(5):
        for iz in range(4):
            c = np.array([xc - 0.6 * a + 0.3 * a * ix + 10.0 * var * brng.uniform(-1, 1),
                          yc + 0.35 * ba + 0.2 * ba * (iz % 2) + 12.0 * var * brng.uniform(-1, 1),
                          l5[2] - 50.0 * sc + (l1[2] - l5[2] + 20.0 * sc) * iz / 3.0
                          + 10.0 * var * brng.uniform(-1, 1)])
            radii = np.array([17.0, 13.0, 15.0]) * sc * (1.0 + 0.3 * brng.uniform(-1, 1, 3))
            loop = Ellipsoid(c, radii, rot(2, float(brng.uniform(0, 180))))
            items.append((Clip(loop, cavity), HU_BOWEL + float(brng.uniform(-15, 15)), 0))
            if brng.random() < 0.35:
                cap = c[1] + float(brng.uniform(-0.2, 0.6)) * max(radii)
                gas = Fn(lambda x, y, z, cap=cap: cap - y, *loop.bounds())
                items.append((Clip(Clip(loop, cavity), gas), HU_GAS, 0))
    for sgn in (1.0, -1.0):
        colon = Ellipsoid(np.array([xc + sgn * 0.75 * a, yc + 0.1 * ba, 0.5 * (l1[2] + l5[2])]),
                          np.array([20.0, 20.0, 80.0]) * sc)
        items.append((Clip(colon, cavity), HU_BOWEL, 0))
        level = colon.c[1] + float(brng.uniform(-0.3, 0.4)) * 20.0 * sc
        gas = Fn(lambda x, y, z, level=level: level - y, *colon.bounds())
        items.append((Clip(Clip(colon, cavity), gas), HU_GAS, 0))
    return items


def _paint_pelvic_organs(cv: Canvas, lay: SpineLayout, hip_list: list[Hip], p: UpperBodyParams, labels: LabelSet):
    """Rectum with a little gas in front of the sacrum, bladder behind the symphysis (pelvis frame)."""
    sc, fill = p.build.scale, p.viscera.bladder_fill
    sym = hip_list[0].symphysis
    rectum = tube(np.array([(0.0, -20.0, -50.0), (0.0, -8.0, -95.0), (0.0, 10.0, -130.0)]) * sc, 14.0 * sc)
    gas = Capsule(np.array([0.0, -14.0, -70.0]) * sc, np.array([0.0, -10.0, -85.0]) * sc, 6.0 * sc)
    bladder = Ellipsoid(sym + np.array([0.0, -32.0 - 10.0 * fill, 18.0 + 22.0 * fill]) * sc,
                        np.array([42.0, 32.0, 34.0]) * sc * fill ** 0.5)
    items = [(prim, HU_BOWEL, 0) for prim in rectum] + [(gas, HU_GAS, 0)]
    items.append((bladder, HU_URINE, labels.id_of("urinary_bladder")))
    paint_items(cv, lay.pelvis, items)
