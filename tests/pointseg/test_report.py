import copy
import json
import re

import pytest

from pointseg.report import PAPER_TABLE, compute_ratios, validate_results, write_report

CLASSES = ["background", "L1", "L2", "L3", "L4", "L5"]


def _row(dice_wi, per_class):
    return {"dice_wi": dice_wi, "dice": dict(zip(CLASSES, per_class))}


def _results(**overrides):
    results = {
        "title": "test report",
        "dataset": "synthetic",
        "cases": ["case_a", "case_b"],
        "label_set": "lumbar",
        "table": {
            "transverse": _row(0.5, [0.9, 0.4, 0.4, 0.4, 0.4]),  # no L5 entry: shown as "–"
            "pseudo": _row(0.6, [0.95, 0.6, 0.6, 0.6, 0.6, 0.6]),
            "result": _row(0.66, [0.96, 0.65, 0.65, 0.65, 0.65, 0.65]),
            "reference": _row(0.8, [0.99, 0.8, 0.8, 0.8, 0.8, float("nan")]),
        },
        "cost": {
            "n_cases": 2, "clicks": 12, "click_seconds": 24.0, "seconds_per_click": 2.0,
            "click_time_source": "default", "structure_slices": 10, "seconds_per_structure_slice": 12.5,
            "full_seconds": 125.0, "cost_ratio": 0.192, "slice_axis_name": "axial",
            "per_case": [{"case": "case_a", "clicks": 12, "click_time_source": "default", "click_seconds": 24.0,
                          "structure_slices": 10, "full_seconds": 125.0, "cost_ratio": 0.192}],
            "skipped": [],
        },
        "efficiency": [
            {"clicks_per_vertebra": 1, "pseudo_dice_wi": 0.4, "result_dice_wi": 0.5},
            {"clicks_per_vertebra": 2, "pseudo_dice_wi": 0.5, "result_dice_wi": None},
            {"clicks_per_vertebra": 5, "pseudo_dice_wi": 0.6, "result_dice_wi": 0.66},
        ],
        "timings": {"fuse": 12.0, "train": 3725.0},
        "config": {"seed": 0, "fusion": "mean"},
    }
    results.update(overrides)
    return results


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report of :func:`_results`, written once for the tests that only read it."""
    out = tmp_path_factory.mktemp("report")
    return out, write_report(_results(), out)


def test_write_report_writes_every_file_atomically(report):
    out, paths = report
    for name in ("markdown", "html", "json", "dice_wi", "per_class_dice", "label_efficiency", "labelling_cost"):
        assert paths[name].is_file() and paths[name].stat().st_size > 0, name
        assert paths[name].parent == out
    for name in ("dice_wi", "per_class_dice", "label_efficiency", "labelling_cost"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in out.iterdir()} == {p.name for p in paths.values()}  # no temporary files left
    assert not any(p.name.startswith(".") or ".tmp" in p.name for p in out.iterdir())


def test_report_json_round_trips_with_hand_computed_ratios(tmp_path):
    results = _results()
    given = copy.deepcopy(results)
    document = json.loads(write_report(results, tmp_path)["json"].read_text(encoding="utf-8"))
    assert results == given  # the caller's dict is not modified
    for key in ("title", "dataset", "cases", "label_set", "cost", "efficiency", "timings", "config"):
        assert document[key] == given[key]
    assert document["table"]["pseudo"] == given["table"]["pseudo"]
    assert document["table"]["reference"]["dice"]["L5"] is None  # NaN is written as null (valid JSON)
    assert document["paper"]["result"] == 0.55 and document["paper"]["cost"] == 0.12
    ours, paper = document["ratios"]["ours"], document["ratios"]["paper"]
    assert ours["pseudo_over_reference"] == pytest.approx(0.6 / 0.8) == pytest.approx(0.75)
    assert ours["result_over_reference"] == pytest.approx(0.66 / 0.8) == pytest.approx(0.825)
    assert ours["cost"] == pytest.approx(0.192)
    assert paper["pseudo_over_reference"] == pytest.approx(0.48 / 0.76)  # 63 %
    assert paper["result_over_reference"] == pytest.approx(0.55 / 0.76)  # 72 %
    assert paper["cost"] == pytest.approx(0.12)
    efficiency = document["ratios"]["efficiency"]
    assert [e["clicks_per_vertebra"] for e in efficiency] == [1, 2, 5]
    assert efficiency[0]["pseudo_over_reference"] == pytest.approx(0.5)
    assert efficiency[1]["result_over_reference"] is None


def test_html_is_self_contained(report):
    text = report[1]["html"].read_text(encoding="utf-8")
    assert text.lstrip().startswith("<!DOCTYPE html>")
    assert 'src="http' not in text and 'href="http' not in text and "<link" not in text
    assert "<script" not in text and "url(" not in text
    assert text.count("data:image/png;base64,") == 4
    assert "<style>" in text and "<table>" in text
    assert "82.5 %" in text and "19.2 %" in text and "12.0 %" in text


def _markdown_tables(text):
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_markdown_tables_are_valid_and_show_the_paper(report):
    text = report[1]["markdown"].read_text(encoding="utf-8")
    header = "| Model | Measured on | Dice_wi (ours) | Dice_wi (paper) | background | L1 | L2 | L3 | L4 | L5 |"
    assert header in text
    for table in _markdown_tables(text):
        assert len(table) >= 3
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in table}
        assert len(widths) == 1, table  # every row has the header's number of cells
        assert re.fullmatch(r"\|(:?-{3,}:?\|)+", table[1]), table[1]
    for value in ("0.51", "0.41", "0.34", "0.48", "0.55", "0.76"):
        assert f"| {value} |" in text
    assert "63.2 %" in text and "72.4 %" in text and "12.0 %" in text  # the paper's ratios and cost
    assert "75.0 %" in text and "82.5 %" in text and "19.2 %" in text  # ours
    assert "![" in text and "(dice_wi.png)" in text and "(label_efficiency.png)" in text
    assert "2.00 s (default" in text and "| Structure-slices (axial) | 10 |" in text and "2 min 5 s" in text


def test_missing_rows_and_classes_are_dashes(report):
    text = report[1]["markdown"].read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| Separate")}
    coronal = [c.strip() for c in rows["Separate: coronal"].strip("|").split("|")]
    assert coronal == ["Separate: coronal", "–", "–", "0.41", "–", "–", "–", "–", "–", "–"]
    transverse = [c.strip() for c in rows["Separate: transverse"].strip("|").split("|")]
    assert transverse[2] == "0.500" and transverse[-1] == "–"  # L5 absent
    reference = next(line for line in text.splitlines() if line.startswith("| Reference"))
    assert reference.rstrip().endswith("| – |")  # NaN Dice shown as a dash


def test_paper_numbers_can_be_overridden_and_optional_parts_omitted(tmp_path):
    results = _results(paper={"result": 0.5, "reference": 1.0})
    for key in ("efficiency", "timings", "config", "title"):
        del results[key]
    results["cost"] = {}
    paths = write_report(results, tmp_path)
    assert "label_efficiency" not in paths
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert document["paper"] == {"result": 0.5, "reference": 1.0}
    assert document["ratios"]["paper"]["result_over_reference"] == pytest.approx(0.5)
    assert document["ratios"]["paper"]["pseudo_over_reference"] == pytest.approx(PAPER_TABLE["pseudo"] / 1.0)
    assert document["ratios"]["ours"]["cost"] is None
    text = paths["markdown"].read_text(encoding="utf-8")
    assert "Label efficiency" not in text and "## Timings" not in text


def test_stale_plot_from_an_earlier_report_is_removed(tmp_path):
    write_report(_results(), tmp_path)
    assert (tmp_path / "label_efficiency.png").exists()
    write_report(_results(efficiency=[]), tmp_path)
    assert not (tmp_path / "label_efficiency.png").exists()


@pytest.mark.parametrize("key", ["dataset", "cases", "label_set", "table", "cost"])
def test_missing_required_key_is_a_value_error(tmp_path, key):
    results = _results()
    del results[key]
    with pytest.raises(ValueError, match=key):
        write_report(results, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"table": {"pseudomask": {"dice_wi": 0.5}}}, "unknown row"),
        ({"table": {"pseudo": {"dice": {}}}}, "dice_wi"),
        ({"label_set": "nonsense"}, "label_set"),
        ({"efficiency": [{"pseudo_dice_wi": 0.5}]}, "clicks_per_vertebra"),
        ({"paper": {"result": "high"}}, "paper"),
    ],
)
def test_malformed_results_are_value_errors(change, message):
    with pytest.raises(ValueError, match=message):
        validate_results(_results(**change))


def test_compute_ratios_handles_missing_reference():
    ratios = compute_ratios(_results(table={"pseudo": {"dice_wi": 0.5}}))
    assert ratios["ours"]["pseudo_over_reference"] is None
    assert ratios["ours"]["result_over_reference"] is None


def test_a_failed_report_leaves_the_previous_files_intact(tmp_path, monkeypatch):
    import pointseg.report.writer as report_module

    paths = write_report(_results(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "render_html", broken)
    with pytest.raises(RuntimeError):
        write_report(_results(title="second"), tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # nothing replaced, no temporary file left behind
    assert paths["markdown"].read_text(encoding="utf-8").startswith("# test report")


def test_ratios_are_only_taken_between_rows_measured_on_the_same_cases():
    def row(dice_wi, on, cases):
        return {"dice_wi": dice_wi, "dice": {}, "on": on, "cases": cases}

    table = {
        "pseudo": row(0.6, "annotated", ["a", "b"]),
        "result": row(0.5, "test", ["t"]),
        "reference": row(0.8, "test", ["t"]),
    }
    ratios = compute_ratios(_results(table=table))
    assert ratios["ours"]["pseudo_over_reference"] is None, "annotated cases over test cases is no ratio"
    assert ratios["ours"]["result_over_reference"] == pytest.approx(0.5 / 0.8)
    assert ratios["efficiency"][0]["pseudo_over_reference"] is None
    assert ratios["efficiency"][0]["result_over_reference"] == pytest.approx(0.5 / 0.8)

    table["reference_train"] = row(0.9, "annotated", ["a", "b"])
    ratios = compute_ratios(_results(table=table))
    assert ratios["ours"]["pseudo_over_reference"] == pytest.approx(0.6 / 0.9)
    assert ratios["efficiency"][0]["pseudo_over_reference"] == pytest.approx(0.4 / 0.9)
    table["reference_train"] = row(0.9, "annotated", ["a"])  # another set of annotated cases
    assert compute_ratios(_results(table=table))["ours"]["pseudo_over_reference"] is None


def test_table_says_where_each_row_was_measured(tmp_path):
    table = {
        "pseudo": {"dice_wi": 0.6, "dice": {}, "on": "annotated", "cases": ["a"]},
        "reference_train": {"dice_wi": 0.9, "dice": {}, "on": "annotated", "cases": ["a"]},
        "reference": {"dice_wi": 0.8, "dice": {}, "on": "test", "cases": ["t"]},
    }
    paths = write_report(_results(table=table), tmp_path)
    text = paths["markdown"].read_text(encoding="utf-8")
    pseudo = next(line for line in text.splitlines() if line.startswith("| Pseudo-mask"))
    assert "annotated (training) cases" in pseudo and "0.600" in pseudo and "0.48" in pseudo
    train = next(line for line in text.splitlines() if line.startswith("| Reference, training cases"))
    assert "0.900" in train
    assert not any(line.startswith("| Result, training cases") for line in text.splitlines())
    with pytest.raises(ValueError, match=r"\['on'\] must be one of annotated, test"):
        validate_results(_results(table={"pseudo": {"dice_wi": 0.5, "on": "elsewhere"}}))
