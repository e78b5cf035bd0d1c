"""The ``results`` of a report as typed dataclasses: parsing, validation and the JSON form.

``results`` is a dict (what :func:`pointseg.report.collect.collect_results` returns and ``report.json`` holds)::

    {
      "title": str,                                   # optional
      "dataset": str, "cases": [test case ids], "label_set": "lumbar",
      "table": {row: Row},                            # the paper's Table 1: rows of ROWS, any subset
      "pipelines": {name: {                           # optional: one entry per supervised pipeline
          "title": str, "label_set": str,             # optional; "<name>, label set <label_set>" otherwise
          "rows": {"pseudo" | "labels" | "pseudo_train" | "labels_train": Row},
          "paper": {row: Dice_wi},                    # optional; the paper's numbers where known
          "cost": {...}}},                            # optional; dataset_cost for its own label set
      "paper": {row: Dice_wi, "cost": 0.12},          # optional; PAPER_TABLE / PAPER_COST_RATIO otherwise
      "cost": {...},                                  # pointseg.metrics.cost.dataset_cost output
      "efficiency": [{"clicks_per_vertebra": 1, "pseudo_dice_wi": float, "result_dice_wi": float | None}],
      "timings": {stage: seconds}, "config": {...},   # optional
    }
    Row: {"dice_wi": float, "dice": {class name: float},
          "on": "annotated" | "test", "cases": [case ids],   # optional: where it was measured
          "per_case": {case: {...}}, "title": str, "run": str}  # optional

A pipeline's rows are keyed by what its model was trained on (``pseudo``: pseudo-masks, ``labels``: full
labels) and where it was measured (``_train``: on the annotated cases it was trained on; else the test
cases). Table 1 is the view of the :data:`TABLE1_PIPELINE` (``fcn8``) next to the weak planar models and
the pseudo-masks: its ``result``/``reference`` rows are that pipeline's ``pseudo``/``labels`` rows, and
results giving only one of the two get the other filled in. Keys the schema does not know are kept and
written back unchanged.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointseg.errors import InputError
from pointseg.labels import get_label_set

ROWS = ("transverse", "coronal", "sagittal", "pseudo", "result_train", "reference_train", "result", "reference")
ROW_TITLES = {
    "transverse": "Separate: transverse",
    "coronal": "Separate: coronal",
    "sagittal": "Separate: sagittal",
    "pseudo": "Pseudo-mask",
    "result_train": "Result, training cases",
    "reference_train": "Reference, training cases",
    "result": "Result",
    "reference": "Reference (full masks)",
}
CASE_SETS = {"annotated": "annotated (training) cases", "test": "test cases"}
REQUIRED_KEYS = ("dataset", "cases", "label_set", "table", "cost")

# A supervised pipeline's rows, in the order a report shows them, and the Table 1 row each is for fcn8.
PIPELINE_ROWS = ("pseudo_train", "labels_train", "pseudo", "labels")
TABLE1_PIPELINE = "fcn8"
TABLE1_ROLES = {"pseudo_train": "result_train", "labels_train": "reference_train", "pseudo": "result",
                "labels": "reference"}


# ============================================================================================== numbers
def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_optional_number(value: Any) -> bool:
    return value is None or is_number(value)


def finite(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it is missing or not finite."""
    if value is None or not is_number(value):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None, NumPy scalars and arrays -> Python, paths -> str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _check_label_set(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{where} must be a label set name such as 'lumbar'")
    try:
        get_label_set(name)
    except InputError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return name


def _check_numbers(value: Any, where: str, what: str) -> dict:
    if not isinstance(value, dict) or not all(_is_optional_number(v) for v in value.values()):
        raise ValueError(f"{where} must map {what} to numbers")
    return dict(value)


# ================================================================================================= rows
@dataclass
class Row:
    """One measured model (or the pseudo-masks): its Dice and the cases it was measured on."""

    dice_wi: float | None
    dice: dict[str, float | None] = field(default_factory=dict)
    on: str | None = None  # a key of CASE_SETS
    cases: list[str] | None = None
    per_case: dict | None = None
    title: str | None = None  # the run's own title (RunInfo.title), shown instead of the row name
    run: str | None = None  # the run folder
    extra: dict = field(default_factory=dict)

    _OPTIONAL = ("on", "cases", "per_case", "title", "run")

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Row":
        if not isinstance(data, dict) or "dice_wi" not in data:
            raise ValueError(f"{where} must be a dict with 'dice_wi' (and optionally 'dice')")
        if not _is_optional_number(data["dice_wi"]):
            raise ValueError(f"{where}['dice_wi'] must be a number, got {data['dice_wi']!r}")
        dice = _check_numbers(data.get("dice", {}), f"{where}['dice']", "class names")
        if data.get("on") is not None and data["on"] not in CASE_SETS:
            raise ValueError(f"{where}['on'] must be one of {', '.join(CASE_SETS)}")
        if data.get("cases") is not None and not isinstance(data["cases"], (list, tuple)):
            raise ValueError(f"{where}['cases'] must be a list of case ids")
        known = {"dice_wi", "dice", *cls._OPTIONAL}
        return cls(data["dice_wi"], dice, data.get("on"),
                   None if data.get("cases") is None else list(data["cases"]), data.get("per_case"),
                   data.get("title"), data.get("run"), {k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        out = {"dice_wi": self.dice_wi, "dice": dict(self.dice)}
        out.update({k: getattr(self, k) for k in self._OPTIONAL if getattr(self, k) is not None})
        return {**out, **self.extra}


def same_cases(a: Row | None, b: Row | None) -> bool:
    """Whether two rows were measured on the same cases (rows that do not say are taken at their word)."""
    if a is None or b is None:
        return False
    for key in ("on", "cases"):
        mine, theirs = getattr(a, key), getattr(b, key)
        if mine is not None and theirs is not None and list(mine) != list(theirs):
            return False
    return True


# ============================================================================================ pipelines
@dataclass
class Pipeline:
    """A supervised pipeline's rows: its model on pseudo-masks next to its model on full labels."""

    name: str
    title: str
    label_set: str
    rows: dict[str, Row]  # keys of PIPELINE_ROWS
    paper: dict[str, float | None] = field(default_factory=dict)  # the paper's Dice_wi per row, where known
    cost: dict | None = None  # dataset_cost for this pipeline's label set, when it is not the report's
    extra: dict = field(default_factory=dict)

    @staticmethod
    def default_title(name: str, label_set: str) -> str:
        return f"{name}, label set {label_set}"

    def row_title(self, key: str) -> str:
        """``fcn8 on pseudo-masks`` (as its run's RunInfo says) with ``, training cases`` for a ``_train`` row."""
        row = self.rows.get(key)
        target = key.removesuffix("_train")
        title = row.title if row is not None and row.title else \
            f"{self.name} on {'pseudo-masks' if target == 'pseudo' else 'full labels'}"
        return title + (", training cases" if key.endswith("_train") else "")

    @classmethod
    def from_dict(cls, name: Any, data: Any, label_set: str) -> "Pipeline":
        where = f"results['pipelines'][{name!r}]"
        if not isinstance(name, str) or not name:
            raise ValueError(f"results['pipelines'] keys must be pipeline names, got {name!r}")
        if not isinstance(data, dict) or not isinstance(data.get("rows"), dict):
            raise ValueError(f"{where} must be a dict with 'rows'")
        label_set = _check_label_set(data.get("label_set", label_set), f"{where}['label_set']")
        title = data.get("title") or cls.default_title(name, label_set)
        if not isinstance(title, str):
            raise ValueError(f"{where}['title'] must be a string")
        rows = {}
        for key, entry in data["rows"].items():
            if key not in PIPELINE_ROWS:
                raise ValueError(f"{where}['rows'] has unknown row {key!r} (rows: {', '.join(PIPELINE_ROWS)})")
            rows[key] = Row.from_dict(entry, f"{where}['rows'][{key!r}]")
        paper = _check_numbers(data.get("paper") or {}, f"{where}['paper']", "row names")
        unknown = [k for k in paper if k not in PIPELINE_ROWS]
        if unknown:
            raise ValueError(f"{where}['paper'] has unknown key(s) {', '.join(map(repr, unknown))}")
        cost = data.get("cost")
        if cost is not None and not isinstance(cost, dict):
            raise ValueError(f"{where}['cost'] must be a dict (the output of pointseg.metrics.cost.dataset_cost)")
        known = {"title", "label_set", "rows", "paper", "cost"}
        return cls(name, title, label_set, rows, paper, cost, {k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        out: dict = {"title": self.title, "label_set": self.label_set,
                     "rows": {k: self.rows[k].to_dict() for k in PIPELINE_ROWS if k in self.rows}}
        if self.paper:
            out["paper"] = dict(self.paper)
        if self.cost is not None:
            out["cost"] = self.cost
        return {**out, **self.extra}


# ============================================================================================== results
@dataclass
class EfficiencyPoint:
    """Dice_wi of the pseudo-masks and of the result at one number of clicks per vertebra."""

    clicks_per_vertebra: float
    pseudo_dice_wi: float | None = None
    result_dice_wi: float | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, n: int) -> "EfficiencyPoint":
        if not isinstance(data, dict) or not is_number(data.get("clicks_per_vertebra")):
            raise ValueError(f"results['efficiency'][{n}] must be a dict with a numeric 'clicks_per_vertebra'")
        for key in ("pseudo_dice_wi", "result_dice_wi"):
            if not _is_optional_number(data.get(key)):
                raise ValueError(f"results['efficiency'][{n}][{key!r}] must be a number or None")
        known = {"clicks_per_vertebra", "pseudo_dice_wi", "result_dice_wi"}
        return cls(data["clicks_per_vertebra"], data.get("pseudo_dice_wi"), data.get("result_dice_wi"),
                   {k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        return {"clicks_per_vertebra": self.clicks_per_vertebra, "pseudo_dice_wi": self.pseudo_dice_wi,
                "result_dice_wi": self.result_dice_wi, **self.extra}


@dataclass
class Results:
    """Everything a report shows (see the module docstring for the dict form)."""

    dataset: str
    cases: list[str]
    label_set: str
    table: dict[str, Row]  # Table 1 rows (keys of ROWS)
    cost: dict
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    title: str | None = None
    paper: dict | None = None
    efficiency: list[EfficiencyPoint] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    config: dict | None = None
    extra: dict = field(default_factory=dict)  # keys the schema does not know (e.g. "runs"), kept as given

    @classmethod
    def from_dict(cls, results: Any) -> "Results":
        """The typed results; :class:`ValueError` naming the first missing or malformed key."""
        if not isinstance(results, dict):
            raise ValueError(f"results must be a dict, got {type(results).__name__}")
        missing = [key for key in REQUIRED_KEYS if key not in results]
        if missing:
            raise ValueError(f"results lack the required key(s) {', '.join(map(repr, missing))} "
                             f"(required: {', '.join(REQUIRED_KEYS)})")
        if not isinstance(results["dataset"], str):
            raise ValueError("results['dataset'] must be a string (the dataset name or folder)")
        if not isinstance(results["cases"], (list, tuple)):
            raise ValueError("results['cases'] must be a list of held-out case ids")
        label_set = _check_label_set(results["label_set"], "results['label_set']")
        if not isinstance(results["table"], dict):
            raise ValueError("results['table'] must be a dict of rows")
        table = {}
        for row, entry in results["table"].items():
            if row not in ROWS:
                raise ValueError(f"results['table'] has unknown row {row!r} (rows: {', '.join(ROWS)})")
            table[row] = Row.from_dict(entry, f"results['table'][{row!r}]")
        pipelines = results.get("pipelines")
        if pipelines is not None and not isinstance(pipelines, dict):
            raise ValueError("results['pipelines'] must map pipeline names to their rows")
        pipelines = {name: Pipeline.from_dict(name, entry, label_set) for name, entry in (pipelines or {}).items()}
        paper = results.get("paper")
        if paper is not None:
            paper = _check_numbers(paper, "results['paper']", "row names (and 'cost')")
            unknown = [k for k in paper if k not in ROWS and k != "cost"]
            if unknown:
                raise ValueError(f"results['paper'] has unknown key(s) {', '.join(map(repr, unknown))}")
        if not isinstance(results["cost"], dict):
            raise ValueError("results['cost'] must be a dict (the output of pointseg.metrics.cost.dataset_cost)")
        efficiency = results.get("efficiency") or []
        if not isinstance(efficiency, (list, tuple)):
            raise ValueError("results['efficiency'] must be a list of dicts")
        timings = _check_numbers(results.get("timings") or {}, "results['timings']", "stage names")
        config = results.get("config")
        if config is not None and not isinstance(config, dict):
            raise ValueError("results['config'] must be a dict")
        title = results.get("title")
        if title is not None and not isinstance(title, str):
            raise ValueError("results['title'] must be a string")
        known = {*REQUIRED_KEYS, "pipelines", "title", "paper", "efficiency", "timings", "config"}
        parsed = cls(results["dataset"], list(results["cases"]), label_set, table, results["cost"], pipelines,
                     title, paper, [EfficiencyPoint.from_dict(p, n) for n, p in enumerate(efficiency)], timings,
                     config, {k: v for k, v in results.items() if k not in known})
        parsed._join_table1()
        return parsed

    def _join_table1(self) -> None:
        """Fill Table 1's result/reference rows from the fcn8 pipeline, or that pipeline from Table 1."""
        main = self.pipelines.get(TABLE1_PIPELINE)
        if main is None:
            rows = {key: self.table[role] for key, role in TABLE1_ROLES.items() if role in self.table}
            if rows:
                self.pipelines = {TABLE1_PIPELINE: Pipeline(
                    TABLE1_PIPELINE, Pipeline.default_title(TABLE1_PIPELINE, self.label_set), self.label_set, rows),
                    **self.pipelines}
            return
        for key, role in TABLE1_ROLES.items():
            if key in main.rows and role not in self.table:
                self.table[role] = main.rows[key]

    @property
    def other_pipelines(self) -> list[Pipeline]:
        """The pipelines Table 1 does not show, each with a section of its own."""
        return [p for name, p in self.pipelines.items() if name != TABLE1_PIPELINE]

    def to_dict(self) -> dict:
        """The dict form (as given to :meth:`from_dict`, with the Table 1 / fcn8 views joined)."""
        out: dict = {}
        if self.title is not None:
            out["title"] = self.title
        out.update({"dataset": self.dataset, "cases": list(self.cases), "label_set": self.label_set,
                    "table": {row: self.table[row].to_dict() for row in ROWS if row in self.table},
                    "pipelines": {name: p.to_dict() for name, p in self.pipelines.items()}})
        if self.paper is not None:
            out["paper"] = dict(self.paper)
        out["cost"] = self.cost
        out["efficiency"] = [p.to_dict() for p in self.efficiency]
        if self.timings:
            out["timings"] = dict(self.timings)
        if self.config is not None:
            out["config"] = self.config
        return {**out, **self.extra}


def parse_results(results: "dict | Results") -> Results:
    """``results`` as :class:`Results` (a dict is checked and parsed; :class:`Results` is returned as is)."""
    return results if isinstance(results, Results) else Results.from_dict(results)


def validate_results(results: Any) -> None:
    """Raise :class:`ValueError` naming the first problem of a ``results`` dict (see the module docstring)."""
    Results.from_dict(results)
