"""``collect_results`` on real (tiny) run folders: rows grouped by the pipeline each run's RunInfo names."""

import json
import shutil

import numpy as np
import pytest

from pointseg.simulate.clicks import ClickConfig
from pointseg.errors import InputError
from pointseg.report.collect import collect_results
from pointseg.labels import get_label_set
from pointseg.report import write_report
from pointseg.runs import CONFIG_NAME, read_run_info
from pointseg.simulate.cases import write_phantoms, write_simulated_clicks
from pointseg.train.supervised import train_supervised
from pointseg.io.volume import Volume, read_volume, write_nifti

ANNOTATED, TEST = ["phantom_000", "phantom_001"], ["phantom_002"]


def _as_pipeline(run, pipeline):
    """Make ``run`` a run of another pipeline, as its ``config.json`` says (the weights stay fcn8's)."""
    path = run / CONFIG_NAME
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved["run"]["pipeline"] = pipeline
    path.write_text(json.dumps(saved), encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two annotated phantoms (clicks, pseudo-masks without L5) and one test phantom; fcn8 trained for one
    step on the pseudo-masks and on the labels, and copies of both runs that say they are ``unet3d``."""
    root = tmp_path_factory.mktemp("collect")
    dataset = root / "dataset"
    write_phantoms(dataset, 2, seed=5, spacing=(4.0, 4.0, 4.0))
    write_simulated_clicks(dataset, get_label_set(), ClickConfig(per_class=2, background=4), seed=5)
    write_phantoms(dataset, 1, seed=5, spacing=(4.0, 4.0, 4.0), first_index=2)
    (dataset / "split.json").write_text(json.dumps({"test": TEST}), encoding="utf-8")
    for case in ANNOTATED:
        labels = read_volume(dataset / case / "labels.nii.gz")
        pseudo = np.where(labels.array == 5, 0, labels.array).astype(np.uint8)
        write_nifti(Volume(pseudo, labels.affine), dataset / case / "pseudo.nii.gz")
    runs = root / "runs"
    for target in ("pseudo", "labels"):
        train_supervised(dataset, target, runs / f"fcn8-{target}", profile="tiny", seed=0, epochs=1, steps_per_epoch=1,
                         val_every=0, device="cpu")
        shutil.copytree(runs / f"fcn8-{target}", runs / f"unet3d-{target}")
        _as_pipeline(runs / f"unet3d-{target}", "unet3d")
    return dataset, runs


@pytest.fixture(scope="module")
def collected(runs, tmp_path_factory):
    dataset, folder = runs
    out = tmp_path_factory.mktemp("report")
    return out, collect_results([folder], dataset, out)


def test_rows_are_grouped_by_pipeline(runs, collected):
    _, folder = runs
    out, results = collected
    assert read_run_info(folder / "unet3d-pseudo").pipeline == "unet3d"
    assert list(results["pipelines"]) == ["fcn8", "unet3d"]
    for name in ("fcn8", "unet3d"):
        pipeline = results["pipelines"][name]
        assert pipeline["title"] == f"{name}, label set lumbar" and pipeline["label_set"] == "lumbar"
        rows = pipeline["rows"]
        assert set(rows) == {"pseudo", "labels", "pseudo_train", "labels_train"}
        for target, title in (("pseudo", "pseudo-masks"), ("labels", "full labels")):
            assert rows[target]["on"] == "test" and rows[target]["cases"] == TEST
            assert rows[f"{target}_train"]["on"] == "annotated" and rows[f"{target}_train"]["cases"] == ANNOTATED
            assert rows[target]["title"] == f"{name} on {title}"
            assert rows[target]["run"] == str(folder / f"{name}-{target}")
    fcn8, unet3d = results["pipelines"]["fcn8"]["rows"], results["pipelines"]["unet3d"]["rows"]
    for key in fcn8:  # the same weights predict the same labels, whichever pipeline the run says it is
        assert unet3d[key]["dice_wi"] == pytest.approx(fcn8[key]["dice_wi"]), key
    # Table 1 is fcn8's view (with the pseudo-masks); unet3d's runs fill no Table 1 row
    assert set(results["table"]) == {"pseudo", "result", "reference", "result_train", "reference_train"}
    assert results["table"]["result"] is fcn8["pseudo"] and results["table"]["reference_train"] is fcn8["labels_train"]
    assert results["runs"]["unet3d/pseudo"] == str(folder / "unet3d-pseudo")
    assert results["runs"]["result"] == str(folder / "fcn8-pseudo")
    # each pipeline's predictions go to its own folder; fcn8's keep their Table 1 names
    assert (out / "predictions" / "result" / "phantom_002.nii.gz").exists()
    assert (out / "predictions" / "reference_train" / "phantom_000.nii.gz").exists()
    assert (out / "predictions" / "unet3d" / "labels" / "phantom_002.nii.gz").exists()
    assert (out / "predictions" / "unet3d" / "pseudo_train" / "phantom_001.nii.gz").exists()


def test_report_from_runs_has_a_section_per_pipeline(collected):
    out, results = collected
    paths = write_report(results, out)
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    rows = results["pipelines"]["unet3d"]["rows"]
    ratios = document["pipelines"]["unet3d"]["ratios"]["ours"]
    assert ratios["pseudo_over_labels"] == pytest.approx(rows["pseudo"]["dice_wi"] / rows["labels"]["dice_wi"])
    assert ratios["pseudo_over_labels_train"] == pytest.approx(
        rows["pseudo_train"]["dice_wi"] / rows["labels_train"]["dice_wi"])
    assert ratios["cost"] == pytest.approx(results["cost"]["cost_ratio"])
    text = paths["markdown"].read_text(encoding="utf-8")
    assert "## Table 1: Dice_wi and per-class Dice (fcn8, label set lumbar)" in text
    assert "### unet3d, label set lumbar" in text
    assert f"| unet3d on full labels | test cases | {rows['labels']['dice_wi']:.3f} |" in text


def test_a_pipeline_alone_gets_its_section_without_table1(runs, tmp_path):
    dataset, folder = runs
    results = collect_results([folder / "unet3d-pseudo", folder / "unet3d-labels"], dataset)
    assert list(results["pipelines"]) == ["unet3d"]
    assert set(results["table"]) == {"pseudo"}, "the pseudo-masks still; no fcn8 rows"
    text = write_report(results, tmp_path)["markdown"].read_text(encoding="utf-8")
    assert "Table 1" not in text and "### unet3d, label set lumbar" in text
    pseudo = results["table"]["pseudo"]["dice_wi"]
    assert f"pseudo-masks the models learned from have a Dice_wi of {pseudo:.3f} on the annotated" in text


def test_two_runs_for_one_row_are_an_input_error(runs, tmp_path):
    dataset, folder = runs
    shutil.copytree(folder / "unet3d-labels", tmp_path / "again")
    with pytest.raises(InputError, match="two runs of unet3d on full labels"):
        collect_results([folder / "unet3d-labels", tmp_path / "again"], dataset)


def test_a_run_is_never_scored_as_test_on_cases_it_trained_on(runs, tmp_path):
    """Without DATASET/split.json the test cases are the labelled cases without clicks, and a run on full
    labels trains on those too: its test row leaves them out (RUN/split.json), and says so when none is left."""
    dataset, folder = runs
    plain = tmp_path / "dataset"
    shutil.copytree(dataset, plain, ignore=shutil.ignore_patterns(".pointseg-cache"))
    (plain / "split.json").unlink()
    write_phantoms(plain, 1, seed=6, spacing=(4.0, 4.0, 4.0), first_index=3)  # a second case without clicks
    every = ANNOTATED + TEST + ["phantom_003"]
    labels = tmp_path / "runs" / "fcn8-labels"
    train_supervised(plain, "labels", labels, profile="tiny", seed=0, epochs=1, steps_per_epoch=1, val_every=0,
                     device="cpu")
    assert sorted(json.loads((labels / "split.json").read_text(encoding="utf-8"))["train"]) == every

    results = collect_results([labels], plain, tmp_path / "report")
    row = results["pipelines"]["fcn8"]["rows"]["labels"]
    assert results["cases"] == TEST + ["phantom_003"]
    assert row["dice_wi"] is None and row["cases"] == [] and row["on"] == "test"
    assert row["left_out"] == TEST + ["phantom_003"] and "every test case" in row["not_measured"]
    assert results["table"]["reference"] is row
    assert results["pipelines"]["fcn8"]["rows"]["labels_train"]["cases"] == ANNOTATED
    assert not (tmp_path / "report" / "predictions" / "reference").exists()
    text = write_report(results, tmp_path / "report")["markdown"].read_text(encoding="utf-8")
    reference = next(line for line in text.splitlines() if line.startswith("| Reference (full masks) |"))
    assert "none of the test cases: its run saw them all in training" in reference

    # a run that trained on one of the two test cases is scored on the other only, next to a run that trained
    # on neither (and measured both): no ratio between the two
    shutil.copytree(labels, tmp_path / "partial" / "fcn8-labels")
    split = {"train": ANNOTATED + ["phantom_003"], "val": []}
    (tmp_path / "partial" / "fcn8-labels" / "split.json").write_text(json.dumps(split), encoding="utf-8")
    shutil.copytree(folder / "fcn8-pseudo", tmp_path / "partial" / "fcn8-pseudo")
    results = collect_results([tmp_path / "partial"], plain)
    rows = results["pipelines"]["fcn8"]["rows"]
    assert rows["labels"]["cases"] == TEST and rows["labels"]["left_out"] == ["phantom_003"]
    assert rows["pseudo"]["cases"] == TEST + ["phantom_003"] and "left_out" not in rows["pseudo"]
    text = write_report(results, tmp_path / "partial-report")["markdown"].read_text(encoding="utf-8")
    reference = next(line for line in text.splitlines() if line.startswith("| Reference (full masks) |"))
    assert "test cases, less 1 its run saw in training" in reference
    assert "| Result / reference, both on the test cases (Dice_wi) | – |" in text


def test_an_unreadable_run_split_is_an_input_error(runs, tmp_path):
    dataset, folder = runs
    run = tmp_path / "fcn8-labels"
    shutil.copytree(folder / "fcn8-labels", run)
    (run / "split.json").write_text('{"train": "phantom_000"}', encoding="utf-8")
    with pytest.raises(InputError, match="split.json"):
        collect_results([run], dataset)
