"""Image-guided refinement of fused pseudo-masks: the planar networks say *which* vertebra, the CT says
where bone ends.

Every refinement is a small class registered by name in :data:`REFINEMENTS` and called as
``refinement(labels, probs, ct, clicks, spacing) -> labels`` where

- ``labels``: (I, J, K) uint8 arg-max of the fused probabilities on the CT's own grid;
- ``probs``: the fused probabilities, anything indexable like an (I, J, K, C) array (a NumPy array or the
  h5py dataset of ``pseudo_probabilities.h5``; only the region around the foreground is read);
- ``ct``: (I, J, K) HU array on the same grid;
- ``clicks``: (N, 3) voxel indices ``(i, j, k)`` and (N,) class ids of the case's clicks;
- ``spacing``: mm per array axis.

It returns a new (I, J, K) uint8 label map. The smoothing and per-class cleanup of
:mod:`pseudo.smoothing` run after it.

``none`` returns the labels as they are. ``bone_watershed`` (the default, chosen by measurement in
``benchmarks/refinement.py`` and ``benchmarks/real_ct.py``) re-draws every class's boundary on the CT:

1. bone = the CT smoothed with a small Gaussian above ``bone_hu``;
2. each class may only grow into bone within ``grow_mm`` of where the fusion put it (so a vertebra
   nobody clicked — a T12 above L1, the sacrum below L5 — is not handed to its clicked neighbour), and
   loses every voxel that is not bone (the soft-tissue spill in front of the vertebral bodies);
3. seeds: the class's clicks and its confident fused bone voxels (P >= ``confident``); bone that the
   fusion calls background with confidence seeds the background;
4. a marker-based watershed (scikit-image) on the gradient magnitude of the smoothed CT floods the
   allowed bone from the seeds, so neighbouring vertebrae meet where the image has an edge (the disc,
   the facet joint) rather than where the coarse network output switched;
5. per class, holes are filled in 3D and in every axial slice (the marrow inside the cortical shell is
   often below the bone threshold).

Bone left unreached by any seed stays background. Before all this, each fused class keeps only its
connected components that hold one of its clicks (stray blobs far from the spine go), and only a box
around what remains (plus ``grow_mm``) is processed, so the time depends on the spine, not on the size of
the scan.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from pointseg.errors import InputError
from pointseg.registry import Registry
from pseudo.smoothing import ellipsoid_element

REFINEMENTS: Registry = Registry("refinement")
DEFAULT_REFINEMENT = "bone_watershed"


class Refinement:
    """Base of the refinements: ``refinement(labels, probs, ct, clicks, spacing) -> labels``."""

    def __call__(self, labels: np.ndarray, probs, ct: np.ndarray, clicks: tuple[np.ndarray, np.ndarray],
                 spacing) -> np.ndarray:
        raise NotImplementedError


register_refinement = REFINEMENTS.register
build_refinement = REFINEMENTS.build


@register_refinement("none")
class NoRefinement(Refinement):
    """The fused labels as they are."""

    def __call__(self, labels, probs, ct, clicks, spacing):
        return np.asarray(labels, dtype=np.uint8)


def foreground_box(mask: np.ndarray, margin: tuple[int, ...]) -> tuple[slice, ...] | None:
    """The bounding box of ``mask`` grown by ``margin`` voxels per axis and clipped to the array; None if empty."""
    if not mask.any():
        return None
    box = []
    for axis, pad in enumerate(margin):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(int(present[0]) - pad, 0), min(int(present[-1]) + pad + 1, mask.shape[axis])))
    return tuple(box)


def slice_axis(affine: np.ndarray) -> int:
    """The array axis closest to the patient's superior-inferior direction."""
    directions = np.abs(affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0))
    return int(np.argmax(directions[2]))


def keep_clicked_components(labels: np.ndarray, click_vox: np.ndarray, ids: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class, the connected components of ``labels == c`` that hold a click of c (the largest when none
    does); stray blobs far from the spine are dropped before anything else looks at them."""
    out = np.zeros_like(labels)
    boxes = ndimage.find_objects(labels, max_label=num_classes - 1)
    for c, box in enumerate(boxes, start=1):
        if box is None:
            continue
        components, count = ndimage.label(labels[box] == c)
        offset = np.array([s.start for s in box])
        stop = np.array([s.stop for s in box])
        local = click_vox[(ids == c) & np.all((click_vox >= offset) & (click_vox < stop), axis=1)] - offset
        keep = set(int(v) for v in components[tuple(local.T)] if v > 0) if len(local) else set()
        if not keep and count:
            keep = {int(np.argmax(np.bincount(components.ravel())[1:])) + 1}
        region = out[box]
        region[np.isin(components, list(keep))] = c
    return out


def fill_holes_2d(mask: np.ndarray, axis: int) -> np.ndarray:
    """Fill holes in every 2D slice of ``mask`` taken across ``axis``."""
    out = np.moveaxis(mask.copy(), axis, 0)
    for n in range(out.shape[0]):
        if out[n].any():
            out[n] = ndimage.binary_fill_holes(out[n])
    return np.moveaxis(out, 0, axis)


@register_refinement("bone_watershed")
class BoneWatershed(Refinement):
    """Seeded watershed of the fused classes on the CT's bone (see the module docstring).

    Args:
        bone_hu: HU above which the smoothed CT counts as bone.
        grow_mm: how far (mm) a class may extend beyond the fused mask.
        confident: fused probability above which a bone voxel seeds its class (or the background).
        sigma_mm: Gaussian smoothing of the CT before thresholding and the gradient.
        axial_axis: the array axis of axial slices for 2D hole filling; None: every axis' 2D holes are
            filled only in 3D (set by the pipeline from the affine).
    """

    def __init__(self, bone_hu: float = 150.0, grow_mm: float = 6.0, confident: float = 0.9, sigma_mm: float = 0.5,
                 axial_axis: int | None = None):
        if not (np.isfinite(grow_mm) and grow_mm >= 0 and 0 < confident <= 1 and sigma_mm >= 0):
            raise InputError(f"bone_watershed needs grow_mm >= 0, 0 < confident <= 1, sigma_mm >= 0; got "
                             f"grow_mm={grow_mm}, confident={confident}, sigma_mm={sigma_mm}")
        self.bone_hu = float(bone_hu)
        self.grow_mm = float(grow_mm)
        self.confident = float(confident)
        self.sigma_mm = float(sigma_mm)
        self.axial_axis = axial_axis

    def __call__(self, labels, probs, ct, clicks, spacing):
        labels = np.asarray(labels, dtype=np.uint8)
        spacing = [float(s) for s in spacing]
        ijk, ids = clicks
        num_classes = int(np.shape(probs)[-1])
        foreground = labels > 0
        click_vox = np.clip(np.rint(np.asarray(ijk, dtype=np.float64)).astype(np.int64).reshape(-1, 3), 0,
                            np.array(labels.shape) - 1)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        labels = keep_clicked_components(labels, click_vox, ids, num_classes)
        foreground = labels > 0
        seeds_mask = foreground.copy()
        seeds_mask[tuple(click_vox[ids > 0].T)] = True
        margin = tuple(int(np.ceil((self.grow_mm + 3 * self.sigma_mm) / s)) + 2 for s in spacing)
        box = foreground_box(seeds_mask, margin)
        out = np.zeros_like(labels)
        if box is None:
            return out
        local_labels = labels[box]
        local_probs = np.asarray(probs[box], dtype=np.float32)
        hu = ndimage.gaussian_filter(np.asarray(ct[box], dtype=np.float32), [self.sigma_mm / s for s in spacing])
        bone = hu > self.bone_hu
        if self.axial_axis is not None:  # the marrow inside the cortical shell
            bone = fill_holes_2d(bone, self.axial_axis)

        # Markers: 1..C-1 the classes, C the background (mapped back to 0 at the end).
        markers = np.zeros(local_labels.shape, dtype=np.int32)
        allowed = np.zeros(local_labels.shape, dtype=bool)
        grow = ellipsoid_element(self.grow_mm, spacing)
        for c in range(1, num_classes):
            fused = local_labels == c
            if not fused.any():
                continue
            allowed |= ndimage.binary_dilation(fused, structure=grow) if self.grow_mm > 0 else fused
            markers[fused & bone & (local_probs[..., c] >= self.confident)] = c
        offset = np.array([s.start for s in box])
        for (i, j, k), c in zip(click_vox - offset, ids):
            if 0 <= i < markers.shape[0] and 0 <= j < markers.shape[1] and 0 <= k < markers.shape[2]:
                markers[i, j, k] = c if c > 0 else num_classes
        region = bone & (allowed | (markers > 0))
        markers[~region] = 0
        elevation = ndimage.gaussian_gradient_magnitude(np.asarray(ct[box], dtype=np.float32),
                                                        [max(self.sigma_mm, 0.5) / s for s in spacing])
        flooded = watershed(elevation, markers, mask=region)
        flooded[flooded == num_classes] = 0

        axial = self.axial_axis
        local_out = np.zeros(local_labels.shape, dtype=np.uint8)
        for c in range(1, num_classes):
            mask = flooded == c
            if not mask.any():
                continue
            mask = ndimage.binary_fill_holes(mask)
            if axial is not None:
                mask = fill_holes_2d(mask, axial)
            local_out[mask & (local_out == 0)] = c
        out[box] = local_out
        return out
