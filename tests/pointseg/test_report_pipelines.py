"""Reports with several supervised pipelines: one section each, ratios within a pipeline, every format."""

import copy
import json

import pytest

from pointseg.report import Results, pipeline_ratios, validate_results, write_report

LUMBAR = ["background", "L1", "L2", "L3", "L4", "L5"]


def _row(dice_wi, on, cases, title=None):
    row = {"dice_wi": dice_wi, "dice": dict(zip(LUMBAR, [0.9, dice_wi, dice_wi, dice_wi, dice_wi, dice_wi])),
           "on": on, "cases": cases}
    return {**row, "title": title} if title else row


def _results():
    return {
        "title": "two pipelines",
        "dataset": "synthetic",
        "cases": ["t"],
        "label_set": "lumbar",
        "table": {"transverse": _row(0.5, "annotated", ["a", "b"]), "pseudo": _row(0.6, "annotated", ["a", "b"])},
        "pipelines": {
            "fcn8": {"title": "fcn8, label set lumbar", "label_set": "lumbar", "rows": {
                "pseudo": _row(0.55, "test", ["t"]), "labels": _row(0.8, "test", ["t"]),
                "pseudo_train": _row(0.6, "annotated", ["a", "b"]), "labels_train": _row(0.9, "annotated", ["a", "b"]),
            }},
            "unet3d": {"title": "unet3d, label set lumbar", "label_set": "lumbar", "rows": {
                "pseudo": _row(0.3, "test", ["t"], "unet3d on pseudo-masks"),
                "labels": _row(0.4, "test", ["t"], "unet3d on full labels"),
                "pseudo_train": _row(0.7, "annotated", ["a", "b"], "unet3d on pseudo-masks"),
                "labels_train": _row(0.35, "annotated", ["a"], "unet3d on full labels"),  # other cases: no ratio
            }},
        },
        "cost": {"n_cases": 2, "clicks": 12, "click_seconds": 24.0, "full_seconds": 120.0, "cost_ratio": 0.2},
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipelines")
    results = _results()
    given = copy.deepcopy(results)
    paths = write_report(results, out)
    assert results == given, "the caller's dict is not modified"
    return paths


def _section(text, heading):
    """The lines of a Markdown section, from its heading to the next heading of the same or a higher level."""
    lines = text.splitlines()
    start = lines.index(heading)
    level = heading.split(" ")[0]
    end = next((n for n in range(start + 1, len(lines))
                if lines[n].startswith("#") and len(lines[n].split(" ")[0]) <= len(level)), len(lines))
    return lines[start:end]


def _cells(line):
    return [c.strip() for c in line.strip("|").split("|")]


def test_json_holds_each_pipeline_with_its_own_ratios(report):
    document = json.loads(report["json"].read_text(encoding="utf-8"))
    assert list(document["pipelines"]) == ["fcn8", "unet3d"]
    unet = document["pipelines"]["unet3d"]
    assert unet["title"] == "unet3d, label set lumbar" and unet["label_set"] == "lumbar"
    assert unet["rows"]["pseudo"]["dice_wi"] == 0.3 and unet["rows"]["pseudo"]["title"] == "unet3d on pseudo-masks"
    assert unet["ratios"]["ours"]["pseudo_over_labels"] == pytest.approx(0.3 / 0.4)
    assert unet["ratios"]["ours"]["pseudo_over_labels_train"] is None, "annotated [a, b] over annotated [a]"
    assert unet["ratios"]["ours"]["cost"] == pytest.approx(0.2)
    assert unet["ratios"]["paper"] is None and "paper" not in unet, "no paper numbers for unet3d"
    fcn8 = document["pipelines"]["fcn8"]
    assert fcn8["ratios"]["ours"]["pseudo_over_labels"] == pytest.approx(0.55 / 0.8)
    assert fcn8["ratios"]["ours"]["pseudo_over_labels_train"] == pytest.approx(0.6 / 0.9)
    assert fcn8["paper"] == {"pseudo": 0.55, "labels": 0.76}
    assert fcn8["ratios"]["paper"]["pseudo_over_labels"] == pytest.approx(0.55 / 0.76)
    # Table 1 is the fcn8 view: its result and reference rows come from the fcn8 pipeline, not from unet3d
    assert document["table"]["result"]["dice_wi"] == 0.55 and document["table"]["reference_train"]["dice_wi"] == 0.9
    assert list(document["table"]) == ["transverse", "pseudo", "result_train", "reference_train", "result",
                                       "reference"]
    assert document["ratios"]["ours"]["result_over_reference"] == pytest.approx(0.55 / 0.8)
    assert document["ratios"]["ours"]["pseudo_over_reference"] == pytest.approx(0.6 / 0.9)


def test_markdown_has_table1_for_fcn8_and_a_section_for_unet3d(report):
    text = report["markdown"].read_text(encoding="utf-8")
    assert "## Table 1: Dice_wi and per-class Dice (fcn8, label set lumbar)" in text
    table1 = _section(text, "## Table 1: Dice_wi and per-class Dice (fcn8, label set lumbar)")
    result = next(line for line in table1 if line.startswith("| Result |"))
    assert _cells(result)[2] == "0.550" and _cells(result)[3] == "0.55"  # ours, the paper's (no earlier report)
    assert not any("unet3d" in line for line in table1)

    unet = _section(text, "### unet3d, label set lumbar")
    rows = {_cells(line)[0]: _cells(line) for line in unet if line.startswith("| unet3d")}
    assert rows["unet3d on pseudo-masks"][1:3] == ["test cases", "0.300"]
    assert rows["unet3d on full labels"][1:3] == ["test cases", "0.400"]
    assert rows["unet3d on pseudo-masks, training cases"][1:3] == ["annotated (training) cases", "0.700"]
    assert "| Model | Measured on | Dice_wi | background | L1 | L2 | L3 | L4 | L5 |" in unet, "no paper column"
    ratio_rows = {_cells(line)[0]: _cells(line)[1:] for line in unet if line.startswith("| Pseudo-masks")}
    assert ratio_rows["Pseudo-masks / full labels, both on the test cases (Dice_wi)"] == ["75.0 %"]
    assert ratio_rows["Pseudo-masks / full labels, both on the annotated cases (Dice_wi)"] == ["–"]

    overview = _section(text, "## Supervised pipelines: pseudo-masks against full labels")
    fcn8 = next(_cells(line) for line in overview if line.startswith("| fcn8"))
    assert fcn8 == ["fcn8, label set lumbar (Table 1)", "0.550", "0.800", "68.8 %", "66.7 %", "20.0 %"]
    unet3d = next(_cells(line) for line in overview if line.startswith("| unet3d"))
    assert unet3d == ["unet3d, label set lumbar", "0.300", "0.400", "75.0 %", "–", "20.0 %"]


def test_html_shows_both_pipelines(report):
    text = report["html"].read_text(encoding="utf-8")
    assert "<h2>Table 1: Dice_wi and per-class Dice (fcn8, label set lumbar)</h2>" in text
    assert "<h3>unet3d, label set lumbar</h3>" in text
    assert "<td>unet3d on full labels</td>" in text and "75.0 %" in text and "68.8 %" in text


def test_only_another_pipeline_has_no_table1(tmp_path):
    results = _results()
    results["table"] = {}
    del results["pipelines"]["fcn8"]
    results["pipelines"]["unet3d"]["label_set"] = "lumbar6"
    results["pipelines"]["unet3d"]["cost"] = {"cost_ratio": 0.25}
    paths = write_report(results, tmp_path)
    assert "dice_wi" not in paths and "per_class_dice" not in paths
    text = paths["markdown"].read_text(encoding="utf-8")
    assert "Table 1" not in text and "### unet3d, label set lumbar" in text
    assert "| L6 |" in text, "the pipeline's own label set gives its classes"
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert list(document["pipelines"]) == ["unet3d"] and document["table"] == {}
    assert document["pipelines"]["unet3d"]["ratios"]["ours"]["cost"] == pytest.approx(0.25)


def test_table1_alone_still_makes_the_fcn8_pipeline():
    results = _results()
    del results["pipelines"]
    results["table"]["reference"] = _row(0.8, "test", ["t"])
    parsed = Results.from_dict(results)
    assert list(parsed.pipelines) == ["fcn8"] and parsed.pipelines["fcn8"].rows["labels"].dice_wi == 0.8
    assert pipeline_ratios(results, "fcn8")["ours"]["pseudo_over_labels"] is None  # no result row


@pytest.mark.parametrize("change, message", [
    (lambda r: r["pipelines"]["unet3d"]["rows"].update(result={"dice_wi": 0.5}), "unknown row 'result'"),
    (lambda r: r["pipelines"]["unet3d"].update(label_set="no_such_set"), "label_set"),
    (lambda r: r["pipelines"]["unet3d"]["rows"]["labels"].update(on="elsewhere"), r"\['on'\] must be one of"),
    (lambda r: r["pipelines"]["unet3d"].update(paper={"reference": 0.7}), "unknown key"),
    (lambda r: r.update(pipelines=[]), "pipelines"),
])
def test_malformed_pipelines_are_value_errors(change, message):
    results = _results()
    change(results)
    with pytest.raises(ValueError, match=message):
        validate_results(results)


def test_a_large_label_set_gets_group_columns_and_a_per_class_table(tmp_path):
    from pointseg.labels import get_label_set

    bones = get_label_set("bones")
    # every vertebra 0.8, every rib 0.4 (rib_left_1 0.0), large bones 0.9 -> means 0.8, 23 * 0.4 / 24, 0.9
    dice = {n: {"vertebrae": 0.8, "ribs": 0.4, "large_bones": 0.9}.get(bones.group_of(n), 0.95) for n in bones.names}
    dice["rib_left_1"] = 0.0
    row = {"dice_wi": 0.5, "dice": dice, "on": "annotated", "cases": ["a"]}
    results = {"dataset": "upper", "cases": ["t"], "label_set": "bones", "table": {"pseudo": row},
               "cost": {"n_cases": 1, "clicks": 305, "click_seconds": 610.0, "full_seconds": 9000.0,
                        "cost_ratio": 610 / 9000}}
    text = write_report(results, tmp_path)["markdown"].read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| Model |"))
    assert "mean vertebrae" in header and "mean ribs" in header and "mean large bones" in header
    assert "rib_left_1" not in header and header.count("|") < 15
    pseudo = next(line for line in text.splitlines() if line.startswith("| Pseudo"))
    assert "0.800" in pseudo and f"{23 * 0.4 / 24:.3f}" in pseudo and "0.900" in pseudo
    assert "0.48" not in pseudo  # no paper number: the paper measured L1-L5 only
    assert "Per-class Dice (62 classes)" in text and "| rib_left_1 | ribs | 0.000 |" in text
