import gzip

import numpy as np
import pytest

from pointseg.cli import main
from pointseg.io.dataset import check_case, discover_cases
from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.io.volume import Volume, write_nifti
from tests.conftest import box_labels
from tests.pointseg.test_volume import write_dicom_series

LUMBAR = get_label_set()


def test_discovery_finds_cases_and_a_single_case_folder(box_dataset):
    cases = discover_cases(box_dataset)
    assert [c.id for c in cases] == ["oblique", "ras"]
    assert all(c.labels_path is not None and not c.has_points for c in cases)
    assert [c.id for c in discover_cases(box_dataset / "ras")] == ["ras"]


def test_discovery_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover_cases(tmp_path / "missing")
    (tmp_path / "empty_case").mkdir()
    with pytest.raises(InputError, match="no cases found"):
        discover_cases(tmp_path)


def test_valid_dataset_passes_check(real_dataset, capsys):
    assert main(["check", str(real_dataset), "--quiet"]) == 0
    assert "tptbox_l3: ok" in capsys.readouterr().out


def _break(dataset, problem):
    case = dataset / "ras"
    if problem == "corrupt":
        (case / "ct.nii.gz").write_bytes(gzip.compress(b"garbage" * 50))
    elif problem == "grid":
        write_nifti(Volume(box_labels()[:, :, :50], np.eye(4)), case / "labels.nii.gz")
    elif problem == "outside":
        (case / "points.csv").write_text("label,i,j,k\nL1,20,18,9\nL2,20,18,500\n")
    elif problem == "unknown":
        (case / "points.csv").write_text("label,i,j,k\nL1,20,18,9\nT12,20,18,10\n")
    elif problem == "label-id":
        write_nifti(Volume(box_labels() * 2, np.eye(4)), case / "labels.nii.gz")
    elif problem == "affine":
        shifted = np.eye(4)
        shifted[:3, 3] = [0.0, 0.0, 0.5]
        write_nifti(Volume(box_labels(), shifted), case / "labels.nii.gz")
    elif problem == "nan":
        ct = np.where(box_labels() > 0, 400.0, 30.0).astype(np.float32)
        ct[3, 4, 5] = np.nan
        ct[0, 0, 7:9] = [np.inf, -np.inf]
        write_nifti(Volume(ct, np.eye(4)), case / "ct.nii.gz")


@pytest.mark.parametrize(
    "problem, message",
    [
        ("corrupt", "ras/ct.nii.gz: cannot read image"),
        ("grid", "ras/labels.nii.gz: not on the CT's grid: shape differs (labels (40, 36, 50), CT (40, 36, 60))\n"),
        ("affine", "ras/labels.nii.gz: not on the CT's grid: origin differs by 0.5 mm "
                   "(labels at (0, 0, 0.5), CT at (0, 0, 0) mm RAS)\n"),
        ("nan", "ras/ct.nii.gz: 3 voxels are NaN or infinite (the first at voxel i,j,k = (0, 0, 7))\n"),
        ("outside", "ras/points.csv: line 3: point (20.0, 18.0, 500.0) is outside the volume"),
        ("unknown", "ras/points.csv: line 3: unknown label 'T12'"),
        ("label-id", "ras/labels.nii.gz: label ids 6, 8, 10 are not in label set 'lumbar'"),
    ],
)
def test_check_reports_each_problem_with_exit_status_2(box_dataset, capsys, problem, message):
    _break(box_dataset, problem)
    assert main(["check", str(box_dataset), "--quiet"]) == 2
    out = capsys.readouterr()
    assert message in out.out
    assert "oblique: ok" in out.out, "other cases are still checked"
    assert "Traceback" not in out.out + out.err


def test_check_lists_every_problem_not_only_the_first(box_dataset):
    _break(box_dataset, "grid")
    _break(box_dataset, "unknown")
    problems = check_case(discover_cases(box_dataset / "ras")[0], LUMBAR)
    assert len(problems) == 2


def test_check_reports_a_dicom_ct_with_a_missing_slice(tmp_path, capsys):
    ct = Volume(np.full((8, 9, 6), 30, np.int16), np.diag([-0.8, -0.8, 2.0, 1.0]))
    folder = write_dicom_series(tmp_path / "ds" / "dicom_case" / "ct", ct)
    (folder / "004.dcm").unlink()
    assert main(["check", str(tmp_path / "ds"), "--quiet"]) == 2
    out = capsys.readouterr()
    assert ("dicom_case/ct: slice spacing is uneven: 4 mm between slices at z=6 and z=10 mm "
            "where the others are 2 mm (a missing slice?)\n") in out.out
    assert "Traceback" not in out.out + out.err
