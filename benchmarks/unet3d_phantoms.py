"""Seed 001's pipeline on upper-body phantoms, trained on full labels and on pseudo-masks, this CPU.

Runs the command line end to end in a work folder (each stage is skipped when its output exists, so an
interrupted run continues):

1. ``phantom --anatomy upper-body``: ``--train`` annotated cases and ``--test`` held-out cases
   (``split.json``), ``simulate-clicks --labels bones`` on the annotated ones, ``fuse`` (its planar
   models trained with ``--planar-profile``);
2. ``train --pipeline unet3d --profile quick`` on ``labels`` and on ``pseudo`` (wall clock printed);
3. every test case predicted by both runs (seconds per scan) and scored with seed 001's metrics:
   median DSC with the distances to the 16th/84th percentiles (over classes with DSC > 0), detection
   ratio and foreground DSC, per group and over all bones, pooled over the test cases; plus the pseudo-
   masks themselves on the annotated cases, and the ratio pseudo-trained / label-trained.

Usage: ``python benchmarks/unet3d_phantoms.py [--out out/bench-unet3d] [--train 3] [--test 2]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from pointseg.io.dataset import discover_cases, held_out_case_ids
from pointseg.predict import load_model
from pointseg.labels import get_label_set
from pointseg.metrics.many_class import many_class_metrics
from pointseg.metrics.dice import dice_scores
from pointseg.runs import CHECKPOINT_NAME, read_run_file
from pointseg.io.volume import read_volume


def run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pointseg", *args], check=True)
    return time.perf_counter() - start


def row(metrics: dict) -> str:
    cells = []
    for name in ("vertebrae", "ribs", "large_bones"):
        group = metrics["groups"].get(name) or {}
        cells.append(_cell(group))
    return "  ".join(cells) + "  " + _cell(metrics["all"]) + f"  {_num(metrics['all'].get('fg'))}"


def _num(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def _cell(group: dict) -> str:
    if not group or group.get("median") is None:
        return f"{'-':>19s} {'-':>5s}"
    return f"{group['median']:.2f} -{group['lower']:.2f} +{group['upper']:.2f} {group['detection_ratio']:5.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/bench-unet3d", help="work folder (kept; stages already done are skipped)")
    parser.add_argument("--train", type=int, default=3, help="annotated cases (clicks, labels, pseudo-masks)")
    parser.add_argument("--test", type=int, default=2, help="held-out test cases")
    parser.add_argument("--spacing", type=float, default=2.0, help="phantom voxel size, mm")
    parser.add_argument("--planar-profile", default="tiny", help="profile of fuse's planar models")
    parser.add_argument("--profile", default="quick", help="unet3d profile")
    parser.add_argument("--epochs", type=int, help="override the unet3d profile's epochs")
    parser.add_argument("--targets", nargs="+", default=["labels", "pseudo"])
    parser.add_argument("--tag", default="", help="suffix of the run folders (unet3d-TARGET-TAG), to compare settings")
    parser.add_argument("--train-args", default="", help="extra options for train, e.g. '--spacing 4'")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    data = out / "data"
    label_set = get_label_set("bones")
    timings = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else {}
    suffix = f"-{args.tag}" if args.tag else ""  # run folders, timings and numbers of one compared setting

    if not data.exists():
        timings["phantoms_s"] = run("phantom", str(data), "--anatomy", "upper-body", "--cases",
                                    str(args.train + args.test), "--spacing", str(args.spacing), "--seed",
                                    str(args.seed), "--quiet")
        cases = sorted(c.id for c in discover_cases(data))
        (data / "split.json").write_text(json.dumps({"test": cases[args.train:]}))
        run("simulate-clicks", str(data), "--labels", "bones", "--per-class", "5", "--seed", str(args.seed), "--quiet")
        for case in cases[args.train:]:
            (data / case / "points.csv").unlink()
    annotated = [c for c in discover_cases(data) if c.has_points]
    test = [c for c in discover_cases(data) if c.id in held_out_case_ids(data)]
    if not all(c.pseudo_path.exists() for c in annotated):
        timings["fuse_s"] = run("fuse", str(data), "--labels", "bones", "--profile", args.planar_profile, "--seed",
                                str(args.seed), "--quiet")
    (out / "timings.json").write_text(json.dumps(timings, indent=2))

    for target in args.targets:
        folder = out / f"unet3d-{target}{suffix}"
        if not (folder / CHECKPOINT_NAME).exists():
            extra = ["--epochs", str(args.epochs)] if args.epochs else []
            timings[f"train_{target}{suffix}_s"] = run("train", str(data), "--pipeline", "unet3d", "--target", target,
                                               "--labels", "bones", "--profile", args.profile, "--out", str(folder),
                                               "--seed", str(args.seed), "--quiet", *extra, *args.train_args.split())
            (out / "timings.json").write_text(json.dumps(timings, indent=2))

    results = {}
    pseudo = {c.id: dice_scores(read_volume(c.pseudo_path).array, c.load_labels(label_set).array,
                                label_set.num_classes) for c in annotated}
    results["pseudo-masks (annotated cases)"] = many_class_metrics(pseudo, label_set)
    seconds = {}
    for target in args.targets:
        folder = out / f"unet3d-{target}{suffix}"
        model = load_model(folder)
        scores, spent = {}, []
        for case in test:
            ct = case.load_ct()
            start = time.perf_counter()
            labels = model.predict(ct).labels
            spent.append(time.perf_counter() - start)
            scores[case.id] = dice_scores(labels, case.load_labels(label_set).array, label_set.num_classes)
        results[f"unet3d on {target} (test cases)"] = many_class_metrics(scores, label_set)
        seconds[target] = sum(spent) / len(spent)
    config = read_run_file(out / f"unet3d-{args.targets[0]}{suffix}")["config"]
    print(f"upper-body phantoms at {args.spacing} mm: {len(annotated)} annotated, {len(test)} test; label set bones "
          f"({label_set.num_classes - 1} bones); unet3d profile {args.profile} (patch {config['patch']} at "
          f"{config['spacing']} mm, {config['epochs']} x {config['steps_per_epoch']} steps); fuse's planar profile "
          f"{args.planar_profile}; CPU")
    print(f"{'':32s}{'vertebrae DSC':>19s} {'dr':>5s}  {'ribs DSC':>19s} {'dr':>5s}  {'large bones DSC':>19s} "
          f"{'dr':>5s}  {'all DSC':>19s} {'dr':>5s}  {'fg':>5s}")
    for name, metrics in results.items():
        print(f"{name:32s}{row(metrics)}")
    both = [f"unet3d on {t} (test cases)" for t in ("pseudo", "labels")]
    if all(b in results for b in both):
        ratios = []
        for key, name in (("median", "median DSC"), ("detection_ratio", "detection ratio"), ("fg", "foreground DSC")):
            p, lab = results[both[0]]["all"][key], results[both[1]]["all"][key]
            ratios.append(f"{name} {p / lab:.2f}" if p is not None and lab else f"{name} -")
        print("pseudo-trained / label-trained (all bones, same test cases): " + ", ".join(ratios))
    for target, value in seconds.items():
        minutes = timings.get(f"train_{target}{suffix}_s", 0) / 60
        print(f"predict, unet3d on {target}: {value:.1f} s per test scan; training {minutes:.1f} min")
    numbers = {"results": results, "predict_s": seconds, "timings": timings}
    (out / f"numbers{suffix}.json").write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
