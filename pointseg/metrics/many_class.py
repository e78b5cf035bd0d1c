"""Metrics for segmentations with many classes (section 3.2 of "3D Segmentation Networks for Excessive
Numbers of Classes: Distinct Bone Segmentation in Upper Bodies", seed 001), for any label set.

For a set of per-class DSC values (one per ground-truth class present, pooled over cases):

* ``median`` — the median DSC over the *detected* classes (DSC > 0); classes missed entirely are left out
  so as not to distort the distribution;
* ``lower`` / ``upper`` — the distances from the median down to the 16th and up to the 84th percentile of
  the same values (``numpy.percentile`` with its default linear interpolation);
* ``detection_ratio`` — dr = #(ground-truth classes with DSC > 0) / #(ground-truth classes)   (eq. 2);
* ``fg`` — the foreground DSC with no distinction between classes,
  fg = 2 |P_fg ∩ G_fg| / (|P_fg| + |G_fg|)   (eq. 3),
  from the confusion matrix: |P_fg ∩ G_fg| = sum of C[g, p] over g and p both foreground. When every
  non-background class is foreground this equals eq. 3 written with the background alone
  (P_fg = ¬P_bg, G_fg = ¬G_bg).

Undefined values are ``None`` (never NaN), so the dicts are valid JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from pointseg.metrics.dice import DiceResult

if TYPE_CHECKING:
    from pointseg.labels import LabelSet

PERCENTILES = (16.0, 84.0)


def summarise_dsc(values: Iterable[float]) -> dict:
    """Median DSC of the detected classes (DSC > 0), its distances to the 16th/84th percentiles and dr.

    ``values`` holds one DSC per ground-truth class (NaN entries, classes absent from both volumes, are
    ignored). Percentiles are ``numpy.percentile`` with its default linear interpolation. Keys: ``median``,
    ``lower`` (median - p16), ``upper`` (p84 - median), ``detected``, ``classes``, ``detection_ratio``;
    ``None`` where undefined (no class detected, or no class at all)."""
    array = np.asarray(list(values), dtype=np.float64)
    array = array[~np.isnan(array)]
    detected = array[array > 0]
    out: dict = {"median": None, "lower": None, "upper": None, "detected": int(detected.size),
                 "classes": int(array.size),
                 "detection_ratio": float(detected.size / array.size) if array.size else None}
    if detected.size:
        p16, median, p84 = np.percentile(detected, [PERCENTILES[0], 50.0, PERCENTILES[1]])
        out.update(median=float(median), lower=float(median - p16), upper=float(p84 - median))
    return out


def foreground_counts(confusion: np.ndarray, ids: Sequence[int]) -> tuple[int, int, int]:
    """``(|P_fg ∩ G_fg|, |P_fg|, |G_fg|)`` for the foreground made of the classes ``ids`` (``C[g, p]``)."""
    confusion = np.asarray(confusion)
    ids = [int(i) for i in ids if 0 <= int(i) < confusion.shape[0]]
    if not ids:
        return 0, 0, 0
    intersection = int(confusion[np.ix_(ids, ids)].sum())
    return intersection, int(confusion[:, ids].sum()), int(confusion[ids, :].sum())


def foreground_dice(confusion: np.ndarray, ids: Sequence[int]) -> float | None:
    """Eq. 3: the DSC of the union of the classes ``ids`` against that of the ground truth (None if both empty)."""
    intersection, pred, gt = foreground_counts(confusion, ids)
    return 2.0 * intersection / (pred + gt) if pred + gt else None


def _as_list(results: Sequence[DiceResult] | dict[str, DiceResult]) -> list[DiceResult]:
    return list(results.values()) if isinstance(results, dict) else list(results)


def _group_metrics(results: list[DiceResult], ids: Sequence[int], fg_ids: Sequence[int]) -> dict:
    values = [float(r.dice[m]) for r in results for m in ids if m < len(r.gt_voxels) and r.gt_voxels[m] > 0]
    out = summarise_dsc(values)
    if any(r.confusion is None for r in results):
        out["fg"] = None  # a DiceResult built without its confusion matrix: the overlap is unknown
        return out
    intersection = size = 0
    for r in results:
        inter, pred, gt = foreground_counts(r.confusion, fg_ids)
        intersection, size = intersection + inter, size + pred + gt
    out["fg"] = 2.0 * intersection / size if size else None
    return out


def foreground_ids(label_set: LabelSet) -> tuple[int, ...]:
    """The classes that make up the foreground of ``fg`` over all classes: every bone of the label set, or
    every non-background class when it has no bones."""
    return label_set.bone_ids() or tuple(label_set.ids[1:])


def many_class_metrics(results: Sequence[DiceResult] | dict[str, DiceResult], label_set: LabelSet) -> dict:
    """The section-3.2 metrics over all classes and per group of the label set, pooled over ``results``.

    ``{"all": {...}, "groups": {group: {...}}}``, each with the keys of :func:`summarise_dsc` and ``fg``.
    DSC values are those of the classes present in each case's ground truth, pooled over the cases (so
    ``classes`` counts case-class pairs, as the paper pools its cross-validation folds); ``"all"`` covers
    every non-background class. ``fg`` is pooled too: summed intersections over summed sizes of all cases.
    Its foreground is every bone for ``"all"`` (every non-background class when the set has no bones) and
    the group's own classes for a group; ``None`` when undefined or when a result has no confusion matrix.
    Every group of the label set is listed, with ``classes`` 0 when none of its classes is in any ground truth.
    """
    results = _as_list(results)
    groups = {group: tuple(label_set.id_of(n) for n in names) for group, names in label_set.groups().items()}
    return {
        "all": _group_metrics(results, label_set.ids[1:], foreground_ids(label_set)),
        "groups": {group: _group_metrics(results, ids, ids) for group, ids in groups.items()},
    }
