"""Morphological smoothing and per-class cleanup of fused label maps, and Gaussian smoothing of probabilities.

All sizes are in millimetres and turned into voxels with the grid's ``spacing`` (mm per array axis), so an
anisotropic CT (e.g. 3 x 1 x 1 mm) gets structuring elements and kernels of the right physical shape.
The morphology itself is scipy.ndimage's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from pointseg.imaging.morphology import ellipsoid_element, largest_component


def smooth_mask(
    mask: np.ndarray,
    spacing: Sequence[float],
    opening_mm: float = 2.0,
    closing_mm: float = 2.0,
    keep_largest: bool = True,
    fill_holes: bool = True,
) -> np.ndarray:
    """Opening, closing (ellipsoids in mm; radius 0 skips), largest component and 3D hole filling of ``mask``.

    The array's outside counts as background, so pad ``mask`` by the larger element's half-extent (in
    voxels) if the result should not depend on where the array ends. Returns a bool array of the same shape.
    """
    smoothed = np.asarray(mask, dtype=bool)
    if opening_mm > 0:
        smoothed = ndimage.binary_opening(smoothed, structure=ellipsoid_element(opening_mm, spacing))
    if closing_mm > 0:
        smoothed = ndimage.binary_closing(smoothed, structure=ellipsoid_element(closing_mm, spacing))
    if keep_largest:
        smoothed = largest_component(smoothed)
    if fill_holes:
        smoothed = ndimage.binary_fill_holes(smoothed)
    return smoothed


def smooth_labels(
    labels: np.ndarray,
    spacing: Sequence[float],
    num_classes: int,
    opening_mm: float = 2.0,
    closing_mm: float = 2.0,
    keep_largest: bool = True,
    fill_holes: bool = True,
    probs: np.ndarray | None = None,
) -> np.ndarray:
    """Smooth and clean each foreground class of an (I, J, K) label map; returns (I, J, K) uint8.

    Per class c = 1..num_classes-1 present in ``labels``, inside its bounding box padded by the element
    half-extent + 1 voxel (the volume's outside counts as background): :func:`smooth_mask` (opening, then
    closing with ellipsoids of ``opening_mm`` / ``closing_mm``, largest 26-connected component, 3D hole
    filling). Background is never smoothed itself: voxels no class claims become 0.

    Where several classes claim a voxel, the one with the higher ``probs[..., c]`` wins when ``probs``
    ((I, J, K, num_classes)) is given; on equal (or no) probabilities the voxel's original label wins if it
    is among the claimants, else the lowest class id.
    """
    labels = np.asarray(labels)
    spacing = _check_spacing(spacing)
    _check_labels(labels, spacing, num_classes, probs)
    extent = np.maximum(ellipsoid_element(opening_mm, spacing).shape, ellipsoid_element(closing_mm, spacing).shape)
    pad = [int(n) // 2 + 1 for n in extent]
    out = np.zeros(labels.shape, dtype=np.uint8)
    boxes = ndimage.find_objects(labels.view(np.uint8) if labels.dtype == bool else labels, max_label=num_classes - 1)
    for c, box in enumerate(boxes, start=1):
        if box is None:
            continue
        local = np.pad(labels[box] == c, [(p, p) for p in pad])
        mask = smooth_mask(local, spacing, opening_mm, closing_mm, keep_largest, fill_holes)
        region, mask = _clip_to_volume(box, pad, mask, labels.shape)
        _claim(out, region, mask, c, labels, probs)
    return out


def smooth_probabilities(probs: np.ndarray, spacing: Sequence[float], sigma_mm: float) -> np.ndarray:
    """Gaussian smoothing of each channel of (I, J, K, C) ``probs`` with ``sigma_mm`` (sigma_a = sigma_mm / spacing_a).

    Returns a new (I, J, K, C) float32 array renormalised to sum 1 over C where the sum is > 0; voxels where
    the input had no opinion (all-zero vector) stay all zero. ``sigma_mm == 0`` returns ``probs`` itself.
    """
    spacing = _check_spacing(spacing)
    if probs.ndim != len(spacing) + 1:
        raise ValueError(f"probabilities of shape {probs.shape} do not match spacing {tuple(spacing)}")
    if not (np.isfinite(sigma_mm) and sigma_mm >= 0):
        raise ValueError(f"sigma must be finite and >= 0 mm; got {sigma_mm}")
    if sigma_mm == 0:
        return probs
    sigma = [sigma_mm / s for s in spacing]
    out = np.empty(probs.shape, dtype=np.float32)
    for c in range(probs.shape[-1]):
        channel = np.ascontiguousarray(probs[..., c], dtype=np.float32)
        out[..., c] = ndimage.gaussian_filter(channel, sigma=sigma, mode="nearest")
    out[~np.any(probs, axis=-1)] = 0
    total = out.sum(axis=-1, keepdims=True, dtype=np.float32)
    np.divide(out, total, out=out, where=total > 0)
    return out


# ----------------------------------------------------------------------------------------------- helpers


def _check_spacing(spacing: Sequence[float]) -> list[float]:
    spacing = [float(s) for s in spacing]
    if not spacing or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be positive millimetres per axis; got {spacing}")
    return spacing


def _check_labels(labels: np.ndarray, spacing: list[float], num_classes: int, probs: np.ndarray | None) -> None:
    if labels.ndim != len(spacing):
        raise ValueError(f"labels of shape {labels.shape} do not match spacing {tuple(spacing)}")
    if not np.issubdtype(labels.dtype, np.integer) and labels.dtype != bool:
        raise ValueError(f"labels must be integers; got {labels.dtype}")
    if not 1 <= num_classes <= 256:
        raise ValueError(f"num_classes must lie in 1..256 (uint8 output); got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}; got {labels.min()}..{labels.max()}")
    if probs is not None and probs.shape != labels.shape + (num_classes,):
        raise ValueError(
            f"probabilities of shape {probs.shape} do not match labels {labels.shape} x {num_classes} classes"
        )


def _clip_to_volume(
    box: tuple[slice, ...], pad: Sequence[int], mask: np.ndarray, shape: tuple[int, ...]
) -> tuple[tuple[slice, ...], np.ndarray]:
    """The volume region covered by a ``mask`` computed on ``box`` padded by ``pad``, and the mask cut to it."""
    region, crop = [], []
    for s, p, n in zip(box, pad, shape):
        start, stop = max(s.start - p, 0), min(s.stop + p, n)
        region.append(slice(start, stop))
        crop.append(slice(start - (s.start - p), stop - (s.start - p)))
    return tuple(region), mask[tuple(crop)]


def _claim(
    out: np.ndarray,
    region: tuple[slice, ...],
    mask: np.ndarray,
    c: int,
    labels: np.ndarray,
    probs: np.ndarray | None,
) -> None:
    """Let class ``c`` claim ``mask`` (bool, shape of ``out[region]``) in the label map ``out``, in place.

    Classes claim in increasing id. A voxel already held by a lower class b goes to c if
    ``P(c) > P(b)``, or if they are equal (always so without ``probs``) and the original label is c.
    """
    current = out[region]
    contested = mask & (current != 0)
    won = mask & (current == 0)
    if contested.any():
        original = labels[region][contested] == c
        if probs is None:
            better = original
        else:
            local = probs[region][contested]
            p_new = local[:, c]
            p_old = local[np.arange(len(local)), current[contested]]
            better = (p_new > p_old) | ((p_new == p_old) & original)
        won[contested] = better
    current[won] = c
