"""The napari reader: CT files (NIfTI, NRRD, MHA), DICOM series folders and dataset case folders.

A case folder (``DATASET/<case>/`` or its ``ct.*`` file) opens as its CT, its labels and pseudo-mask when
present, and its points (an empty points layer when it has none yet; the widget autosaves to
``<case>/points.csv``). A CT outside a case autosaves its points next to it, to ``<name>_points.csv``. A
file that holds a label map (integer values with few distinct values, or named like one) opens as labels.

``pointseg annotate --labels`` passes its label set to :func:`read_path`. napari's own *File ▸ Open*
cannot pass one: there a case gets the label set its points file is written in (the first of
:data:`pointseg.labels.LABEL_SETS` that knows every label in it), ``lumbar`` otherwise.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable

import numpy as np

from pointseg.annotate.layers import DisplayGeometry, image_layer, labels_layer, points_layer
from pointseg.io.dataset import CT_NAMES, Case, case_at
from pointseg.labels import DEFAULT_LABEL_SET, LABEL_SETS, LabelSet, get_label_set
from pointseg.io.points import Points, read_points
from pointseg.io.volume import Volume, is_volume_path, read_volume

LABEL_FILE_HINTS = ("label", "seg", "mask", "pseudo")
MAX_LABEL_VALUES = 64
LayerData = tuple


def stored_label_set(points_path: Path) -> LabelSet:
    """The label set a points file is written in: the first known set with every label the file holds
    (the default set when the file is missing, unreadable or fits none; reading it then names the problem)."""
    try:
        with open(points_path, encoding="utf-8-sig", newline="") as file:
            used = {(row.get("label") or "").strip() for row in csv.DictReader(file)} - {""}
    except (OSError, UnicodeDecodeError, csv.Error):
        used = set()
    fits = [label_set for label_set in LABEL_SETS.values() if used <= set(label_set.names)]
    return fits[0] if used and fits else get_label_set(DEFAULT_LABEL_SET)


def _strip_suffixes(name: str) -> str:
    for suffix in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def case_of(path: Path) -> Case | None:
    """The case a path opens: a case folder, or the ``ct.*`` file inside one."""
    path = Path(path)
    if path.is_dir():
        return case_at(path)
    if path.name.lower() in CT_NAMES:
        return case_at(path.parent)
    return None


def points_path_for(ct_path: Path) -> Path:
    """Where the points of a CT outside a case folder are kept."""
    ct_path = Path(ct_path)
    return ct_path.parent / f"{_strip_suffixes(ct_path.name)}_points.csv"


def looks_like_labels(volume: Volume) -> bool:
    name = Path(volume.path or "").name.lower()
    array = np.asarray(volume.array)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.array_equal(array[::7, ::7, ::7], np.rint(array[::7, ::7, ::7])):
            return False
    sample = np.unique(array[::4, ::4, ::4])
    few = sample.size <= MAX_LABEL_VALUES and sample.min() >= 0
    return few and (any(hint in name for hint in LABEL_FILE_HINTS) or sample.max() < 256)


def read_case(case: Case, label_set: LabelSet | None = None) -> list[LayerData]:
    """Layers of a case: CT, labels (when present), pseudo-mask (when present), points (last, on top);
    in ``label_set`` (by default the one the case's points are written in)."""
    label_set = label_set or stored_label_set(case.points_path)
    ct = case.load_ct()
    layers = [image_layer(ct, name=f"{case.id} CT")]
    labels = case.load_labels(label_set)
    if labels is not None:
        layers.append(labels_layer(labels, label_set, f"{case.id} labels"))
        layers[-1][1]["visible"] = False
    if case.pseudo_path.exists():
        layers.append(labels_layer(case.load_pseudo(label_set), label_set, f"{case.id} pseudo-mask", role="pseudo"))
    layers.append(_points_layer(ct, case.points_path, label_set, f"{case.id} points", case))
    return layers


def _points_layer(ct: Volume, path: Path, label_set: LabelSet, name: str, case: Case | None) -> LayerData:
    points = (read_points(path, ct.affine, label_set, shape=ct.shape) if path.exists()
              else Points([], np.zeros((0, 3)), np.zeros((0, 3))))
    return points_layer(points, DisplayGeometry.of(ct), label_set, path, ct_path=Path(ct.path or ""),
                        case_dir=case.dir if case else None, name=name)


def read_path(path: str | os.PathLike | list, label_set: LabelSet | None = None) -> list[LayerData]:
    """All layers for ``path`` (a case folder, a CT or label file, or a DICOM folder); ``label_set`` by default
    the one its points are written in."""
    path = Path(path[0] if isinstance(path, list) else path)
    case = case_of(path)
    if case is not None:
        return read_case(case, label_set)
    label_set = label_set or stored_label_set(points_path_for(path))
    volume = read_volume(path)
    if volume.array.ndim != 3:
        raise ValueError(f"{path}: expected a 3D volume, got shape {volume.shape}")
    stem = _strip_suffixes(path.name)
    if not path.is_dir() and looks_like_labels(volume):
        return [labels_layer(volume, label_set, stem)]
    points_file = points_path_for(path)
    return [image_layer(volume, name=stem), _points_layer(volume, points_file, label_set, f"{stem} points", None)]


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """npe2 reader contribution: a reader for ``path`` when it is something pointseg opens, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    candidate = Path(path)
    return read_path if candidate.exists() and opens(candidate) else None


def opens(path: Path) -> bool:
    """Whether ``path`` (an existing file or folder) is a case, a CT or label image, or a DICOM folder."""
    return case_of(path) is not None or is_volume_path(path)
