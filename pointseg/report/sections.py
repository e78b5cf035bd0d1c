"""The report's sections as document blocks, built from typed :class:`~pointseg.report.schema.Results`.

In order: the title and dataset; the paper's Table 1 (the fcn8 pipeline with the weak planar models and the
pseudo-masks) with its plots and ratios; every other supervised pipeline in a section of its own (its
model on pseudo-masks next to its model on full labels, their ratio and the labelling cost), after a table
of all pipelines side by side (with the many-class metrics of seed 001's Table 1 where the rows have them:
median DSC, detection ratio, foreground DSC and timings per group of structures); then labelling cost,
label efficiency, timings and the configuration. Given an earlier report, Table 1 and its plot show the
earlier numbers next to ours (see :mod:`pointseg.report.earlier`).

The tables' shared columns are in :mod:`pointseg.report.tables`, the many-class tables in
:mod:`pointseg.report.many_class`.
"""

from __future__ import annotations

import json
from typing import Sequence

from pointseg import __version__
from pointseg.report.document import Details, Heading, Image, Para, Table
from pointseg.report.earlier import Comparison, not_compared_text
from pointseg.report.formatting import DASH, fmt_dice, fmt_int, fmt_pct, fmt_seconds
from pointseg.report.many_class import many_class_blocks
from pointseg.report.paper import paper_numbers, pipeline_paper
from pointseg.report.schema import (PIPELINE_ROWS, ROW_TITLES, ROWS, TABLE1_PIPELINE, EfficiencyPoint, Pipeline,
                                    Results, Row, finite, jsonable)
from pointseg.report.tables import class_columns, measured_on, per_class_blocks, table_row_keys

# The label sets the paper's Table 1 was measured on: its numbers are shown next to these only.
PAPER_LABEL_SETS = ("lumbar",)


def shows_table1(results: Results) -> bool:
    """Whether the report shows the paper's Table 1: with a weak planar or fcn8 row (not for runs of other
    pipelines only, whose pseudo-masks are then shown with them)."""
    return any(key != "pseudo" for key in results.table) or not results.pipelines


def _table1(table: dict[str, Row], paper: dict, label_set: str, earlier: Comparison | None) -> Table:
    """Table 1: our Dice_wi, the earlier report's (a column only when one is given), the paper's and the
    per-class Dice."""
    names, cells = class_columns(label_set, list(table.values()))
    header = (["Model", "Measured on", "Dice_wi (ours)"] + ([f"Dice_wi ({earlier.label})"] if earlier else [])
              + ["Dice_wi (paper)"] + names)
    rows = []
    for key in ROWS:
        row = table.get(key)
        if row is None and key.endswith("_train"):
            continue
        rows.append(
            [ROW_TITLES[key], measured_on(row), fmt_dice(row.dice_wi if row is not None else None)]
            + ([fmt_dice(earlier.dice_wi(key))] if earlier else []) + [fmt_dice(paper.get(key), 2)] + cells(row)
        )
    return Table(header, rows, [False, False] + [True] * (len(header) - 2))


def _earlier_para(earlier: Comparison) -> Para:
    """What the earlier report's column is, and which of its rows are not compared."""
    left_out = not_compared_text(earlier)
    return Para([
        "“", earlier.label, "”: the earlier report ", ("code", str(earlier.earlier.path)), ", shown where it "
        "measured the same row on the same cases (its Dice_wi ratios in ", ("code", "report.json"), ").",
        *([" Not compared: ", left_out, "."] if left_out else []),
    ])


def _ratio_blocks(ratios: dict) -> list:
    ours, theirs = ratios["ours"], ratios["paper"]
    table = Table(
        ["Ratio", "Ours", "Paper"],
        [
            ["Pseudo-mask / reference, both on the annotated cases (Dice_wi)", fmt_pct(ours["pseudo_over_reference"]),
             fmt_pct(theirs["pseudo_over_reference"])],
            ["Result / reference, both on the test cases (Dice_wi)", fmt_pct(ours["result_over_reference"]),
             fmt_pct(theirs["result_over_reference"])],
            ["Labelling cost: points / full masks", fmt_pct(ours["cost"]), fmt_pct(theirs["cost"])],
        ],
        [False, True, True],
    )
    summary = Para([
        "Ours: the result reaches ", fmt_pct(ours["result_over_reference"]), " of the fully supervised reference's "
        "Dice_wi at ", fmt_pct(ours["cost"]), " of the labelling cost (paper: ",
        fmt_pct(theirs["result_over_reference"]), " at ", fmt_pct(theirs["cost"]), ").",
    ])
    return [table, summary]


def _cost_blocks(cost: dict, paper_cost: float | None) -> list:
    axis = cost.get("slice_axis_name") or "axial"
    source = cost.get("click_time_source") or "default"
    source_text = {"measured": "measured from click timestamps", "default": "default (no timestamps)",
                   "mixed": "measured where timestamps exist, default elsewhere"}.get(source, source)
    per_click = finite(cost.get("seconds_per_click"))
    table = Table(
        ["Quantity", "Value"],
        [
            ["Cases with points and full masks", fmt_int(cost.get("n_cases"))],
            ["Clicks (background included)", fmt_int(cost.get("clicks"))],
            ["Seconds per click", (DASH if per_click is None else f"{per_click:.2f} s") + f" ({source_text})"],
            ["Point-annotation time", fmt_seconds(cost.get("click_seconds"))],
            [f"Structure-slices ({axis})", fmt_int(cost.get("structure_slices"))],
            ["Seconds per structure-slice", fmt_seconds(cost.get("seconds_per_structure_slice"))],
            ["Full-mask time", fmt_seconds(cost.get("full_seconds"))],
            ["Cost ratio (points / full masks)", fmt_pct(cost.get("cost_ratio")) + f" (paper: {fmt_pct(paper_cost)})"],
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
            [str(c.get("case", "")), fmt_int(c.get("clicks")),
             DASH if finite(c.get("seconds_per_click")) is None else f"{c['seconds_per_click']:.2f}",
             (c.get("click_time_source") or DASH),
             fmt_seconds(c.get("click_seconds")), fmt_int(c.get("structure_slices")),
             fmt_seconds(c.get("full_seconds")), fmt_pct(c.get("cost_ratio"))]
            for c in per_case
        ]
        blocks.append(Details(f"Per-case cost ({len(per_case)} case{'s' if len(per_case) != 1 else ''})", [Table(
            ["Case", "Clicks", "s / click", "Click-time source", "Point time", "Structure-slices", "Full-mask time",
             "Ratio"],
            rows, [False, True, True, False, True, True, True, True],
        )]))
    return blocks


def _efficiency_blocks(efficiency: list[EfficiencyPoint], ratios: dict) -> list:
    rows = []
    by_clicks = {r["clicks_per_vertebra"]: r for r in ratios["efficiency"]}
    for point in sorted(efficiency, key=lambda p: p.clicks_per_vertebra):
        ratio = by_clicks.get(point.clicks_per_vertebra, {})
        rows.append([
            f"{point.clicks_per_vertebra:g}", fmt_dice(point.pseudo_dice_wi), fmt_dice(point.result_dice_wi),
            fmt_pct(ratio.get("pseudo_over_reference")), fmt_pct(ratio.get("result_over_reference")),
        ])
    return [
        Table(["Clicks per vertebra", "Pseudo-mask Dice_wi", "Result Dice_wi", "Pseudo / reference",
               "Result / reference"], rows, [True] * 5),
        Image("label_efficiency", "Dice_wi against clicks per vertebra"),
    ]


def _timing_blocks(timings: dict) -> list:
    rows = [[str(stage), fmt_seconds(seconds), fmt_dice(seconds, 1)] for stage, seconds in timings.items()]
    total = sum(finite(s) or 0.0 for s in timings.values())
    rows.append(["total", fmt_seconds(total), f"{total:.1f}"])
    return [Table(["Stage", "Time", "Seconds"], rows, [False, True, True])]


def _cases_text(cases: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(str(c) for c in list(cases)[:limit])
    return shown + (f" … and {len(cases) - limit} more" if len(cases) > limit else "")


def _pipeline_table(pipeline: Pipeline, paper: dict) -> Table:
    names, cells = class_columns(pipeline.label_set, list(pipeline.rows.values()))
    header = ["Model", "Measured on", "Dice_wi"] + (["Dice_wi (paper)"] if paper else []) + names
    rows = []
    for key in table_row_keys(pipeline):
        row = pipeline.rows.get(key)
        rows.append([pipeline.row_title(key), measured_on(row), fmt_dice(row.dice_wi if row is not None else None)]
                    + ([fmt_dice(paper.get(key), 2)] if paper else []) + cells(row))
    return Table(header, rows, [False, False] + [True] * (len(header) - 2))


def _pipeline_ratio_blocks(ratios: dict) -> list:
    ours, theirs = ratios["ours"], ratios["paper"]
    lines = (("pseudo_over_labels", "Pseudo-masks / full labels, both on the test cases (Dice_wi)"),
             ("pseudo_over_labels_train", "Pseudo-masks / full labels, both on the annotated cases (Dice_wi)"),
             ("cost", "Labelling cost: points / full masks"))
    rows = [[text, fmt_pct(ours[key])] + ([fmt_pct(theirs[key])] if theirs else []) for key, text in lines]
    table = Table(["Ratio", "Ours"] + (["Paper"] if theirs else []), rows, [False] + [True] * (len(rows[0]) - 1))
    summary = Para(["The model trained on pseudo-masks reaches ", fmt_pct(ours["pseudo_over_labels"]),
                    " of the Dice_wi of the model trained on full labels on the test cases, at ",
                    fmt_pct(ours["cost"]), " of the labelling cost."])
    return [table, summary]


def _pipelines_overview(results: Results, ratios: dict[str, dict]) -> list:
    rows = []
    for name, pipeline in results.pipelines.items():
        ours = ratios[name]["ours"]
        test = [pipeline.rows.get(key) for key in ("pseudo", "labels")]
        rows.append([pipeline.title + (" (Table 1)" if name == TABLE1_PIPELINE and shows_table1(results) else ""),
                     *(fmt_dice(row.dice_wi if row is not None else None) for row in test),
                     fmt_pct(ours["pseudo_over_labels"]), fmt_pct(ours["pseudo_over_labels_train"]),
                     fmt_pct(ours["cost"])])
    pseudo = results.table.get("pseudo")
    pseudo_text = [] if pseudo is None or shows_table1(results) else [
        " The pseudo-masks the models learned from have a Dice_wi of ", fmt_dice(pseudo.dice_wi), " on the ",
        measured_on(pseudo), "."]
    return [
        Para(["Every supervised pipeline's model trained on pseudo-masks next to its model trained on full "
              "labels. Dice_wi on the test cases; each ratio divides two rows measured on the same cases.",
              *pseudo_text]),
        Table(["Pipeline", "Pseudo-masks: Dice_wi", "Full labels: Dice_wi", "Pseudo / full, test cases",
               "Pseudo / full, training cases", "Labelling cost"], rows, [False] + [True] * 5),
    ]


def _pipeline_blocks(results: Results, pipeline: Pipeline, ratios: dict,
                     plots: set[str] | frozenset = frozenset()) -> list:
    return [
        Heading(3, pipeline.title),
        Para(["Runs of the pipeline ", ("code", pipeline.name), " with the label set ", ("code", pipeline.label_set),
              ": the model trained on pseudo-masks and the one trained on full labels, on the test cases and "
              "again on the annotated cases they were trained on (“training cases”)."]),
        _pipeline_table(pipeline, pipeline_paper(results, pipeline.name)),
        *many_class_blocks(pipeline, plots),
        *per_class_blocks(pipeline.label_set, {k: pipeline.rows.get(k) for k in PIPELINE_ROWS},
                          {k: pipeline.row_title(k) for k in PIPELINE_ROWS}),
        *_pipeline_ratio_blocks(ratios),
    ]


def _table1_blocks(results: Results, ratios: dict, plots: set[str], earlier: Comparison | None) -> list:
    """Table 1 (with the earlier report's numbers when given), its plots and the ratios."""
    main = results.pipelines.get(TABLE1_PIPELINE)
    paper = paper_numbers(results) if results.label_set in PAPER_LABEL_SETS else {}
    blocks = [
        Heading(2, "Table 1: Dice_wi and per-class Dice" + (f" ({main.title})" if main else "")),
        Para(["Dice_wi is the Dice weighted by the inverse class occurrence (eq. 5 of the paper), background "
              "included. “", DASH, "”: not evaluated, or the class is absent. The paper notes its transverse "
              "model cannot tell L1–L5 apart, so that row's Dice_wi flatters it. The planar models and the "
              "pseudo-masks are measured on the annotated cases (the pseudo-masks exist for those); the result "
              "(", ("code", TABLE1_PIPELINE), " trained on the pseudo-masks) and the reference (trained on "
              "full labels) on the test cases, and again on the annotated cases they were trained on "
              "(“training cases”), so that under- and over-fitting can be told apart. The result and the "
              "reference are the supervised models' outputs after their post-processing (the run's config says "
              "which; by default each vertebra's boundary is re-drawn on the CT's bone)."]),
        *([_earlier_para(earlier)] if earlier else []),
        _table1(results.table, paper, results.label_set, earlier),
        *per_class_blocks(results.label_set, {k: results.table.get(k) for k in ROWS},
                          {k: ROW_TITLES[k] for k in ROWS}),
        Image("dice_wi", f"Dice_wi per model: ours, {earlier.label} and the paper" if earlier else
              "Dice_wi per model, ours vs the paper"),
    ]
    if "per_class_dice" in plots:
        blocks.append(Image("per_class_dice", "Per-class Dice heatmap"))
    return blocks + [Heading(2, "Ratios: accuracy kept and labelling cost"), *_ratio_blocks(ratios)]


def build_document(results: Results, ratios: dict, pipeline_ratios: dict[str, dict],
                   plots: set[str], earlier: Comparison | None = None) -> tuple[str, list]:
    """The report's title and blocks; ``ratios`` from :func:`~pointseg.report.ratios.compute_ratios`,
    ``pipeline_ratios`` by pipeline name, ``plots`` the names of the PNGs drawn, ``earlier`` the comparison
    with an earlier report (:func:`~pointseg.report.earlier.compare`; none: no comparison is shown)."""
    title = results.title or f"pointseg report: {results.dataset}"
    cases = results.cases
    blocks: list = [
        Heading(1, title),
        Para(["Dataset ", ("code", results.dataset), f" · {len(cases)} held-out case(s): ",
              _cases_text(cases) or DASH, " · label set ", ("code", results.label_set),
              f" · pointseg {__version__}"]),
    ]
    if shows_table1(results):
        blocks += _table1_blocks(results, ratios, plots, earlier)
    others = results.other_pipelines
    if others:
        blocks += [Heading(2, "Supervised pipelines: pseudo-masks against full labels"),
                   *_pipelines_overview(results, pipeline_ratios)]
        for pipeline in others:
            blocks += _pipeline_blocks(results, pipeline, pipeline_ratios[pipeline.name], plots)
    blocks += [Heading(2, "Labelling cost"), *_cost_blocks(results.cost, ratios["paper"]["cost"])]
    if results.efficiency:
        blocks += [Heading(2, "Label efficiency"), *_efficiency_blocks(results.efficiency, ratios)]
    if results.timings:
        blocks += [Heading(2, "Timings"), *_timing_blocks(results.timings)]
    if results.config:
        blocks += [Heading(2, "Configuration"),
                   Details("Configuration used", pre=json.dumps(jsonable(results.config), indent=2, sort_keys=True))]
    return title, blocks
