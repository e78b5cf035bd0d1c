"""Peak memory of ``fuse`` against the CT's size, for a label set of many classes.

Writes one phantom case (``--anatomy upper-body`` by default) with simulated clicks for the label set
(``--labels bones``: 61 bones + background), three planar runs with the profile's network and random
weights (memory does not depend on the weights' values), then runs ``fuse`` on the case in this process
and prints, per stage and overall:

* the peak of memory allocated by NumPy and Python (``tracemalloc``), divided by the CT's size as float32
  (the goal: at most 4), and
* the growth of the process' peak resident memory (which also counts PyTorch's allocations).

Usage: ``python benchmarks/fuse_memory.py [--labels bones] [--anatomy upper-body] [--spacing 2]``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from pointseg.io.dataset import discover_cases
from pointseg.device import resolve_device
from pointseg.labels import get_label_set
from pointseg.models import build_model
from pointseg.imaging.preprocess import AXES
from pointseg.pseudo import pipeline
from pointseg.runs import save_checkpoint, write_run_files
from pointseg.train.config import make_config
from pointseg.train.pipelines import PROFILES


def random_planar_runs(runs: Path, profile: str, label_set) -> None:
    for axis in AXES:
        config = make_config(profile, axis=axis, label_set=label_set.name)
        spec = config.model_spec(label_set.num_classes)
        model = build_model(**spec)
        run_config = {**config.to_dict(), "model": spec}
        write_run_files(runs / axis, config.run_info(), run_config, 0, None, {"train": [], "val": []})
        save_checkpoint(runs / axis, {"model": model.state_dict(), "config": run_config,
                                      "run": config.run_info().to_dict()})


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="bones")
    parser.add_argument("--anatomy", default="upper-body")
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--profile", default="quick", choices=tuple(PROFILES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    label_set = get_label_set(args.labels)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cli = [sys.executable, "-m", "pointseg"]
        subprocess.run(cli + ["phantom", str(root / "data"), "--cases", "1", "--seed", str(args.seed), "--anatomy",
                              args.anatomy, "--spacing", str(args.spacing), "--quiet"], check=True)
        subprocess.run(cli + ["simulate-clicks", str(root / "data"), "--labels", args.labels, "--quiet"], check=True)
        random_planar_runs(root / "runs", args.profile, label_set)
        case = discover_cases(root / "data")[0]
        ct_bytes = int(np.prod(case.load_ct().shape)) * 4
        device = resolve_device("cpu")
        models = pipeline.load_planar_models(root / "runs", device)
        base_rss = rss_mib()
        tracemalloc.start()
        stages = {}
        start = time.perf_counter()
        for name, run in (
            ("predict", lambda: pipeline.predict_planar(case, models, device, label_set)),
            ("fuse", lambda: pipeline.fuse_probabilities(case.planar_probabilities_path,
                                                         case.fused_probabilities_path, pipeline.DEFAULT_FUSION)),
        ):
            tracemalloc.reset_peak()
            t = time.perf_counter()
            result = run()
            stages[name] = (tracemalloc.get_traced_memory()[1], time.perf_counter() - t)
        labels = result
        tracemalloc.reset_peak()
        t = time.perf_counter()
        ct = case.load_ct()
        refined = pipeline.refine_case(case, labels, ct, label_set)
        stages["refine"] = (tracemalloc.get_traced_memory()[1], time.perf_counter() - t)
        tracemalloc.reset_peak()
        t = time.perf_counter()
        pipeline.smooth_labels(refined, ct.spacing, label_set.num_classes)
        stages["smooth"] = (tracemalloc.get_traced_memory()[1], time.perf_counter() - t)
        total = time.perf_counter() - start
        tracemalloc.stop()
        planar_mib = case.planar_probabilities_path.stat().st_size / 2**20
        fused_mib = case.fused_probabilities_path.stat().st_size / 2**20
    print(f"case: {args.anatomy} phantom at {args.spacing} mm, CT {ct.shape} = {ct_bytes / 2**20:.0f} MiB as float32; "
          f"label set {label_set.name} ({label_set.num_classes} classes); {args.profile} network, CPU")
    for name, (peak, seconds) in stages.items():
        print(f"{name:8s} peak {peak / 2**20:8.0f} MiB = {peak / ct_bytes:5.2f} x CT   {seconds:6.1f} s")
    worst = max(peak for peak, _ in stages.values())
    print(f"fuse     peak {worst / 2**20:8.0f} MiB = {worst / ct_bytes:5.2f} x CT (goal <= 4)   {total:6.1f} s")
    print(f"process peak resident memory grew by {rss_mib() - base_rss:.0f} MiB during fuse")
    print(f"files: planar_probabilities.h5 {planar_mib:.0f} MiB, pseudo_probabilities.h5 {fused_mib:.0f} MiB")


if __name__ == "__main__":
    main()
