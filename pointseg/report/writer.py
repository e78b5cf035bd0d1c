"""Writing a report: :func:`write_report` renders everything first, then replaces the files atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pointseg.atomic import atomic_path, write_text
from pointseg.labels import get_label_set
from pointseg.report.document import render_html, render_markdown
from pointseg.report.paper import PAPER_COST_RATIO, PAPER_TABLE, paper_numbers, pipeline_paper
from pointseg.report.plots import plot_cost, plot_dice_wi, plot_efficiency, plot_per_class
from pointseg.report.ratios import compute_ratios, pipeline_ratios
from pointseg.report.schema import ROWS, Results, finite, jsonable
from pointseg.report.sections import build_document, classes, shows_table1

PLOT_FILES = {
    "dice_wi": "dice_wi.png",
    "per_class_dice": "per_class_dice.png",
    "label_efficiency": "label_efficiency.png",
    "labelling_cost": "labelling_cost.png",
}


def _plots(results: Results, ratios: dict) -> dict[str, bytes]:
    table, paper = results.table, paper_numbers(results)
    pngs: dict[str, bytes] = {}
    if shows_table1(results):
        pngs["dice_wi"] = plot_dice_wi(table, paper)
        class_rows = [r for r in ROWS if r in table and table[r].dice]
        if class_rows:
            names = classes(get_label_set(results.label_set).names, list(table.values()))
            pngs["per_class_dice"] = plot_per_class(table, class_rows, names)
    if results.efficiency:
        reference = finite(table["reference"].dice_wi) if "reference" in table else None
        pngs["label_efficiency"] = plot_efficiency(results.efficiency, reference, paper)
    pngs["labelling_cost"] = plot_cost(results.cost, ratios)
    return pngs


def report_document(results: Results, ratios: dict, by_pipeline: dict[str, dict]) -> dict:
    """``report.json``: the results (Table 1 and the pipelines joined) with what the report derived: the
    paper's numbers (``paper``, and each pipeline's where known), ``ratios`` for Table 1 and each
    pipeline's ``ratios``."""
    document = results.to_dict()
    document.setdefault("paper", {**PAPER_TABLE, "cost": PAPER_COST_RATIO})
    document["ratios"] = ratios
    for name, entry in document["pipelines"].items():
        known = pipeline_paper(results, name)
        if known:
            entry["paper"] = known
        entry["ratios"] = by_pipeline[name]
    return document


def write_report(results: dict | Results, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``report.json`` and the PNG plots into ``out_dir``.

    Every file is written atomically. ``results`` is checked first (:class:`ValueError` naming the missing
    or malformed key). Returns the written paths by name: ``markdown``, ``html``, ``json`` and one per plot
    (``dice_wi`` and ``per_class_dice`` with Table 1, ``label_efficiency`` when efficiency points are
    given, ``labelling_cost``). A plot of those names left from an earlier report that does not apply now
    is removed.
    """
    results = results if isinstance(results, Results) else Results.from_dict(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ratios = compute_ratios(results)
    by_pipeline = {name: pipeline_ratios(results, name) for name in results.pipelines}
    pngs = _plots(results, ratios)
    title, blocks = build_document(results, ratios, by_pipeline, set(pngs))
    document = report_document(results, ratios, by_pipeline)
    # Everything is rendered before the first file is replaced: a failure leaves the old report whole.
    texts = {
        "markdown": ("report.md", render_markdown(blocks, {n: PLOT_FILES[n] for n in pngs})),
        "html": ("report.html", render_html(title, blocks, pngs)),
        "json": ("report.json", json.dumps(jsonable(document), indent=2, allow_nan=False) + "\n"),
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
