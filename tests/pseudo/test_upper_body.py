"""The weak pipeline for a label set of many classes, end to end at toy size: upper-body phantoms, clicks on
the 24 ribs, fuse, evaluate and report, all through the command line with ``--labels ribs``."""

import json

import numpy as np
import pytest

from pointseg.cli import main
from pointseg.io.dataset import discover_cases
from pointseg.labels import get_label_set
from pointseg.io.volume import read_volume

RIBS = get_label_set("ribs")


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    root = tmp_path_factory.mktemp("upper") / "data"
    assert main(["phantom", str(root), "--cases", "2", "--seed", "5", "--anatomy", "upper-body", "--spacing", "5",
                 "--quiet"]) == 0
    assert main(["simulate-clicks", str(root), "--labels", "ribs", "--per-class", "3", "--background", "10",
                 "--quiet"]) == 0
    assert main(["check", str(root), "--labels", "ribs", "--quiet"]) == 0
    assert main(["fuse", str(root), "--labels", "ribs", "--profile", "tiny", "--quiet"]) == 0
    return root


def test_ribs_pseudo_masks_from_clicks(fused, capsys):
    for case in discover_cases(fused):
        pseudo, labels = read_volume(case.pseudo_path), case.load_labels(RIBS)
        assert pseudo.same_grid(labels) and pseudo.array.max() < RIBS.num_classes
        assert len(np.unique(pseudo.array)) >= 20  # most of the 24 ribs are there, from 3 clicks each
        capsys.readouterr()
        assert main(["evaluate", str(case.pseudo_path), str(case.labels_path), "--labels", "ribs", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        # the clicked ribs re-drawn on the CT's bone: well above chance even with the toy planar models
        assert result["label_set"] == "ribs" and result["groups"]["ribs"] > 0.3, result["groups"]


def test_ribs_report_groups_the_structures(fused, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(fused / "planar-runs"), "--out", str(out), "--dataset", str(fused), "--quiet"]) == 0
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "mean ribs" in text and "Per-class Dice (25 classes)" in text
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    clicked = sum(sum(n.startswith("rib_") for n in case.load_points(RIBS).labels) for case in discover_cases(fused))
    assert 100 < clicked <= 3 * 24 * 2  # 3 per rib present (a case may have 11 pairs, or a rib too thin at 5 mm)
    assert data["label_set"] == "ribs" and data["cost"]["groups"]["ribs"]["clicks"] == clicked
    assert data["table"]["pseudo"]["groups"]["ribs"] > 0.3


# What the unet3d trained on pseudo-masks must reach against the ground truth: foreground Dice of all ribs.
# A model predicting one class everywhere scores 0 (background) or 0.004 (any rib: ribs are 0.2 % of the
# scan); the run below measured 0.41 and 0.38 on the two cases (0.21-0.38 over seeds 0-2).
MIN_FOREGROUND_DICE = 0.1


def test_unet3d_on_pseudo_masks_and_labels_end_to_end(fused, tmp_path, capsys):
    runs = tmp_path / "runs"
    # the pseudo-mask model has to learn ribs: at the phantoms' own 5 mm, with 8-16-32 filters and 500 steps of
    # 2 patches (about 50 s). The tiny profile's 8 steps at 4 mm predict background or noise (foreground Dice
    # <= 0.01 up to 600 steps); the model on full labels only feeds the report, at the tiny profile.
    learns = ["--spacing", "5", "--filters", "8", "16", "32", "--batch-size", "2", "--epochs", "2", "--steps", "250"]
    for target, extra in (("pseudo", learns), ("labels", [])):
        assert main(["train", str(fused), "--pipeline", "unet3d", "--target", target, "--labels", "ribs", "--profile",
                     "tiny", "--out", str(runs / target), "--quiet", *extra]) == 0
    case = discover_cases(fused)[0]
    predicted = tmp_path / "predicted.nii.gz"
    assert main(["predict", str(runs / "pseudo"), str(case.ct_path), "--out", str(predicted), "--quiet"]) == 0
    labels = read_volume(predicted)
    assert labels.same_grid(case.load_ct()) and labels.array.max() < RIBS.num_classes
    assert len(np.unique(labels.array[labels.array > 0])) >= 2, "the model predicts ribs, not background alone"
    capsys.readouterr()
    assert main(["evaluate", str(predicted), str(case.labels_path), "--labels", "ribs", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["many_class"]["groups"]) == {"ribs"} and result["many_class"]["all"]["classes"] >= 20
    scored = result["many_class"]["all"]
    assert scored["fg"] > MIN_FOREGROUND_DICE and scored["detected"] >= 1, scored  # its ribs lie on the ribs

    out = tmp_path / "report"
    assert main(["report", str(runs), str(fused / "planar-runs"), "--out", str(out), "--dataset", str(fused),
                 "--quiet"]) == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rows = data["pipelines"]["unet3d"]["rows"]
    assert set(rows) == {"pseudo_train", "labels_train"}  # every case is annotated: no test cases here
    assert rows["labels_train"]["many_class"]["all"]["classes"] >= 40  # the ribs of both cases
    assert rows["pseudo_train"]["many_class"]["all"]["fg"] > MIN_FOREGROUND_DICE  # both cases, as evaluate scores one
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "unet3d on pseudo-masks" in text and "Ribs DSC" in text and (out / "many_class_unet3d.png").exists()
