"""Segmentation metrics: per-class Dice and the inverse-occurrence weighted Dice (Dice_wi).

Dice_wi is eq. 5 of the point-annotation paper (seed 003)::

    dice_wi = sum_m dice_m / A_m  /  sum_m 1 / A_m

over the classes m present in the ground truth (background included), where A_m is the number of ground
truth voxels of class m. Rare classes therefore weigh more than the background.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pointseg.labels import LabelSet


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> np.ndarray:
    """``C[g, p]`` = number of voxels with ground truth ``g`` predicted as ``p`` (``num_classes`` square)."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth shape {gt.shape}")
    pred = np.asarray(pred).astype(np.int64, copy=False).ravel()
    gt = np.asarray(gt).astype(np.int64, copy=False).ravel()
    if pred.size and (min(pred.min(), gt.min()) < 0 or max(pred.max(), gt.max()) >= num_classes):
        raise ValueError(f"label ids must lie in 0..{num_classes - 1}")
    return np.bincount(gt * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass
class DiceResult:
    """Per-class Dice (NaN for a class absent from both volumes), ground-truth voxel counts and Dice_wi;
    ``confusion`` (``C[g, p]``, set by :func:`dice_from_confusion`) gives the overlap of any set of classes."""

    dice: np.ndarray
    gt_voxels: np.ndarray
    pred_voxels: np.ndarray
    dice_wi: float
    confusion: np.ndarray | None = field(default=None, repr=False)

    def group_dice(self, label_set: LabelSet) -> dict[str, float]:
        """Mean Dice of each group of the label set (vertebrae, ribs, large bones, organs) over its classes
        present in the ground truth; groups without any are left out."""
        out = {}
        for group, names in label_set.groups().items():
            ids = [i for i in map(label_set.id_of, names) if i < len(self.gt_voxels) and self.gt_voxels[i] > 0]
            if ids:
                out[group] = float(np.mean(self.dice[ids]))
        return out


def dice_from_confusion(confusion: np.ndarray) -> DiceResult:
    """Per-class Dice and Dice_wi from a confusion matrix (see :func:`confusion_matrix`)."""
    counts = np.asarray(confusion).astype(np.int64)
    confusion = np.asarray(confusion, dtype=np.float64)
    gt_voxels = confusion.sum(axis=1)
    pred_voxels = confusion.sum(axis=0)
    denominator = gt_voxels + pred_voxels
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(denominator > 0, 2.0 * np.diag(confusion) / denominator, np.nan)
    present = gt_voxels > 0
    weights = 1.0 / gt_voxels[present]
    dice_wi = float(np.sum(dice[present] * weights) / np.sum(weights)) if present.any() else float("nan")
    return DiceResult(dice, gt_voxels.astype(np.int64), pred_voxels.astype(np.int64), dice_wi, counts)


def dice_scores(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> DiceResult:
    """Per-class Dice and Dice_wi of a predicted label map against the ground truth (same shape)."""
    return dice_from_confusion(confusion_matrix(pred, gt, num_classes))
