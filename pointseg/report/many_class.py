"""The many-class metrics of a report (after seed 001's Table 1): per pipeline with such rows, a table of
the median DSC with its 16th/84th percentiles and the detection ratio per group of structures, the
foreground DSC and timings, and the names its plot and tables share."""

from __future__ import annotations

from typing import Sequence

from pointseg.labels import GROUPS
from pointseg.report.document import Image, Para, Table
from pointseg.report.formatting import DASH, fmt_dice
from pointseg.report.schema import Pipeline, Row, finite
from pointseg.report.tables import measured_on, table_row_keys

# The groups of the many-class table (seed 001's Table 1), in its order, with their column titles.
MANY_CLASS_GROUP_TITLES = {"vertebrae": "Spine", "ribs": "Ribs", "large_bones": "Large bones", "organs": "Organs"}
MINUS = "\u2212"


def many_class_plot_name(pipeline_name: str) -> str:
    """The name of a pipeline's many-class plot (its PNG is ``<name>.png``)."""
    return f"many_class_{pipeline_name}"


def many_class_of(row: Row | None) -> dict | None:
    """A row's many-class metrics (``{"all": {...}, "groups": {...}}``, see :mod:`pointseg.metrics.many_class`)."""
    value = row.extra.get("many_class") if row is not None else None
    return value if isinstance(value, dict) else None


def many_class_rows(pipeline: Pipeline) -> list[str]:
    """The keys of the pipeline's rows in table order (a ``_train`` row only when measured), or ``[]`` when no
    row has many-class metrics."""
    if not any(many_class_of(row) is not None for row in pipeline.rows.values()):
        return []
    return table_row_keys(pipeline)


def many_class_groups(rows: Sequence[Row | None]) -> list[str]:
    """The groups any row has many-class metrics for: those of the seed's table in its order, then others."""
    present: list[str] = []
    for row in rows:
        groups = (many_class_of(row) or {}).get("groups")
        if isinstance(groups, dict):
            present += [g for g in groups if g not in present and isinstance(groups[g], dict)]
    known = [g for g in (*MANY_CLASS_GROUP_TITLES, *GROUPS) if g in present]
    return list(dict.fromkeys(known + present))


def many_class_group_title(group: str) -> str:
    return MANY_CLASS_GROUP_TITLES.get(group) or group.replace("_", " ").capitalize()


def many_class_entry(row: Row | None, group: str | None) -> dict:
    """The metrics of one group (``None``: over all classes) of a row; ``{}`` when it has none."""
    metrics = many_class_of(row) or {}
    entry = metrics.get("all") if group is None else (metrics.get("groups") or {}).get(group)
    return entry if isinstance(entry, dict) else {}


def fmt_median_dsc(entry: dict) -> str:
    """``0.81 −0.12 +0.05``: the median DSC with the distances to the 16th and 84th percentiles."""
    median, lower, upper = (finite(entry.get(k)) for k in ("median", "lower", "upper"))
    if median is None:
        return DASH
    spread = f" {MINUS}{lower:.2f} +{upper:.2f}" if lower is not None and upper is not None else ""
    return f"{median:.2f}{spread}"


def many_class_blocks(pipeline: Pipeline, plots: set[str] | frozenset = frozenset()) -> list:
    keys = many_class_rows(pipeline)
    if not keys:
        return []
    rows = [pipeline.rows.get(key) for key in keys]
    groups = many_class_groups(rows)
    header = ["Model", "Measured on"]
    for group in groups:
        header += [f"{many_class_group_title(group)} DSC", f"{many_class_group_title(group)} dr"]
    header += ["All DSC", "All dr", "fg", "s / iteration", "Predict s / scan"]
    table_rows = []
    for key, row in zip(keys, rows):
        cells = [pipeline.row_title(key), measured_on(row)]
        for group in (*groups, None):
            entry = many_class_entry(row, group)
            cells += [fmt_median_dsc(entry), fmt_dice(entry.get("detection_ratio"), 2)]
        extra = row.extra if row is not None else {}
        cells += [fmt_dice(many_class_entry(row, None).get("fg"), 3), fmt_dice(extra.get("seconds_per_step"), 2),
                  fmt_dice(extra.get("predict_s"), 2)]
        table_rows.append(cells)
    blocks: list = [
        Para(["Many-class metrics after “3D Segmentation Networks for Excessive Numbers of Classes” (section "
              "3.2): DSC is the median Dice over the classes with DSC > 0, with ", MINUS,
              "/+ the distances to the 16th and 84th percentiles; dr (detection ratio) is the share of "
              "ground-truth classes with DSC > 0; fg is the foreground DSC of all bone together (no distinction "
              "between bones); s / iteration is the training time per optimiser step of the run, and Predict "
              "s / scan the mean time the model took to predict one case. Each row pools its values over the "
              "cases it was measured on."]),
        Table(header, table_rows, [False, False] + [True] * (len(header) - 2)),
    ]
    name = many_class_plot_name(pipeline.name)
    if name in plots:
        blocks.append(Image(name, f"Median DSC and detection ratio per group, {pipeline.title}"))
    return blocks
