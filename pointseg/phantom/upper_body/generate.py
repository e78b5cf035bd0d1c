"""One upper-body case: draw the parameters, lay out the skeleton, paint soft tissue, organs, then bones."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointseg.labels import LabelSet, get_label_set
from pointseg.phantom.render import Canvas, finish, texture_cube
from pointseg.phantom.upper_body.layout import SpineLayout, spine_layout
from pointseg.phantom.upper_body.organs import diaphragm, mediastinum, paint_abdomen, paint_chest
from pointseg.phantom.upper_body.params import UpperBodyConfig, UpperBodyParams
from pointseg.phantom.upper_body.pelvis import FEMUR_LENGTH_MM, Hip, femur_top, hips, paint_pelvis
from pointseg.phantom.upper_body.shoulder import Arm, arms, paint_arms
from pointseg.phantom.upper_body.soft import Outlines, outlines, paint_body, paint_muscles, paint_spine_soft_tissue
from pointseg.phantom.upper_body.spine import paint_spine
from pointseg.phantom.upper_body.thorax import RibCage, paint_rib_cage, rib_cage

LABEL_SET = "upper_body"
MID_FEMUR_MM = 210.0        # the full field of view ends this far down the femoral shaft


@dataclass
class Skeleton:
    """Everything laid out for one case (body coordinates unless noted)."""

    spine: SpineLayout
    cage: RibCage
    arms: list[Arm]
    hips: list[Hip]        # pelvis frame


@dataclass
class UpperBodyPhantom:
    """One synthetic upper-body case.

    Attributes
    ----------
    ct : np.ndarray
        int16 Hounsfield units, shape (I, J, K), RAS+ array axes.
    labels : np.ndarray
        uint8, shape (I, J, K), ids of the label set ``upper_body``.
    affine : np.ndarray
        4x4 float64, voxel (i, j, k) -> world RAS millimetres.
    seed : int
        The seed the case was made with.
    case_params : UpperBodyParams
        The random parameters drawn for this case.
    fov_z_mm : tuple of 2 float
        World S-I range of the field of view (bottom, top).
    """

    ct: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    seed: int
    case_params: UpperBodyParams
    fov_z_mm: tuple[float, float]

    @property
    def label_set(self) -> LabelSet:
        return get_label_set(LABEL_SET)

    @property
    def params(self) -> dict:
        """JSON-serialisable record of the case (``phantom.json``): parameters, ``seed``, ``shape``, FOV."""
        return self.case_params.to_record(self.seed, self.ct.shape, self.fov_z_mm)


def skeleton(p: UpperBodyParams) -> Skeleton:
    """Lay out spine, rib cage, shoulders and arms, hips and femora."""
    spine = spine_layout(p)
    cage = rib_cage(spine, p)
    return Skeleton(spine, cage, arms(spine, cage, p), hips(spine, p))


def fov_range(sk: Skeleton, p: UpperBodyParams) -> tuple[float, float]:
    """Body-coordinate S-I range (bottom, top) of the field of view: C1 to mid-femur, or cut."""
    lay, sc = sk.spine, p.build.scale
    c1 = lay.level("C1")
    top = float(c1.c_body[2] + c1.g.hh + 25.0 * sc)
    bottom = min(float(lay.to_body(lay.pelvis, h.shaft_top + h.shaft * MID_FEMUR_MM * sc)[2]) for h in sk.hips)
    cut = p.fov_cut
    if cut is not None and cut.top_mm is not None:
        rib1 = [r for r in sk.cage.ribs if r.number == 1]
        lowest = min(float(np.min(r.points[:, 2] - r.half_height - r.half_thick)) for r in rib1)
        top = lowest - cut.top_mm
    if cut is not None and cut.bottom_mm is not None:
        bottom = max(femur_top(lay, h) for h in sk.hips) + cut.bottom_mm
    return bottom, top


def make_canvas(config: UpperBodyConfig, sk: Skeleton, p: UpperBodyParams, y_mid: float) -> Canvas:
    """Axis-aligned RAS grid: in-plane FOV centred on the (unshifted) body, S-I from ``fov_range``."""
    sp = np.asarray(config.spacing, float)
    bottom, top = fov_range(sk, p)
    z0 = sk.spine.trunk.o[2] + bottom
    nz = max(int(math.floor((top - bottom) / sp[2])) + 1, 1)
    nxy = np.maximum(np.round(np.asarray(config.fov_mm, float) / sp[:2]).astype(int), 1)
    shape = np.array([nxy[0], nxy[1], nz])
    centre = np.array([0.0, y_mid])
    origin = np.append(centre - (shape[:2] - 1) / 2.0 * sp[:2], z0)
    return Canvas(shape, sp, origin)


def make_upper_body(seed: int, config: UpperBodyConfig = UpperBodyConfig()) -> UpperBodyPhantom:
    """Generate one synthetic upper-body CT (neck to mid-femur, arms at the sides).

    Parameters
    ----------
    seed : int
        Seed of ``np.random.default_rng``; the same seed and config give identical arrays.
    config : UpperBodyConfig
        Spacing (mm), in-plane field of view (mm), noise (HU), blur (mm), cut and rib-variant probabilities.

    Returns
    -------
    UpperBodyPhantom
        ``ct`` int16 HU and ``labels`` uint8 (label set ``upper_body``) of shape (I, J, K), ``affine``
        4x4 voxel -> RAS mm, ``case_params`` the drawn parameters.
    """
    rng = np.random.default_rng(seed)
    p = UpperBodyParams.sample(rng, config)
    labels = get_label_set(LABEL_SET)
    sk = skeleton(p)
    ol = outlines(sk.spine, sk.cage, sk.arms, sk.hips, p)
    t = ol.outer.table
    y_mid = 0.5 * float((t[:, 2] - t[:, 4]).min() + (t[:, 2] + t[:, 5]).max())
    cv = make_canvas(config, sk, p, y_mid)
    paint_soft_tissue(cv, sk, ol, p, labels)
    cv.texture = texture_cube(rng, cv.spacing)
    paint_bones(cv, sk, p, labels)
    ct = finish(cv, config, rng)
    z0 = float(cv.origin[2])
    return UpperBodyPhantom(ct, cv.labels, cv.affine(), int(seed), p, (z0, z0 + (cv.shape[2] - 1) * cv.spacing[2]))


def paint_soft_tissue(cv: Canvas, sk: Skeleton, ol: Outlines, p: UpperBodyParams, labels: LabelSet):
    """Body and cavity, psoas and iliacus, chest organs, abdominal and pelvic organs, discs and canal."""
    lay = sk.spine
    paint_body(cv, lay, ol, sk.arms, sk.hips, p)
    paint_muscles(cv, lay, sk.hips, p)
    dia = diaphragm(lay, p)
    paint_chest(cv, lay, sk.cage, ol, dia, mediastinum(lay, sk.cage, dia, p), p, labels)
    paint_abdomen(cv, lay, ol, dia, sk.hips, p, labels)
    paint_spine_soft_tissue(cv, lay, p)


def paint_bones(cv: Canvas, sk: Skeleton, p: UpperBodyParams, labels: LabelSet):
    """Spine and sacrum, rib cage, shoulders and arms, hip bones and femora."""
    sc, trunk = p.build.scale, sk.spine.trunk
    paint_spine(cv, sk.spine, p.bone, labels, sc)
    paint_rib_cage(cv, trunk, sk.cage, p.bone, p.cartilage_hu, labels)
    paint_arms(cv, trunk, sk.arms, p.bone, labels, sc)
    paint_pelvis(cv, sk.spine, sk.hips, p.bone, labels, sc)


__all__ = ["UpperBodyPhantom", "make_upper_body", "FEMUR_LENGTH_MM"]
