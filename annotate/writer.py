"""The napari writers: a points layer to ``points.csv`` and a labels layer to NIfTI on the CT's grid.

Both need the grid the layer was read on (``metadata["pointseg"]``, set by the pointseg reader), and both
write atomically: a temporary file next to the target, renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointseg.annotate.layers import DisplayGeometry, label_volume, points_from_layer
from pointseg.io.points import write_points
from pointseg.io.volume import write_nifti

NO_GEOMETRY = "the layer has no CT geometry; open the CT or case with the pointseg reader and save its layers"


def _geometry(attributes: dict) -> DisplayGeometry:
    geometry = DisplayGeometry.from_meta(attributes.get("metadata"))
    if geometry is None:
        raise ValueError(NO_GEOMETRY)
    return geometry


def write_points_layer(path: str, data: np.ndarray, attributes: dict) -> list[str]:
    """Write a points layer to the ``points.csv`` contract (voxel and world columns, time, annotator)."""
    points = points_from_layer(data, attributes.get("features"), _geometry(attributes))
    return [str(write_points(path, points, force=True))]


def write_labels_layer(path: str, data: np.ndarray, attributes: dict) -> list[str]:
    """Write a labels layer as a uint8 NIfTI with the CT's affine (``.nii`` is added when the name has no
    NIfTI suffix)."""
    target = Path(path)
    if not target.name.lower().endswith((".nii", ".nii.gz")):
        target = target.with_name(target.name + ".nii.gz")
    volume = label_volume(np.asarray(data), _geometry(attributes))
    return [str(write_nifti(volume, target, dtype=np.uint8))]
