"""The JSON form of a case's scores: per-class Dice, Dice_wi, the group means and the many-class metrics.

It sits above both :mod:`pointseg.metrics.dice` and :mod:`pointseg.metrics.many_class`, which it combines.
"""

from __future__ import annotations

import numpy as np

from pointseg.labels import LabelSet
from pointseg.metrics.dice import DiceResult
from pointseg.metrics.many_class import many_class_metrics


def scores_as_dict(result: DiceResult, label_set: LabelSet) -> dict:
    """Top-level ``dice_wi`` and a ``dice`` map by class name (classes seen in either volume), the voxel
    counts, the group means, and under ``many_class`` the median DSC, detection ratio and foreground DSC
    (:mod:`pointseg.metrics.many_class`)."""
    seen = (result.gt_voxels > 0) | (result.pred_voxels > 0)
    names = label_set.names
    return {
        "dice_wi": float(result.dice_wi),
        "dice": {names[m]: float(result.dice[m]) for m in np.flatnonzero(seen)},
        "gt_voxels": {names[m]: int(result.gt_voxels[m]) for m in np.flatnonzero(seen)},
        "pred_voxels": {names[m]: int(result.pred_voxels[m]) for m in np.flatnonzero(seen)},
        "groups": result.group_dice(label_set),
        "label_set": label_set.name,
        "many_class": many_class_metrics([result], label_set),
    }
