"""Connected-component cleanup of label maps, shared by the pseudo-masks and the models' predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def ellipsoid_element(radius_mm: float, spacing: Sequence[float]) -> np.ndarray:
    """Ball of radius ``radius_mm`` on a grid of ``spacing`` (mm per axis) as a bool structuring element.

    Returns a bool array of shape ``(2 h_a + 1, ...)`` with ``h_a = floor(radius_mm / spacing_a)``, True at
    offsets d with ``sum_a (d_a spacing_a / radius_mm) ** 2 <= 1``. Radius 0 gives the single voxel
    (identity) element. Example: radius 3 mm at spacing (3, 1, 1) has shape (3, 7, 7).
    """
    spacing = [float(s) for s in spacing]
    if not spacing or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be positive millimetres per axis; got {spacing}")
    if not (np.isfinite(radius_mm) and radius_mm >= 0):
        raise ValueError(f"element radius must be finite and >= 0 mm; got {radius_mm}")
    if radius_mm == 0:
        return np.ones((1,) * len(spacing), dtype=bool)
    half = [int(np.floor(radius_mm / s + 1e-9)) for s in spacing]
    offsets = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    distance2 = sum((d * (s / radius_mm)) ** 2 for d, s in zip(offsets, spacing))
    return distance2 <= 1 + 1e-9


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest connected component of bool ``mask`` (full connectivity: 26-neighbours in 3D).

    Returns a bool array of ``mask``'s shape; all False for an empty mask; on equal sizes the component met
    first in C order wins.
    """
    components, count = ndimage.label(mask, structure=ndimage.generate_binary_structure(mask.ndim, mask.ndim))
    if count <= 1:
        return components > 0
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return components == np.argmax(sizes)


def keep_largest_per_class(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Each foreground class of an (I, J, K) label map reduced to its largest 26-connected component; the
    voxels it loses become background. Returns a new uint8 array."""
    out = np.zeros(labels.shape, dtype=np.uint8)
    boxes = ndimage.find_objects(np.asarray(labels, dtype=np.uint8), max_label=num_classes - 1)
    for c, box in enumerate(boxes, start=1):
        if box is not None:
            out[box][largest_component(labels[box] == c)] = c
    return out
