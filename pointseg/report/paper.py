"""The paper's numbers a report compares ours with: its Table 1 and cost estimate (an earlier report's numbers,
when given, come from :mod:`pointseg.report.earlier`)."""

from __future__ import annotations

from pointseg.report.schema import TABLE1_PIPELINE, TABLE1_ROLES, Results

# Table 1 of the paper (seed 003) and its cost estimate ("12 % of the labelling cost").
PAPER_TABLE = {"transverse": 0.51, "coronal": 0.41, "sagittal": 0.34, "pseudo": 0.48, "result": 0.55, "reference": 0.76}
PAPER_COST_RATIO = 0.12


def paper_numbers(results: Results) -> dict:
    """The paper's Table 1 numbers and cost: the defaults updated with ``results['paper']``."""
    paper = {**PAPER_TABLE, "cost": PAPER_COST_RATIO}
    paper.update(results.paper or {})
    return paper


def pipeline_paper(results: Results, name: str) -> dict:
    """The paper's Dice_wi per row of pipeline ``name`` (by :data:`~pointseg.report.schema.PIPELINE_ROWS`
    key): Table 1's for fcn8, what the results give for the others, none when unknown."""
    numbers = {}
    if name == TABLE1_PIPELINE:
        table1 = paper_numbers(results)
        numbers = {key: table1[role] for key, role in TABLE1_ROLES.items() if table1.get(role) is not None}
    numbers.update(results.pipelines[name].paper if name in results.pipelines else {})
    return numbers
