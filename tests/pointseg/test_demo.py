"""The demo chain end to end at toy size, and the report it ends with."""

import json

import pytest

from pointseg.cli import main
from pointseg.demo import run_demo
from pointseg.errors import InputError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    html = run_demo(out, seed=0, annotated=2, test=1, profile="tiny", curve_clicks=(1, 5),
                    phantom_spacing=(4.0, 4.0, 4.0), device="cpu")
    return out, html


def test_demo_runs_every_stage_and_writes_the_report(demo):
    out, html = demo
    assert html == out / "report" / "report.html" and html.exists()
    for axis in ("axial", "coronal", "sagittal"):
        assert (out / "runs" / "planar" / axis / "checkpoint_last.pt").exists()
    for run in ("final", "reference"):
        assert (out / "runs" / run / "checkpoint_last.pt").exists()
    for case in ("phantom_000", "phantom_001"):
        assert (out / "dataset" / case / "pseudo.nii.gz").exists()
    assert not (out / "dataset" / "phantom_002" / "points.csv").exists(), "the test case has no clicks"
    report = json.loads((out / "report" / "report.json").read_text(encoding="utf-8"))
    assert list(report["table"]) == ["transverse", "coronal", "sagittal", "pseudo", "result_train", "reference_train",
                                     "result", "reference"]
    assert report["cases"] == ["phantom_002"]
    for row, on, cases in (("pseudo", "annotated", ["phantom_000", "phantom_001"]),
                           ("reference_train", "annotated", ["phantom_000", "phantom_001"]),
                           ("reference", "test", ["phantom_002"])):
        assert report["table"][row]["on"] == on and report["table"][row]["cases"] == cases, row
    assert [p["clicks_per_vertebra"] for p in report["efficiency"]] == [1, 5]
    assert all(0 <= p["pseudo_dice_wi"] <= 1 and 0 <= p["result_dice_wi"] <= 1 for p in report["efficiency"])
    main_point = report["efficiency"][1]  # the curve's point at the main click count is Table 1's run
    assert main_point["pseudo_dice_wi"] == report["table"]["pseudo"]["dice_wi"]
    assert main_point["result_dice_wi"] == report["table"]["result"]["dice_wi"]
    assert report["ratios"]["ours"]["pseudo_over_reference"] == pytest.approx(
        report["table"]["pseudo"]["dice_wi"] / report["table"]["reference_train"]["dice_wi"])
    assert report["cost"]["clicks"] == 2 * (5 * 5 + 15)
    text = html.read_text(encoding="utf-8")
    assert "data:image/png;base64" in text and "0.76" in text


def test_report_json_agrees_with_evaluate(demo, capsys):
    out, _ = demo
    report = json.loads((out / "report" / "report.json").read_text(encoding="utf-8"))
    for row in ("result", "reference", "reference_train", "transverse"):
        for case, numbers in report["table"][row]["per_case"].items():
            pred = out / "report" / "predictions" / row / f"{case}.nii.gz"
            gt = out / "dataset" / case / "labels.nii.gz"
            assert main(["evaluate", str(pred), str(gt), "--json"]) == 0
            evaluated = json.loads(capsys.readouterr().out)
            assert evaluated["dice_wi"] == pytest.approx(numbers["dice_wi"])
            for name, value in evaluated["dice"].items():
                assert value == pytest.approx(numbers["dice"][name])


def test_report_command_rebuilds_it(demo, tmp_path):
    out, _ = demo
    assert main(["report", str(out / "runs"), "--out", str(tmp_path / "again"), "--device", "cpu", "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "report.json").read_text(encoding="utf-8"))
    first = json.loads((out / "report" / "report.json").read_text(encoding="utf-8"))
    for row in first["table"]:
        assert again["table"][row]["dice_wi"] == pytest.approx(first["table"][row]["dice_wi"]), row
    assert [p["clicks_per_vertebra"] for p in again["efficiency"]] == [1, 5]


def test_demo_never_overwrites(demo):
    out, _ = demo
    with pytest.raises(InputError, match="already holds a demo"):
        run_demo(out, profile="tiny")
