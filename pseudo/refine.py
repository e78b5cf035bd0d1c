"""Image-guided refinement of fused pseudo-masks: the planar networks say *which* vertebra, the CT says
where bone ends.

Every refinement is a small class registered by name in :data:`REFINEMENTS` and called as
``refinement(labels, probs, ct, clicks) -> labels`` where

- ``labels``: (I, J, K) uint8 arg-max of the fused probabilities on the CT's own grid;
- ``probs``: the fused probabilities, anything indexable like an (I, J, K, C) array (a NumPy array or the
  h5py dataset of ``pseudo_probabilities.h5``; only the region around the foreground is read);
- ``ct``: the CT, a :class:`~pointseg.volume.Volume` (HU) on the same grid, with its affine;
- ``clicks``: (N, 3) voxel indices ``(i, j, k)`` and (N,) class ids of the case's clicks.

It returns a new (I, J, K) uint8 label map. The smoothing and per-class cleanup of
:mod:`pointseg.pseudo.smoothing` run after it.

``none`` returns the labels as they are. ``bone_watershed`` (the default, chosen by measurement in
``benchmarks/refinement.py`` and ``benchmarks/real_ct.py``) is :class:`pointseg.bone.BoneWatershed`: it
re-draws every class's boundary on the CT's bone within a vertebra's reach of its clicks, seeded by the
clicks and the confident fused voxels near them (see there). ``bone_watershed_fused`` lets the fusion
decide where each class may go.
"""

from __future__ import annotations

import numpy as np

from pointseg.bone import BoneWatershed
from pointseg.registry import Registry
from pointseg.volume import Volume

REFINEMENTS: Registry = Registry("refinement")
DEFAULT_REFINEMENT = "bone_watershed"


class Refinement:
    """Base of the refinements: ``refinement(labels, probs, ct, clicks) -> labels``."""

    def __call__(self, labels: np.ndarray, probs, ct: Volume, clicks: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


register_refinement = REFINEMENTS.register


def build_refinement(name: str, label_set=None, **options) -> Refinement:
    """The refinement ``name``, fitted to ``label_set`` when it has a ``for_label_set`` (which classes it
    re-draws, how far each reaches); an InputError lists the known names."""
    cls = REFINEMENTS.lookup(name)
    if label_set is not None and hasattr(cls, "for_label_set"):
        return cls.for_label_set(label_set, **options)
    return cls(**options)


@register_refinement("none")
class NoRefinement(Refinement):
    """The fused labels as they are."""

    def __call__(self, labels, probs, ct, clicks):
        return np.asarray(labels, dtype=np.uint8)


register_refinement("bone_watershed")(BoneWatershed)


@register_refinement("bone_watershed_fused")
class BoneWatershedFromFusion(BoneWatershed):
    """:class:`BoneWatershed` that trusts the fusion for where each class may go (the fused mask grown by
    ``grow_mm``, seeds anywhere in it) instead of the clicks' reach: better on phantoms, where the planar
    networks get the levels right, worse on real CT, where they do not (measured in the benchmarks)."""

    def __init__(self, reach_mm: float | None = None, seed_mm: float | None = None, bone_hu: float = 200.0,
                 close_mm: float = 0.0, **options):
        super().__init__(reach_mm=reach_mm, seed_mm=seed_mm, bone_hu=bone_hu, close_mm=close_mm, **options)


__all__ = ["DEFAULT_REFINEMENT", "REFINEMENTS", "BoneWatershed", "BoneWatershedFromFusion", "NoRefinement",
           "Refinement", "build_refinement", "register_refinement"]
