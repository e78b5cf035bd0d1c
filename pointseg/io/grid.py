"""Grids: a volume resampled onto another grid (SimpleITK), or reoriented exactly (nibabel: flips and
permutations, no interpolation). The axis convention is the one of :mod:`pointseg.io.volume`."""

from __future__ import annotations

from typing import Literal, Sequence

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from pointseg.io.volume import Volume, from_sitk, to_sitk

Interpolation = Literal["linear", "nearest"]
_INTERPOLATORS = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor}


def _grid_image(shape: Sequence[int], affine: np.ndarray) -> sitk.Image:
    """An empty SimpleITK image that only carries a grid (used as a resampling reference)."""
    reference = to_sitk(Volume(np.zeros((1, 1, 1), np.uint8), affine))
    grid = sitk.Image([int(n) for n in shape], sitk.sitkUInt8)
    grid.SetSpacing(reference.GetSpacing())
    grid.SetOrigin(reference.GetOrigin())
    grid.SetDirection(reference.GetDirection())
    return grid


# ----------------------------------------------------------------------------------------- resampling
def resample_to_grid(
    volume: Volume,
    shape: Sequence[int],
    affine: np.ndarray,
    interpolation: Interpolation = "linear",
    fill: float = 0.0,
) -> Volume:
    """Resample ``volume`` onto the grid ``(shape, affine)``; points outside the input get ``fill``.

    ``linear`` is for CT and probabilities, ``nearest`` for label maps. The output keeps the input dtype
    for ``nearest`` and is float32 for ``linear``.
    """
    image = to_sitk(volume)
    integer = not np.issubdtype(volume.array.dtype, np.floating)
    pixel_type = sitk.sitkFloat32 if interpolation == "linear" and integer else image.GetPixelID()
    out = sitk.Resample(
        image,
        _grid_image(shape, affine),
        sitk.Transform(),
        _INTERPOLATORS[interpolation],
        float(fill),
        pixel_type,
    )
    return Volume(from_sitk(out).array, np.asarray(affine, dtype=np.float64), volume.path)


def spacing_grid(volume: Volume, spacing: float | Sequence[float]) -> tuple[tuple[int, int, int], np.ndarray]:
    """The grid covering ``volume``'s extent (voxel edge to voxel edge) with voxels of ``spacing`` mm.

    The direction cosines are kept (an oblique scan stays oblique), so the only interpolation is the change
    of voxel size; both grids share the outer corner of voxel ``(0, 0, 0)``.
    """
    new = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (3,))
    old = volume.spacing
    direction = volume.affine[:3, :3] / old
    extent = np.asarray(volume.shape) * old
    shape = tuple(int(n) for n in np.maximum(1, np.ceil(extent / new - 1e-6)))
    affine = np.eye(4)
    affine[:3, :3] = direction @ np.diag(new)
    affine[:3, 3] = volume.affine[:3, 3] + direction @ ((new - old) / 2.0)
    return shape, affine  # type: ignore[return-value]


def resample_to_spacing(
    volume: Volume, spacing: float | Sequence[float], interpolation: Interpolation = "linear", fill: float = 0.0
) -> Volume:
    """Resample to voxels of ``spacing`` mm (one number or one per array axis); see :func:`spacing_grid`."""
    shape, affine = spacing_grid(volume, spacing)
    return resample_to_grid(volume, shape, affine, interpolation, fill)


def resample_like(volume: Volume, reference: Volume, interpolation: Interpolation = "linear", fill: float = 0.0) -> Volume:
    """Resample ``volume`` onto ``reference``'s grid — the inverse of :func:`resample_to_spacing`."""
    return resample_to_grid(volume, reference.shape, reference.affine, interpolation, fill)


# ------------------------------------------------------------------------------------- reorientation
def orientation_transform(affine: np.ndarray, axcodes: str | Sequence[str]) -> np.ndarray:
    """The nibabel orientation array that flips and permutes a grid with ``affine`` to ``axcodes``."""
    current = nib.orientations.io_orientation(affine)
    return nib.orientations.ornt_transform(current, nib.orientations.axcodes2ornt(tuple(axcodes)))


def reorient(volume: Volume, axcodes: str | Sequence[str] = "RAS") -> tuple[Volume, np.ndarray]:
    """Flip and permute the array axes (no interpolation) so they point along ``axcodes``.

    Returns the reoriented volume and the nibabel orientation array ``ornt`` that did it; pass it to
    :func:`undo_reorient` to go back. For an oblique scan the closest axes are used and the affine keeps
    the rotation, so world coordinates are unchanged.
    """
    ornt = orientation_transform(volume.affine, axcodes)
    array = nib.orientations.apply_orientation(volume.array, ornt)
    affine = volume.affine @ nib.orientations.inv_ornt_aff(ornt, volume.shape)
    return Volume(array, affine, volume.path), ornt  # ``array`` is a view of the input where possible


def undo_reorient(array: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """Bring an array on the reoriented grid (3D, or 3D + trailing channels) back to the original axes."""
    inverse = np.empty_like(ornt)
    for axis, (target, flip) in enumerate(ornt):
        inverse[int(target)] = (axis, flip)
    return nib.orientations.apply_orientation(array, inverse)  # a view (flips and transposes)
