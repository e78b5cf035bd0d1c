"""``pointseg demo``: the whole weak pipeline on built-in synthetic data, ending with the report.

phantoms (annotated + test cases) → simulated clicks on the annotated cases → dataset check → three
weak planar models → fusion into pseudo-masks → final model on the pseudo-masks and reference model on
the full labels → label-efficiency curve (pseudo-masks from 1, 2, 5 and 10 clicks per vertebra) →
``report/report.html``. The planar models, fusion and trainers are the same code as the commands
``train-planar``, ``fuse`` and ``train``; the demo only chains them.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from pointseg.io.atomic import write_text
from pointseg.simulate.clicks import ClickConfig
from pointseg.io.dataset import SPLIT_FILE, check_case, discover_cases
from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.progress import say
from pointseg.simulate.cases import write_phantoms, write_simulated_clicks

# Clicks per vertebra of the label-efficiency curve besides the main run's own (which Table 1 already
# measured and the curve reuses). Every point has the same training budget as Table 1, so each one costs
# a whole run (about 6 minutes on 2 CPU cores with the quick profile): one extra point keeps the demo
# within 20 minutes.
CURVE_CLICKS = (1,)


class _Stages:
    """Numbered stage messages with timings."""

    def __init__(self, total: int):
        self.total, self.number, self.timings = total, 0, {}
        self._name, self._start = None, 0.0

    def start(self, name: str, message: str) -> None:
        self.stop()
        self.number += 1
        self._name, self._start = name, time.perf_counter()
        say(f"[{self.number}/{self.total}] {message}")

    def stop(self) -> None:
        if self._name is not None:
            self.timings[self._name] = round(time.perf_counter() - self._start, 1)
            self._name = None


def run_demo(out: Path, seed: int = 0, annotated: int = 3, test: int = 2, profile: str = "quick",
             clicks_per_class: int = 5, background_clicks: int = 15, curve: bool = True, device: str = "auto",
             curve_clicks: tuple[int, ...] = CURVE_CLICKS, phantom_spacing: tuple[float, float, float] | None = None) -> Path:
    """Run the demo chain into ``out`` and return the path of ``report.html``."""
    from pointseg.report.collect import collect_results
    from pointseg.device import resolve_device
    from pointseg.report import write_report
    from pointseg.pseudo.fusion import DEFAULT_FUSION
    from pointseg.pseudo.pipeline import fuse_cases
    from pointseg.train.planar import train_planar
    from pointseg.train.supervised import train_supervised

    label_set = get_label_set()
    torch_device = resolve_device(device)
    dataset, runs = out / "dataset", out / "runs"
    if runs.exists() or dataset.exists():
        raise InputError("already holds a demo; choose another --out or remove it", out)
    stages = _Stages(8 if curve else 7)

    stages.start("phantoms", f"{annotated} annotated + {test} test phantom case(s) -> {dataset}")
    write_phantoms(dataset, annotated, seed, spacing=phantom_spacing, preview=True)
    clicks = ClickConfig(per_class=clicks_per_class, background=background_clicks)
    write_simulated_clicks(dataset, label_set, clicks, seed)
    write_phantoms(dataset, test, seed, spacing=phantom_spacing, preview=True, first_index=annotated)
    test_ids = [f"phantom_{n:03d}" for n in range(annotated, annotated + test)]
    write_text(dataset / SPLIT_FILE, json.dumps({"test": test_ids}, indent=2))

    stages.start("check", "dataset check")
    problems = [p for case in discover_cases(dataset) for p in check_case(case, label_set)]
    if problems:
        raise InputError(f"the demo dataset has problems: {problems[0]}", dataset)

    stages.start("planar", f"three weak planar models ({profile} profile, {clicks_per_class} clicks per vertebra)")
    for axis in ("axial", "coronal", "sagittal"):  # the report measures them; no per-epoch validation needed
        train_planar(dataset, axis, runs / "planar" / axis, profile=profile, seed=seed, device=device, val_every=0)

    stages.start("fuse", f"pseudo-masks ({DEFAULT_FUSION} fusion, smoothing)")
    annotated_cases = [c for c in discover_cases(dataset) if c.has_points]
    fuse_cases(annotated_cases, runs / "planar", label_set, torch_device)

    stages.start("final", "final model on the pseudo-masks")
    train_supervised(dataset, "pseudo", runs / "final", profile=profile, seed=seed, device=device, val_every=0)
    stages.start("reference", "reference model on the full labels")
    train_supervised(dataset, "labels", runs / "reference", profile=profile, seed=seed, device=device, val_every=0)

    extra_clicks = tuple(c for c in curve_clicks if c != clicks_per_class)
    if curve and extra_clicks:
        stages.start("curve", f"label-efficiency curve: pseudo-masks from {', '.join(map(str, extra_clicks))} clicks")
        points = efficiency_curve(out, dataset, profile, seed, background_clicks, device, extra_clicks)
        write_text(runs / "efficiency.json", json.dumps(points, indent=2))

    stages.start("report", "report")
    results = collect_results([runs], dataset, out / "report", torch_device)
    if curve:  # the curve's point at the main click count is Table 1's run; kept for `pointseg report`
        results["efficiency"] = sorted(results["efficiency"] + [{
            "clicks_per_vertebra": clicks_per_class,
            "pseudo_dice_wi": (results["table"].get("pseudo") or {}).get("dice_wi"),
            "result_dice_wi": (results["table"].get("result") or {}).get("dice_wi"),
        }], key=lambda p: p["clicks_per_vertebra"])
        write_text(runs / "efficiency.json", json.dumps(results["efficiency"], indent=2))
    stages.stop()
    results["timings"] = {f"{k} (s)": v for k, v in stages.timings.items()}
    results["config"] = {"profile": profile, "seed": seed, "annotated_cases": annotated, "test_cases": test,
                         "clicks_per_vertebra": clicks_per_class, "background_clicks": background_clicks,
                         "curve": "every point of the label-efficiency curve trains with the same budget as Table 1; "
                                  f"its point at {clicks_per_class} clicks per vertebra is Table 1's run"}
    paths = write_report(results, out / "report")
    return paths["html"]


def efficiency_curve(out: Path, dataset: Path, profile: str, seed: int, background: int, device: str,
                     clicks_per_vertebra: tuple[int, ...] = CURVE_CLICKS) -> list[dict]:
    """Dice_wi of the pseudo-masks (on the annotated cases) and of the final model (on the test cases)
    against clicks per vertebra.

    Every point is built alike in ``out/curve/clicks-K`` (a copy of the annotated cases with K simulated
    clicks per vertebra): its own three planar models, fusion, and a final model on its pseudo-masks, all
    with the profile's full training budget, as Table 1's run — so one click count gives one number.
    """
    from pointseg.io.dataset import held_out_case_ids
    from pointseg.report.collect import evaluate_pseudo, evaluate_run
    from pointseg.device import resolve_device
    from pointseg.pseudo.pipeline import fuse_cases
    from pointseg.train.planar import train_planar
    from pointseg.train.supervised import train_supervised

    label_set = get_label_set()
    torch_device = resolve_device(device)
    all_cases = discover_cases(dataset)
    annotated = [c for c in all_cases if c.has_points]
    test_ids = held_out_case_ids(dataset)
    test = [c for c in all_cases if c.id in test_ids and c.labels_path is not None]
    points = []
    for clicks in clicks_per_vertebra:
        copy = out / "curve" / f"clicks-{clicks}"
        for case in annotated:
            (copy / case.id).mkdir(parents=True, exist_ok=True)
            for name in ("ct.nii.gz", "labels.nii.gz"):
                shutil.copyfile(case.dir / name, copy / case.id / name)
        write_simulated_clicks(copy, label_set, ClickConfig(per_class=clicks, background=background), seed, force=True)
        for axis in ("axial", "coronal", "sagittal"):
            train_planar(copy, axis, copy / "planar-runs" / axis, profile=profile, seed=seed, device=device,
                         val_every=0)
        cases = [c for c in discover_cases(copy) if c.has_points]
        fuse_cases(cases, copy / "planar-runs", label_set, torch_device)
        summary = evaluate_pseudo(cases, label_set)
        result = None
        if test:
            train_supervised(copy, "pseudo", copy / "final", profile=profile, seed=seed, device=device, val_every=0)
            result = evaluate_run(copy / "final", test, "result", label_set, torch_device, None)["dice_wi"]
        points.append({"clicks_per_vertebra": clicks, "pseudo_dice_wi": summary["dice_wi"] if summary else None,
                       "result_dice_wi": result})
        say(f"  {clicks} click(s) per vertebra: pseudo-mask Dice_wi {points[-1]['pseudo_dice_wi']:.3f}"
            + (f", result Dice_wi {result:.3f}" if result is not None else ""))
    return points
