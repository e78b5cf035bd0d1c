"""Comparing a report with an earlier one (``write_report(..., earlier=PATH)``): the earlier Table 1 numbers
next to ours where measured on the same cases, labelled with the earlier report's version and folder."""

import json

import pytest

from pointseg import __version__
from pointseg.errors import InputError
from pointseg.report import read_earlier_report, write_report

LUMBAR = ["background", "L1", "L2", "L3", "L4", "L5"]


def _row(dice_wi, on, cases):
    return {"dice_wi": dice_wi, "dice": dict(zip(LUMBAR, [0.9] + [dice_wi] * 5)), "on": on, "cases": cases}


def _results(result=0.55, reference=0.8, reference_cases=("t1", "t2"), label_set="lumbar"):
    """Table 1 with the planar transverse model, the pseudo-masks and the fcn8 result and reference."""
    return {
        "title": "comparison", "dataset": "synthetic", "cases": ["t1", "t2"], "label_set": label_set,
        "table": {
            "transverse": _row(0.3, "annotated", ["a", "b"]),
            "pseudo": _row(0.6, "annotated", ["a", "b"]),
            "result": _row(result, "test", ["t1", "t2"]),
            "reference": _row(reference, "test", list(reference_cases)),
        },
        "cost": {"n_cases": 2, "clicks": 12, "click_seconds": 24.0, "full_seconds": 120.0, "cost_ratio": 0.2},
    }


def _table1_line(text, title):
    return [c.strip() for c in next(line for line in text.splitlines()
                                    if line.startswith(f"| {title} |")).strip("|").split("|")]


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """A first report (result 0.250, reference 0.325 measured on t1 only) in a folder named ``first``."""
    out = tmp_path_factory.mktemp("reports") / "first"
    write_report(_results(result=0.25, reference=0.325, reference_cases=["t1"]), out)
    return out


def test_a_second_report_shows_the_first_ones_numbers(first, tmp_path):
    paths = write_report(_results(), tmp_path / "second", earlier=first / "report.json")
    label = f"pointseg {__version__}, first"

    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert document["pointseg_version"] == __version__
    earlier = document["earlier"]
    assert earlier["label"] == label and earlier["pointseg_version"] == __version__ and earlier["folder"] == "first"
    assert earlier["report"] == str(first / "report.json")
    assert earlier["table"]["result"]["dice_wi"] == 0.25 and earlier["table"]["result"]["cases"] == ["t1", "t2"]
    assert earlier["ratios"]["result"] == pytest.approx(0.55 / 0.25)
    assert set(earlier["table"]) == {"transverse", "pseudo", "result"}
    # the reference was measured on other cases then: shown nowhere, no ratio
    assert earlier["not_compared"] == {"reference": "measured on other cases"}
    assert "reference" not in earlier["ratios"]

    text = paths["markdown"].read_text(encoding="utf-8")
    assert f"| Model | Measured on | Dice_wi (ours) | Dice_wi ({label}) | Dice_wi (paper) | background |" in text
    assert _table1_line(text, "Result")[2:5] == ["0.550", "0.250", "0.55"]
    assert _table1_line(text, "Reference (full masks)")[2:5] == ["0.800", "–", "0.76"]
    assert f"“{label}”: the earlier report" in text
    assert "Not compared: Reference (full masks): measured on other cases." in text
    assert "before" not in text.lower() and "0.1.0" not in text
    assert paths["dice_wi"].stat().st_size > 0


def test_without_an_earlier_report_nothing_is_compared(first, tmp_path):
    # results read back from a report.json that compared with another: the old comparison is not carried over
    compared = tmp_path / "compared"
    write_report(_results(), compared, earlier=first)  # the folder holding report.json works too
    again = json.loads((compared / "report.json").read_text(encoding="utf-8"))
    assert "earlier" in again
    for results in (_results(), again):
        paths = write_report(results, tmp_path / "plain")
        document = json.loads(paths["json"].read_text(encoding="utf-8"))
        assert "earlier" not in document and document["pointseg_version"] == __version__
        text = paths["markdown"].read_text(encoding="utf-8")
        assert "| Model | Measured on | Dice_wi (ours) | Dice_wi (paper) | background |" in text
        assert "earlier report" not in text and "before" not in text.lower()
        assert _table1_line(text, "Result")[2:4] == ["0.550", "0.55"]


def test_an_older_report_is_labelled_with_the_version_its_markdown_names(first, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    document = json.loads((first / "report.json").read_text(encoding="utf-8"))
    del document["pointseg_version"]  # as pointseg 0.1.0 wrote it
    (old / "report.json").write_text(json.dumps(document), encoding="utf-8")
    assert read_earlier_report(old / "report.json").label == "pointseg (version unknown), old"
    (old / "report.md").write_text("# r\n\nDataset `d` · 2 held-out case(s): t1, t2 · label set `lumbar` · "
                                   "pointseg 0.1.0\n", encoding="utf-8")
    assert read_earlier_report(old / "report.json").label == "pointseg 0.1.0, old"
    text = write_report(_results(), tmp_path / "new", earlier=old / "report.json")["markdown"].read_text("utf-8")
    assert "Dice_wi (pointseg 0.1.0, old)" in text


@pytest.mark.parametrize("content, problem", [
    (None, "no earlier report here"),
    ("{not json", "cannot read the earlier report"),
    ('{"dataset": "d"}', "no 'table' of Table 1 rows"),
    ('{"table": {"result": {"dice": {}}}}', r"not a pointseg report.json: table\['result'\] must be a dict"),
])
def test_a_bad_earlier_report_is_an_input_error(tmp_path, content, problem):
    path = tmp_path / "earlier" / "report.json"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=problem) as raised:
        write_report(_results(), out, earlier=path)
    assert raised.value.path == str(path) and str(path) in str(raised.value)
    assert not out.exists(), "nothing is written"


def test_an_earlier_report_of_another_label_set_is_an_input_error(tmp_path):
    write_report(_results(label_set="lumbar"), tmp_path / "lumbar")
    with pytest.raises(InputError, match="label set 'lumbar'.*do not compare"):
        write_report(_results(label_set="spine"), tmp_path / "spine", earlier=tmp_path / "lumbar" / "report.json")
