"""Post-processing and refinement steps: what runs on a label map after the networks, by name.

One registry, :data:`STEPS`, serves both the refinement of fused pseudo-masks (``pointseg fuse
--refinement``) and the post-processing of a trained run's prediction (``config["postprocess"]``). Every
step is a small class, built by :func:`build_step` (fitted to the label set when it has a
``for_label_set``), and called as ``step(labels, probs, ct, clicks) -> labels`` where

- ``labels``: ``(I, J, K)`` integer label map on the CT's own grid;
- ``probs``: what the networks say of each voxel, or ``None``: anything indexable like ``(I, J, K, C)``
  class probabilities (a NumPy array or an h5py dataset; only the region around the foreground is read),
  or ``(I, J, K)``, the probability of each voxel's own label (its confidence); ``None`` when the
  predictor has neither (every labelled voxel then counts as confident);
- ``ct``: the CT, a :class:`~pointseg.io.volume.Volume` (HU) on the same grid, with its affine;
- ``clicks``: ``(N, 3)`` voxel indices ``(i, j, k)`` and ``(N,)`` class ids (both empty after a model's
  prediction, which has no clicks).

It returns a new ``(I, J, K)`` label map of the same type. Steps of later pipelines (the rib
renumbering, small-object removal, instance post-processing) register here with the same signature.

``none`` returns the labels as they are; ``largest_component`` keeps each class's largest connected
component; ``bone_watershed`` (the default refinement, chosen by measurement in ``benchmarks/refinement.py``
and ``benchmarks/real_ct.py``) is :class:`pointseg.imaging.bone.BoneWatershed`: it re-draws every class's
boundary on the CT's bone within a structure's reach of its clicks, seeded by the clicks and the confident
voxels near them; ``bone_watershed_fused`` lets the fused labels decide where each class may go.
"""

from __future__ import annotations

import numpy as np

from pointseg.imaging.bone import BoneWatershed
from pointseg.io.volume import Volume
from pointseg.registry import Registry

STEPS: Registry = Registry("step")
DEFAULT_REFINEMENT = "bone_watershed"
NO_STEP = "none"

Clicks = tuple[np.ndarray, np.ndarray]


def no_clicks() -> Clicks:
    """The ``clicks`` of a prediction: none."""
    return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)


class Step:
    """Base of the steps: ``step(labels, probs, ct, clicks) -> labels`` (see the module notes)."""

    def __call__(self, labels: np.ndarray, probs, ct: Volume, clicks: Clicks) -> np.ndarray:
        raise NotImplementedError


register_step = STEPS.register


def build_step(name: str, label_set=None, **options) -> Step:
    """The step ``name``, fitted to ``label_set`` when it has a ``for_label_set`` (which classes it
    re-draws, how far each reaches); an InputError lists the known names."""
    cls = STEPS.lookup(name)
    if label_set is not None and hasattr(cls, "for_label_set"):
        return cls.for_label_set(label_set, **options)
    return cls(**options)


@register_step(NO_STEP, help="the labels as they are")
class NoStep(Step):
    """The labels as they are."""

    def __call__(self, labels, probs, ct, clicks):
        return np.asarray(labels)


@register_step("largest_component", help="each class keeps its largest connected component")
class LargestComponent(Step):
    """Each class keeps its largest connected component."""

    def __init__(self, num_classes: int | None = None):
        self.num_classes = num_classes

    @classmethod
    def for_label_set(cls, label_set, **options) -> "LargestComponent":
        return cls(num_classes=label_set.num_classes, **options)

    def __call__(self, labels, probs, ct, clicks):
        from pointseg.imaging.morphology import keep_largest_per_class

        labels = np.asarray(labels)
        num_classes = self.num_classes or int(labels.max(initial=0)) + 1
        return keep_largest_per_class(labels, num_classes).astype(labels.dtype, copy=False)


register_step("bone_watershed", help="re-draw each bone's boundary on the CT's bone, seeded by its clicks and its "
                                     "confident voxels (default refinement)")(BoneWatershed)


@register_step("bone_watershed_fused", help="bone_watershed where the fused labels, not the clicks' reach, decide "
                                            "where each class may go")
class BoneWatershedFromFusion(BoneWatershed):
    """:class:`BoneWatershed` that trusts the fusion for where each class may go (the fused mask grown by
    ``grow_mm``, seeds anywhere in it) instead of the clicks' reach: better on phantoms, where the planar
    networks get the levels right, worse on real CT, where they do not (measured in the benchmarks)."""

    def __init__(self, reach_mm: float | None = None, seed_mm: float | None = None, bone_hu: float = 200.0,
                 close_mm: float = 0.0, **options):
        super().__init__(reach_mm=reach_mm, seed_mm=seed_mm, bone_hu=bone_hu, close_mm=close_mm, **options)


__all__ = ["DEFAULT_REFINEMENT", "NO_STEP", "STEPS", "BoneWatershed", "BoneWatershedFromFusion", "LargestComponent",
           "NoStep", "Step", "build_step", "no_clicks", "register_step"]
