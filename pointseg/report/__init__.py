"""The cost-versus-accuracy report: the paper's Table 1 for our data, every supervised pipeline's model on
pseudo-masks against its model on full labels, ratios, labelling cost and plots.

:func:`write_report` takes the ``results`` (a dict, see :mod:`pointseg.report.schema`, as
:func:`pointseg.report.collect.collect_results` builds it) and writes, atomically, into one folder:

* ``report.md`` — GitHub Markdown (tables, the PNGs by relative name);
* ``report.html`` — one self-contained page: inline CSS, the PNGs embedded as base64 data URIs, no
  external resource or link;
* ``report.json`` — the results plus what the report derived (``ratios``; ``paper`` with the paper's
  numbers when the results had none; each pipeline's ``ratios``; ``pointseg_version``; ``earlier`` when
  compared with an earlier report); NaN is written as ``null``;
* PNG plots — ``dice_wi.png`` (Dice_wi per Table 1 row, ours vs the paper and, when given, an earlier
  report), ``per_class_dice.png`` (heatmap), ``label_efficiency.png`` (Dice_wi vs clicks per vertebra, when
  given) and ``labelling_cost.png``.

``write_report(results, out_dir, earlier=PATH)`` compares with the ``report.json`` an earlier report wrote
(:mod:`~pointseg.report.earlier`): its Table 1 numbers next to ours, row by row where measured on the same
cases, labelled with its pointseg version and folder name.

Modules: :mod:`~pointseg.report.schema` (the results as dataclasses, validation),
:mod:`~pointseg.report.collect` (the results from run folders), :mod:`~pointseg.report.paper` (the
paper's numbers), :mod:`~pointseg.report.earlier` (an earlier report's), :mod:`~pointseg.report.ratios`,
:mod:`~pointseg.report.document` (blocks, Markdown and HTML), :mod:`~pointseg.report.plots`,
:mod:`~pointseg.report.sections` (what the report says, with :mod:`~pointseg.report.tables` and
:mod:`~pointseg.report.many_class`) and :mod:`~pointseg.report.writer`.
"""

from pointseg.report.earlier import Comparison, EarlierReport, compare, read_earlier_report
from pointseg.report.paper import PAPER_COST_RATIO, PAPER_TABLE
from pointseg.report.ratios import compute_ratios, pipeline_ratios
from pointseg.report.schema import (PIPELINE_ROWS, REQUIRED_KEYS, ROW_TITLES, ROWS, TABLE1_PIPELINE, Pipeline, Results,
                                    Row, same_cases, validate_results)
from pointseg.report.writer import write_report

__all__ = [
    "ROWS",
    "ROW_TITLES",
    "PIPELINE_ROWS",
    "TABLE1_PIPELINE",
    "PAPER_TABLE",
    "PAPER_COST_RATIO",
    "REQUIRED_KEYS",
    "Results",
    "Pipeline",
    "Row",
    "validate_results",
    "compute_ratios",
    "pipeline_ratios",
    "same_cases",
    "write_report",
    "EarlierReport",
    "Comparison",
    "read_earlier_report",
    "compare",
]
