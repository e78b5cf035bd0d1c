"""Datasets of cases: ``DATASET/<case_id>/ct.nii.gz`` plus optional ``labels.nii.gz``, ``points.csv`` and
``pseudo.nii.gz`` (see the design notes for the contract).

The CT may also be ``ct.nii``, ``ct.nrrd``, ``ct.mha`` or a DICOM series folder ``ct/``. A folder that is
itself a case (it holds a CT) is a dataset of one case.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointseg.errors import InputError
from pointseg.labels import LabelSet, get_label_set, remap_labels, remap_table
from pointseg.io.points import Points, read_points
from pointseg.io.volume import Volume, read_volume

CT_NAMES = ("ct.nii.gz", "ct.nii", "ct.nrrd", "ct.nhdr", "ct.mha", "ct.mhd", "ct")
LABEL_NAMES = ("labels.nii.gz", "labels.nii", "labels.nrrd", "labels.mha")
# Optional: which label set the ids of labels.nii.gz are in ({"label_set": "upper_body"}). Without it they
# are in the label set the command is given. With it, every command reads them in its own set, by name.
LABELS_META_NAME = "labels.json"
POINTS_NAME = "points.csv"
PSEUDO_NAME = "pseudo.nii.gz"
PSEUDO_META_NAME = "pseudo.json"  # {"label_set": name}: the set pseudo.nii.gz was fused in
# What `fuse` leaves in a case besides the pseudo-mask: every planar model's class probabilities on the CT's
# grid (one float16 HDF5 dataset per axis) and the fused probabilities.
PLANAR_PROBABILITIES_NAME = "planar_probabilities.h5"
FUSED_PROBABILITIES_NAME = "pseudo_probabilities.h5"


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class Case:
    """One case folder. Paths of optional files are ``None`` when the file is absent."""

    id: str
    dir: Path
    ct_path: Path

    @property
    def labels_path(self) -> Path | None:
        return _first_existing(self.dir, LABEL_NAMES)

    @property
    def points_path(self) -> Path:
        """Where the case's points live (it may not exist yet)."""
        return self.dir / POINTS_NAME

    @property
    def pseudo_path(self) -> Path:
        return self.dir / PSEUDO_NAME

    @property
    def planar_probabilities_path(self) -> Path:
        return self.dir / PLANAR_PROBABILITIES_NAME

    @property
    def fused_probabilities_path(self) -> Path:
        return self.dir / FUSED_PROBABILITIES_NAME

    @property
    def has_points(self) -> bool:
        return self.points_path.exists()

    def load_ct(self) -> Volume:
        return read_volume(self.ct_path)

    @property
    def labels_label_set(self) -> LabelSet | None:
        """The label set ``labels.json`` names for the case's labels, or ``None`` without the file."""
        return _meta_label_set(self.dir / LABELS_META_NAME)

    def load_labels(self, label_set: LabelSet | None = None) -> Volume | None:
        """The full labels, in ``label_set``'s ids when given and ``labels.json`` names another set."""
        path = self.labels_path
        if path is None:
            return None
        labels = read_volume(path)
        stored = self.labels_label_set
        if label_set is None or stored is None or stored == label_set:
            return labels
        return Volume(remap_labels(np.asarray(labels.array).astype(np.int64), stored, label_set), labels.affine,
                      path=labels.path)

    @property
    def pseudo_label_set(self) -> LabelSet | None:
        """The label set ``pseudo.json`` names for the pseudo-mask, or ``None`` without the file (pseudo-masks
        fused before the file existed)."""
        return _meta_label_set(self.dir / PSEUDO_META_NAME)

    def load_pseudo(self, label_set: LabelSet) -> Volume:
        """The pseudo-mask in ``label_set``'s ids. One fused in another set is read by name when ``label_set``
        holds all of its structures; otherwise it is an InputError naming both sets (reading ribs as C1-T12
        without a word is what this prevents)."""
        pseudo = read_volume(self.pseudo_path)
        stored = self.pseudo_label_set
        if stored is None or stored == label_set:
            return pseudo
        table = remap_table(stored, label_set)
        missing = [name for i, name in enumerate(stored.names) if i and not table[i]]
        if missing:
            raise InputError(f"this pseudo-mask was fused in label set {stored.name!r}, which {label_set.name!r} "
                             f"cannot hold ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
                             f"use --labels {stored.name} or fuse again with --labels {label_set.name}",
                             self.pseudo_path)
        return Volume(remap_labels(np.asarray(pseudo.array).astype(np.int64), stored, label_set), pseudo.affine,
                      path=pseudo.path)

    def load_points(self, label_set: LabelSet, ct: Volume | None = None) -> Points:
        ct = ct if ct is not None else self.load_ct()
        return read_points(self.points_path, ct.affine, label_set, shape=ct.shape)


def _meta_label_set(path: Path) -> LabelSet | None:
    """The label set a ``{"label_set": name}`` file names, ``None`` without the file; an InputError naming
    the file when it cannot be read or names no known set."""
    if not path.exists():
        return None
    try:
        return get_label_set(json.loads(path.read_text(encoding="utf-8"))["label_set"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read the label set name ({exc})", path) from exc
    except InputError as exc:
        raise InputError(str(exc), path) from exc


def write_pseudo(case: Case, labels: Volume, label_set: LabelSet) -> Path:
    """``pseudo.nii.gz`` and ``pseudo.json`` naming ``label_set``, each written atomically."""
    from pointseg.io.atomic import write_text
    from pointseg.io.volume import write_nifti

    write_nifti(labels, case.pseudo_path, dtype=np.uint8 if label_set.num_classes <= 256 else np.uint16)
    write_text(case.dir / PSEUDO_META_NAME, json.dumps({"label_set": label_set.name}) + "\n")
    return case.pseudo_path


def write_labels(folder: str | os.PathLike, labels: Volume, label_set: LabelSet) -> Path:
    """``folder/labels.nii.gz`` (uint8) and ``labels.json`` naming ``label_set``, each written atomically."""
    from pointseg.io.atomic import write_text
    from pointseg.io.volume import write_nifti

    folder = Path(folder)
    path = folder / LABEL_NAMES[0]
    write_nifti(labels, path, dtype=np.uint8 if label_set.num_classes <= 256 else np.uint16)
    write_text(folder / LABELS_META_NAME, json.dumps({"label_set": label_set.name}) + "\n")
    return path


def case_labels_in(path: str | os.PathLike, label_set: LabelSet) -> Volume:
    """A label file read in ``label_set``'s ids: remapped by name when it is a case's full labels and the
    case's ``labels.json`` names another set."""
    path = Path(path)
    folder = path.parent
    if path.name in LABEL_NAMES and (folder / LABELS_META_NAME).exists():
        case = Case(folder.name, folder, path)
        return case.load_labels(label_set)
    return read_volume(path)


def case_at(folder: Path) -> Case | None:
    """The case stored in ``folder``, or ``None`` when it holds no CT."""
    ct = _first_existing(folder, CT_NAMES)
    if ct is None or (ct.is_dir() and not any(ct.iterdir())):
        return None
    return Case(folder.name, folder, ct)


def discover_cases(root: str | os.PathLike) -> list[Case]:
    """All cases of a dataset folder, sorted by id. :class:`InputError` when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder does not exist", root)
    single = case_at(root)
    if single is not None:
        return [single]
    cases = [c for c in (case_at(p) for p in sorted(root.iterdir()) if p.is_dir()) if c is not None]
    if not cases:
        raise InputError("no cases found (expected <case>/ct.nii.gz or another CT name per case)", root)
    return cases


def check_case(case: Case, label_set: LabelSet) -> list[str]:
    """Every problem of one case as a list of one-line messages naming the file; empty when it is valid."""
    problems: list[str] = []
    try:
        ct = case.load_ct()
    except InputError as exc:
        return [str(exc)]
    if not np.issubdtype(ct.array.dtype, np.number):
        problems.append(f"{ct.path}: CT data type {ct.array.dtype} is not numeric")
    try:
        stored = case.labels_label_set or label_set
    except InputError as exc:
        problems.append(str(exc))
        stored = label_set
    try:
        pseudo_ids = case.pseudo_label_set or label_set
    except InputError as exc:
        problems.append(str(exc))
        pseudo_ids = label_set
    for path, ids in ((case.labels_path, stored), (case.pseudo_path if case.pseudo_path.exists() else None, pseudo_ids)):
        if path is not None:
            problems.extend(_check_label_file(path, ct, ids))
    if case.has_points:
        try:
            points = case.load_points(label_set, ct)
            if len(points) == 0:
                problems.append(f"{case.points_path}: no points")
        except InputError as exc:
            problems.append(str(exc))
    return problems


def check_label_values(labels: Volume, label_set: LabelSet) -> None:
    """An InputError naming the file when a label map holds ids that are not whole numbers of ``label_set``."""
    values = np.unique(np.asarray(labels.array))
    unknown = [v for v in values if not (float(v).is_integer() and 0 <= v < label_set.num_classes)]
    if unknown:
        shown = ", ".join(f"{v:g}" for v in unknown[:8])
        raise InputError(f"label ids {shown} are not in label set {label_set.name!r} (0..{label_set.num_classes - 1})",
                         labels.path)


def _check_label_file(path: Path, ct: Volume, label_set: LabelSet) -> list[str]:
    try:
        labels = read_volume(path)
    except InputError as exc:
        return [str(exc)]
    difference = labels.grid_difference(ct, names=("labels", "CT"))
    if difference is not None:
        return [f"{path}: not on the CT's grid: {difference}"]
    values = np.unique(labels.array)
    unknown = [v for v in values if not (float(v).is_integer() and 0 <= v < label_set.num_classes)]
    if unknown:
        shown = ", ".join(str(v) for v in unknown[:8])
        return [f"{path}: label ids {shown} are not in label set {label_set.name!r} (0..{label_set.num_classes - 1})"]
    return []


SPLIT_FILE = "split.json"


def held_out_case_ids(root: str | os.PathLike) -> set[str]:
    """Case ids listed under ``"test"`` in ``DATASET/split.json``: never trained on by any command.

    The file is optional (no file: no test cases); the report evaluates on these cases.
    """
    path = Path(root) / SPLIT_FILE
    if not path.exists():
        return set()
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ids = data["test"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f'cannot read the split (expected {{"test": [case ids]}}): {exc}', path) from exc
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError('"test" must be a list of case ids', path)
    known = {case.id for case in discover_cases(root)}
    unknown = sorted(set(ids) - known)
    if unknown:  # a misspelt test case would otherwise be trained on without a word
        raise InputError(f"no case named {', '.join(unknown[:5])} in {Path(root)} (test cases must be case folders)",
                         path)
    return set(ids)
