"""What every table of a report shares: the per-class (or per-group) columns, where a row was measured and
which rows a pipeline's tables show."""

from __future__ import annotations

from typing import Sequence

from pointseg.labels import get_label_set
from pointseg.report.document import Details, Table
from pointseg.report.formatting import DASH, fmt_dice
from pointseg.report.schema import CASE_SETS, PIPELINE_ROWS, Pipeline, Row, finite


def classes(names: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """The label set's class names, then any other class the rows give a Dice for."""
    out = list(names)
    for row in rows:
        out += [name for name in row.dice if name not in out]
    return out


# Up to this many classes the tables have a column per class; beyond it a column per group of structures
# (vertebrae, ribs, large bones, organs), with the per-class Dice in a table of their own, one class a row.
MAX_CLASS_COLUMNS = 12


def class_columns(label_set: str, rows: Sequence[Row | None]) -> tuple[list[str], object]:
    """The per-class (or, for large label sets, per-group) column titles of a table of ``rows``, and the
    function giving a row's cells."""
    known = get_label_set(label_set)
    names = classes(known.names, [r for r in rows if r is not None])
    if len(names) <= MAX_CLASS_COLUMNS:
        return names, lambda row: [fmt_dice((row.dice if row else {}).get(c)) for c in names]
    groups = known.groups()

    def cells(row: Row | None) -> list[str]:
        out = []
        for members in groups.values():
            values = [finite((row.dice if row else {}).get(c)) for c in members]
            values = [v for v in values if v is not None]
            out.append(fmt_dice(sum(values) / len(values) if values else None))
        return out

    return [f"mean {group.replace('_', ' ')}" for group in groups], cells


def per_class_blocks(label_set: str, rows: dict[str, Row | None], titles: dict[str, str]) -> list:
    """For a label set too large for a column per class: the per-class Dice, one class a row, collapsed."""
    known = get_label_set(label_set)
    present = [r for r in rows.values() if r is not None]
    names = classes(known.names, present)
    if len(names) <= MAX_CLASS_COLUMNS or not present:
        return []
    keys = [k for k, r in rows.items() if r is not None]
    table = Table(["Class", "Group"] + [titles[k] for k in keys],
                  [[name, known.group_of(name) if name in known.names else DASH]
                   + [fmt_dice(rows[k].dice.get(name)) for k in keys] for name in names],
                  [False, False] + [True] * len(keys))
    return [Details(f"Per-class Dice ({len(names)} classes)", blocks=[table])]


def measured_on(row: Row | None) -> str:
    """The "Measured on" cell of a row: its case set, less the test cases its run trained on or validated
    with (the row's ``left_out``, see :mod:`pointseg.report.collect`); a dash when the row does not say."""
    if row is None or not row.on:
        return DASH
    text = CASE_SETS.get(row.on, DASH)
    left_out = row.extra.get("left_out") or []
    if left_out and not row.cases:
        return f"none of the {text}: its run saw them all in training (no DATASET/split.json?)"
    if left_out:
        return f"{text}, less {len(left_out)} its run saw in training"
    return text


def table_row_keys(pipeline: Pipeline) -> list[str]:
    """The keys of a pipeline table's rows, in order: both targets always, a ``_train`` row when measured."""
    return [key for key in PIPELINE_ROWS if key in pipeline.rows or not key.endswith("_train")]
