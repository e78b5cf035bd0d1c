"""Collecting the numbers of a cost-vs-accuracy report from trained runs and a dataset.

Rows of the paper's Table 1 and where they are measured:

* ``transverse``, ``coronal``, ``sagittal`` — the weak planar models, and ``pseudo`` — the fused,
  smoothed pseudo-masks: on the annotated cases (those with clicks and full labels), because the
  pseudo-masks exist for exactly those cases. The planar rows reuse ``planar_probabilities.h5`` that
  ``fuse`` left in each case, or predict the case when it is not there.
* ``result`` (the final model, trained on pseudo-masks) and ``reference`` (trained on full labels) — on
  the test cases: ``DATASET/split.json``'s ``"test"`` list, or else the labelled cases without clicks;
* ``result_train`` and ``reference_train`` — the same two models on the annotated cases they were trained
  on, so that under-fitting (low on both) and over-fitting (high on training, low on test) can be told
  apart, and so that the pseudo-mask has a reference measured on its own cases.

Each row holds the mean Dice_wi over its cases, the mean per-class Dice over the cases where the class is
present in the ground truth, every case's own Dice (as ``pointseg evaluate`` prints it), and which cases
it was measured on (``on``: ``annotated`` or ``test``, and ``cases``). Ratios are only ever taken between
rows measured on the same cases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import torch

from pointseg.cost import CostModel, dataset_cost
from pointseg.dataset import Case, discover_cases, held_out_case_ids
from pointseg.errors import InputError
from pointseg.inference import CHECKPOINT_NAME, load_model, predict_labels
from pointseg.labels import LabelSet, get_label_set
from pointseg.metrics import DiceResult, dice_scores
from pointseg.progress import progress
from pointseg.volume import Volume, read_volume, write_nifti

PLANAR_ROWS = {"axial": "transverse", "coronal": "coronal", "sagittal": "sagittal"}


def find_runs(paths: list[str | os.PathLike]) -> list[Path]:
    """Run folders (holding ``checkpoint_last.pt``) given directly or found below the given folders."""
    runs: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError("no such run folder", path)
        if (path / CHECKPOINT_NAME).exists():
            runs.append(path)
        else:
            runs.extend(sorted(p.parent for p in path.rglob(CHECKPOINT_NAME)))
    if not runs:
        raise InputError("no trained run found (no checkpoint_last.pt below the given folders)")
    return runs


def run_role(run: Path) -> tuple[str, dict]:
    """The Table 1 row a run fills, and its run information (``config.json``)."""
    info_path = run / "config.json"
    if not info_path.exists():
        raise InputError("run folder without config.json", run)
    info = json.loads(info_path.read_text(encoding="utf-8"))
    config = info["config"]
    target = config.get("target")
    if target is not None:
        return ("result" if target == "pseudo" else "reference"), info
    return PLANAR_ROWS[config["axis"]], info


def _summarise(scores: dict[str, DiceResult], label_set: LabelSet, on: str | None = None) -> dict:
    per_case = {case: s.as_dict(label_set) for case, s in scores.items()}
    classes: dict[str, list[float]] = {}
    for result in scores.values():
        for m in np.flatnonzero(result.gt_voxels > 0):
            classes.setdefault(label_set.names[m], []).append(float(result.dice[m]))
    return {
        "dice_wi": float(np.mean([s.dice_wi for s in scores.values()])) if scores else None,
        "dice": {name: float(np.mean(v)) for name, v in classes.items()},
        "per_case": per_case,
        "cases": sorted(per_case),
        **({"on": on} if on else {}),
    }


def _planar_labels(case: Case, axis: str) -> np.ndarray | None:
    path = case.dir / "planar_probabilities.h5"
    if not path.exists():
        return None
    with h5py.File(path, "r") as f:
        return None if axis not in f else np.argmax(f[axis][...], axis=-1).astype(np.uint8)


def evaluate_run(run: Path, cases: list[Case], role: str, label_set: LabelSet, device: torch.device,
                 predictions: Path | None, on: str | None = None) -> dict:
    """Dice of one run on ``cases``; predictions are written to ``predictions/<role>/<case>.nii.gz``."""
    loaded = None
    planar = role in PLANAR_ROWS.values()
    axis = json.loads((run / "config.json").read_text(encoding="utf-8"))["config"]["axis"]
    scores = {}
    for case in progress(cases, f"evaluate {role}"):
        ct, labels = case.load_ct(), case.load_labels()
        pred = _planar_labels(case, axis) if planar else None
        if pred is None:
            loaded = loaded or load_model(run, device)
            pred = predict_labels(loaded, ct, device)[0]
        if predictions is not None:
            write_nifti(Volume(pred, ct.affine), predictions / role / f"{case.id}.nii.gz", dtype=np.uint8)
        scores[case.id] = dice_scores(pred, labels.array, label_set.num_classes)
    return _summarise(scores, label_set, on)


def evaluate_pseudo(cases: list[Case], label_set: LabelSet) -> dict | None:
    scores = {}
    for case in cases:
        if case.pseudo_path.exists():
            pseudo, labels = read_volume(case.pseudo_path), case.load_labels()
            scores[case.id] = dice_scores(pseudo.array, labels.array, label_set.num_classes)
    return _summarise(scores, label_set, "annotated") if scores else None


def collect_results(
    run_paths: list[str | os.PathLike], dataset: str | os.PathLike | None = None, out: Path | None = None,
    device: torch.device = torch.device("cpu"), cost_model: CostModel = CostModel(),
) -> dict:
    """The ``results`` dict of :func:`pointseg.report.write_report` for the given runs."""
    runs = find_runs(run_paths)
    roles = [run_role(run) for run in runs]
    dataset = Path(dataset) if dataset else Path(roles[0][1].get("dataset") or "")
    if not dataset or not dataset.is_dir():
        raise InputError("cannot tell the dataset of these runs; pass --dataset", dataset or runs[0])
    label_set = get_label_set(roles[0][1]["config"].get("label_set", "lumbar"))
    cases = discover_cases(dataset)
    labelled = [c for c in cases if c.labels_path is not None]
    annotated = [c for c in labelled if c.has_points]
    held_out = held_out_case_ids(dataset)
    test = [c for c in labelled if c.id in held_out] if held_out else [c for c in labelled if not c.has_points]
    predictions = out / "predictions" if out is not None else None
    table: dict[str, dict] = {}
    for run, (role, _) in zip(runs, roles):
        if role in PLANAR_ROWS.values():
            if annotated:
                table[role] = evaluate_run(run, annotated, role, label_set, device, predictions, "annotated")
            continue
        if test:
            table[role] = evaluate_run(run, test, role, label_set, device, predictions, "test")
        if annotated:
            table[f"{role}_train"] = evaluate_run(run, annotated, f"{role}_train", label_set, device, predictions,
                                                  "annotated")
    pseudo = evaluate_pseudo(annotated, label_set)
    if pseudo is not None:
        table["pseudo"] = pseudo
    ordered = {row: table[row] for row in ("transverse", "coronal", "sagittal", "pseudo", "result_train",
                                           "reference_train", "result", "reference") if row in table}
    return {
        "title": "pointseg: accuracy against labelling cost",
        "dataset": str(dataset),
        "cases": [c.id for c in test],
        "annotated_cases": [c.id for c in annotated],
        "label_set": label_set.name,
        "table": ordered,
        "cost": dataset_cost(annotated, label_set, cost_model),
        "runs": {role: str(run) for run, (role, _) in zip(runs, roles)},
        "efficiency": _efficiency(run_paths),
    }


def _efficiency(paths: list[str | os.PathLike]) -> list[dict]:
    """Label-efficiency points from an ``efficiency.json`` next to the given folders (written by the demo)."""
    for path in map(Path, paths):
        for candidate in (path / "efficiency.json", path.parent / "efficiency.json"):
            if candidate.exists():
                return json.loads(candidate.read_text(encoding="utf-8"))
    return []
