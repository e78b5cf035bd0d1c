"""The cost-versus-accuracy report: the paper's Table 1 for our data, ratios, labelling cost and plots.

:func:`write_report` takes a ``results`` dict (built by the evaluation step) and writes, atomically, into
one folder:

* ``report.md`` — GitHub Markdown (tables, the PNGs by relative name);
* ``report.html`` — one self-contained page: inline CSS, the PNGs embedded as base64 data URIs, no
  external resource or link;
* ``report.json`` — ``results`` as given plus what the report derived (``ratios``, and ``paper`` with the
  paper's numbers when ``results`` had none); NaN is written as ``null``;
* PNG plots — ``dice_wi.png`` (Dice_wi per row, ours vs paper), ``per_class_dice.png`` (heatmap),
  ``label_efficiency.png`` (Dice_wi vs clicks per vertebra, when given) and ``labelling_cost.png``.

``results`` schema (see :func:`validate_results`)::

    {
      "title": str,                                   # optional
      "dataset": str, "cases": [held-out case ids], "label_set": "lumbar",
      "table": {row: {"dice_wi": float, "dice": {class name: float},      # rows: see ROWS, any subset
                      "on": "annotated" | "test", "cases": [case ids]}},  # optional: where it was measured
      "paper": {row: Dice_wi, "cost": 0.12},           # optional; PAPER_TABLE / PAPER_COST_RATIO otherwise
      "cost": {...},                                  # pointseg.cost.dataset_cost output
      "efficiency": [{"clicks_per_vertebra": 1, "pseudo_dice_wi": float, "result_dice_wi": float | None}],
      "timings": {stage: seconds},                    # optional
      "config": {...},                                # optional, shown collapsed
    }

Plots use :class:`matplotlib.figure.Figure` with the Agg canvas only (no pyplot, no global state).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from pointseg import __version__
from pointseg.atomic import atomic_path, write_text
from pointseg.errors import InputError
from pointseg.labels import LabelSet, get_label_set

__all__ = [
    "ROWS",
    "ROW_TITLES",
    "PAPER_TABLE",
    "PAPER_COST_RATIO",
    "REQUIRED_KEYS",
    "validate_results",
    "compute_ratios",
    "write_report",
]

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
# Table 1 of the paper (seed 003) and its cost estimate ("12 % of the labelling cost").
PAPER_TABLE = {"transverse": 0.51, "coronal": 0.41, "sagittal": 0.34, "pseudo": 0.48, "result": 0.55, "reference": 0.76}
PAPER_COST_RATIO = 0.12
# The quick demo (seed 0, 3 annotated + 2 test phantoms, 5 clicks per vertebra) of pointseg 0.1.0, before
# the supervised models were reworked (median-frequency weighted CE, stride-8 scores, no normalisation or
# augmentation) and before image-guided refinement: shown next to today's numbers.
BEFORE_TABLE = {"transverse": 0.103, "coronal": 0.350, "sagittal": 0.394, "pseudo": 0.438, "result": 0.250,
                "reference": 0.325}
REQUIRED_KEYS = ("dataset", "cases", "label_set", "table", "cost")
DASH = "–"

OURS_COLOR = "#1f77b4"
PAPER_COLOR = "#9a9a9a"
BEFORE_COLOR = "#d9b38c"
PSEUDO_COLOR = "#e6791e"
RESULT_COLOR = "#1f77b4"

PLOT_FILES = {
    "dice_wi": "dice_wi.png",
    "per_class_dice": "per_class_dice.png",
    "label_efficiency": "label_efficiency.png",
    "labelling_cost": "labelling_cost.png",
}


# ============================================================================================ validation
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_optional_number(value: Any) -> bool:
    return value is None or _is_number(value)


def validate_results(results: Any) -> None:
    """Raise :class:`ValueError` naming the first problem of a ``results`` dict (see the module docstring)."""
    if not isinstance(results, dict):
        raise ValueError(f"results must be a dict, got {type(results).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in results]
    if missing:
        raise ValueError(
            f"results lack the required key(s) {', '.join(map(repr, missing))} "
            f"(required: {', '.join(REQUIRED_KEYS)})"
        )
    if not isinstance(results["dataset"], str):
        raise ValueError("results['dataset'] must be a string (the dataset name or folder)")
    if not isinstance(results["cases"], (list, tuple)):
        raise ValueError("results['cases'] must be a list of held-out case ids")
    if not isinstance(results["label_set"], str):
        raise ValueError("results['label_set'] must be a label set name such as 'lumbar'")
    try:
        get_label_set(results["label_set"])
    except InputError as exc:
        raise ValueError(f"results['label_set']: {exc}") from None
    table = results["table"]
    if not isinstance(table, dict):
        raise ValueError("results['table'] must be a dict of rows")
    for row, entry in table.items():
        if row not in ROWS:
            raise ValueError(f"results['table'] has unknown row {row!r} (rows: {', '.join(ROWS)})")
        if not isinstance(entry, dict) or "dice_wi" not in entry:
            raise ValueError(f"results['table'][{row!r}] must be a dict with 'dice_wi' (and optionally 'dice')")
        if not _is_optional_number(entry["dice_wi"]):
            raise ValueError(f"results['table'][{row!r}]['dice_wi'] must be a number, got {entry['dice_wi']!r}")
        dice = entry.get("dice", {})
        if not isinstance(dice, dict) or not all(_is_optional_number(v) for v in dice.values()):
            raise ValueError(f"results['table'][{row!r}]['dice'] must map class names to numbers")
        if entry.get("on") is not None and entry["on"] not in CASE_SETS:
            raise ValueError(f"results['table'][{row!r}]['on'] must be one of {', '.join(CASE_SETS)}")
    paper = results.get("paper")
    if paper is not None:
        if not isinstance(paper, dict) or not all(_is_optional_number(v) for v in paper.values()):
            raise ValueError("results['paper'] must map row names (and 'cost') to numbers")
        unknown = [k for k in paper if k not in ROWS and k != "cost"]
        if unknown:
            raise ValueError(f"results['paper'] has unknown key(s) {', '.join(map(repr, unknown))}")
    if not isinstance(results["cost"], dict):
        raise ValueError("results['cost'] must be a dict (the output of pointseg.cost.dataset_cost)")
    efficiency = results.get("efficiency") or []
    if not isinstance(efficiency, (list, tuple)):
        raise ValueError("results['efficiency'] must be a list of dicts")
    for n, point in enumerate(efficiency):
        if not isinstance(point, dict) or not _is_number(point.get("clicks_per_vertebra")):
            raise ValueError(f"results['efficiency'][{n}] must be a dict with a numeric 'clicks_per_vertebra'")
        for key in ("pseudo_dice_wi", "result_dice_wi"):
            if not _is_optional_number(point.get(key)):
                raise ValueError(f"results['efficiency'][{n}][{key!r}] must be a number or None")
    timings = results.get("timings") or {}
    if not isinstance(timings, dict) or not all(_is_optional_number(v) for v in timings.values()):
        raise ValueError("results['timings'] must map stage names to seconds")
    config = results.get("config")
    if config is not None and not isinstance(config, dict):
        raise ValueError("results['config'] must be a dict")


# ============================================================================================== numbers
def _finite(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it is missing or not finite."""
    if value is None or not _is_number(value):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(numerator: Any, denominator: Any) -> float | None:
    numerator, denominator = _finite(numerator), _finite(denominator)
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _paper(results: dict) -> dict:
    """The paper's numbers: the defaults updated with ``results['paper']``."""
    paper = {**PAPER_TABLE, "cost": PAPER_COST_RATIO}
    paper.update(results.get("paper") or {})
    return paper


def same_cases(a: dict | None, b: dict | None) -> bool:
    """Whether two table rows were measured on the same cases (rows that do not say are taken at their word)."""
    if not a or not b:
        return False
    for key in ("on", "cases"):
        if a.get(key) is not None and b.get(key) is not None and list(a[key]) != list(b[key]):
            return False
    return True


def compute_ratios(results: dict) -> dict:
    """The derived ratios written to ``report.json['ratios']``.

    ``ours``/``paper``: ``pseudo_over_reference`` and ``result_over_reference`` (Dice_wi ratios; the paper
    gives 0.48/0.76 ≈ 63 % and 0.55/0.76 ≈ 72 %) and ``cost`` (point-annotation time over full-mask time;
    the paper estimates 12 %). ``efficiency``: the same Dice_wi ratios per clicks-per-vertebra setting.

    A ratio is only taken between two numbers measured on the same cases: the pseudo-mask (annotated
    cases) over the reference on those annotated cases (``reference_train``), the result over the
    reference on the test cases. ``None`` wherever a number is missing or no same-case pair exists.
    """
    table = results["table"]
    paper = _paper(results)

    def ratio(numerator: str, candidates: tuple[str, ...]) -> float | None:
        top = table.get(numerator)
        for row in candidates:
            if same_cases(top, table.get(row)):
                return _ratio(top.get("dice_wi"), table[row].get("dice_wi"))
        return None

    ours = {
        "pseudo_over_reference": ratio("pseudo", ("reference_train", "reference")),
        "result_over_reference": ratio("result", ("reference",)),
        "cost": _finite(results["cost"].get("cost_ratio")),
    }
    theirs = {
        "pseudo_over_reference": _ratio(paper.get("pseudo"), paper.get("reference")),
        "result_over_reference": _ratio(paper.get("result"), paper.get("reference")),
        "cost": _finite(paper.get("cost")),
    }
    pseudo_reference = next((table[r] for r in ("reference_train", "reference")
                             if same_cases(table.get("pseudo") or {"on": "annotated"}, table.get(r))), None)
    result_reference = table.get("reference") if same_cases(table.get("result") or {"on": "test"},
                                                            table.get("reference")) else None
    efficiency = [
        {
            "clicks_per_vertebra": point["clicks_per_vertebra"],
            "pseudo_over_reference": _ratio(point.get("pseudo_dice_wi"), (pseudo_reference or {}).get("dice_wi")),
            "result_over_reference": _ratio(point.get("result_dice_wi"), (result_reference or {}).get("dice_wi")),
        }
        for point in results.get("efficiency") or []
    ]
    return {"ours": ours, "paper": theirs, "efficiency": efficiency}


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None, NumPy scalars and arrays -> Python, paths -> str."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
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


# ============================================================================================ formatting
def _fmt_dice(value: Any, digits: int = 3) -> str:
    value = _finite(value)
    return DASH if value is None else f"{value:.{digits}f}"


def _fmt_pct(value: Any) -> str:
    value = _finite(value)
    return DASH if value is None else f"{100 * value:.1f} %"


def _fmt_seconds(value: Any) -> str:
    """Seconds as ``42 s``, ``2 min 5 s`` or ``3 h 12 min``."""
    value = _finite(value)
    if value is None:
        return DASH
    if value < 60:
        return f"{value:.0f} s" if value == int(value) else f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _fmt_int(value: Any) -> str:
    value = _finite(value)
    return DASH if value is None else f"{int(round(value)):,}".replace(",", " ")


# ============================================================================= a tiny document model
@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    """Text segments; a segment ``("code", s)`` is shown as inline code, ``("em", s)`` in italics."""

    parts: list


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-align these columns
    css: str = ""


@dataclass
class Image:
    name: str  # key of the PNG in the figures dict
    alt: str


@dataclass
class Details:
    summary: str
    blocks: list = field(default_factory=list)
    pre: str | None = None


def _md_text(text: str) -> str:
    return str(text).replace("\n", " ").replace("|", "\\|")


def _md_parts(parts: list) -> str:
    out = []
    for part in parts:
        if isinstance(part, tuple):
            kind, text = part
            out.append(f"`{text}`" if kind == "code" else f"*{_md_text(text)}*")
        else:
            out.append(str(part))
    return "".join(out)


def _render_markdown(blocks: list, files: dict[str, str]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + _md_text(block.text), ""]
        elif isinstance(block, Para):
            lines += [_md_parts(block.parts), ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_md_text(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---:" if num else ":---" for num in block.numeric) + "|")
            for row in block.rows:
                lines.append("| " + " | ".join(_md_text(c) for c in row) + " |")
            lines.append("")
        elif isinstance(block, Image):
            if block.name in files:
                lines += [f"![{_md_text(block.alt)}]({files[block.name]})", ""]
        elif isinstance(block, Details):
            lines += ["<details>", f"<summary>{html.escape(block.summary)}</summary>", ""]
            if block.blocks:
                lines.append(_render_markdown(block.blocks, files))
            if block.pre is not None:
                lines += ["```json", block.pre, "```", ""]
            lines += ["</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1080px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .35em .7em; }
th { background: #f3f5f7; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0 1.2em; }
code, pre { background: #f3f5f7; border-radius: 4px; font-family: Menlo, Consolas, monospace; }
code { padding: .1em .3em; font-size: .9em; }
pre { padding: .8em; overflow-x: auto; font-size: .85em; }
details { margin: .8em 0; }
summary { cursor: pointer; font-weight: 600; }
"""


def _html_parts(parts: list) -> str:
    out = []
    for part in parts:
        if isinstance(part, tuple):
            kind, text = part
            tag = "code" if kind == "code" else "em"
            out.append(f"<{tag}>{html.escape(str(text))}</{tag}>")
        else:
            out.append(html.escape(str(part)))
    return "".join(out)


def _render_html_blocks(blocks: list, pngs: dict[str, bytes]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{_html_parts(block.parts)}</p>")
        elif isinstance(block, Table):
            cls = lambda n: ' class="num"' if block.numeric[n] else ""  # noqa: E731
            head = "".join(f"<th{cls(n)}>{html.escape(h)}</th>" for n, h in enumerate(block.header))
            body = "".join(
                "<tr>" + "".join(f"<td{cls(n)}>{html.escape(c)}</td>" for n, c in enumerate(row)) + "</tr>"
                for row in block.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Image):
            if block.name in pngs:
                data = base64.b64encode(pngs[block.name]).decode("ascii")
                out.append(f'<img alt="{html.escape(block.alt)}" src="data:image/png;base64,{data}">')
        elif isinstance(block, Details):
            out.append(f"<details><summary>{html.escape(block.summary)}</summary>")
            out += _render_html_blocks(block.blocks, pngs)
            if block.pre is not None:
                out.append(f"<pre>{html.escape(block.pre)}</pre>")
            out.append("</details>")
    return out


def _render_html(title: str, blocks: list, pngs: dict[str, bytes]) -> str:
    body = "\n".join(_render_html_blocks(blocks, pngs))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# ================================================================================================ plots
def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, facecolor="white")
    return buffer.getvalue()


def _short_title(row: str) -> str:
    return ROW_TITLES[row].replace("Separate: ", "").replace(" (full masks)", "").replace(
        ", training cases", "\n(training)").capitalize()


def _plot_dice_wi(table: dict, paper: dict) -> bytes:
    """Grouped bars: Dice_wi per Table 1 row, ours next to the numbers before and the paper's."""
    rows = [r for r in ROWS if not r.endswith("_train") or r in table]
    fig = _new_figure(max(8.0, 1.15 * len(rows)), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    width = 0.27
    series = (
        (-width, [_finite((table.get(r) or {}).get("dice_wi")) for r in rows], OURS_COLOR, "ours"),
        (0.0, [_finite(BEFORE_TABLE.get(r)) for r in rows], BEFORE_COLOR, "before (0.1.0)"),
        (width, [_finite(paper.get(r)) for r in rows], PAPER_COLOR, "paper"),
    )
    for offset, values, color, label in series:
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(x + offset, heights, width, color=color, label=label)
        for bar, value in zip(bars, values):
            if value is None and label != "ours":
                continue  # the paper and 0.1.0 have no training-case rows
            text = "n/a" if value is None else f"{value:.2f}"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.axvline(2.5, color="#cccccc", linewidth=1, linestyle=":")
    ax.text(1.0, 1.06, "separate planar models", ha="center", va="bottom", fontsize=8, color="#666666")
    ax.set_xticks(x, [_short_title(r) for r in rows], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("Dice$_{wi}$")
    ax.set_title("Table 1: Dice$_{wi}$ per model: ours, before, paper", fontsize=11)
    ax.legend(loc="upper right", frameon=False, fontsize=8, ncols=3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)
    return _png(fig)


def _plot_per_class(table: dict, rows: list[str], classes: list[str]) -> bytes:
    """Heatmap of per-class Dice (rows × classes); grey '–' where a class is absent."""
    def cell(row: str, name: str) -> float:
        value = _finite((table[row].get("dice") or {}).get(name))
        return np.nan if value is None else value

    values = np.array([[cell(r, c) for c in classes] for r in rows], dtype=np.float64)
    fig = _new_figure(1.0 + 0.95 * len(classes) + 1.6, 0.9 + 0.5 * len(rows))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(values)
    cmap = _cmap_with_grey()
    image = ax.imshow(masked, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        if np.isnan(value):
            ax.text(j, i, DASH, ha="center", va="center", fontsize=9, color="#555555")
        else:
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if value < 0.55 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(rows)), [ROW_TITLES[r] for r in rows])
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02, label="Dice")
    ax.set_title("Per-class Dice (ours)", fontsize=11)
    return _png(fig)


def _cmap_with_grey():
    from matplotlib import colormaps

    return colormaps["viridis"].with_extremes(bad="#e4e4e4")


def _plot_efficiency(efficiency: list[dict], reference: float | None, paper: dict) -> bytes:
    """Dice_wi of the pseudo-mask and the result against clicks per vertebra; the reference as a line."""
    points = sorted(efficiency, key=lambda p: p["clicks_per_vertebra"])
    clicks = np.array([float(p["clicks_per_vertebra"]) for p in points])
    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    for key, color, label, marker, dy in (("pseudo_dice_wi", PSEUDO_COLOR, "pseudo-mask (annotated cases)", "o", 6),
                                          ("result_dice_wi", RESULT_COLOR, "result (test cases)", "s", -13)):
        ys = np.array([np.nan if _finite(p.get(key)) is None else _finite(p.get(key)) for p in points])
        if np.isfinite(ys).any():
            keep = np.isfinite(ys)
            ax.plot(clicks[keep], ys[keep], marker=marker, color=color, label=label, linewidth=1.8)
            for cx, cy in zip(clicks[keep], ys[keep]):
                ax.annotate(f"{cy:.2f}", (cx, cy), xytext=(0, dy), textcoords="offset points", ha="center",
                            fontsize=8, color=color, bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1.2, label=f"reference, full masks, test cases ({reference:.2f})")
    paper_result = _finite(paper.get("result"))
    if paper_result is not None:
        ax.axhline(paper_result, color=PAPER_COLOR, linestyle=":", linewidth=1.2,
                   label=f"paper's result ({paper_result:.2f})")
    if clicks.size and clicks.min() > 0 and clicks.max() / clicks.min() >= 4:
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(FixedLocator(clicks))
    ax.set_xticklabels([f"{c:g}" for c in clicks])
    if clicks.size:
        span = clicks.max() / clicks.min() if clicks.min() > 0 else 1
        if ax.get_xscale() == "log":
            ax.set_xlim(clicks.min() / span**0.08, clicks.max() * span**0.08)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("clicks per vertebra")
    ax.set_ylabel("Dice$_{wi}$")
    ax.set_title("Label efficiency", fontsize=11)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(color="#eeeeee")
    ax.set_axisbelow(True)
    return _png(fig)


def _plot_cost(cost: dict, ratios: dict) -> bytes:
    """Left: point-annotation time vs full-mask time (ours). Right: the cost ratio, ours vs the paper."""
    click_s, full_s = _finite(cost.get("click_seconds")), _finite(cost.get("full_seconds"))
    fig = _new_figure(8.5, 2.8)
    left, right = fig.subplots(1, 2, width_ratios=[1.6, 1.0])
    seconds = [s if s is not None else 0.0 for s in (click_s, full_s)]
    unit, scale = ("h", 3600.0) if max(seconds) >= 2 * 3600 else ("min", 60.0) if max(seconds) >= 120 else ("s", 1.0)
    labels = ["point clicks", "full masks"]
    bars = left.barh(labels, [s / scale for s in seconds], color=[OURS_COLOR, "#555555"], height=0.55)
    for bar, value in zip(bars, (click_s, full_s)):
        left.annotate(_fmt_seconds(value), (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                      textcoords="offset points", va="center", fontsize=9)
    left.invert_yaxis()
    left.set_xlim(0, (max(seconds) / scale or 1.0) * 1.3)
    left.set_xlabel(f"annotation time ({unit})")
    left.set_title("Labelling time, our cases", fontsize=10)
    ours, theirs = ratios["ours"]["cost"], ratios["paper"]["cost"]
    values = [v if v is not None else 0.0 for v in (ours, theirs)]
    bars = right.bar(["ours", "paper"], [100 * v for v in values], color=[OURS_COLOR, PAPER_COLOR], width=0.55)
    for bar, value in zip(bars, (ours, theirs)):
        right.annotate(_fmt_pct(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                       textcoords="offset points", ha="center", va="bottom", fontsize=9)
    right.set_ylim(0, max(100 * max(values), 1.0) * 1.3)
    right.set_ylabel("% of full-mask cost")
    right.set_title("Points / full masks", fontsize=10)
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


# ============================================================================================ sections
def _classes(label_set: LabelSet, table: dict) -> list[str]:
    names = list(label_set.names)
    for entry in table.values():
        for name in entry.get("dice") or {}:
            if name not in names:
                names.append(name)
    return names


def _table1(table: dict, paper: dict, classes: list[str]) -> Table:
    header = ["Model", "Measured on", "Dice_wi (ours)", "Dice_wi (before)", "Dice_wi (paper)"] + classes
    rows = []
    for row in ROWS:
        entry = table.get(row)
        if entry is None and row.endswith("_train"):
            continue
        dice = (entry or {}).get("dice") or {}
        on = (entry or {}).get("on")
        rows.append(
            [ROW_TITLES[row], CASE_SETS.get(on, DASH) if on else DASH, _fmt_dice((entry or {}).get("dice_wi")),
             _fmt_dice(BEFORE_TABLE.get(row)), _fmt_dice(paper.get(row), 2)]
            + [_fmt_dice(dice.get(c)) for c in classes]
        )
    return Table(header, rows, [False, False] + [True] * (len(header) - 2))


def _ratio_blocks(ratios: dict, cost: dict) -> list:
    ours, theirs = ratios["ours"], ratios["paper"]
    table = Table(
        ["Ratio", "Ours", "Paper"],
        [
            ["Pseudo-mask / reference, both on the annotated cases (Dice_wi)", _fmt_pct(ours["pseudo_over_reference"]),
             _fmt_pct(theirs["pseudo_over_reference"])],
            ["Result / reference, both on the test cases (Dice_wi)", _fmt_pct(ours["result_over_reference"]),
             _fmt_pct(theirs["result_over_reference"])],
            ["Labelling cost: points / full masks", _fmt_pct(ours["cost"]), _fmt_pct(theirs["cost"])],
        ],
        [False, True, True],
    )
    summary = Para([
        "Ours: the result reaches ", _fmt_pct(ours["result_over_reference"]), " of the fully supervised reference's "
        "Dice_wi at ", _fmt_pct(ours["cost"]), " of the labelling cost (paper: ",
        _fmt_pct(theirs["result_over_reference"]), " at ", _fmt_pct(theirs["cost"]), ").",
    ])
    return [table, summary]


def _cost_blocks(cost: dict, paper_cost: float | None) -> list:
    axis = cost.get("slice_axis_name") or "axial"
    source = cost.get("click_time_source") or "default"
    source_text = {"measured": "measured from click timestamps", "default": "default (no timestamps)",
                   "mixed": "measured where timestamps exist, default elsewhere"}.get(source, source)
    per_click = _finite(cost.get("seconds_per_click"))
    table = Table(
        ["Quantity", "Value"],
        [
            ["Cases with points and full masks", _fmt_int(cost.get("n_cases"))],
            ["Clicks (background included)", _fmt_int(cost.get("clicks"))],
            ["Seconds per click", (DASH if per_click is None else f"{per_click:.2f} s") + f" ({source_text})"],
            ["Point-annotation time", _fmt_seconds(cost.get("click_seconds"))],
            [f"Structure-slices ({axis})", _fmt_int(cost.get("structure_slices"))],
            ["Seconds per structure-slice", _fmt_seconds(cost.get("seconds_per_structure_slice"))],
            ["Full-mask time", _fmt_seconds(cost.get("full_seconds"))],
            ["Cost ratio (points / full masks)", _fmt_pct(cost.get("cost_ratio")) + f" (paper: {_fmt_pct(paper_cost)})"],
        ],
        [False, False],
    )
    explain = Para([
        "Points cost clicks × seconds per click; full masks cost one outline per vertebra per ", axis,
        " slice it appears on (structure-slices) × seconds per structure-slice (defaults after Bearman et al. "
        "2016: 2 s per click, 12.5 s per outline).",
    ])
    blocks: list = [explain, table, Image("labelling_cost", "Labelling time and cost ratio")]
    per_case = cost.get("per_case") or []
    if per_case:
        rows = [
            [str(c.get("case", "")), _fmt_int(c.get("clicks")),
             DASH if _finite(c.get("seconds_per_click")) is None else f"{c['seconds_per_click']:.2f}",
             (c.get("click_time_source") or DASH),
             _fmt_seconds(c.get("click_seconds")), _fmt_int(c.get("structure_slices")),
             _fmt_seconds(c.get("full_seconds")), _fmt_pct(c.get("cost_ratio"))]
            for c in per_case
        ]
        blocks.append(Details(f"Per-case cost ({len(per_case)} case{'s' if len(per_case) != 1 else ''})", [Table(
            ["Case", "Clicks", "s / click", "Click-time source", "Point time", "Structure-slices", "Full-mask time",
             "Ratio"],
            rows, [False, True, True, False, True, True, True, True],
        )]))
    return blocks


def _efficiency_blocks(efficiency: list[dict], ratios: dict) -> list:
    rows = []
    by_clicks = {r["clicks_per_vertebra"]: r for r in ratios["efficiency"]}
    for point in sorted(efficiency, key=lambda p: p["clicks_per_vertebra"]):
        ratio = by_clicks.get(point["clicks_per_vertebra"], {})
        rows.append([
            f"{point['clicks_per_vertebra']:g}", _fmt_dice(point.get("pseudo_dice_wi")),
            _fmt_dice(point.get("result_dice_wi")), _fmt_pct(ratio.get("pseudo_over_reference")),
            _fmt_pct(ratio.get("result_over_reference")),
        ])
    return [
        Table(["Clicks per vertebra", "Pseudo-mask Dice_wi", "Result Dice_wi", "Pseudo / reference",
               "Result / reference"], rows, [True] * 5),
        Image("label_efficiency", "Dice_wi against clicks per vertebra"),
    ]


def _timing_blocks(timings: dict) -> list:
    rows = [[str(stage), _fmt_seconds(seconds), _fmt_dice(seconds, 1)] for stage, seconds in timings.items()]
    total = sum(_finite(s) or 0.0 for s in timings.values())
    rows.append(["total", _fmt_seconds(total), f"{total:.1f}"])
    return [Table(["Stage", "Time", "Seconds"], rows, [False, True, True])]


def _cases_text(cases: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(str(c) for c in list(cases)[:limit])
    return shown + (f" … and {len(cases) - limit} more" if len(cases) > limit else "")


def _build(results: dict, ratios: dict, paper: dict, label_set: LabelSet, plots: set[str]) -> tuple[str, list]:
    title = results.get("title") or f"pointseg report: {results['dataset']}"
    table = results["table"]
    classes = _classes(label_set, table)
    cases = results["cases"]
    blocks: list = [
        Heading(1, title),
        Para(["Dataset ", ("code", results["dataset"]), f" · {len(cases)} held-out case(s): ",
              _cases_text(cases) or DASH, " · label set ", ("code", label_set.name), f" · pointseg {__version__}"]),
        Heading(2, "Table 1: Dice_wi and per-class Dice"),
        Para(["Dice_wi is the Dice weighted by the inverse class occurrence (eq. 5 of the paper), background "
              "included. “", DASH, "”: not evaluated, or the class is absent. The paper notes its transverse "
              "model cannot tell L1–L5 apart, so that row's Dice_wi flatters it. The planar models and the "
              "pseudo-masks are measured on the annotated cases (the pseudo-masks exist for those); the result "
              "and the reference on the test cases, and again on the annotated cases they were trained on "
              "(“training cases”), so that under- and over-fitting can be told apart. The result and the reference "
              "are the supervised models' outputs after their post-processing (the run's config says which; by "
              "default each vertebra's boundary is re-drawn on the CT's bone). “Before”: pointseg 0.1.0's "
              "quick demo (seed 0), before its supervised models and refinement were reworked."]),
        _table1(table, paper, classes),
        Image("dice_wi", "Dice_wi per model, ours vs the paper"),
    ]
    if "per_class_dice" in plots:
        blocks.append(Image("per_class_dice", "Per-class Dice heatmap"))
    blocks += [Heading(2, "Ratios: accuracy kept and labelling cost"), *_ratio_blocks(ratios, results["cost"])]
    blocks += [Heading(2, "Labelling cost"), *_cost_blocks(results["cost"], ratios["paper"]["cost"])]
    efficiency = results.get("efficiency") or []
    if efficiency:
        blocks += [Heading(2, "Label efficiency"), *_efficiency_blocks(efficiency, ratios)]
    timings = results.get("timings") or {}
    if timings:
        blocks += [Heading(2, "Timings"), *_timing_blocks(timings)]
    config = results.get("config")
    if config:
        blocks += [Heading(2, "Configuration"),
                   Details("Configuration used", pre=json.dumps(_jsonable(config), indent=2, sort_keys=True))]
    return title, blocks


# ================================================================================================ entry
def write_report(results: dict, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``report.json`` and the PNG plots into ``out_dir``.

    Every file is written atomically. ``results`` is checked first (:class:`ValueError` naming the missing
    or malformed key). Returns the written paths by name: ``markdown``, ``html``, ``json`` and one per plot
    (``dice_wi``, ``per_class_dice``, ``label_efficiency`` when efficiency points are given,
    ``labelling_cost``). A plot of those names left from an earlier report that does not apply now is
    removed.
    """
    validate_results(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    label_set = get_label_set(results["label_set"])
    paper = _paper(results)
    ratios = compute_ratios(results)
    table = results["table"]

    pngs: dict[str, bytes] = {"dice_wi": _plot_dice_wi(table, paper)}
    class_rows = [r for r in ROWS if r in table and (table[r].get("dice") or {})]
    if class_rows:
        pngs["per_class_dice"] = _plot_per_class(table, class_rows, _classes(label_set, table))
    if results.get("efficiency"):
        reference = _finite((table.get("reference") or {}).get("dice_wi"))
        pngs["label_efficiency"] = _plot_efficiency(results["efficiency"], reference, paper)
    pngs["labelling_cost"] = _plot_cost(results["cost"], ratios)

    title, blocks = _build(results, ratios, paper, label_set, set(pngs))
    document = dict(results)
    document.setdefault("paper", {**PAPER_TABLE, "cost": PAPER_COST_RATIO})
    document["ratios"] = ratios
    # Everything is rendered before the first file is replaced: a failure leaves the old report whole.
    texts = {
        "markdown": ("report.md", _render_markdown(blocks, {n: PLOT_FILES[n] for n in pngs})),
        "html": ("report.html", _render_html(title, blocks, pngs)),
        "json": ("report.json", json.dumps(_jsonable(document), indent=2, allow_nan=False) + "\n"),
    }

    paths: dict[str, Path] = {}
    for name, data in pngs.items():
        path = out_dir / PLOT_FILES[name]
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        paths[name] = path
    for name, filename in PLOT_FILES.items():
        stale = out_dir / filename
        if name not in pngs and stale.exists():
            stale.unlink()
    for name, (filename, text) in texts.items():
        write_text(out_dir / filename, text)
        paths[name] = out_dir / filename
    return paths
