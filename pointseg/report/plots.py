"""The report's PNG plots, drawn on :class:`matplotlib.figure.Figure` with the Agg canvas only (no pyplot,
no global state): Dice_wi per Table 1 row (ours, an earlier report's when given, the paper's), the per-class
Dice heatmap, label
efficiency, labelling cost and, per pipeline, the many-class metrics (median DSC and detection ratio per group)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from pointseg.report.earlier import Comparison
from pointseg.report.formatting import DASH, fmt_pct, fmt_seconds
from pointseg.report.many_class import many_class_entry, many_class_group_title, many_class_groups, many_class_rows
from pointseg.report.schema import ROW_TITLES, ROWS, EfficiencyPoint, Pipeline, Row, finite

OURS_COLOR = "#1f77b4"
PAPER_COLOR = "#9a9a9a"
EARLIER_COLOR = "#d9b38c"
PSEUDO_COLOR = "#e6791e"
RESULT_COLOR = "#1f77b4"
LABELS_COLOR = "#2c6e9e"


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


def plot_dice_wi(table: dict[str, Row], paper: dict, earlier: Comparison | None = None) -> bytes:
    """Grouped bars: Dice_wi per Table 1 row, ours next to the earlier report's (a bar only where that row
    is compared; no such series without ``earlier``) and the paper's."""
    rows = [r for r in ROWS if not r.endswith("_train") or r in table]
    fig = _new_figure(max(8.0, 1.15 * len(rows)), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    series = [([finite(table[r].dice_wi if r in table else None) for r in rows], OURS_COLOR, "ours")]
    if earlier is not None:
        series.append(([finite(earlier.dice_wi(r)) for r in rows], EARLIER_COLOR, earlier.label))
    series.append(([finite(paper.get(r)) for r in rows], PAPER_COLOR, "paper"))
    width = 0.81 / len(series)
    for n, (values, color, label) in enumerate(series):
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(x + (n - (len(series) - 1) / 2) * width, heights, width, color=color, label=label)
        for bar, value in zip(bars, values):
            if value is None and n > 0:
                continue  # only our missing rows say "n/a": the others have no number for every row
            text = "n/a" if value is None else f"{value:.2f}"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.axvline(2.5, color="#cccccc", linewidth=1, linestyle=":")
    ax.text(1.0, 1.06, "separate planar models", ha="center", va="bottom", fontsize=8, color="#666666")
    ax.set_xticks(x, [_short_title(r) for r in rows], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("Dice$_{wi}$")
    ax.set_title("Table 1: Dice$_{wi}$ per model: ours, " + ("earlier report, " if earlier else "") + "paper",
                 fontsize=11)
    ax.legend(loc="upper right", frameon=False, fontsize=8, ncols=len(series))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)
    return _png(fig)


def plot_per_class(table: dict[str, Row], rows: list[str], classes: list[str]) -> bytes:
    """Heatmap of per-class Dice (rows × classes); grey '–' where a class is absent."""
    def cell(row: str, name: str) -> float:
        value = finite(table[row].dice.get(name))
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


def plot_efficiency(efficiency: list[EfficiencyPoint], reference: float | None, paper: dict) -> bytes:
    """Dice_wi of the pseudo-mask and the result against clicks per vertebra; the reference as a line."""
    points = sorted(efficiency, key=lambda p: p.clicks_per_vertebra)
    clicks = np.array([float(p.clicks_per_vertebra) for p in points])
    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    for key, color, label, marker, dy in (("pseudo_dice_wi", PSEUDO_COLOR, "pseudo-mask (annotated cases)", "o", 6),
                                          ("result_dice_wi", RESULT_COLOR, "result (test cases)", "s", -13)):
        ys = np.array([np.nan if finite(getattr(p, key)) is None else finite(getattr(p, key)) for p in points])
        if np.isfinite(ys).any():
            keep = np.isfinite(ys)
            ax.plot(clicks[keep], ys[keep], marker=marker, color=color, label=label, linewidth=1.8)
            for cx, cy in zip(clicks[keep], ys[keep]):
                ax.annotate(f"{cy:.2f}", (cx, cy), xytext=(0, dy), textcoords="offset points", ha="center",
                            fontsize=8, color=color,
                            bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1.2,
                   label=f"reference, full masks, test cases ({reference:.2f})")
    paper_result = finite(paper.get("result"))
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


def plot_cost(cost: dict, ratios: dict) -> bytes:
    """Left: point-annotation time vs full-mask time (ours). Right: the cost ratio, ours vs the paper."""
    click_s, full_s = finite(cost.get("click_seconds")), finite(cost.get("full_seconds"))
    fig = _new_figure(8.5, 2.8)
    left, right = fig.subplots(1, 2, width_ratios=[1.6, 1.0])
    seconds = [s if s is not None else 0.0 for s in (click_s, full_s)]
    unit, scale = ("h", 3600.0) if max(seconds) >= 2 * 3600 else ("min", 60.0) if max(seconds) >= 120 else ("s", 1.0)
    labels = ["point clicks", "full masks"]
    bars = left.barh(labels, [s / scale for s in seconds], color=[OURS_COLOR, "#555555"], height=0.55)
    for bar, value in zip(bars, (click_s, full_s)):
        left.annotate(fmt_seconds(value), (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                      textcoords="offset points", va="center", fontsize=9)
    left.invert_yaxis()
    left.set_xlim(0, (max(seconds) / scale or 1.0) * 1.3)
    left.set_xlabel(f"annotation time ({unit})")
    left.set_title("Labelling time, our cases", fontsize=10)
    ours, theirs = ratios["ours"]["cost"], ratios["paper"]["cost"]
    values = [v if v is not None else 0.0 for v in (ours, theirs)]
    bars = right.bar(["ours", "paper"], [100 * v for v in values], color=[OURS_COLOR, PAPER_COLOR], width=0.55)
    for bar, value in zip(bars, (ours, theirs)):
        right.annotate(fmt_pct(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                       textcoords="offset points", ha="center", va="bottom", fontsize=9)
    right.set_ylim(0, max(100 * max(values), 1.0) * 1.3)
    right.set_ylabel("% of full-mask cost")
    right.set_title("Points / full masks", fontsize=10)
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)



def plot_many_class(pipeline: Pipeline) -> bytes:
    """Grouped bars: per group of structures (and over all classes) the median DSC of each row of the
    pipeline, with error bars to the 16th and 84th percentiles and the detection ratio above each bar.
    Pseudo-mask-trained rows orange, full-label-trained rows blue; training-case rows lighter and hatched."""
    keys = [k for k in many_class_rows(pipeline) if k in pipeline.rows]
    rows = [pipeline.rows[k] for k in keys]
    groups = [*many_class_groups(rows), None]
    x = np.arange(len(groups))
    width = 0.8 / max(len(keys), 1)
    fig = _new_figure(max(6.5, 1.2 + 0.55 * len(keys) * len(groups)), 4.4)
    ax = fig.add_subplot()
    for n, (key, row) in enumerate(zip(keys, rows)):
        train = key.endswith("_train")
        color = PSEUDO_COLOR if key.startswith("pseudo") else LABELS_COLOR
        entries = [many_class_entry(row, g) for g in groups]
        medians = [finite(e.get("median")) for e in entries]
        lower = [finite(e.get("lower")) or 0.0 for e in entries]
        upper = [finite(e.get("upper")) or 0.0 for e in entries]
        offsets = x + (n - (len(keys) - 1) / 2) * width
        heights = [m if m is not None else 0.0 for m in medians]
        ax.bar(offsets, heights, width * 0.92, color=color, alpha=0.4 if train else 1.0,
               hatch="///" if train else None, edgecolor=color, linewidth=0.8, label=pipeline.row_title(key))
        have = [i for i, m in enumerate(medians) if m is not None]
        if have:
            ax.errorbar(offsets[have], [medians[i] for i in have],
                        yerr=[[lower[i] for i in have], [upper[i] for i in have]], fmt="none", ecolor="#333333",
                        elinewidth=1.0, capsize=2.5)
        for i, (entry, median) in enumerate(zip(entries, medians)):
            ratio = finite(entry.get("detection_ratio"))
            top = (median + upper[i]) if median is not None else 0.0
            text = DASH if ratio is None else f"{ratio:.2f}"
            ax.annotate(text, (offsets[i], top), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=7, color="#333333")
    ax.set_xticks(x, [many_class_group_title(g) if g is not None else "All" for g in groups])
    if len(groups) > 1:
        ax.axvline(len(groups) - 1.5, color="#cccccc", linewidth=1, linestyle=":")
    ax.set_ylim(0, 1.12)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.spines["left"].set_bounds(0, 1)
    ax.set_ylabel("median DSC (detected classes)")
    ax.set_title(f"{pipeline.title}: median DSC per group\n(bars: 16th\u201384th percentile; numbers: detection "
                 "ratio)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", ncols=min(len(keys), 4), frameon=False, fontsize=8)
    return _png(fig)
