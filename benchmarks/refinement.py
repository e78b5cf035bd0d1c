"""Image-guided refinement against none, on phantoms: pseudo-mask Dice_wi from the same planar predictions.

Builds (or reuses) a phantom dataset with simulated clicks and the three planar models of a profile,
predicts each annotated case once, then fuses those same planar predictions with every refinement in
``STEPS`` and prints the pseudo-mask Dice_wi per case, the mean, the ratio to ``none`` on the same
cases, and the seconds the refinement itself took. The same comparison on real CT is in
``benchmarks/real_ct.py``.

    .venv/bin/python benchmarks/refinement.py --out /tmp/refine [--cases 3] [--profile quick] [--seed 0]

``--timing CASE`` instead times the default refinement alone on a large scan: the CT, fused labels and
probabilities of an already fused case (e.g. the real chest CT of ``benchmarks/real_ct.py`` run with
``--keep-probabilities``), repeated along the slice axis to at least 300 slices (512 x 512 x 300 for that
scan), as in a CT of the whole trunk; it prints seconds per refinement and per million voxels.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pointseg.simulate.clicks import ClickConfig
from pointseg.io.dataset import discover_cases
from pointseg.labels import get_label_set
from pointseg.metrics.dice import dice_scores
from pointseg.simulate.cases import write_phantoms, write_simulated_clicks
from pointseg.io.volume import read_volume
from pointseg.pseudo.pipeline import fuse_cases
from pointseg.train.planar import ensure_planar_models
from pointseg.predict.steps import STEPS


def time_large_scan(case_dir: Path, slices: int = 300) -> None:
    """Seconds of the default refinement on ``case_dir``'s CT repeated along its slice axis to ``slices``."""
    import h5py

    from pointseg.io.dataset import case_at
    from pointseg.io.dataset import FUSED_PROBABILITIES_NAME as FUSED_FILE
    from pointseg.imaging.bone import slice_axis
    from pointseg.io.volume import Volume
    from pointseg.predict.steps import DEFAULT_REFINEMENT, build_step

    label_set = get_label_set()
    case = case_at(case_dir)
    ct = case.load_ct()
    axis = slice_axis(ct.affine)
    with h5py.File(case.dir / FUSED_FILE, "r") as f:
        probs = f["probabilities"][...]
    labels = np.argmax(probs, axis=-1).astype(np.uint8)
    repeats = int(np.ceil(slices / ct.shape[axis]))
    big_ct = np.concatenate([ct.array] * repeats, axis=axis)
    big_labels = np.concatenate([labels] * repeats, axis=axis)
    big_probs = np.concatenate([probs] * repeats, axis=axis)
    points = case.load_points(label_set, ct)
    ijk, ids = points.ijk, points.label_ids(label_set)
    shift = np.zeros(3)
    shift[axis] = ct.shape[axis]
    clicks = (np.concatenate([ijk + n * shift for n in range(repeats)]), np.concatenate([ids] * repeats))
    refine = build_step(DEFAULT_REFINEMENT)
    start = time.perf_counter()
    refine(big_labels, big_probs, Volume(big_ct, ct.affine), clicks)
    seconds = time.perf_counter() - start
    print(f"{DEFAULT_REFINEMENT} on {case.id} repeated to {big_ct.shape} ({big_ct.size / 1e6:.0f} M voxels, "
          f"{len(clicks[1])} clicks): {seconds:.1f} s, {seconds / (big_ct.size / 1e6):.3f} s per million voxels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="work folder (dataset, planar runs)")
    parser.add_argument("--timing", type=Path, metavar="CASE", help="time the refinement on this fused case, "
                        "repeated to 300 slices, instead")
    parser.add_argument("--cases", type=int, default=3, help="annotated phantom cases")
    parser.add_argument("--clicks", type=int, default=5, help="clicks per vertebra")
    parser.add_argument("--profile", default="quick", help="profile of the planar models")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.timing is not None:
        time_large_scan(args.timing)
        return
    if args.out is None:
        parser.error("--out is needed (or --timing CASE)")

    label_set = get_label_set()
    dataset = args.out / "dataset"
    if not dataset.exists():
        write_phantoms(dataset, args.cases, args.seed)
        write_simulated_clicks(dataset, label_set, ClickConfig(per_class=args.clicks, background=15), args.seed)
    runs = dataset / "planar-runs"
    ensure_planar_models(dataset, runs, args.profile, args.seed, "cpu", label_set.name)
    cases = [c for c in discover_cases(dataset) if c.has_points and c.labels_path is not None]
    device = torch.device("cpu")
    fuse_cases(cases, runs, label_set, device, refinement="none")  # writes the planar predictions once

    scores: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    for name in STEPS:
        timings = fuse_cases(cases, None, label_set, device, refinement=name)
        seconds[name] = float(np.mean([t["refine_s"] for t in timings.values()]))
        scores[name] = {c.id: dice_scores(read_volume(c.pseudo_path).array, c.load_labels().array,
                                          label_set.num_classes).dice_wi for c in cases}

    ids = [c.id for c in cases]
    print(f"\nPseudo-mask Dice_wi on the annotated phantoms {ids} ({args.clicks} clicks per vertebra, "
          f"{args.profile} planar models, the same planar predictions for every refinement)")
    print(f"{'refinement':22s} " + " ".join(f"{i:>12s}" for i in ids) + f" {'mean':>7s} {'/ none':>7s} {'refine s':>9s}")
    base = float(np.mean(list(scores["none"].values())))
    for name in STEPS:
        mean = float(np.mean(list(scores[name].values())))
        print(f"{name:22s} " + " ".join(f"{scores[name][i]:12.3f}" for i in ids)
              + f" {mean:7.3f} {mean / base if base else float('nan'):7.2f} {seconds[name]:9.1f}")


if __name__ == "__main__":
    main()
