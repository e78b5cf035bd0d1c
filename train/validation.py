"""Validation shared by the trainers: Dice_wi of whole-volume predictions on held-out labelled cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pointseg.io.atomic import write_text
from pointseg.io.dataset import Case
from pointseg.predict.planar import PlanarPredictor
from pointseg.metrics.dice import DiceResult, dice_scores
from pointseg.metrics.summary import scores_as_dict


def validate_cases(loaded: PlanarPredictor, cases: list[Case], device: torch.device) -> dict[str, DiceResult]:
    """Per-case Dice of the model's prediction on each case's CT grid against its ``labels.nii.gz``."""
    scores = {}
    for case in cases:
        pred = loaded.predict(case.load_ct(), device).labels
        labels = case.load_labels(loaded.label_set)
        scores[case.id] = dice_scores(pred, labels.array, loaded.label_set.num_classes)
    return scores


def write_validation(path: Path, scores: dict[str, DiceResult], loaded: PlanarPredictor, epoch: int) -> float:
    """Write ``validation.json`` (mean and per-case Dice) and return the mean Dice_wi."""
    mean = float(np.mean([s.dice_wi for s in scores.values()]))
    report = {
        "epoch": epoch, "axis": getattr(loaded, "axis", None), "val_dice_wi": mean,
        "cases": {case: scores_as_dict(s, loaded.label_set) for case, s in scores.items()},
    }
    write_text(path, json.dumps(report, indent=2))
    return mean
