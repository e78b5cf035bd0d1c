"""Ratios a report derives: accuracy kept (Dice_wi over the full-label model's) and labelling cost.

A ratio is only ever taken between two rows measured on the same cases; ``None`` wherever a number is
missing or no same-case pair exists.
"""

from __future__ import annotations

from typing import Any

from pointseg.report.paper import paper_numbers, pipeline_paper
from pointseg.report.schema import TABLE1_PIPELINE, Pipeline, Results, Row, finite, parse_results, same_cases


def ratio(numerator: Any, denominator: Any) -> float | None:
    numerator, denominator = finite(numerator), finite(denominator)
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def row_ratio(top: Row | None, bottom: Row | None) -> float | None:
    """``top``'s Dice_wi over ``bottom``'s, when both were measured on the same cases."""
    return ratio(top.dice_wi, bottom.dice_wi) if same_cases(top, bottom) else None


def compute_ratios(results: dict | Results) -> dict:
    """The Table 1 ratios written to ``report.json['ratios']``.

    ``ours``/``paper``: ``pseudo_over_reference`` and ``result_over_reference`` (Dice_wi ratios; the paper
    gives 0.48/0.76 ≈ 63 % and 0.55/0.76 ≈ 72 %) and ``cost`` (point-annotation time over full-mask time;
    the paper estimates 12 %). ``efficiency``: the same Dice_wi ratios per clicks-per-vertebra setting.

    The pseudo-mask (annotated cases) is divided by the reference on those annotated cases
    (``reference_train``), the result by the reference on the test cases.
    """
    results = parse_results(results)
    table = results.table
    paper = paper_numbers(results)
    pseudo, result = table.get("pseudo"), table.get("result")
    pseudo_reference = next((table[r] for r in ("reference_train", "reference")
                             if same_cases(pseudo or Row(None, on="annotated"), table.get(r))), None)
    result_reference = table.get("reference") if same_cases(result or Row(None, on="test"),
                                                            table.get("reference")) else None
    ours = {
        "pseudo_over_reference": row_ratio(pseudo, pseudo_reference) if pseudo is not None else None,
        "result_over_reference": row_ratio(result, result_reference) if result is not None else None,
        "cost": finite(results.cost.get("cost_ratio")),
    }
    theirs = {
        "pseudo_over_reference": ratio(paper.get("pseudo"), paper.get("reference")),
        "result_over_reference": ratio(paper.get("result"), paper.get("reference")),
        "cost": finite(paper.get("cost")),
    }
    efficiency = [
        {
            "clicks_per_vertebra": point.clicks_per_vertebra,
            "pseudo_over_reference": ratio(point.pseudo_dice_wi, pseudo_reference and pseudo_reference.dice_wi),
            "result_over_reference": ratio(point.result_dice_wi, result_reference and result_reference.dice_wi),
        }
        for point in results.efficiency
    ]
    return {"ours": ours, "paper": theirs, "efficiency": efficiency}


def pipeline_cost(results: Results, pipeline: Pipeline) -> dict:
    """The labelling cost behind a pipeline's rows: its own (another label set) or the report's."""
    return pipeline.cost if pipeline.cost is not None else results.cost


def pipeline_ratios(results: dict | Results, name: str) -> dict:
    """Ratios of one supervised pipeline, written to ``report.json['pipelines'][name]['ratios']``.

    ``ours``: ``pseudo_over_labels`` (the model on pseudo-masks over the model on full labels, both on the
    test cases), ``pseudo_over_labels_train`` (both on the annotated cases they were trained on) and
    ``cost`` (points over full masks for the pipeline's label set). ``paper``: the same where the paper's
    numbers are known (fcn8), else ``None``.
    """
    results = parse_results(results)
    pipeline = results.pipelines[name]
    rows = pipeline.rows
    ours = {
        "pseudo_over_labels": row_ratio(rows.get("pseudo"), rows.get("labels")),
        "pseudo_over_labels_train": row_ratio(rows.get("pseudo_train"), rows.get("labels_train")),
        "cost": finite(pipeline_cost(results, pipeline).get("cost_ratio")),
    }
    known = pipeline_paper(results, name)
    theirs = None
    if known:
        theirs = {
            "pseudo_over_labels": ratio(known.get("pseudo"), known.get("labels")),
            "pseudo_over_labels_train": ratio(known.get("pseudo_train"), known.get("labels_train")),
            "cost": finite(paper_numbers(results).get("cost")) if name == TABLE1_PIPELINE else None,
        }
    return {"ours": ours, "paper": theirs}
