"""napari layer data for pointseg volumes and points, and the way back.

napari slices only along array axes, so every volume is shown flipped and permuted (exactly, without
interpolation) to the display orientation ``IPL``: array axis 0 runs toward inferior, 1 toward posterior,
2 toward the patient's left. With napari's default axis order the 2D view is then the radiological axial
plane (anterior up, patient right on screen left); the coronal and sagittal views
(:data:`pointseg.annotate.views.VIEW_ORDERS`) have the head up. Each layer carries its voxel spacing as
``scale``, so a 3×1×1 mm scan keeps its shape.

Every layer made here keeps the original grid in ``metadata["pointseg"]`` (see :class:`DisplayGeometry`):
the writers use it to put points back into ``i,j,k`` / ``x,y,z`` and labels back onto the CT's grid and
affine. Points layers also keep the file they autosave to and the label set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from pointseg.annotate.views import BONE_WINDOW
from pointseg.labels import DEFAULT_LABEL_SET, LabelSet, get_label_set
from pointseg.io.points import Points
from pointseg.io.volume import Volume
from pointseg.io.grid import orientation_transform, reorient, undo_reorient

DISPLAY_AXCODES = "IPL"
AXIS_LABELS = ("axial", "coronal", "sagittal")  # the plane each slider moves through
META_KEY = "pointseg"
POINT_SIZE_MM = 7.0


@dataclass(frozen=True)
class DisplayGeometry:
    """How a layer's array (display orientation) maps to the original volume.

    ``affine`` and ``shape`` are the original grid's; ``ornt`` is the nibabel orientation transform from
    the original axes to the display axes.
    """

    affine: np.ndarray
    shape: tuple[int, int, int]
    ornt: np.ndarray

    @classmethod
    def of(cls, volume: Volume) -> "DisplayGeometry":
        ornt = orientation_transform(volume.affine, DISPLAY_AXCODES)
        return cls(np.asarray(volume.affine, dtype=np.float64), tuple(int(n) for n in volume.shape[:3]), ornt)

    @property
    def display_to_voxel(self) -> np.ndarray:
        """4×4 matrix from display indices to the original ``i, j, k``."""
        return nib.orientations.inv_ornt_aff(self.ornt, self.shape)

    @property
    def display_shape(self) -> tuple[int, int, int]:
        shape = [0, 0, 0]
        for axis, (target, _) in enumerate(self.ornt):
            shape[int(target)] = self.shape[axis]
        return tuple(shape)

    @property
    def scale(self) -> tuple[float, float, float]:
        """Voxel spacing (mm) along the display axes."""
        display_affine = self.affine @ self.display_to_voxel
        return tuple(float(s) for s in np.sqrt((display_affine[:3, :3] ** 2).sum(axis=0)))

    def to_display(self, ijk: np.ndarray) -> np.ndarray:
        return nib.affines.apply_affine(np.linalg.inv(self.display_to_voxel), np.asarray(ijk, float).reshape(-1, 3))

    def to_voxel(self, display: np.ndarray) -> np.ndarray:
        return nib.affines.apply_affine(self.display_to_voxel, np.asarray(display, float).reshape(-1, 3))

    def inside(self, display: np.ndarray) -> np.ndarray:
        """Which display points lie within the volume (within half a voxel of its edge voxels)."""
        display = np.asarray(display, float).reshape(-1, 3)
        upper = np.asarray(self.display_shape) - 0.5
        return np.all((display >= -0.5) & (display < upper), axis=1)

    def to_meta(self) -> dict:
        return {"affine": self.affine.tolist(), "shape": list(self.shape), "ornt": self.ornt.tolist()}

    @classmethod
    def from_meta(cls, meta: dict | None) -> "DisplayGeometry | None":
        info = (meta or {}).get(META_KEY) or {}
        if "affine" not in info:
            return None
        return cls(np.asarray(info["affine"], float), tuple(info["shape"]), np.asarray(info["ornt"], float))


def _base_meta(geometry: DisplayGeometry, name: str, **extra) -> dict:
    return {
        "name": name,
        "scale": geometry.scale,
        "axis_labels": AXIS_LABELS,
        "units": ("mm", "mm", "mm"),
        "metadata": {META_KEY: {**geometry.to_meta(), **extra}},
    }


def image_layer(volume: Volume, name: str = "CT", window: tuple[float, float] = BONE_WINDOW) -> tuple:
    """Layer data for a CT in the display orientation, with the bone window."""
    geometry = DisplayGeometry.of(volume)
    display, _ = reorient(volume, DISPLAY_AXCODES)
    meta = _base_meta(geometry, name, role="ct", path=str(volume.path or ""))
    meta.update(colormap="gray", contrast_limits=list(window))
    return np.ascontiguousarray(display.array), meta, "image"


def label_colormap(label_set: LabelSet) -> dict:
    """Label id → RGBA (0–1) for napari: the label set's colours, background transparent."""
    colors: dict = {0: (0.0, 0.0, 0.0, 0.0), None: (1.0, 1.0, 1.0, 1.0)}
    for name in label_set.foreground:
        colors[label_set.id_of(name)] = tuple(c / 255 for c in label_set.color_of(name)) + (1.0,)
    return colors


def labels_layer(volume: Volume, label_set: LabelSet, name: str, role: str = "labels") -> tuple:
    """Layer data for a label volume in the display orientation, coloured by the label set."""
    geometry = DisplayGeometry.of(volume)
    display, _ = reorient(volume, DISPLAY_AXCODES)
    array = np.rint(np.asarray(display.array)).astype(np.uint8)
    meta = _base_meta(geometry, name, role=role, label_set=label_set.name, path=str(volume.path or ""))
    meta.update(colormap=label_colormap(label_set), opacity=0.45)
    return np.ascontiguousarray(array), meta, "labels"


def label_volume(data: np.ndarray, geometry: DisplayGeometry) -> Volume:
    """A labels layer's array back on the original grid and affine."""
    array = np.asarray(data)
    if array.shape != geometry.display_shape:
        raise ValueError(f"the labels layer has shape {array.shape}, its CT {geometry.display_shape}")
    return Volume(np.ascontiguousarray(undo_reorient(array, geometry.ornt)), geometry.affine)


def point_features(points: Points, label_set: LabelSet) -> pd.DataFrame:
    return pd.DataFrame({
        "label": pd.Categorical(points.labels, categories=list(label_set.names)),
        "time_s": np.asarray(points.time_s, dtype=np.float64),
        "annotator": pd.Series(points.annotator, dtype=object),
    })


def points_layer(points: Points, geometry: DisplayGeometry, label_set: LabelSet, points_path: Path,
                 ct_path: Path | None = None, case_dir: Path | None = None, name: str = "points") -> tuple:
    """Layer data for a case's points, coloured by label, autosaving to ``points_path`` (via the widget)."""
    meta = _base_meta(geometry, name, role="points", label_set=label_set.name, points_path=str(points_path),
                      ct_path=str(ct_path or ""), case_dir=str(case_dir or ""))
    colors = {label: tuple(c / 255 for c in label_set.color_of(label)) + (1.0,) for label in label_set.names}
    meta.update(
        features=point_features(points, label_set),
        face_color="label",
        face_color_cycle=colors,
        border_color="white",
        border_width=0.12,
        size=POINT_SIZE_MM / float(np.mean(geometry.scale)),
    )
    return geometry.to_display(points.ijk), meta, "points"


def points_from_layer(data: np.ndarray, features: pd.DataFrame | None, geometry: DisplayGeometry) -> Points:
    """The points of a layer (display coordinates + features) as :class:`Points` on the original grid."""
    data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
    n = len(data)
    features = features if features is not None else pd.DataFrame(index=range(n))
    if "label" not in features:
        raise ValueError("the points layer has no 'label' feature; open the case with the pointseg reader")
    labels = [str(v) for v in features["label"]]
    times = (np.asarray(features["time_s"], dtype=np.float64) if "time_s" in features
             else np.full(n, np.nan))
    who = ([("" if pd.isna(v) else str(v)) for v in features["annotator"]] if "annotator" in features
           else [""] * n)
    return Points.from_voxels(labels, geometry.to_voxel(data), geometry.affine, time_s=times, annotator=who)


def layer_meta(layer) -> dict:
    """What the pointseg reader keeps with a napari layer (empty for any other layer)."""
    return (getattr(layer, "metadata", None) or {}).get(META_KEY) or {}


def layer_label_set(meta: dict | None) -> LabelSet:
    return get_label_set(((meta or {}).get(META_KEY) or {}).get("label_set") or DEFAULT_LABEL_SET)
