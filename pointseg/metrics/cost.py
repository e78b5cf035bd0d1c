"""Labelling cost: point clicks against drawing full masks.

The paper (seed 003) states its result at "an estimated 12 % of the labelling cost" of full masks, citing
Bearman et al. (2016, *What's the point: semantic segmentation with point supervision*) for the timings.
This module makes that estimate for our own data:

* **points** — ``clicks × seconds per click``. The seconds per click are measured from the ``time_s``
  column of ``points.csv`` (napari writes click timestamps) when at least two are known, otherwise the
  :class:`CostModel` default (a click ≈ 2 s, Bearman et al.);
* **full masks** — ``structure-slices × seconds per structure-slice``, where a *structure-slice* is one
  foreground class on one slice: an annotator outlines every vertebra on every slice it appears on. The
  default of 12.5 s per structure per slice is the project's figure for one polygon outline (also after
  Bearman et al.); set your own when you have measured it.

Slices are counted along an anatomical axis (axial by default, the plane full masks are usually drawn
on), found from each case's affine — so an oblique or permuted scan (PIR, LPS, ...) is counted correctly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable

import nibabel as nib
import numpy as np

from pointseg.io.dataset import Case
from pointseg.errors import InputError
from pointseg.labels import LabelSet
from pointseg.io.points import Points

__all__ = [
    "CostModel",
    "measured_seconds_per_click",
    "structure_slices",
    "anatomical_axis",
    "case_cost",
    "dataset_cost",
    "SLICE_AXIS_NAMES",
]

# Anatomical plane name -> the world axis (0 = L-R, 1 = P-A, 2 = I-S) its slices are stacked along.
SLICE_AXIS_NAMES: dict[str, int] = {
    "axial": 2, "transverse": 2,
    "coronal": 1, "frontal": 1,
    "sagittal": 0,
}

BREAK_SECONDS = 60.0


@dataclass
class CostModel:
    """Seconds per labelling action.

    ``seconds_per_click``: one point click (Bearman et al. 2016: a click takes about 2 s); used when a
    case's click times are not recorded. ``seconds_per_structure_slice``: outlining one foreground structure
    (one vertebra) on one slice, ≈ 12.5 s; background is never drawn and costs nothing.
    """

    seconds_per_click: float = 2.0
    seconds_per_structure_slice: float = 12.5


def measured_seconds_per_click(points: Points, max_gap_s: float = BREAK_SECONDS) -> float | None:
    """Median time between consecutive clicks of one annotation session, in seconds.

    The known ``time_s`` timestamps are sorted (per annotator, when the ``annotator`` column tells
    several apart) and the intervals between consecutive clicks taken; intervals of 0 s (duplicates) and
    those longer than ``max_gap_s`` (breaks) are ignored. ``None`` when fewer than two timestamps are known
    or no interval is left. Example: times ``[0, 2, 5, 6, 100, 103]`` give intervals 2, 3, 1, (94), 3 and
    a median of 2.5 s.
    """
    times = np.asarray(points.time_s, dtype=np.float64)
    known = np.isfinite(times)
    if known.sum() < 2:
        return None
    annotators = np.asarray([points.annotator[n] or "" for n in range(len(points))], dtype=object)
    intervals: list[np.ndarray] = []
    for who in dict.fromkeys(annotators[known]):
        session = np.sort(times[known & (annotators == who)])
        gaps = np.diff(session)
        intervals.append(gaps[(gaps > 0) & (gaps <= max_gap_s)])
    pooled = np.concatenate(intervals) if intervals else np.empty(0)
    return float(np.median(pooled)) if pooled.size else None


def structure_slices(labels: np.ndarray, label_set: LabelSet, slice_axis: int) -> dict[str, int]:
    """For every foreground class present in ``labels`` (I, J, K), the number of slices along
    ``slice_axis`` that contain it. Classes absent from the volume are left out; ids outside the label
    set are ignored."""
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"expected a 3D label volume, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        labels = np.rint(labels)
    num_classes = label_set.num_classes
    present = np.zeros(num_classes, dtype=np.int64)
    stacked = np.moveaxis(labels, slice_axis, 0)
    for plane in stacked:  # one bincount per slice: a single pass over the volume
        values = plane.ravel().astype(np.int64, copy=False)
        values = values[(values >= 0) & (values < num_classes)]
        present += np.bincount(values, minlength=num_classes)[:num_classes] > 0
    return {label_set.names[c]: int(present[c]) for c in range(1, num_classes) if present[c] > 0}


def anatomical_axis(affine: np.ndarray, name: str = "axial") -> int:
    """The array axis (0, 1 or 2) whose slices are the anatomical plane ``name``.

    ``axial``/``transverse``: the array axis closest to superior–inferior; ``coronal``/``frontal``:
    anterior–posterior; ``sagittal``: left–right — found with :func:`nibabel.orientations.io_orientation`,
    so any orientation (RAS, LPS, PIR, oblique) works. For a PIR affine, ``axial`` is array axis 1.
    """
    key = name.strip().lower()
    if key not in SLICE_AXIS_NAMES:
        raise InputError(f"unknown slice axis {name!r} (use one of {', '.join(SLICE_AXIS_NAMES)})")
    world_axis = SLICE_AXIS_NAMES[key]
    ornt = nib.orientations.io_orientation(np.asarray(affine, dtype=np.float64))
    matches = np.flatnonzero(ornt[:, 0] == world_axis)
    if matches.size != 1:
        raise InputError(f"cannot tell the {key} axis of affine with codes {nib.aff2axcodes(affine)}")
    return int(matches[0])


def case_cost(
    points: Points | None,
    labels: np.ndarray | None,
    label_set: LabelSet,
    model: CostModel | None = None,
    slice_axis: int = 2,
) -> dict:
    """Labelling cost of one case.

    ``points``: the case's clicks (background clicks count), or ``None``; ``labels``: its full mask
    (I, J, K) or ``None``; ``slice_axis``: the array axis full masks are drawn along (see
    :func:`anatomical_axis`).

    Returns a JSON-ready dict: ``clicks``, ``seconds_per_click``, ``click_time_source`` ("measured" when
    ``time_s`` gave a value, else "default"), ``click_seconds``, ``structure_slices`` (and per class in
    ``structure_slices_by_class``), ``seconds_per_structure_slice``, ``full_seconds``, ``cost_ratio``
    (``click_seconds / full_seconds``; ``None`` when either is unknown or the mask is empty) and
    ``slice_axis``. Example: 12 clicks at 2 s = 24 s against 10 structure-slices × 12.5 s = 125 s → 0.192.
    """
    model = model or CostModel()
    out: dict = {
        "clicks": None, "clicks_by_label": None, "seconds_per_click": None, "click_time_source": None,
        "click_seconds": None, "structure_slices": None, "structure_slices_by_class": None,
        "seconds_per_structure_slice": float(model.seconds_per_structure_slice), "full_seconds": None,
        "cost_ratio": None, "slice_axis": int(slice_axis),
    }
    if points is not None:
        measured = measured_seconds_per_click(points)
        per_click = measured if measured is not None else float(model.seconds_per_click)
        out.update(
            clicks=len(points),
            clicks_by_label=points.counts(),
            seconds_per_click=per_click,
            click_time_source="measured" if measured is not None else "default",
            click_seconds=len(points) * per_click,
        )
    if labels is not None:
        by_class = structure_slices(labels, label_set, slice_axis)
        total = int(sum(by_class.values()))
        out.update(
            structure_slices=total,
            structure_slices_by_class=by_class,
            full_seconds=total * float(model.seconds_per_structure_slice),
        )
    if out["click_seconds"] is not None and out["full_seconds"]:
        out["cost_ratio"] = out["click_seconds"] / out["full_seconds"]
    out["groups"] = group_costs(out, label_set, model)
    return out


def group_costs(cost: dict, label_set: LabelSet, model: CostModel) -> dict[str, dict]:
    """Clicks, structure-slices, seconds and cost ratio per group of the label set (vertebrae, ribs, …):
    a group's clicks are those on its structures (background clicks belong to no group)."""
    groups: dict[str, dict] = {}
    per_click = cost["seconds_per_click"] or float(model.seconds_per_click)
    for group, names in label_set.groups().items():
        clicks = sum((cost["clicks_by_label"] or {}).get(n, 0) for n in names)
        slices = sum((cost["structure_slices_by_class"] or {}).get(n, 0) for n in names)
        if not clicks and not slices:
            continue
        full = slices * float(model.seconds_per_structure_slice)
        groups[group] = {"clicks": int(clicks), "click_seconds": clicks * per_click, "structure_slices": int(slices),
                         "full_seconds": full, "cost_ratio": clicks * per_click / full if full else None}
    return groups


def dataset_cost(
    cases: Iterable[Case],
    label_set: LabelSet,
    model: CostModel | None = None,
    slice_axis_name: str = "axial",
) -> dict:
    """Labelling cost summed over the cases that have both ``points.csv`` and a full mask.

    Each case's slices are counted along the anatomical axis ``slice_axis_name`` (``axial`` by default)
    of its own affine. Points are read against the label volume's grid (which is the CT's grid by the
    dataset contract), so the CT itself is not loaded.

    Returns ``n_cases``, ``clicks``, ``click_seconds``, ``seconds_per_click`` (click-weighted mean),
    ``click_time_source`` ("measured", "default" or "mixed"), ``structure_slices``, ``full_seconds``,
    ``cost_ratio`` (overall, ``None`` when no full-mask time), ``slice_axis_name``, ``model`` (the
    :class:`CostModel` as a dict), ``per_case`` (one :func:`case_cost` dict per case with its ``case``
    id and ``slice_axcode``) and ``skipped`` (ids of cases lacking points or labels).
    """
    model = model or CostModel()
    key = slice_axis_name.strip().lower()
    if key not in SLICE_AXIS_NAMES:
        raise InputError(f"unknown slice axis {slice_axis_name!r} (use one of {', '.join(SLICE_AXIS_NAMES)})")
    per_case: list[dict] = []
    skipped: list[str] = []
    for case in cases:
        if not case.has_points or case.labels_path is None:
            skipped.append(case.id)
            continue
        labels = case.load_labels(label_set)
        points = case.load_points(label_set, labels)
        axis = anatomical_axis(labels.affine, key)
        entry = {"case": case.id, **case_cost(points, labels.array, label_set, model, axis)}
        entry["slice_axcode"] = nib.aff2axcodes(labels.affine)[axis]
        per_case.append(entry)

    clicks = sum(c["clicks"] for c in per_case)
    click_seconds = float(sum(c["click_seconds"] for c in per_case))
    slices = sum(c["structure_slices"] for c in per_case)
    full_seconds = float(sum(c["full_seconds"] for c in per_case))
    sources = {c["click_time_source"] for c in per_case}
    groups: dict[str, dict] = {}
    for entry in per_case:
        for group, values in entry["groups"].items():
            total = groups.setdefault(group, {"clicks": 0, "click_seconds": 0.0, "structure_slices": 0,
                                              "full_seconds": 0.0})
            for key in total:
                total[key] += values[key]
    for total in groups.values():
        total["cost_ratio"] = total["click_seconds"] / total["full_seconds"] if total["full_seconds"] else None
    return {
        "n_cases": len(per_case),
        "clicks": int(clicks),
        "click_seconds": click_seconds,
        "seconds_per_click": click_seconds / clicks if clicks else float(model.seconds_per_click),
        "click_time_source": (sources.pop() if len(sources) == 1 else "mixed") if sources else "default",
        "structure_slices": int(slices),
        "seconds_per_structure_slice": float(model.seconds_per_structure_slice),
        "full_seconds": full_seconds,
        "cost_ratio": click_seconds / full_seconds if full_seconds > 0 and math.isfinite(full_seconds) else None,
        "slice_axis_name": key,
        "model": asdict(model),
        "per_case": per_case,
        "skipped": skipped,
        "label_set": label_set.name,
        "groups": groups,
    }
