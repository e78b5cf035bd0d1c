"""Fusion strategies compared on phantoms, and the time and memory that ``fuse`` takes per case.

Needs a dataset whose cases have ``points.csv`` and ``labels.nii.gz`` and the three planar runs, e.g.::

    pointseg phantom data --cases 5 && pointseg simulate-clicks data
    pointseg fuse data            # trains the missing planar models (quick profile)
    python benchmarks/fuse_strategies.py data [--runs data/planar-runs]

For every case it predicts once with the three planar models, then fuses with every registered strategy
(plus smoothing) and prints the pseudo-mask Dice_wi per strategy (mean over cases). It also prints the
seconds per stage of one ``fuse_case`` and its peak memory traced by ``tracemalloc`` (NumPy buffers) as a
multiple of the CT's float32 size.
"""

from __future__ import annotations

import argparse
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from pointseg.io.dataset import discover_cases
from pointseg.labels import get_label_set
from pointseg.metrics.dice import dice_scores
from pointseg.pseudo.fusion import FUSIONS
from pointseg.io.dataset import FUSED_PROBABILITIES_NAME as FUSED_FILE
from pointseg.pseudo.pipeline import fuse_case, fuse_probabilities, load_planar_models, predict_planar
from pointseg.pseudo.smoothing import smooth_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--runs")
    args = parser.parse_args()
    dataset = Path(args.dataset)
    runs = Path(args.runs) if args.runs else dataset / "planar-runs"
    label_set = get_label_set()
    device = torch.device("cpu")
    models = load_planar_models(runs, device)
    cases = [c for c in discover_cases(dataset) if c.has_points and c.labels_path is not None]
    scores: dict[str, list[float]] = {name: [] for name in sorted(FUSIONS)}
    raw: dict[str, list[float]] = {name: [] for name in sorted(FUSIONS)}
    for case in cases:
        planar = predict_planar(case, models, device, label_set)
        labels, ct = case.load_labels(), case.load_ct()
        for name in scores:
            fused = fuse_probabilities(planar, case.dir / f".bench-{FUSED_FILE}", name)
            raw[name].append(dice_scores(fused, labels.array, label_set.num_classes).dice_wi)
            smoothed = smooth_labels(fused, ct.spacing, label_set.num_classes)
            scores[name].append(dice_scores(smoothed, labels.array, label_set.num_classes).dice_wi)
            (case.dir / f".bench-{FUSED_FILE}").unlink()
    print(f"pseudo-mask Dice_wi over {len(cases)} case(s) (fused / fused + smoothed):")
    for name in sorted(scores, key=lambda n: -np.mean(scores[n])):
        print(f"  {name:<18} {np.mean(raw[name]):.3f} / {np.mean(scores[name]):.3f}")

    case = cases[0]
    ct_bytes = int(np.prod(case.load_ct().shape)) * 4
    tracemalloc.start()
    timings = fuse_case(case, models, device, label_set)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"fuse_case {case.id}: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"peak traced memory {peak / 2**20:.0f} MiB = {peak / ct_bytes:.1f} x the CT's float32 size "
          f"({ct_bytes / 2**20:.0f} MiB); target < 4 x")


if __name__ == "__main__":
    main()
