"""Import public datasets into the pointseg layout, mapping their label ids to a label set by name.

* VerSe (``rawdata/<sub>/<name>_ct.nii.gz`` and ``derivatives/<sub>/<name>_seg-vert_msk.nii.gz``):
  ids 1–7 C1–C7, 8–19 T1–T12, 20–25 L1–L6, 28 T13 (26 and 27 are valid ids and, like T13, background).
* TotalSegmentator (``<case>/ct.nii.gz`` and either ``segmentations/<structure>.nii.gz``, one binary file
  per structure, or one multi-label ``segmentations.nii.gz`` with the ids of the ``total`` task of v1 or
  v2). A loose pair of files (a CT and its multi-label mask under any names, as ``TotalSegmentator --ml``
  writes them or as other packages ship them) is one case: :func:`totalsegmentator_pair`.

Foreign classes become the label set's class of the same name (``vertebrae_L3`` is ``L3`` in ``lumbar``);
TotalSegmentator's parts of a structure are merged first (:data:`TOTALSEG_MERGED`: lung lobes → lungs, v1's
heart chambers → heart, ``vertebrae_S1`` → sacrum); classes the set lacks become background.
The CT file is copied byte for byte; the labels are written on the CT's grid with ``labels.json`` naming
the set (:func:`pointseg.io.dataset.write_labels`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from pointseg.io.atomic import atomic_path
from pointseg.io.dataset import write_labels
from pointseg.errors import InputError
from pointseg.labels import (BACKGROUND, CERVICAL, LUMBAR, STRUCTURES, THORACIC, LabelSet, remap_table,
                             vertebra_name)
from pointseg.io.volume import Volume, read_volume
from pointseg.registry import Registry

# VerSe's ids (the challenge's data description): 26 and 27 are valid but unnamed here, 28 is T13.
VERSE_IDS = {**dict(enumerate((vertebra_name(level) for level in CERVICAL + THORACIC + LUMBAR + ("L6",)), start=1)),
             28: vertebra_name("T13")}
VERSE_MAX_ID = 28

# The classes of TotalSegmentator's ``total`` task by id (position + 1): ``class_map["total_v1"]`` and
# ``class_map["total"]`` of ``totalsegmentator/map_to_binary.py`` in wasserth/TotalSegmentator. The
# per-structure files of its dataset carry the same names (``segmentations/<name>.nii.gz``).
TOTALSEG_V1 = (
    "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "aorta", "inferior_vena_cava",  # 1–8
    "portal_vein_and_splenic_vein", "pancreas", "adrenal_gland_right", "adrenal_gland_left",  # 9–12
    "lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right", "lung_middle_lobe_right",  # 13–16
    "lung_lower_lobe_right", "vertebrae_L5", "vertebrae_L4", "vertebrae_L3", "vertebrae_L2", "vertebrae_L1",  # 17–22
    "vertebrae_T12", "vertebrae_T11", "vertebrae_T10", "vertebrae_T9", "vertebrae_T8", "vertebrae_T7",  # 23–28
    "vertebrae_T6", "vertebrae_T5", "vertebrae_T4", "vertebrae_T3", "vertebrae_T2", "vertebrae_T1",  # 29–34
    "vertebrae_C7", "vertebrae_C6", "vertebrae_C5", "vertebrae_C4", "vertebrae_C3", "vertebrae_C2",  # 35–40
    "vertebrae_C1", "esophagus", "trachea", "heart_myocardium", "heart_atrium_left", "heart_ventricle_left",  # 41–46
    "heart_atrium_right", "heart_ventricle_right", "pulmonary_artery", "brain", "iliac_artery_left",  # 47–51
    "iliac_artery_right", "iliac_vena_left", "iliac_vena_right", "small_bowel", "duodenum", "colon",  # 52–57
    "rib_left_1", "rib_left_2", "rib_left_3", "rib_left_4", "rib_left_5", "rib_left_6", "rib_left_7",  # 58–64
    "rib_left_8", "rib_left_9", "rib_left_10", "rib_left_11", "rib_left_12", "rib_right_1", "rib_right_2",  # 65–71
    "rib_right_3", "rib_right_4", "rib_right_5", "rib_right_6", "rib_right_7", "rib_right_8", "rib_right_9",  # 72–78
    "rib_right_10", "rib_right_11", "rib_right_12", "humerus_left", "humerus_right", "scapula_left",  # 79–84
    "scapula_right", "clavicula_left", "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right",  # 85–91
    "sacrum", "face", "gluteus_maximus_left", "gluteus_maximus_right", "gluteus_medius_left",  # 92–96
    "gluteus_medius_right", "gluteus_minimus_left", "gluteus_minimus_right", "autochthon_left",  # 97–100
    "autochthon_right", "iliopsoas_left", "iliopsoas_right", "urinary_bladder",  # 101–104
)
TOTALSEG_V2 = (
    "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "pancreas",  # 1–7
    "adrenal_gland_right", "adrenal_gland_left", "lung_upper_lobe_left", "lung_lower_lobe_left",  # 8–11
    "lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right", "esophagus", "trachea",  # 12–16
    "thyroid_gland", "small_bowel", "duodenum", "colon", "urinary_bladder", "prostate", "kidney_cyst_left",  # 17–23
    "kidney_cyst_right", "sacrum", "vertebrae_S1", "vertebrae_L5", "vertebrae_L4", "vertebrae_L3",  # 24–29
    "vertebrae_L2", "vertebrae_L1", "vertebrae_T12", "vertebrae_T11", "vertebrae_T10", "vertebrae_T9",  # 30–35
    "vertebrae_T8", "vertebrae_T7", "vertebrae_T6", "vertebrae_T5", "vertebrae_T4", "vertebrae_T3",  # 36–41
    "vertebrae_T2", "vertebrae_T1", "vertebrae_C7", "vertebrae_C6", "vertebrae_C5", "vertebrae_C4",  # 42–47
    "vertebrae_C3", "vertebrae_C2", "vertebrae_C1", "heart", "aorta", "pulmonary_vein",  # 48–53
    "brachiocephalic_trunk", "subclavian_artery_right", "subclavian_artery_left",  # 54–56
    "common_carotid_artery_right", "common_carotid_artery_left", "brachiocephalic_vein_left",  # 57–59
    "brachiocephalic_vein_right", "atrial_appendage_left", "superior_vena_cava", "inferior_vena_cava",  # 60–63
    "portal_vein_and_splenic_vein", "iliac_artery_left", "iliac_artery_right", "iliac_vena_left",  # 64–67
    "iliac_vena_right", "humerus_left", "humerus_right", "scapula_left", "scapula_right", "clavicula_left",  # 68–73
    "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right", "spinal_cord",  # 74–79
    "gluteus_maximus_left", "gluteus_maximus_right", "gluteus_medius_left", "gluteus_medius_right",  # 80–83
    "gluteus_minimus_left", "gluteus_minimus_right", "autochthon_left", "autochthon_right", "iliopsoas_left",  # 84–88
    "iliopsoas_right", "brain", "skull", "rib_left_1", "rib_left_2", "rib_left_3", "rib_left_4", "rib_left_5",  # 89–96
    "rib_left_6", "rib_left_7", "rib_left_8", "rib_left_9", "rib_left_10", "rib_left_11", "rib_left_12",  # 97–103
    "rib_right_1", "rib_right_2", "rib_right_3", "rib_right_4", "rib_right_5", "rib_right_6", "rib_right_7",  # 104–110
    "rib_right_8", "rib_right_9", "rib_right_10", "rib_right_11", "rib_right_12", "sternum",  # 111–116
    "costal_cartilages",  # 117
)
TOTALSEG_IDS = {1: dict(enumerate(TOTALSEG_V1, start=1)), 2: dict(enumerate(TOTALSEG_V2, start=1))}
TOTALSEG_STRUCTURES = frozenset(TOTALSEG_V1) | frozenset(TOTALSEG_V2)
# TotalSegmentator's parts of a structure that label sets hold whole.
TOTALSEG_MERGED = {
    **{f"lung_{lobe}_left": "lung_left" for lobe in ("upper_lobe", "lower_lobe")},
    **{f"lung_{lobe}_right": "lung_right" for lobe in ("upper_lobe", "middle_lobe", "lower_lobe")},
    **{f"heart_{part}": "heart" for part in ("myocardium", "atrium_left", "atrium_right", "ventricle_left",
                                             "ventricle_right")},
    "atrial_appendage_left": "heart",  # v2: part of the left atrium
    "vertebrae_S1": "sacrum",  # v2: the first sacral segment, a part of the sacrum
}


def target_ids(names: Iterable[str], label_set: LabelSet) -> dict[str, int]:
    """Each name's id in ``label_set`` by name (``vertebrae_L3`` is ``L3``); 0 for a name the set lacks."""
    names = tuple(dict.fromkeys(names))
    known = tuple(n for n in names if n in STRUCTURES and n != BACKGROUND)
    source = LabelSet("source", 1, (BACKGROUND,) + known)
    table = remap_table(source, label_set)
    return {n: int(table[source.id_of(n)]) if n in known else 0 for n in names}


@dataclass(frozen=True)
class ForeignLabels:
    """The label ids of a foreign dataset: valid ids are 0..``max_id``; named ones map by name."""

    what: str  # for messages: "VerSe", "TotalSegmentator v2"
    names: dict[int, str]
    max_id: int
    hint: str = ""  # appended to the message about ids out of range

    def table(self, label_set: LabelSet) -> np.ndarray:
        """``table[foreign id]`` = the id in ``label_set`` (background for classes it lacks)."""
        ids = target_ids(self.names.values(), label_set)
        table = np.zeros(self.max_id + 1, dtype=np.uint8 if label_set.num_classes <= 256 else np.uint16)
        for foreign, name in self.names.items():
            table[foreign] = ids[name]
        return table

    def map(self, labels: Volume, label_set: LabelSet) -> np.ndarray:
        """``labels`` in ``label_set``'s ids; :class:`InputError` naming the file for ids outside 0..max_id."""
        array = np.asarray(labels.array)
        if not np.issubdtype(array.dtype, np.integer):
            if not np.array_equal(array, np.round(array)):
                raise InputError(f"{self.what} label values must be whole numbers", labels.path)
            array = array.astype(np.int64)
        if array.size and (array.min() < 0 or array.max() > self.max_id):
            bad = np.unique(array[(array < 0) | (array > self.max_id)])
            shown = ", ".join(str(v) for v in bad[:8]) + (", …" if len(bad) > 8 else "")
            raise InputError(f"label ids {shown} are outside the {self.what} classes (0..{self.max_id}){self.hint}",
                             labels.path)
        return self.table(label_set)[array]


VERSE = ForeignLabels("VerSe", VERSE_IDS, VERSE_MAX_ID)
TOTALSEG = {
    version: ForeignLabels(f"TotalSegmentator v{version}", {i: TOTALSEG_MERGED.get(n, n) for i, n in ids.items()},
                           len(ids), "; a v2 file needs --ts-version 2" if version == 1 else "")
    for version, ids in TOTALSEG_IDS.items()
}


@dataclass
class SourceCase:
    """One case found in a foreign dataset: its id, CT file and a function producing its labels."""

    id: str
    ct_path: Path
    load_labels: Callable[[Volume, LabelSet], Volume] | None


def _on_ct_grid(labels: Volume, ct: Volume) -> None:
    difference = labels.grid_difference(ct, atol_mm=1e-2, names=("labels", "CT"))
    if difference is not None:
        raise InputError(f"labels are not on the CT's grid: {difference}", labels.path)


def _multilabel_loader(path: Path, foreign: ForeignLabels) -> Callable[[Volume, LabelSet], Volume]:
    def load(ct: Volume, label_set: LabelSet) -> Volume:
        mask = read_volume(path)
        _on_ct_grid(mask, ct)
        return Volume(foreign.map(mask, label_set), ct.affine, str(path))

    return load


# ----------------------------------------------------------------------------------------------- VerSe
def verse_cases(source: Path, version: int | None = None) -> Iterator[SourceCase]:
    """Every VerSe case of ``source`` (``version`` is not used: VerSe has one id scheme)."""
    raw, derivatives = source / "rawdata", source / "derivatives"
    if not raw.is_dir():
        raise InputError("not a VerSe folder (no rawdata/ inside)", source)
    for ct_path in sorted(raw.rglob("*_ct.nii.gz")):
        stem = ct_path.name[: -len("_ct.nii.gz")]
        masks = sorted(derivatives.rglob(f"{stem}_seg-vert_msk.nii.gz")) if derivatives.is_dir() else []
        yield SourceCase(stem, ct_path, _multilabel_loader(masks[0], VERSE) if masks else None)


# ------------------------------------------------------------------------------------ TotalSegmentator
def _check_version(version: int) -> None:
    if version not in TOTALSEG:
        raise InputError(f"unknown TotalSegmentator version {version} (use 1 or 2)")


def totalsegmentator_cases(source: Path, version: int = 2) -> Iterator[SourceCase]:
    """Every ``<case>/ct.nii.gz`` of ``source``; ``version`` gives the ids of multi-label files."""
    _check_version(version)
    found = False
    for folder in sorted(p for p in source.iterdir() if p.is_dir()) if source.is_dir() else []:
        ct_path = folder / "ct.nii.gz"
        if not ct_path.exists():
            continue
        found = True
        yield SourceCase(folder.name, ct_path, _totalseg_loader(folder, version))
    if not found:
        raise InputError("not a TotalSegmentator folder (no <case>/ct.nii.gz inside)", source)


def _totalseg_loader(folder: Path, version: int) -> Callable[[Volume, LabelSet], Volume] | None:
    """The case's layout: a ``segmentations/`` folder of structure files, else ``segmentations.nii.gz``."""
    seg_dir, multi = folder / "segmentations", folder / "segmentations.nii.gz"
    if seg_dir.is_dir() and (_structure_files(seg_dir) or not multi.exists()):
        return _totalseg_files_loader(seg_dir)
    if multi.exists():
        return _multilabel_loader(multi, TOTALSEG[version])
    return None


def totalsegmentator_pair(ct_path: Path, mask_path: Path, case_id: str, version: int = 2) -> SourceCase:
    """One case from a CT file and a multi-label TotalSegmentator mask on its grid, whatever their names."""
    _check_version(version)
    for path in (ct_path, mask_path):
        if not Path(path).is_file():
            raise InputError("no such file", path)
    return SourceCase(case_id, Path(ct_path), _multilabel_loader(Path(mask_path), TOTALSEG[version]))


def _structure_files(seg_dir: Path) -> dict[str, Path]:
    """TotalSegmentator's structure files in ``seg_dir`` by structure name (other files are ignored)."""
    suffix = ".nii.gz"
    files = {p.name[: -len(suffix)]: p for p in seg_dir.glob(f"*{suffix}")}
    return {name: files[name] for name in sorted(files) if name in TOTALSEG_STRUCTURES}


def _totalseg_files_loader(seg_dir: Path) -> Callable[[Volume, LabelSet], Volume]:
    def load(ct: Volume, label_set: LabelSet) -> Volume:
        files = _structure_files(seg_dir)
        if not files:
            raise InputError("no TotalSegmentator structure file inside (e.g. vertebrae_L1.nii.gz)", seg_dir)
        ids = target_ids((TOTALSEG_MERGED.get(n, n) for n in files), label_set)
        out = np.zeros(ct.shape, dtype=np.uint8 if label_set.num_classes <= 256 else np.uint16)
        for name, path in files.items():
            label = ids[TOTALSEG_MERGED.get(name, name)]
            if label:  # only the structures the set knows are read
                mask = read_volume(path)
                _on_ct_grid(mask, ct)
                out[np.asarray(mask.array) > 0] = label
        return Volume(out, ct.affine, str(seg_dir))

    return load


# ``pointseg import FORMAT``: each entry is called as ``cases(source, version)`` and yields SourceCases.
IMPORTERS: Registry = Registry("import format")
IMPORTERS.register("verse", help="VerSe: rawdata/<case>/*_ct.nii.gz and derivatives/<case>/*_seg-vert_msk.nii.gz "
                                 "(C1-L6)")(verse_cases)
IMPORTERS.register("totalsegmentator", help="TotalSegmentator: <case>/ct.nii.gz with a multi-label "
                                            "segmentations.nii.gz (v1 or v2 ids) or one file per structure in "
                                            "segmentations/")(totalsegmentator_cases)


def import_case(case: SourceCase, dataset: Path, label_set: LabelSet, force: bool = False) -> Path:
    """Copy one source case into ``dataset/<id>/`` (``ct.nii.gz`` and, when known, labels in ``label_set``)."""
    target = dataset / case.id
    if (target / "ct.nii.gz").exists() and not force:
        raise InputError("case already exists (use --force to overwrite)", target)
    ct = read_volume(case.ct_path)
    labels = case.load_labels(ct, label_set) if case.load_labels is not None else None
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / "ct.nii.gz") as tmp:
        shutil.copyfile(case.ct_path, tmp)
    if labels is not None:
        write_labels(target, labels, label_set)
    return target
