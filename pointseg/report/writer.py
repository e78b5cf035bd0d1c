"""Writing a report: :func:`write_report` renders everything first, then replaces the files atomically."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pointseg import __version__
from pointseg.io.atomic import atomic_path, write_text
from pointseg.labels import get_label_set
from pointseg.report.document import render_html, render_markdown
from pointseg.report.earlier import VERSION_KEY, Comparison, compare, read_earlier_report
from pointseg.report.many_class import many_class_plot_name, many_class_rows
from pointseg.report.paper import PAPER_COST_RATIO, PAPER_TABLE, paper_numbers, pipeline_paper
from pointseg.report.plots import plot_cost, plot_dice_wi, plot_efficiency, plot_many_class, plot_per_class
from pointseg.report.ratios import compute_ratios, pipeline_ratios
from pointseg.report.schema import ROWS, Results, finite, jsonable
from pointseg.report.sections import build_document, shows_table1
from pointseg.report.tables import classes

PLOT_FILES = {
    "dice_wi": "dice_wi.png",
    "per_class_dice": "per_class_dice.png",
    "label_efficiency": "label_efficiency.png",
    "labelling_cost": "labelling_cost.png",
}
# Plots drawn once per pipeline are named ``<prefix><pipeline name>`` and written as ``<name>.png``.
PIPELINE_PLOT_PREFIXES = ("many_class_",)


def plot_file(name: str) -> str:
    """The file name of the plot ``name``: from :data:`PLOT_FILES`, else ``<name>.png`` (a per-pipeline plot;
    characters other than letters, digits, ``_``, ``.`` and ``-`` replaced by ``_``)."""
    return PLOT_FILES.get(name) or re.sub(r"[^\w.-]", "_", name) + ".png"


def _stale_plots(out_dir: Path, drawn: dict[str, bytes]) -> list[Path]:
    """The plot files in ``out_dir`` that an earlier report wrote and this one does not."""
    current = {plot_file(name) for name in drawn}
    stale = [out_dir / f for f in PLOT_FILES.values()]
    stale += [p for prefix in PIPELINE_PLOT_PREFIXES for p in sorted(out_dir.glob(f"{prefix}*.png"))]
    return [p for p in stale if p.name not in current and p.exists()]


def _plots(results: Results, ratios: dict, earlier: Comparison | None) -> dict[str, bytes]:
    table, paper = results.table, paper_numbers(results)
    pngs: dict[str, bytes] = {}
    if shows_table1(results):
        pngs["dice_wi"] = plot_dice_wi(table, paper, earlier)
        class_rows = [r for r in ROWS if r in table and table[r].dice]
        if class_rows:
            names = classes(get_label_set(results.label_set).names, list(table.values()))
            pngs["per_class_dice"] = plot_per_class(table, class_rows, names)
    if results.efficiency:
        reference = finite(table["reference"].dice_wi) if "reference" in table else None
        pngs["label_efficiency"] = plot_efficiency(results.efficiency, reference, paper)
    pngs["labelling_cost"] = plot_cost(results.cost, ratios)
    for pipeline in results.other_pipelines:  # those with a section of their own, where the plot is shown
        if many_class_rows(pipeline):
            pngs[many_class_plot_name(pipeline.name)] = plot_many_class(pipeline)
    return pngs


def report_document(results: Results, ratios: dict, by_pipeline: dict[str, dict],
                    earlier: Comparison | None = None) -> dict:
    """``report.json``: the results (Table 1 and the pipelines joined) with what the report derived: the
    paper's numbers (``paper``, and each pipeline's where known), ``ratios`` for Table 1 and each
    pipeline's ``ratios``, the pointseg version writing it (``pointseg_version``) and, when an earlier
    report is compared, ``earlier`` (see :mod:`pointseg.report.earlier`; never carried over from results
    that were themselves read from a report.json)."""
    document = results.to_dict()
    document[VERSION_KEY] = __version__
    document.pop("earlier", None)
    if earlier is not None:
        document["earlier"] = earlier.to_dict()
    document.setdefault("paper", {**PAPER_TABLE, "cost": PAPER_COST_RATIO})
    document["ratios"] = ratios
    for name, entry in document["pipelines"].items():
        known = pipeline_paper(results, name)
        if known:
            entry["paper"] = known
        entry["ratios"] = by_pipeline[name]
    return document


def write_report(results: dict | Results, out_dir: str | os.PathLike,
                 earlier: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``report.json`` and the PNG plots into ``out_dir``.

    Every file is written atomically. ``results`` is checked first (:class:`ValueError` naming the missing
    or malformed key). Returns the written paths by name: ``markdown``, ``html``, ``json`` and one per plot
    (``dice_wi`` and ``per_class_dice`` with Table 1, ``label_efficiency`` when efficiency points are
    given, ``labelling_cost``, and ``many_class_<pipeline>`` for each pipeline with a section of its own
    whose rows have many-class metrics). A plot of those names left from an earlier report that does not
    apply now is removed.

    ``earlier``: the ``report.json`` of an earlier report (or its folder) to compare with: its Table 1
    Dice_wi are shown next to ours in Table 1 and the Dice_wi plot, labelled with its pointseg version and
    folder name, for each row measured on the same cases, and written to ``report.json['earlier']``
    (:mod:`pointseg.report.earlier`). A missing or unreadable file, or one of another label set, is an
    :class:`~pointseg.errors.InputError` naming it, raised before anything is written. Without it no
    comparison is shown.
    """
    results = results if isinstance(results, Results) else Results.from_dict(results)
    comparison = compare(results, read_earlier_report(earlier)) if earlier is not None else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ratios = compute_ratios(results)
    by_pipeline = {name: pipeline_ratios(results, name) for name in results.pipelines}
    pngs = _plots(results, ratios, comparison)
    title, blocks = build_document(results, ratios, by_pipeline, set(pngs), comparison)
    document = report_document(results, ratios, by_pipeline, comparison)
    # Everything is rendered before the first file is replaced: a failure leaves the old report whole.
    texts = {
        "markdown": ("report.md", render_markdown(blocks, {n: plot_file(n) for n in pngs})),
        "html": ("report.html", render_html(title, blocks, pngs)),
        "json": ("report.json", json.dumps(jsonable(document), indent=2, allow_nan=False) + "\n"),
    }

    paths: dict[str, Path] = {}
    for name, data in pngs.items():
        path = out_dir / plot_file(name)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        paths[name] = path
    for stale in _stale_plots(out_dir, pngs):
        stale.unlink()
    for name, (filename, text) in texts.items():
        write_text(out_dir / filename, text)
        paths[name] = out_dir / filename
    return paths
