"""Pseudo-masks of upper-body phantoms from clicks, for a label set of many classes: Dice per group and cost.

Runs the command line on ``--cases`` upper-body phantoms: ``phantom --anatomy upper-body`` (timed),
``simulate-clicks --labels SET --per-class K``, ``fuse`` (which trains the three planar models of the
profile on the clicks first, timed), then evaluates every case's pseudo-mask against its full labels
in the same set and prints, next to each other:

* the mean Dice per group of structures (vertebrae, ribs, large bones, organs) and Dice_wi, over the cases;
* the fused planar arg-max without refinement (``--refinement none`` on the same planar predictions), so
  the refinement's share is visible on the same cases;
* the labelling cost per group: clicks against drawing every structure on every axial slice.

Usage: ``python benchmarks/upper_body.py [--labels bones|ribs|spine] [--cases 3] [--profile quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pointseg.metrics.cost import dataset_cost
from pointseg.io.dataset import discover_cases
from pointseg.device import resolve_device
from pointseg.pseudo.pipeline import fuse_cases
from pointseg.labels import get_label_set
from pointseg.metrics.dice import dice_scores
from pointseg.train.pipelines import PROFILES
from pointseg.io.volume import read_volume


def run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pointseg", *args], check=True)
    return time.perf_counter() - start


def scores(dataset: Path, label_set) -> dict:
    """Mean Dice per group and Dice_wi of every case's pseudo.nii.gz against its labels in ``label_set``."""
    groups: dict[str, list[float]] = {}
    dice_wi = []
    for case in discover_cases(dataset):
        result = dice_scores(read_volume(case.pseudo_path).array, case.load_labels(label_set).array,
                             label_set.num_classes)
        dice_wi.append(result.dice_wi)
        for group, value in result.group_dice(label_set).items():
            groups.setdefault(group, []).append(value)
    return {"dice_wi": float(np.mean(dice_wi)), **{g: float(np.mean(v)) for g, v in groups.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="bones")
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=5)
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--profile", default="quick", choices=tuple(PROFILES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/bench-upper-body", help="work folder (kept, to look at)")
    args = parser.parse_args()
    label_set = get_label_set(args.labels)
    out = Path(args.out) / args.labels
    data = out / "data"
    if data.exists():
        raise SystemExit(f"{data} exists; remove it or give another --out")
    phantom_s = run("phantom", str(data), "--cases", str(args.cases), "--seed", str(args.seed), "--anatomy",
                    "upper-body", "--spacing", str(args.spacing), "--quiet") / args.cases
    run("simulate-clicks", str(data), "--labels", args.labels, "--per-class", str(args.per_class), "--seed",
        str(args.seed), "--quiet")
    fuse_s = run("fuse", str(data), "--labels", args.labels, "--profile", args.profile, "--seed", str(args.seed),
                 "--quiet")
    refined = scores(data, label_set)
    # the same planar predictions, fused without refinement
    fuse_cases(discover_cases(data), None, label_set, resolve_device("cpu"), refinement="none")
    plain = scores(data, label_set)
    cost = dataset_cost(discover_cases(data), label_set)
    print(f"{args.cases} upper-body phantoms at {args.spacing} mm, label set {label_set.name} "
          f"({label_set.num_classes - 1} structures), {args.per_class} clicks each, {args.profile} profile, CPU")
    print(f"phantom generation: {phantom_s:.1f} s per case (process start shared); "
          f"planar training + fuse: {fuse_s / 60:.1f} min")
    print(f"{'':14s}{'refined':>9s}{'fused only':>12s}{'ratio':>8s}")
    for key in refined:
        ratio = refined[key] / plain[key] if plain.get(key) else float("nan")
        print(f"{key:14s}{refined[key]:9.3f}{plain.get(key, float('nan')):12.3f}{ratio:8.2f}")
    print(f"{'cost':14s}{'clicks':>9s}{'click s':>10s}{'full s':>10s}{'ratio':>8s}")
    for group, values in cost["groups"].items():
        print(f"{group:14s}{values['clicks']:9d}{values['click_seconds']:10.0f}{values['full_seconds']:10.0f}"
              f"{values['cost_ratio']:8.3f}")
    print(f"{'all':14s}{cost['clicks']:9d}{cost['click_seconds']:10.0f}{cost['full_seconds']:10.0f}"
          f"{cost['cost_ratio']:8.3f}")
    (out / "numbers.json").write_text(json.dumps({"refined": refined, "fused_only": plain, "cost": cost["groups"],
                                                  "phantom_s": phantom_s, "fuse_s": fuse_s}, indent=2))


if __name__ == "__main__":
    main()
