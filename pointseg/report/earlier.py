"""Comparing a report with an earlier one: the Table 1 rows of a ``report.json`` that a previous ``pointseg
report`` wrote, shown next to this report's numbers.

An earlier row is compared only where this report has the same row, measured on the same cases
(:func:`~pointseg.report.schema.same_cases`); the others are listed as not compared, with the reason. The
earlier report is labelled with its own pointseg version and its folder's name (``pointseg 0.1.0, old``):
the version is ``report.json['pointseg_version']`` (written since pointseg 0.2.0) or, for older reports,
the ``· pointseg X`` of the ``report.md`` next to it; "version unknown" when neither says.

``report.json['earlier']`` then holds::

    {"report": path of the earlier report.json, "folder": its folder's name, "pointseg_version": str | None,
     "label": "pointseg 0.1.0, old",
     "table": {row: {"dice_wi", "dice", "on", "cases"}},   # the earlier rows compared
     "ratios": {row: our Dice_wi / the earlier Dice_wi},     # per compared row; None where a number is missing
     "not_compared": {row: reason}}
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pointseg.errors import InputError
from pointseg.report.ratios import row_ratio
from pointseg.report.schema import ROW_TITLES, ROWS, Results, Row, same_cases

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
VERSION_KEY = "pointseg_version"  # report.json's key for the pointseg version that wrote it
_MD_VERSION = re.compile(r"· pointseg ([0-9][\w.+-]*)")


@dataclass(frozen=True)
class EarlierReport:
    """The Table 1 rows of an earlier ``report.json``, its label set and the pointseg version that wrote it."""

    path: Path  # the report.json
    version: str | None
    label_set: str | None
    table: dict[str, Row]

    @property
    def folder(self) -> str:
        return self.path.resolve().parent.name

    @property
    def label(self) -> str:
        """``pointseg 0.1.0, old``: the version that wrote the report and its folder's name."""
        return f"pointseg {self.version or '(version unknown)'}, {self.folder}"


def _md_version(report_json: Path) -> str | None:
    """The pointseg version a ``report.md`` next to ``report_json`` names in its first lines, if any."""
    try:
        head = (report_json.parent / REPORT_MD).read_text(encoding="utf-8")[:4000]
    except (OSError, UnicodeDecodeError):
        return None
    match = _MD_VERSION.search(head)
    return match.group(1) if match else None


def _load(path: Path) -> dict:
    if not path.is_file():
        raise InputError("no earlier report here (expected the report.json of an earlier pointseg report)", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InputError(f"cannot read the earlier report ({exc})", path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("table"), dict):
        raise InputError("not a pointseg report.json: it has no 'table' of Table 1 rows", path)
    return data


def read_earlier_report(path: str | os.PathLike) -> EarlierReport:
    """The earlier report at ``path`` (its ``report.json``, or the folder holding it).

    An :class:`InputError` naming the file when it is missing, unreadable, not JSON, has no ``table`` or a
    malformed row. Rows this version does not know are left out (they cannot be compared).
    """
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_JSON
    data = _load(path)
    table = {}
    for key, entry in data["table"].items():
        if key not in ROWS:
            continue
        try:
            table[key] = Row.from_dict(entry, f"table[{key!r}]")
        except ValueError as exc:
            raise InputError(f"not a pointseg report.json: {exc}", path) from exc
    version = data.get(VERSION_KEY)
    version = version if isinstance(version, str) and version else _md_version(path)
    label_set = data.get("label_set") if isinstance(data.get("label_set"), str) else None
    return EarlierReport(path, version, label_set, table)


@dataclass
class Comparison:
    """This report's Table 1 next to an earlier report's: the earlier rows compared (same row, same cases)."""

    earlier: EarlierReport
    rows: dict[str, Row] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.earlier.label

    def dice_wi(self, key: str) -> float | None:
        """The earlier Dice_wi of row ``key`` where it is compared, else ``None``."""
        row = self.rows.get(key)
        return row.dice_wi if row is not None else None

    def to_dict(self) -> dict:
        """``report.json['earlier']`` (see the module docstring)."""
        def row_dict(row: Row) -> dict:
            return {k: v for k, v in row.to_dict().items() if k in ("dice_wi", "dice", "on", "cases")}

        earlier = self.earlier
        return {"report": str(earlier.path), "folder": earlier.folder, "pointseg_version": earlier.version,
                "label": earlier.label, "table": {k: row_dict(r) for k, r in self.rows.items()},
                "ratios": dict(self.ratios), "not_compared": dict(self.not_compared)}


def compare(results: Results, earlier: EarlierReport) -> Comparison:
    """This report's Table 1 rows next to the earlier report's: a row is compared where both have it and
    measured it on the same cases (its ratio: our Dice_wi over the earlier one). An :class:`InputError`
    when the earlier report measured another label set (their Dice do not compare)."""
    if earlier.label_set is not None and earlier.label_set != results.label_set:
        raise InputError(f"the earlier report measured the label set {earlier.label_set!r}, this one "
                         f"{results.label_set!r}: their Dice do not compare", earlier.path)
    comparison = Comparison(earlier)
    for key in ROWS:
        mine, theirs = results.table.get(key), earlier.table.get(key)
        if theirs is None:
            continue
        if mine is None:
            comparison.not_compared[key] = "not in this report"
        elif not same_cases(mine, theirs):
            comparison.not_compared[key] = "measured on other cases"
        else:
            comparison.rows[key] = theirs
            comparison.ratios[key] = row_ratio(mine, theirs)
    return comparison


def not_compared_text(comparison: Comparison) -> str:
    """``Result: measured on other cases; …``: the earlier rows left out, for the report's text."""
    return "; ".join(f"{ROW_TITLES[k]}: {why}" for k, why in comparison.not_compared.items())
