"""Bones: T11 and T12 with ribs, L1..L5 (labelled), the sacrum and the iliac bones.

Each bone is a smooth union of primitives in its own frame (a vertebra's, the sacrum's); neighbouring
vertebrae meet at facet joints whose planes are shared between the two, kept apart by a small gap.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from pointseg.phantom.geometry import Body, Box, Capsule, Fn, HalfClip, Reframe, box_between, round2, sd_ellipse
from pointseg.phantom.lumbar.anatomy import LABEL_OF
from pointseg.phantom.lumbar.layout import Layout, LevelGeometry
from pointseg.phantom.lumbar.params import PhantomParams
from pointseg.phantom.render import Bone, Canvas, paint_bone, texture_cube
from pointseg.phantom.spine_parts import facet, plane_in, sacral_canal, sacral_wedge, si_mass


def paint_bones(cv: Canvas, lay: Layout, p: PhantomParams, rng: np.random.Generator):
    """T11, T12 with ribs, L1..L5 (labelled), sacrum, ilia; in that order."""
    dens = p.bone
    cv.texture = texture_cube(rng, cv.spacing)
    for n, lv in enumerate(lay.levels):
        label = LABEL_OF.get(lv.name, 0)
        prims = _vertebra_prims(lv.g, _inferior_joints(lay, n))
        paint_bone(cv, Bone(lv.frame, prims, label, element_boost=250.0), dens)
        if lv.g.thoracic:
            for sgn in (1.0, -1.0):
                rib = _rib_prims(lv.g, sgn, long=lv.name == "T11")
                paint_bone(cv, Bone(lv.frame, rib, 0, k=0.0), replace(dens, t_cort=1.2))
    paint_bone(cv, _sacrum_bone(lay, p), dens)
    for bone in _ilium_bones(lay, p):
        paint_bone(cv, bone, replace(dens, t_cort=1.3))


# ------------------------------------------------------------ facet joints
def _joint(cw: float, b: float, beta: float, sgn: float):
    """Facet joint plane below a level, in the lower vertebra's frame.

    The joint line runs posterolaterally at ``beta`` degrees to the sagittal
    plane through J = (sgn*(cw+2.2), -b-18, 0); the normal points from the
    inferior process (posteromedial) to the superior process (anterolateral).
    """
    jb = math.radians(beta)
    return np.array([sgn * (cw + 2.2), -b - 18.0, 0.0]), np.array([sgn * math.cos(jb), math.sin(jb), 0.0])


def _inferior_joints(lay: Layout, n: int) -> dict:
    """Facet joint planes below level n (from the lower vertebra or S1), in n's frame."""
    if n + 1 < len(lay.levels):
        lo_frame, lo = lay.levels[n + 1].frame, lay.levels[n + 1].g
        cw, b = lo.cw, lo.b
    else:
        lo_frame, lo = lay.sacrum, lay.sacral
        cw, b = lay.levels[-1].g.cw, lo.b
    return {sgn: plane_in(lo_frame, lay.levels[n].frame, *_joint(cw, b, lo.beta, sgn)) for sgn in (1.0, -1.0)}


# --------------------------------------------------------- vertebrae, ribs
def _vertebra_prims(g: LevelGeometry, inferior_joints: dict) -> list:
    """Body, pedicles, laminae, processes of one vertebra (local frame, mm).

    ``inferior_joints`` maps side (+1 right, -1 left) to the facet joint plane
    below this vertebra, expressed in this vertebra's frame.
    """
    b, hh = g.b, g.hh
    prims = [Body(0.0, g.a, b, hh, waist=0.08, notch=0.12 * b, rnd=1.5, concave=1.2)]
    for sgn in (1.0, -1.0):
        prims += _posterior_side_prims(g, sgn, inferior_joints[sgn])
    drop = 12.0 if g.thoracic else 5.0
    tip = (0.0, -b - 19.0 - g.spl, -0.1 * hh - drop)
    prims.append(box_between((0.0, -b - 19.0, -0.1 * hh), tip, 3.2, g.sph, 2.5))
    prims.append(Box(tip, (4.0, 3.5, 0.9 * g.sph), 2.5))
    return prims


def _posterior_side_prims(g: LevelGeometry, sgn: float, inferior_joint) -> list:
    """Pedicle, lamina, transverse process and both articular processes on one side (+1 right, -1 left)."""
    b, hh = g.b, g.hh
    wl0, wl1 = -hh - 1.0, 0.55 * hh
    up = sgn * (g.cw + g.pw)
    pedicle = box_between((up, -b + 4.0, 0.2 * hh), (up, -b - 12.0, 0.2 * hh), g.pw, 0.5 * hh, 2.0)
    lamina = box_between((up, -b - 12.0, 0.5 * (wl0 + wl1)), (0.0, -b - 22.0, 0.5 * (wl0 + wl1)),
                         3.4, 0.5 * (wl1 - wl0), 1.5)
    point, normal = inferior_joint
    tpt, tph = (4.0, 6.5) if g.name == "L5" else (2.4, 4.5)
    transverse = box_between((up, -b - 7.0, 0.2 * hh), (sgn * g.tp, -b - g.tpb, 0.2 * hh + 2.0), tpt, tph, 1.8)
    return [pedicle, HalfClip(lamina, point, normal, 0.6, w_max=-0.6 * hh), transverse,
            facet(_joint(g.cw, b, g.beta, sgn), 0.15 * hh, hh + 7.0, True),
            facet(inferior_joint, -hh - 15.0, -0.3 * hh, False)]


def _rib_prims(g: LevelGeometry, sgn: float, long: bool) -> list:
    """11th/12th rib: capsule chain from the body along an arc, sloping down."""
    a, b, hh = g.a, g.b, g.hh
    ru, rv, cvv = (105.0, 65.0, 10.0) if long else (95.0, 55.0, 10.0)
    phi1, drop = (25.0, 60.0) if long else (-5.0, 45.0)
    pts = [(sgn * 0.75 * a, -0.55 * b, 0.3 * hh), (sgn * (g.tp - 2.0), -b - 12.0, 0.3 * hh - 4.0)]
    for t in np.linspace(0.0, 1.0, 9):
        ph = math.radians(-62.0 + (phi1 + 62.0) * t)
        pts.append((sgn * ru * math.cos(ph), cvv + rv * math.sin(ph), 0.3 * hh - 10.0 - drop * t))
    radii = np.linspace(4.5, 3.5, len(pts))
    return [Capsule(pts[i], pts[i + 1], radii[i], radii[i + 1]) for i in range(len(pts) - 1)]


def _sacrum_bone(lay: Layout, p: PhantomParams) -> Bone:
    """S1 body, sacral plate with alae, median crest, S1 superior facets."""
    sg, sc = lay.sacral, p.scale
    l5 = lay.levels[-1].g
    prims = [Body(-sg.hh, sg.a, sg.b, sg.hh, waist=0.04, notch=0.1 * sg.b, rnd=1.5, concave=0.8),
             sacral_wedge(sg, sc), Box((0.0, -sg.b - 22.0 * sc, -45.0 * sc), (3.0, 5.0, 35.0 * sc), 2.0)]
    prims += [facet(_joint(l5.cw, sg.b, sg.beta, sgn), -4.0, 16.0, True) for sgn in (1.0, -1.0)]
    carve = [sacral_canal(sg, sc)]
    for sgn in (1.0, -1.0):
        for wz in (-25.0, -48.0, -70.0):
            u = sgn * 24.0 * sc
            carve.append(Capsule((u, -sg.b - 30.0, wz * sc), (u, sg.b + 20.0, wz * sc), 4.0))
    return Bone(lay.sacrum, prims, 0, tuple(carve), k=3.0)


# ------------------------------------------------------------------- ilium
def wing_fn(p: PhantomParams, sgn: float, shell: tuple[float, float] | None):
    """SDF of the iliac wing (shell=None) or of a band inside/outside it (pelvis frame; also bounds)."""
    sc = p.scale
    wc = 40.0 * sc + p.crest_mm
    aw, bw, cvv = 108.0 * sc, 75.0 * sc, 20.0 * sc

    def fn(u, v, w):
        su = sgn * u
        depth = np.maximum(wc - w, 0.0)
        de = sd_ellipse(su, v - cvv, aw - 0.45 * depth, bw - 0.1 * depth)
        if shell is None:
            d = np.abs(de) - (1.8 + 2.2 * np.clip(1.0 - depth / 15.0, 0.0, 1.0))
            top = wc - 0.004 * (v - 5.0) ** 2
        else:
            d = np.maximum(shell[0] - de, de - shell[1])
            top = wc - 6.0 - 0.004 * (v - 5.0) ** 2
        lim = np.maximum(np.maximum(w - top, (wc - 120.0) - w), np.maximum(25.0 - su, np.abs(v + 2.0) - 50.0))
        return np.maximum(d, lim) if shell is None else round2(d, lim, 8.0)

    lo = np.array([min(sgn * 20.0, sgn * 140.0), -60.0, wc - 125.0])
    hi = np.array([max(sgn * 20.0, sgn * 140.0), 60.0, wc + 5.0])
    return fn, lo, hi


def _ilium_bones(lay: Layout, p: PhantomParams) -> list:
    """Iliac wings (pelvis frame) joined to their sacroiliac parts, label 0."""
    sg, sc = lay.sacral, p.scale
    M = lay.pelvis.R.T @ lay.sacrum.R
    return [Bone(lay.sacrum, [Reframe(Fn(*wing_fn(p, sgn, None)), M), si_mass(sg, sc, sgn)], 0, (), k=6.0)
            for sgn in (1.0, -1.0)]
