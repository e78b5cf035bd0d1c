"""``pointseg demo``: the main job on built-in synthetic data.

Today it runs every stage that exists: phantoms with previews → simulated clicks → dataset check →
preprocessed slice stacks for the three axes → a summary (``summary.json`` and ``summary.md``) whose path
is returned. Later stages (planar models, fusion, final model, report) join here as they land.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pointseg.atomic import write_text
from pointseg.clicks import ClickConfig
from pointseg.dataset import check_case, discover_cases
from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.preprocess import AXES, PROFILES, cached_stack
from pointseg.progress import progress, say
from pointseg.synthetic import write_phantoms, write_simulated_clicks


def run_demo(out: Path, seed: int = 0, cases: int = 3, profile: str = "quick", clicks_per_class: int = 5) -> Path:
    """Run the demo chain into ``out`` and return the path of its summary."""
    label_set = get_label_set()
    dataset = out / "dataset"
    timings: dict[str, float] = {}

    start = time.perf_counter()
    say(f"[1/4] {cases} phantom case(s) -> {dataset}")
    write_phantoms(dataset, cases, seed, preview=True, force=True)
    timings["phantoms_s"] = time.perf_counter() - start

    start = time.perf_counter()
    say(f"[2/4] simulated clicks ({clicks_per_class} per vertebra)")
    write_simulated_clicks(dataset, label_set, ClickConfig(per_class=clicks_per_class), seed, force=True)
    timings["clicks_s"] = time.perf_counter() - start

    say("[3/4] dataset check")
    found = discover_cases(dataset)
    problems = [p for case in found for p in check_case(case, label_set)]
    if problems:
        raise InputError(f"the demo dataset has problems: {problems[0]}", dataset)

    start = time.perf_counter()
    say(f"[4/4] slice stacks ({profile} profile) for {', '.join(AXES)}")
    config = PROFILES[profile]
    stacks = {}
    for case, axis in progress([(c, a) for c in found for a in AXES], "preprocess", unit="stack"):
        stack = cached_stack(case, axis, config, label_set, dataset / ".pointseg-cache")
        stacks[f"{case.id}/{axis}"] = {"slices": int(stack.image.shape[0]), "clicks": int(len(stack.points))}
    timings["preprocess_s"] = time.perf_counter() - start

    summary = {
        "seed": seed, "profile": profile, "dataset": str(dataset),
        "cases": [c.id for c in found], "previews": [str(c.dir / "preview.png") for c in found],
        "stacks": stacks, "timings": {k: round(v, 2) for k, v in timings.items()},
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    lines = [f"# pointseg demo ({profile} profile, seed {seed})", "", f"Dataset: `{dataset}`", ""]
    lines += [f"- {c.id}: ![preview]({c.dir.relative_to(out) / 'preview.png'})" for c in found]
    lines += ["", "| stage | seconds |", "|---|---|"] + [f"| {k[:-2]} | {v:.1f} |" for k, v in timings.items()]
    write_text(out / "summary.md", "\n".join(lines) + "\n")
    return out / "summary.md"
