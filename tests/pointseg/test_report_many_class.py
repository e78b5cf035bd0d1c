"""The many-class metrics (seed 001's Table 1) in a report: the table and plot of a pipeline whose rows have
them, none for a pipeline whose rows do not, and the training seconds per step read from ``log.jsonl``."""

import copy
import json

import pytest

from pointseg.report.collect import seconds_per_step
from pointseg.report import write_report
from pointseg.runs import LOG_NAME

LUMBAR = ["background", "L1", "L2", "L3", "L4", "L5"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEADER = ("| Model | Measured on | Spine DSC | Spine dr | Ribs DSC | Ribs dr | Large bones DSC | Large bones dr | "
          "Organs DSC | Organs dr | All DSC | All dr | fg | s / iteration | Predict s / scan |")


def _metrics(median, lower, upper, ratio, fg=None):
    return {"median": median, "lower": lower, "upper": upper, "detected": 3, "classes": 4,
            "detection_ratio": ratio, "fg": fg}


def _many_class(shift=0.0, organs=True):
    groups = {
        "vertebrae": _metrics(0.81 + shift, 0.12, 0.05, 1.0, 0.9),
        "ribs": _metrics(0.44 + shift, 0.2, 0.16, 0.75, 0.7),
        "large_bones": _metrics(0.9 + shift, 0.03, 0.02, 1.0, 0.95),
    }
    if organs:
        groups["organs"] = _metrics(None, None, None, 0.0, None)  # nothing detected: dashes
    return {"all": _metrics(0.7 + shift, 0.25, 0.1, 0.875, 0.883), "groups": groups}


def _row(dice_wi, on, cases, title=None, many_class=None, **extra):
    row = {"dice_wi": dice_wi, "dice": dict(zip(LUMBAR, [0.9] + [dice_wi] * 5)), "on": on, "cases": cases,
           **extra}
    if title:
        row["title"] = title
    if many_class is not None:
        row["many_class"] = many_class
    return row


def _results():
    return {
        "title": "many-class metrics",
        "dataset": "synthetic",
        "cases": ["t"],
        "label_set": "lumbar",
        "table": {"pseudo": _row(0.6, "annotated", ["a", "b"])},
        "pipelines": {
            "unet2d": {"title": "unet2d, label set lumbar", "label_set": "lumbar", "rows": {
                "pseudo": _row(0.5, "test", ["t"]), "labels": _row(0.6, "test", ["t"]),
            }},
            "unet3d": {"title": "unet3d, label set upper_body", "label_set": "upper_body", "rows": {
                "pseudo": _row(0.3, "test", ["t"], "unet3d on pseudo-masks", _many_class(),
                               seconds_per_step=2.13, predict_s=41.5),
                "labels": _row(0.4, "test", ["t"], "unet3d on full labels", _many_class(0.05, organs=False),
                               seconds_per_step=1.1, predict_s=None),
                "pseudo_train": _row(0.7, "annotated", ["a", "b"], "unet3d on pseudo-masks", _many_class(0.1),
                                     seconds_per_step=2.13, predict_s=40.0),
            }},
        },
        "cost": {"n_cases": 2, "clicks": 12, "click_seconds": 24.0, "full_seconds": 120.0, "cost_ratio": 0.2},
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("many_class")
    results = _results()
    given = copy.deepcopy(results)
    paths = write_report(results, out)
    assert results == given, "the caller's dict is not modified"
    return out, paths


def _section(text, heading):
    lines = text.splitlines()
    start = lines.index(heading)
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("#")), len(lines))
    return lines[start:end]


def _cells(line):
    return [c.strip() for c in line.strip("|").split("|")]


def test_markdown_has_the_many_class_table(report):
    out, paths = report
    text = paths["markdown"].read_text(encoding="utf-8")
    section = _section(text, "### unet3d, label set upper_body")
    assert HEADER in section
    start = section.index(HEADER)
    assert section.index(next(line for line in section if line.startswith("| Model | Measured on | Dice_wi"))) \
        < start, "after the pipeline table"
    rows = [_cells(line) for line in section[start + 2:] if line.startswith("| unet3d")][:3]
    assert [r[0] for r in rows] == ["unet3d on pseudo-masks, training cases", "unet3d on pseudo-masks",
                                    "unet3d on full labels"], "same order and titles as the pipeline table"
    train, pseudo, labels = rows
    assert pseudo == ["unet3d on pseudo-masks", "test cases", "0.81 −0.12 +0.05", "1.00", "0.44 −0.20 +0.16",
                      "0.75", "0.90 −0.03 +0.02", "1.00", "–", "0.00", "0.70 −0.25 +0.10", "0.88", "0.883", "2.13",
                      "41.50"]
    assert train[1] == "annotated (training) cases" and train[2] == "0.91 −0.12 +0.05"
    assert labels[2] == "0.86 −0.12 +0.05" and labels[8:10] == ["–", "–"], "no organs in this row"
    assert labels[-2:] == ["1.10", "–"], "nothing predicted: no prediction time"
    assert "median Dice over the classes with DSC > 0" in text and "detection ratio" in text
    assert "![Median DSC and detection ratio per group, unet3d, label set upper_body](many_class_unet3d.png)" \
        in section


def test_a_pipeline_without_many_class_rows_gets_neither_table_nor_plot(report):
    out, paths = report
    text = paths["markdown"].read_text(encoding="utf-8")
    section = _section(text, "### unet2d, label set lumbar")
    assert not any("Spine DSC" in line or "All dr" in line or "many_class" in line for line in section)
    assert "many_class_unet2d" not in paths and not (out / "many_class_unet2d.png").exists()
    assert text.count("| s / iteration | Predict s / scan |") == 1, "the unet3d table only"


def test_json_keeps_the_many_class_metrics(report):
    _, paths = report
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    rows = document["pipelines"]["unet3d"]["rows"]
    assert rows["pseudo"]["many_class"] == _many_class()
    assert rows["pseudo"]["seconds_per_step"] == 2.13 and rows["labels"]["predict_s"] is None
    assert "many_class" not in document["pipelines"]["unet2d"]["rows"]["pseudo"]


def test_many_class_plot_is_a_png_written_and_embedded(report):
    out, paths = report
    assert paths["many_class_unet3d"] == out / "many_class_unet3d.png"
    data = (out / "many_class_unet3d.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    html = paths["html"].read_text(encoding="utf-8")
    assert 'alt="Median DSC and detection ratio per group, unet3d, label set upper_body"' in html
    assert "<th class=\"num\">Spine DSC</th>" in html and "0.81 −0.12 +0.05" in html


def test_a_stale_many_class_plot_is_removed(tmp_path):
    write_report(_results(), tmp_path)
    assert (tmp_path / "many_class_unet3d.png").exists()
    results = _results()
    for row in results["pipelines"]["unet3d"]["rows"].values():
        del row["many_class"]
    paths = write_report(results, tmp_path)
    assert not (tmp_path / "many_class_unet3d.png").exists() and "many_class_unet3d" not in paths
    assert "many_class_unet3d.png" not in paths["markdown"].read_text(encoding="utf-8")


def test_seconds_per_step_from_the_log(tmp_path):
    records = [{"epoch": 1, "step": 4, "seconds": 10.0, "loss": 1.0}, {"epoch": 2, "step": 8, "seconds": 14.0}]
    (tmp_path / LOG_NAME).write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    assert seconds_per_step(tmp_path) == pytest.approx(3.0)


def test_seconds_per_step_without_a_log(tmp_path):
    assert seconds_per_step(tmp_path) is None
    (tmp_path / LOG_NAME).write_text("", encoding="utf-8")
    assert seconds_per_step(tmp_path) is None
    (tmp_path / LOG_NAME).write_text(json.dumps({"epoch": 1, "step": 0, "seconds": 3.0}) + "\n", encoding="utf-8")
    assert seconds_per_step(tmp_path) is None, "no step taken"
