"""One synthetic case: draw the parameters, lay out the spine, paint soft tissue then bones, finish."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointseg.phantom.lumbar.bones import paint_bones
from pointseg.phantom.lumbar.layout import layout, make_canvas
from pointseg.phantom.lumbar.params import PhantomConfig, PhantomParams
from pointseg.phantom.lumbar.soft_tissue import (paint_pelvis_soft_tissue, paint_spine_soft_tissue, paint_torso,
                                                 paint_viscera)
from pointseg.phantom.render import finish


@dataclass
class Phantom:
    """One synthetic case.

    Attributes
    ----------
    ct : np.ndarray
        int16 Hounsfield units, shape (I, J, K), RAS+ array axes.
    labels : np.ndarray
        uint8, shape (I, J, K); 0 background, 1..5 = L1..L5.
    affine : np.ndarray
        4x4 float64, voxel (i, j, k) -> world RAS millimetres.
    seed : int
        The seed the case was made with.
    case_params : PhantomParams
        The random parameters drawn for this case.
    fov_cut_z_mm : float or None
        World S-I height (mm) where the field of view cuts L1 or L5; None when it cuts nothing.
    """

    ct: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    seed: int
    case_params: PhantomParams
    fov_cut_z_mm: float | None = None

    @property
    def params(self) -> dict:
        """JSON-serialisable record of the case (``phantom.json``): parameters, ``seed`` and ``shape``."""
        return self.case_params.to_record(self.seed, self.ct.shape, self.fov_cut_z_mm)


def make_phantom(seed: int, config: PhantomConfig = PhantomConfig()) -> Phantom:
    """Generate one synthetic lumbar CT.

    Parameters
    ----------
    seed : int
        Seed of ``np.random.default_rng``; the same seed and config give
        identical arrays.
    config : PhantomConfig
        Spacing (mm), field of view (mm), noise (HU), blur (mm) and variation.

    Returns
    -------
    Phantom
        ``ct`` int16 HU and ``labels`` uint8 of shape (I, J, K) with
        I, J, K = round(fov_mm / spacing) (K smaller when the FOV is cut),
        ``affine`` 4x4 voxel -> RAS mm, ``case_params`` the drawn parameters.
    """
    rng = np.random.default_rng(seed)
    params = PhantomParams.sample(rng, config)
    lay = layout(params)
    canvas, fov_cut_z_mm = make_canvas(config, lay, params.fov_cut)
    paint_torso(canvas, lay, params)
    paint_viscera(canvas, lay, params)
    paint_spine_soft_tissue(canvas, lay, params)
    paint_pelvis_soft_tissue(canvas, lay, params)
    paint_bones(canvas, lay, params, rng)
    ct = finish(canvas, config, rng)
    return Phantom(ct=ct, labels=canvas.labels, affine=canvas.affine(), seed=int(seed), case_params=params,
                   fov_cut_z_mm=fov_cut_z_mm)
