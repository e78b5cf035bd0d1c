"""Collecting the numbers of a cost-vs-accuracy report from trained runs and a dataset.

Each run's :class:`~pointseg.runs.RunInfo` says which rows it fills:

* weak planar runs (trained on clicks) — the Table 1 rows ``transverse``, ``coronal`` and ``sagittal``,
  and ``pseudo`` — the fused, smoothed pseudo-masks: on the annotated cases (those with clicks and full
  labels), because the pseudo-masks exist for exactly those cases. The planar rows reuse
  ``planar_probabilities.h5`` that ``fuse`` left in each case, or predict the case when it is not there.
* supervised runs — the rows of their pipeline, keyed by what they were trained on: ``pseudo``
  (pseudo-masks) and ``labels`` (full labels) on the test cases (``DATASET/split.json``'s ``"test"`` list,
  or else the labelled cases without clicks), and ``pseudo_train`` and ``labels_train`` on the annotated
  cases they were trained on, so that under-fitting (low on both) and over-fitting (high on training, low
  on test) can be told apart, and so that the pseudo-mask has a reference measured on its own cases.
  The ``fcn8`` pipeline's rows are also Table 1's ``result``/``reference`` (``_train``).

A run is never scored as "test" on a case its own ``RUN/split.json`` lists (``"train"`` or ``"val"``:
without ``DATASET/split.json`` a run on full labels trains on the labelled cases without clicks too). Such
cases are left out of that run's test row (``left_out``); when none is left the row has no Dice, no cases
and says why (``not_measured``).

Each row holds the mean Dice_wi over its cases, the mean per-class Dice over the cases where the class is
present in the ground truth, the many-class metrics pooled over its cases (median DSC, detection ratio,
foreground DSC: :mod:`pointseg.metrics.many_class`), the mean seconds per case spent predicting (``predict_s``), the
run's training seconds per optimiser step (``seconds_per_step``, from its ``log.jsonl``), every case's own
Dice (as ``pointseg evaluate`` prints it), which cases it was measured on (``on``: ``annotated`` or
``test``, and ``cases``), the run's title and folder. Ratios are only ever taken between rows measured on
the same cases (see :mod:`pointseg.report.ratios`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from pointseg.metrics.cost import CostModel, dataset_cost
from pointseg.io.dataset import SPLIT_FILE, Case, discover_cases, held_out_case_ids
from pointseg.errors import InputError
from pointseg.predict import load_model
from pointseg.predict.base import label_dtype
from pointseg.labels import LabelSet, get_label_set
from pointseg.metrics.many_class import many_class_metrics
from pointseg.metrics.dice import DiceResult, dice_scores
from pointseg.metrics.summary import scores_as_dict
from pointseg.progress import progress
from pointseg.report.schema import TABLE1_PIPELINE, TABLE1_ROLES, Pipeline
from pointseg.runs import LOG_NAME, SPLIT_NAME, WEAK_PLANAR, RunInfo, find_runs, read_run_file, read_run_info
from pointseg.io.volume import Volume, write_nifti

PLANAR_ROWS = {"axial": "transverse", "coronal": "coronal", "sagittal": "sagittal"}


def prediction_folder(info: RunInfo, key: str) -> str:
    """Where a row's predictions go below ``predictions/``: the Table 1 row name for the weak planar and
    fcn8 runs (``transverse``, ``result``, ``reference_train``, ...), ``<pipeline>/<key>`` otherwise."""
    if info.target == "clicks":
        return PLANAR_ROWS[info.axis]
    return TABLE1_ROLES[key] if info.pipeline == TABLE1_PIPELINE else f"{info.pipeline}/{key}"


def _summarise(scores: dict[str, DiceResult], label_set: LabelSet, on: str | None = None) -> dict:
    per_case = {case: scores_as_dict(s, label_set) for case, s in scores.items()}
    classes: dict[str, list[float]] = {}
    for result in scores.values():
        for m in np.flatnonzero(result.gt_voxels > 0):
            classes.setdefault(label_set.names[m], []).append(float(result.dice[m]))
    groups: dict[str, list[float]] = {}
    for result in scores.values():
        for group, value in result.group_dice(label_set).items():
            groups.setdefault(group, []).append(value)
    return {
        "dice_wi": float(np.mean([s.dice_wi for s in scores.values()])) if scores else None,
        "dice": {name: float(np.mean(v)) for name, v in classes.items()},
        "groups": {group: float(np.mean(v)) for group, v in groups.items()},
        "many_class": many_class_metrics(list(scores.values()), label_set),  # pooled over the cases
        "per_case": per_case,
        "cases": sorted(per_case),
        **({"on": on} if on else {}),
    }


def _planar_labels(case: Case, axis: str) -> np.ndarray | None:
    path = case.planar_probabilities_path
    if not path.exists():
        return None
    with h5py.File(path, "r") as f:
        if axis not in f:
            return None
        data = f[axis]
        labels = np.zeros(data.shape[:3], dtype=np.uint8)
        for k in range(data.shape[2]):  # a k-slice at a time: the file holds every class
            labels[:, :, k] = np.argmax(data[:, :, k], axis=-1)
        return labels


def seconds_per_step(run: str | os.PathLike) -> float | None:
    """The run's training seconds per optimiser step: the sum of its epochs' ``seconds`` in ``log.jsonl``
    over the cumulative ``step`` of its last epoch; ``None`` when the log is missing, empty or unreadable,
    or records no step."""
    path = Path(run) / LOG_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    seconds, step = 0.0, None
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(record, dict):
            return None
        if isinstance(record.get("seconds"), (int, float)):
            seconds += float(record["seconds"])
        if isinstance(record.get("step"), (int, float)):
            step = record["step"]
    return seconds / step if step else None


def evaluate_run(run: Path, cases: list[Case], role: str, label_set: LabelSet, device: torch.device,
                 predictions: Path | None, on: str | None = None) -> dict:
    """Dice of one run on ``cases``; predictions are written to ``predictions/<role>/<case>.nii.gz``.

    A weak planar run reuses each case's ``planar_probabilities.h5`` where ``fuse`` left it. The row also
    holds ``predict_s``, the mean seconds of the model's prediction per predicted case (loading the model
    and the case not counted; ``None`` when no case was predicted), and the run's ``seconds_per_step``."""
    loaded = None
    info = read_run_info(run)
    planar, axis = info.target == "clicks", info.axis
    scores = {}
    predict_times: list[float] = []
    for case in progress(cases, f"evaluate {role}"):
        ct, labels = case.load_ct(), case.load_labels(label_set)
        pred = _planar_labels(case, axis) if planar else None
        if pred is None:
            loaded = loaded or load_model(run, device)
            start = time.perf_counter()
            pred = loaded.predict(ct, device).labels  # NumPy on the host: any device work is done
            predict_times.append(time.perf_counter() - start)
        if predictions is not None:
            write_nifti(Volume(pred, ct.affine), predictions / role / f"{case.id}.nii.gz",
                        dtype=label_dtype(label_set.num_classes))
        scores[case.id] = dice_scores(pred, labels.array, label_set.num_classes)
    return {**_summarise(scores, label_set, on),
            "predict_s": float(np.mean(predict_times)) if predict_times else None,
            "seconds_per_step": seconds_per_step(run)}


def run_split_ids(run: str | os.PathLike) -> set[str]:
    """The case ids the run's ``split.json`` lists under ``"train"`` and ``"val"``: the cases it was trained
    on or watched while training, never test cases for it. A run folder without ``split.json`` lists none;
    an unreadable or malformed one is an :class:`InputError` naming it."""
    path = Path(run) / SPLIT_NAME
    if not path.exists():
        return set()
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the run's split ({exc})", path) from exc
    lists = [split.get(key) or [] for key in ("train", "val")] if isinstance(split, dict) else None
    if lists is None or not all(isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists):
        raise InputError('expected {"train": [case ids], "val": [case ids]}', path)
    return {i for ids in lists for i in ids}


def unseen_test_cases(seen: set[str], test: list[Case]) -> tuple[list[Case], list[str]]:
    """The test cases a run may be scored on (those not in ``seen``, what its ``split.json`` lists) and the
    ids of the others, left out."""
    return [c for c in test if c.id not in seen], [c.id for c in test if c.id in seen]


def not_measured_row(left_out: list[str]) -> dict:
    """A test row with no case left: every test case is one the run trained on or watched."""
    return {"dice_wi": None, "dice": {}, "on": "test", "cases": [], "left_out": left_out,
            "not_measured": f"the run trained on (or validated with) every test case ({', '.join(left_out)}); "
                            f"list test cases in DATASET/{SPLIT_FILE} before training"}


def evaluate_pseudo(cases: list[Case], label_set: LabelSet) -> dict | None:
    scores = {}
    for case in cases:
        if case.pseudo_path.exists():
            pseudo, labels = case.load_pseudo(label_set), case.load_labels(label_set)
            scores[case.id] = dice_scores(pseudo.array, labels.array, label_set.num_classes)
    return _summarise(scores, label_set, "annotated") if scores else None



def _one_run_per_row(runs: list[Path], infos: list[RunInfo]) -> None:
    """An InputError when two runs would fill the same report row (checked before anything is evaluated)."""
    seen: dict[tuple[str, str], Path] = {}
    for run, info in zip(runs, infos):
        if info.target == "clicks" and info.axis not in PLANAR_ROWS:
            raise InputError(f"a run trained on clicks must be planar (axis {info.axis!r})", run)
        place = ("table", PLANAR_ROWS[info.axis]) if info.target == "clicks" else (info.pipeline, info.target)
        if place in seen:
            raise InputError(f"two runs of {info.title} ({seen[place]} and this one); pass the run folders of "
                             "one report only", run)
        seen[place] = run


def collect_results(
    run_paths: list[str | os.PathLike], dataset: str | os.PathLike | None = None, out: Path | None = None,
    device: torch.device = torch.device("cpu"), cost_model: CostModel = CostModel(),
) -> dict:
    """The ``results`` dict of :func:`pointseg.report.write_report` for the given runs.

    Runs of any pipeline and label set: the weak planar runs fill Table 1 (``table``), every supervised
    run its pipeline's rows (``pipelines[name]["rows"]``); the fcn8 pipeline's rows are Table 1's result
    and reference as well. Each pipeline measures with its own label set; one whose label set is not the
    report's (that of the weak planar and fcn8 runs, else of the first run) gets its own labelling cost.
    """
    runs = find_runs(run_paths)
    infos = [read_run_info(run) for run in runs]
    _one_run_per_row(runs, infos)
    # the cases each supervised run saw while training, read before anything is evaluated
    seen = [run_split_ids(run) if info.target != "clicks" else set() for run, info in zip(runs, infos)]
    dataset = Path(dataset) if dataset else Path(read_run_file(runs[0]).get("dataset") or "")
    if not dataset or not dataset.is_dir():
        raise InputError("cannot tell the dataset of these runs; pass --dataset", dataset or runs[0])
    main = next((i for i in infos if i.pipeline in (WEAK_PLANAR, TABLE1_PIPELINE)), infos[0])
    label_set = get_label_set(main.label_set)
    cases = discover_cases(dataset)
    labelled = [c for c in cases if c.labels_path is not None]
    annotated = [c for c in labelled if c.has_points]
    held_out = held_out_case_ids(dataset)
    test = [c for c in labelled if c.id in held_out] if held_out else [c for c in labelled if not c.has_points]
    predictions = out / "predictions" if out is not None else None
    costs = {label_set.name: dataset_cost(annotated, label_set, cost_model)}

    table: dict[str, dict] = {}
    pipelines: dict[str, dict] = {}
    for run, info, run_seen in zip(runs, infos, seen):
        if info.target == "clicks":
            rows, measured = table, ((PLANAR_ROWS[info.axis], "annotated", annotated, []),)
        else:
            pipeline = pipelines.setdefault(info.pipeline, {
                "title": Pipeline.default_title(info.pipeline, info.label_set), "label_set": info.label_set,
                "rows": {}})
            if pipeline["label_set"] != info.label_set:
                raise InputError(f"runs of the pipeline {info.pipeline!r} with two label sets "
                                 f"({pipeline['label_set']}, {info.label_set}); report them apart", run)
            if info.label_set not in costs:
                costs[info.label_set] = dataset_cost(annotated, get_label_set(info.label_set), cost_model)
            if info.label_set != label_set.name:
                pipeline["cost"] = costs[info.label_set]
            rows = pipeline["rows"]
            run_test, left_out = unseen_test_cases(run_seen, test)
            measured = ((info.target, "test", run_test, left_out),
                        (f"{info.target}_train", "annotated", annotated, []))
        for key, on, measured_cases, left_out in measured:
            if measured_cases:
                row = evaluate_run(run, measured_cases, prediction_folder(info, key), get_label_set(info.label_set),
                                   device, predictions, on)
                if left_out:
                    row["left_out"] = left_out
            elif left_out:
                row = not_measured_row(left_out)
            else:
                continue
            rows[key] = {**row, "title": info.title, "run": str(run)}
    for key, row in (pipelines.get(TABLE1_PIPELINE) or {"rows": {}})["rows"].items():
        table[TABLE1_ROLES[key]] = row
    pseudo = evaluate_pseudo(annotated, label_set)
    if pseudo is not None:
        table["pseudo"] = pseudo
    return {
        "title": "pointseg: accuracy against labelling cost",
        "dataset": str(dataset),
        "cases": [c.id for c in test],
        "annotated_cases": [c.id for c in annotated],
        "label_set": label_set.name,
        "table": table,
        "pipelines": dict(sorted(pipelines.items(), key=lambda item: (item[0] != TABLE1_PIPELINE, item[0]))),
        "cost": costs[label_set.name],
        "runs": {prediction_folder(info, info.target): str(run) for run, info in zip(runs, infos)},
        "efficiency": _efficiency(run_paths),
    }


def _efficiency(paths: list[str | os.PathLike]) -> list[dict]:
    """Label-efficiency points from an ``efficiency.json`` next to the given folders (written by the demo)."""
    for path in map(Path, paths):
        for candidate in (path / "efficiency.json", path.parent / "efficiency.json"):
            if candidate.exists():
                return json.loads(candidate.read_text(encoding="utf-8"))
    return []
