import json
import subprocess
import sys

import numpy as np
import pytest

from pointseg.cli import build_parser, main
from pointseg.io.volume import Volume, write_nifti
from tests.conftest import REAL_CASE, box_labels

COMMANDS = ["demo", "annotate", "phantom", "simulate-clicks", "import", "check", "evaluate", "preprocess", "train-planar", "fuse", "train", "report", "predict"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--debug" in text and len(text.splitlines()) > 4


def test_console_script_runs_as_a_process(tmp_path):
    bad = tmp_path / "pred.nii.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    result = subprocess.run([sys.executable, "-m", "pointseg", "evaluate", str(bad), str(REAL_CASE / "labels.nii.gz")],
                            capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, "one line"
    assert "pred.nii.gz: cannot read image" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "dataset folder does not exist" in err


def test_evaluate_json_and_text(tmp_path, capsys):
    gt = box_labels()
    pred = gt.copy()
    pred[pred == 5] = 4  # L5 predicted as L4
    write_nifti(Volume(gt, np.eye(4)), tmp_path / "gt.nii.gz")
    write_nifti(Volume(pred, np.eye(4)), tmp_path / "pred.nii.gz")
    assert main(["evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dice"]["L5"] == 0.0
    assert result["dice"]["L4"] == pytest.approx(2 * 3200 / (3200 + 6400))
    assert result["dice"]["L1"] == 1.0
    # hand-worked Dice_wi: background and L1-L3 perfect, L4 2/3, L5 0; L1..L5 each 20*20*8 = 3200 voxels
    n_bg = gt.size - 5 * 3200
    weights = np.array([1 / n_bg] + [1 / 3200] * 5)
    dice = np.array([1, 1, 1, 1, 2 / 3, 0])
    assert result["dice_wi"] == pytest.approx(float((dice * weights).sum() / weights.sum()))
    assert main(["evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz")]) == 0
    assert "Dice_wi" in capsys.readouterr().out


def test_evaluate_rejects_grid_mismatch(tmp_path, capsys):
    write_nifti(Volume(box_labels(), np.eye(4)), tmp_path / "gt.nii.gz")
    write_nifti(Volume(box_labels(), np.diag([2.0, 1, 1, 1])), tmp_path / "pred.nii.gz")
    assert main(["evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz")]) == 2
    assert capsys.readouterr().err == (
        f"pointseg evaluate: error: {tmp_path / 'pred.nii.gz'}: not on the ground truth's grid: "
        "spacing differs (prediction 2 x 1 x 1 mm, ground truth 1 x 1 x 1 mm)\n"
    )


def _moved(offset):
    affine = np.eye(4)
    affine[:3, 3] = offset
    return affine


@pytest.mark.parametrize(
    "pred_affine, difference",
    [
        (np.diag([-1.0, -1.0, 1.0, 1.0]), "orientation differs (prediction LPS, ground truth RAS)"),
        (_moved([0.0, 0.3, 0.0]), "origin differs by 0.3 mm (prediction at (0, 0.3, 0), ground truth at (0, 0, 0) mm RAS)"),
        (np.diag([-1.0, 1.0, 1.0, 1.0]) @ _moved([-39.0, 0.0, 0.0]),  # the same box of space, flipped along x
         "orientation differs (prediction LAS, ground truth RAS); "
         "origin differs by 39 mm (prediction at (39, 0, 0), ground truth at (0, 0, 0) mm RAS)"),
    ],
    ids=["orientation", "origin", "flipped"],
)
def test_evaluate_says_what_differs_when_only_the_affine_does(tmp_path, capsys, pred_affine, difference):
    write_nifti(Volume(box_labels(), np.eye(4)), tmp_path / "gt.nii.gz")
    write_nifti(Volume(box_labels(), pred_affine), tmp_path / "pred.nii.gz")
    assert main(["evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz")]) == 2
    assert capsys.readouterr().err == (
        f"pointseg evaluate: error: {tmp_path / 'pred.nii.gz'}: not on the ground truth's grid: {difference}\n"
    )


def test_a_ct_with_nan_voxels_is_one_line_with_exit_status_2(tmp_path):
    ct = np.zeros((6, 7, 8), np.float32)
    ct[2, 3, 4] = np.nan
    write_nifti(Volume(ct, np.eye(4)), tmp_path / "ct.nii.gz")
    write_nifti(Volume(np.zeros((6, 7, 8), np.uint8), np.eye(4)), tmp_path / "gt.nii.gz")
    result = subprocess.run([sys.executable, "-m", "pointseg", "evaluate", str(tmp_path / "ct.nii.gz"),
                             str(tmp_path / "gt.nii.gz")], capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2
    assert result.stderr == (f"pointseg evaluate: error: {tmp_path / 'ct.nii.gz'}: 1 voxel is NaN or infinite "
                             "(the first at voxel i,j,k = (2, 3, 4))\n")


def test_simulate_clicks_rejects_a_nan_ct_and_says_how_labels_are_off_the_grid(box_dataset, capsys):
    case = box_dataset / "ras"
    spacing = np.diag([1.0, 1.0, 1.5, 1.0])
    write_nifti(Volume(box_labels(), spacing), case / "labels.nii.gz")
    (box_dataset / "oblique" / "labels.nii.gz").unlink()
    assert main(["simulate-clicks", str(box_dataset), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"pointseg simulate-clicks: error: {case / 'labels.nii.gz'}: labels are not on the CT's grid: "
        "spacing differs (labels 1 x 1 x 1.5 mm, CT 1 x 1 x 1 mm)\n"
    )
    ct = np.full(box_labels().shape, 30.0, np.float32)
    ct[1, 1, 1] = -np.inf
    write_nifti(Volume(ct, spacing), case / "ct.nii.gz")
    assert main(["simulate-clicks", str(box_dataset), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"pointseg simulate-clicks: error: {case / 'ct.nii.gz'}: 1 voxel is NaN or infinite "
        "(the first at voxel i,j,k = (1, 1, 1))\n"
    )
    assert not (case / "points.csv").exists()


def test_parser_knows_every_command():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert sorted(choices) == sorted(COMMANDS)


def test_import_and_preprocess_say_how_labels_are_off_the_ct_grid(tmp_path, capsys):
    source = tmp_path / "verse"
    write_nifti(Volume(np.zeros((10, 12, 14), np.int16), np.eye(4)), source / "rawdata" / "a" / "a_ct.nii.gz")
    mask = source / "derivatives" / "a" / "a_seg-vert_msk.nii.gz"
    write_nifti(Volume(np.zeros((10, 12, 14), np.uint8), np.diag([1.0, 1.0, 1.2, 1.0])), mask)
    assert main(["import", "verse", str(source), str(tmp_path / "ds"), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"pointseg import: error: {mask}: labels are not on the CT's grid: "
        "spacing differs (labels 1 x 1 x 1.2 mm, CT 1 x 1 x 1 mm)\n"
    )
    case = tmp_path / "boxes" / "a"
    write_nifti(Volume(np.full((10, 12, 14), 30, np.int16), np.eye(4)), case / "ct.nii.gz")
    write_nifti(Volume(np.zeros((10, 12, 14), np.uint8), np.diag([-1.0, 1.0, 1.0, 1.0])), case / "labels.nii.gz")
    assert main(["preprocess", str(tmp_path / "boxes"), "--axis", "axial", "--size", "16", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"pointseg preprocess: error: {case / 'labels.nii.gz'}: labels are not on the CT's grid: "
        "orientation differs (labels LAS, CT RAS)\n"
    )
