"""Patches for the volumetric engine: a centre is chosen, then named views are cut around it.

Drawing a training patch is two steps, so that every view of a patch is aligned with the image:

1. **a centre** on the model grid, by a sampler registered in :data:`CENTRES`: ``balanced`` (a class drawn
   uniformly among the case's classes, then one of its voxels: every class equally likely to be in a
   patch; MONAI's ``generate_label_classes_crop_centers``) or ``uniform`` (every patch position equally
   likely; MONAI's ``get_random_patch``), the same draws MONAI's ``RandCropByLabelClassesd`` and
   ``RandSpatialCropd`` make with the same random state;
2. **views** cut around it (:class:`View`): each names the batch key it fills, the case array it is cut from
   (``image``, ``label``, ``instances``, or a coarser copy of the image ``image@F`` at F times the voxel size),
   its size in voxels of that array (``-1`` along an axis: the whole axis, e.g. a full axial plane) and the
   value outside the case. A context view of SneakyNet is ``View("context_1", "image@2", (64, 64, 64))``: 64
   voxels of twice the size around the same centre.

:class:`CutViews` does both as one MONAI randomizable dictionary transform, so it sits first in a MONAI
``Compose`` with the augmentations after it and is seeded like any MONAI transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pointseg.errors import InputError
from pointseg.registry import Registry

CENTRES: Registry = Registry("sampling")


@dataclass(frozen=True)
class View:
    """A crop of ``source`` (a case array, channel first) of ``size`` voxels around the patch centre, stored
    in the batch as ``name``; outside the case it holds ``fill``. ``source`` ``image@F`` is the image at F
    times the voxel size, whose centre is the patch centre divided by F."""

    name: str
    source: str
    size: tuple[int, ...]
    fill: float = 0.0

    @property
    def factor(self) -> int:
        return int(self.source.partition("@")[2] or 1)


def coarse_key(factor: int) -> str:
    """The case array key of the image at ``factor`` times the voxel size."""
    return f"image@{int(factor)}"


def whole(size: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """``size`` with ``-1`` axes replaced by the whole extent of ``shape``."""
    return tuple(int(n) if s == -1 else int(s) for s, n in zip(size, shape))


@CENTRES.register("balanced", help="every class equally likely in a patch (default)")
class BalancedCentre:
    """A class drawn uniformly among those present, then one of its voxels (its positions come from MONAI's
    ``ClassesToIndicesd`` under ``label_cls_indices``), moved inside the case so the patch fits."""

    needs_indices = True

    def __call__(self, item: dict, patch: tuple[int, ...], shape: tuple[int, ...], rng) -> tuple[int, ...]:
        from monai.transforms.utils import generate_label_classes_crop_centers

        centres = generate_label_classes_crop_centers(patch, 1, shape, item["label_cls_indices"], None, rng,
                                                      False, False)
        return tuple(int(c) for c in centres[0])


@CENTRES.register("uniform", help="every patch position equally likely")
class UniformCentre:
    """Every patch position inside the case equally likely."""

    needs_indices = False

    def __call__(self, item: dict, patch: tuple[int, ...], shape: tuple[int, ...], rng) -> tuple[int, ...]:
        from monai.data.utils import get_random_patch, get_valid_patch_size

        slices = get_random_patch(shape, get_valid_patch_size(shape, patch), rng)
        return tuple(int(s.start + (s.stop - s.start) // 2) for s in slices)


def cut(array: np.ndarray, centre: tuple[int, ...], size: tuple[int, ...], fill: float) -> np.ndarray:
    """The ``size`` box of ``array`` (channel first) whose centre voxel is ``centre`` (start = centre -
    size // 2, as MONAI's ``SpatialCrop`` puts it), padded with ``fill`` where it leaves the array."""
    spatial = array.shape[1:]
    start = [c - s // 2 for c, s in zip(centre, size)]
    inside = tuple(slice(max(0, a), min(n, a + s)) for a, s, n in zip(start, size, spatial))
    crop = np.asarray(array[(slice(None),) + inside])
    if crop.shape[1:] == tuple(size):
        return crop
    out = np.full((array.shape[0],) + tuple(size), fill, dtype=array.dtype)
    placed = tuple(slice(s.start - a, s.stop - a) for s, a in zip(inside, start))
    out[(slice(None),) + placed] = crop
    return out


def _randomizable():
    from monai.transforms import Randomizable

    return Randomizable


class CutViews(_randomizable()):
    """MONAI dictionary transform: a centre from ``sampler`` for a ``patch`` on the model grid, then every
    view of ``views`` cut around it (``item`` holds the case arrays; the result holds the views only)."""

    def __init__(self, sampler: str, patch: tuple[int, ...], views: tuple[View, ...]):
        self.sampler = CENTRES.build(sampler)
        self.patch = tuple(int(n) for n in patch)
        self.views = tuple(views)
        if not any(v.name == "image" for v in views):
            raise InputError("a patch needs an 'image' view")

    def __call__(self, item: dict) -> dict:
        shape = tuple(item["image"].shape[1:])
        patch = whole(self.patch, shape)
        centre = self.sampler(item, patch, shape, self.R)
        out = {}
        for view in self.views:
            source = item[view.source]
            factor = view.factor
            size = whole(view.size, tuple(source.shape[1:]))
            out[view.name] = cut(source, tuple(c // factor for c in centre), size, view.fill)
        return out


def to_tensors(item: dict, views: tuple[View, ...]) -> dict[str, torch.Tensor]:
    """Views as tensors: float32 images, int64 label maps (``label``, ``instances``: no channel axis)."""
    out = {}
    for view in views:
        value = torch.as_tensor(np.asarray(item[view.name]))
        out[view.name] = value[0].long() if view.source in ("label", "instances") else value.float()
    return out


def pad_collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """A batch of views whose whole-axis extents differ between cases: each padded with zeros at its far
    end to the largest of the batch along the last three (spatial) axes, then stacked. (MONAI's
    ``pad_list_data_collate`` takes the first axis of every tensor for channels, which the label maps lack.)"""
    out = {}
    for key in items[0]:
        tensors = [item[key] for item in items]
        largest = [max(t.shape[-3 + a] for t in tensors) for a in range(3)]
        padded = []
        for tensor in tensors:
            widths = []
            for a in (2, 1, 0):  # torch's pad takes the last axis first
                widths += [0, largest[a] - tensor.shape[-3 + a]]
            padded.append(torch.nn.functional.pad(tensor, widths))
        out[key] = torch.stack(padded)
    return out
