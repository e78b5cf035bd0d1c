"""The GPU path end to end, on tiny lumbar phantoms: what the CPU suite cannot check.

For the 3D pipeline (``unet3d``, tiny profile) and the 2D one (``fcn8``, tiny profile):

1. train on CUDA (mixed precision: bf16 autocast; channels-last for 2D), then resume one more epoch on CUDA
   and check the checkpoint carries the CUDA random state;
2. predict the same test CT on CUDA (bf16, as trained) and on the CPU (float32) with the same weights and
   print the share of voxels whose labels agree, and both predictions' seconds.

Usage: ``python benchmarks/cuda_check.py [--work out/bench-cuda]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from pointseg.cli import main as cli
from pointseg.io.volume import read_volume
from pointseg.predict import load_model
from pointseg.runs import load_checkpoint


def _predict_seconds(run: Path, ct, device: str) -> tuple[np.ndarray, float]:
    loaded = load_model(run, device)
    loaded.predict(ct, device)  # warm-up (cuDNN autotuning, allocations)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    labels = loaded.predict(ct, device).labels
    if device == "cuda":
        torch.cuda.synchronize()
    return labels, time.perf_counter() - start


def check(work: Path) -> dict:
    data = work / "data"
    if not data.exists():
        assert cli(["phantom", str(data), "--cases", "3", "--seed", "0", "--spacing", "2", "--quiet"]) == 0
        (data / "split.json").write_text(json.dumps({"test": ["phantom_002"]}), encoding="utf-8")
    ct = read_volume(data / "phantom_002" / "ct.nii.gz")
    out = {}
    for pipeline in ("unet3d", "fcn8"):
        run = work / f"run-{pipeline}"
        base = ["train", str(data), "--pipeline", pipeline, "--target", "labels", "--profile", "tiny", "--labels",
                "lumbar", "--out", str(run), "--device", "cuda", "--quiet"]
        start = time.perf_counter()
        assert cli(base + ["--epochs", "2"]) == 0, pipeline
        trained = time.perf_counter() - start
        assert cli(base + ["--epochs", "3", "--resume"]) == 0, pipeline
        checkpoint = load_checkpoint(run)
        gpu, gpu_s = _predict_seconds(run, ct, "cuda")
        cpu, cpu_s = _predict_seconds(run, ct, "cpu")
        out[pipeline] = {
            "train_2_epochs_s": round(trained, 2), "resumed_to_epoch": checkpoint["epoch"],
            "cuda_rng_saved": "cuda" in checkpoint["rng"], "gpu": checkpoint["environment"].get("gpu"),
            "labels_agree_cuda_bf16_vs_cpu_fp32": float(np.mean(gpu == cpu)),
            "classes_cuda": int(len(np.unique(gpu))), "predict_cuda_s": round(gpu_s, 3),
            "predict_cpu_s": round(cpu_s, 3), "cpu_over_cuda": round(cpu_s / gpu_s, 1),
        }
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="out/bench-cuda")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("cuda_check: no CUDA device here")
    print(json.dumps(check(Path(args.work)), indent=2))
