"""Import public datasets into the pointseg layout, mapping their label ids to a label set.

* VerSe (``rawdata/<sub>/<name>_ct.nii.gz`` and ``derivatives/<sub>/<name>_seg-vert_msk.nii.gz``):
  ids 20–24 are L1–L5, 25 is L6 (kept with the ``lumbar6`` set, dropped otherwise).
* TotalSegmentator (``<sXXXX>/ct.nii.gz`` with ``segmentations/vertebrae_L1.nii.gz`` … one binary file per
  structure, or one multi-label ``segmentations.nii.gz``: v1 ids 22…18 = L1…L5, v2 ids 31…27 = L1…L5).
  A loose pair of files (a CT and its multi-label mask under any names, as ``TotalSegmentator --ml`` writes
  them or as other packages ship them) is one case: :func:`totalsegmentator_pair`.

The CT file is copied byte for byte; the labels are written as uint8 NIfTI on the CT's grid.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from pointseg.atomic import atomic_path
from pointseg.errors import InputError
from pointseg.labels import LabelSet
from pointseg.volume import Volume, read_volume, write_nifti

VERSE_IDS = {20: "L1", 21: "L2", 22: "L3", 23: "L4", 24: "L5", 25: "L6"}
TOTALSEG_IDS = {
    1: {22: "L1", 21: "L2", 20: "L3", 19: "L4", 18: "L5"},
    2: {31: "L1", 30: "L2", 29: "L3", 28: "L4", 27: "L5"},
}


@dataclass
class SourceCase:
    """One case found in a foreign dataset: its id, CT file and a function producing its labels."""

    id: str
    ct_path: Path
    load_labels: Callable[[Volume, LabelSet], Volume] | None


def map_ids(array: np.ndarray, mapping: dict[int, str], label_set: LabelSet) -> np.ndarray:
    """Foreign ids → ids of ``label_set``; foreign classes the set lacks become background."""
    lookup = np.zeros(max(int(array.max(initial=0)), max(mapping)) + 1, dtype=np.uint8)
    for foreign, name in mapping.items():
        if name in label_set.names:
            lookup[foreign] = label_set.id_of(name)
    return lookup[np.clip(array, 0, None).astype(np.int64)]


def _on_ct_grid(labels: Volume, ct: Volume) -> None:
    difference = labels.grid_difference(ct, atol_mm=1e-2, names=("labels", "CT"))
    if difference is not None:
        raise InputError(f"labels are not on the CT's grid: {difference}", labels.path)


# ----------------------------------------------------------------------------------------------- VerSe
def verse_cases(source: Path) -> Iterator[SourceCase]:
    raw, derivatives = source / "rawdata", source / "derivatives"
    if not raw.is_dir():
        raise InputError("not a VerSe folder (no rawdata/ inside)", source)
    for ct_path in sorted(raw.rglob("*_ct.nii.gz")):
        stem = ct_path.name[: -len("_ct.nii.gz")]
        masks = sorted(derivatives.rglob(f"{stem}_seg-vert_msk.nii.gz")) if derivatives.is_dir() else []
        yield SourceCase(stem, ct_path, _verse_loader(masks[0]) if masks else None)


def _verse_loader(mask_path: Path) -> Callable[[Volume, LabelSet], Volume]:
    def load(ct: Volume, label_set: LabelSet) -> Volume:
        mask = read_volume(mask_path)
        _on_ct_grid(mask, ct)
        return Volume(map_ids(mask.array, VERSE_IDS, label_set), ct.affine, str(mask_path))

    return load


# ------------------------------------------------------------------------------------ TotalSegmentator
def totalsegmentator_cases(source: Path, version: int = 2) -> Iterator[SourceCase]:
    if version not in TOTALSEG_IDS:
        raise InputError(f"unknown TotalSegmentator version {version} (use 1 or 2)")
    found = False
    for folder in sorted(p for p in source.iterdir() if p.is_dir()) if source.is_dir() else []:
        ct_path = folder / "ct.nii.gz"
        if not ct_path.exists():
            continue
        found = True
        seg_dir, multi = folder / "segmentations", folder / "segmentations.nii.gz"
        if seg_dir.is_dir():
            loader = _totalseg_files_loader(seg_dir)
        elif multi.exists():
            loader = _totalseg_multilabel_loader(multi, TOTALSEG_IDS[version])
        else:
            loader = None
        yield SourceCase(folder.name, ct_path, loader)
    if not found:
        raise InputError("not a TotalSegmentator folder (no <case>/ct.nii.gz inside)", source)


def totalsegmentator_pair(ct_path: Path, mask_path: Path, case_id: str, version: int = 2) -> SourceCase:
    """One case from a CT file and a multi-label TotalSegmentator mask on its grid, whatever their names."""
    if version not in TOTALSEG_IDS:
        raise InputError(f"unknown TotalSegmentator version {version} (use 1 or 2)")
    for path in (ct_path, mask_path):
        if not Path(path).is_file():
            raise InputError("no such file", path)
    return SourceCase(case_id, Path(ct_path), _totalseg_multilabel_loader(Path(mask_path), TOTALSEG_IDS[version]))


def _totalseg_files_loader(seg_dir: Path) -> Callable[[Volume, LabelSet], Volume]:
    def load(ct: Volume, label_set: LabelSet) -> Volume:
        out = np.zeros(ct.shape, dtype=np.uint8)
        for name in label_set.foreground:
            path = seg_dir / f"vertebrae_{name}.nii.gz"
            if path.exists():
                mask = read_volume(path)
                _on_ct_grid(mask, ct)
                out[mask.array > 0] = label_set.id_of(name)
        return Volume(out, ct.affine, str(seg_dir))

    return load


def _totalseg_multilabel_loader(path: Path, mapping: dict[int, str]) -> Callable[[Volume, LabelSet], Volume]:
    def load(ct: Volume, label_set: LabelSet) -> Volume:
        mask = read_volume(path)
        _on_ct_grid(mask, ct)
        return Volume(map_ids(mask.array, mapping, label_set), ct.affine, str(path))

    return load


IMPORTERS = {"verse": verse_cases, "totalsegmentator": totalsegmentator_cases}


def import_case(case: SourceCase, dataset: Path, label_set: LabelSet, force: bool = False) -> Path:
    """Copy one source case into ``dataset/<id>/`` (``ct.nii.gz`` and, when known, ``labels.nii.gz``)."""
    target = dataset / case.id
    if (target / "ct.nii.gz").exists() and not force:
        raise InputError("case already exists (use --force to overwrite)", target)
    ct = read_volume(case.ct_path)
    labels = case.load_labels(ct, label_set) if case.load_labels is not None else None
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / "ct.nii.gz") as tmp:
        shutil.copyfile(case.ct_path, tmp)
    if labels is not None:
        write_nifti(labels, target / "labels.nii.gz", dtype=np.uint8)
    return target
