"""The vertebrae C1..L5 (each one label: body and posterior elements) and the sacrum.

Each vertebra is a smooth union of primitives in its own frame; neighbours meet at facet joints whose
planes are shared between the two and kept apart by a small gap (``spine_parts.facet``). C1 is a ring with
lateral masses, C2 carries the dens, C7 the long spinous process, T1..T12 steep spinous processes.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from pointseg.labels import LabelSet, vertebra_name
from pointseg.phantom.curves import tube
from pointseg.phantom.geometry import Body, Box, Capsule, HalfClip, box_between
from pointseg.phantom.render import Bone, Canvas, paint_bone
from pointseg.phantom.sampling import BoneDensity
from pointseg.phantom.spine_parts import facet, plane_in, sacral_canal, sacral_wedge
from pointseg.phantom.upper_body.layout import SpineLayout, VertebraGeometry

_JOINT_DEPTH = {"C": 9.0, "T": 15.0, "L": 18.0}


def joint_plane(g: VertebraGeometry, sgn: float, b: float | None = None):
    """Facet joint plane above the vertebra ``g`` (its frame): point and normal (see ``spine_parts.facet``)."""
    b = g.b if b is None else b
    jb = math.radians(g.beta)
    point = np.array([sgn * (g.cw + 2.2), -b - _JOINT_DEPTH[g.region], 0.0])
    return point, np.array([sgn * math.cos(jb), math.sin(jb), 0.0])


def _inferior_joints(lay: SpineLayout, n: int) -> dict:
    """Facet joint planes below level n (from the vertebra below or S1), in n's frame."""
    if n + 1 < len(lay.levels):
        lower = lay.levels[n + 1]
        return {sgn: plane_in(lower.frame, lay.levels[n].frame, *joint_plane(lower.g, sgn)) for sgn in (1.0, -1.0)}
    s1 = replace(lay.levels[n].g, beta=lay.sacral.beta)
    return {sgn: plane_in(lay.sacrum, lay.levels[n].frame, *joint_plane(s1, sgn, lay.sacral.b)) for sgn in (1.0, -1.0)}


def vertebra_prims(g: VertebraGeometry, inferior_joints: dict, superior_facets: bool = True) -> list:
    """Body, pedicles, laminae, processes of one vertebra C2..L5 (its frame, mm)."""
    b, hh = g.b, g.hh
    prims = [Body(0.0, g.a, b, hh, waist=0.08, notch=0.12 * b, rnd=min(1.5, 0.15 * hh), concave=min(1.2, 0.1 * hh))]
    for sgn in (1.0, -1.0):
        prims += _side_prims(g, sgn, inferior_joints[sgn], superior_facets)
    y0 = -b - g.lam + 3.0
    tip = (0.0, y0 - g.spl, -0.1 * hh - g.drop)
    prims.append(box_between((0.0, y0, -0.1 * hh), tip, 3.0 if g.region != "C" else 2.2, g.sph, 2.0))
    prims.append(Box(tip, (4.0, 3.5, 0.9 * g.sph), 2.5))
    return prims


def _side_prims(g: VertebraGeometry, sgn: float, inferior_joint, superior_facet: bool) -> list:
    """Pedicle, lamina, transverse process and articular processes on one side (+1 right, -1 left)."""
    b, hh = g.b, g.hh
    wl0, wl1 = -hh - 1.0, 0.55 * hh
    up, y_ped = sgn * (g.cw + g.pw), -b - (g.lam - 10.0)
    pedicle = box_between((up, -b + 4.0, 0.2 * hh), (up, y_ped, 0.2 * hh), g.pw, 0.5 * hh, 2.0)
    lamina = box_between((up, y_ped, 0.5 * (wl0 + wl1)), (0.0, -b - g.lam, 0.5 * (wl0 + wl1)),
                         3.0 if g.region != "C" else 2.4, 0.5 * (wl1 - wl0), 1.5)
    point, normal = inferior_joint
    tpt, tph = {"C": (2.2, 3.5), "T": (4.0, 5.0), "L": (2.4, 4.5)}[g.region]
    if g.name == "L5":
        tpt, tph = 4.0, 6.5
    y_tp = -b + 3.0 if g.region == "C" else -b - 7.0
    transverse = box_between((up, y_tp, 0.2 * hh), (sgn * g.tp, -b - g.tpb, 0.2 * hh + 2.0), tpt, tph, 1.8)
    prims = [pedicle, HalfClip(lamina, point, normal, 0.6, w_max=-0.6 * hh), transverse,
             facet(inferior_joint, -hh - 15.0 * hh / 13.0, -0.3 * hh, False)]
    if superior_facet:
        prims.append(facet(joint_plane(g, sgn), 0.15 * hh, hh + 7.0 * hh / 13.0, True))
    return prims


def atlas_prims(g: VertebraGeometry) -> list:
    """C1: anterior and posterior arches on a ring, lateral masses and long transverse processes."""
    sc = g.cw / 13.0
    ring = [(22.0 * sc * math.cos(t), -5.0 * sc + 21.0 * sc * math.sin(t), 0.0) for t in np.linspace(0, 2 * np.pi, 17)]
    prims = tube(ring, 3.6 * sc)
    for sgn in (1.0, -1.0):
        prims.append(Box((sgn * 20.0 * sc, -2.0 * sc, 0.0), (7.0 * sc, 9.0 * sc, g.hh), 2.5))
        prims.append(box_between((sgn * 22.0 * sc, -2.0 * sc, 0.0), (sgn * g.tp, -4.0 * sc, 1.0), 4.0, 4.0, 2.0))
    prims.append(Box((0.0, -27.0 * sc, 0.0), (5.0, 3.0, 5.0), 2.0))
    return prims


def axis_extras(g: VertebraGeometry) -> list:
    """C2: the dens (into the ring of C1) and the superior articular surfaces on which C1 sits."""
    prims = [Capsule((0.0, 2.0, g.hh - 2.0), (0.0, 2.0, g.hh + 13.0 * g.cw / 12.0), 5.0)]
    prims += [Box((sgn * (g.a + 4.0), -1.0, g.hh - 3.0), (6.0, 8.0, 3.5), 2.0) for sgn in (1.0, -1.0)]
    return prims


def paint_spine(cv: Canvas, lay: SpineLayout, dens: BoneDensity, labels: LabelSet, scale: float):
    """C1..L5 with their labels, then the sacrum."""
    for n, lv in enumerate(lay.levels):
        if lv.name == "C1":
            prims = atlas_prims(lv.g)
        else:
            prims = vertebra_prims(lv.g, _inferior_joints(lay, n), superior_facets=lv.name != "C2")
            if lv.name == "C2":
                prims += axis_extras(lv.g)
        boost = 250.0 if lv.g.region != "C" else 150.0
        paint_bone(cv, Bone(lv.frame, prims, labels.id_of(vertebra_name(lv.name)), element_boost=boost), dens)
    paint_bone(cv, sacrum_bone(lay, labels.id_of("sacrum"), scale), dens)


def sacrum_bone(lay: SpineLayout, label: int, sc: float) -> Bone:
    """S1 body, sacral plate with alae, median crest, S1 superior facets; canal and foramina carved."""
    sg = lay.sacral
    s1 = replace(lay.levels[-1].g, beta=sg.beta)
    prims = [Body(-sg.hh, sg.a, sg.b, sg.hh, waist=0.04, notch=0.1 * sg.b, rnd=1.5, concave=0.8),
             sacral_wedge(sg, sc), Box((0.0, -sg.b - 22.0 * sc, -45.0 * sc), (3.0, 5.0, 35.0 * sc), 2.0)]
    prims += [facet(joint_plane(s1, sgn, sg.b), -4.0, 16.0, True) for sgn in (1.0, -1.0)]
    prims += tube([(0.0, (14.0 + 5.0 * k) * sc, (-100.0 - 9.0 * k) * sc) for k in range(4)],
                  [8.0 * sc, 6.5 * sc, 5.0 * sc, 3.5 * sc])     # coccyx
    carve = [sacral_canal(sg, sc)]
    for sgn in (1.0, -1.0):
        for wz in (-25.0, -48.0, -70.0):
            u = sgn * 24.0 * sc
            carve.append(Capsule((u, -sg.b - 30.0, wz * sc), (u, sg.b + 20.0, wz * sc), 4.0))
    return Bone(lay.sacrum, prims, label, tuple(carve), k=3.0)
