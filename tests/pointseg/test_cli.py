import json
import subprocess
import sys

import numpy as np
import pytest

from pointseg.cli import build_parser, main
from pointseg.volume import Volume, write_nifti
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
    result = subprocess.run([sys.executable, "-m", "pointseg.cli", "evaluate", str(bad), str(REAL_CASE / "labels.nii.gz")],
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
    assert "pred.nii.gz: not on the ground truth's grid" in capsys.readouterr().err


def test_parser_knows_every_command():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert sorted(choices) == sorted(COMMANDS)
