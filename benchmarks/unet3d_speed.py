"""Seed 001's speed questions on one machine, in one run: training iterations and whole-scan prediction.

1. **Seconds per training iteration** (forward, loss, backward, Adam; batch 1) of the No-New-Net U-Net
   for several patch sizes, with the full loss (CE + Dice, eq. 1) and with CE alone, at the ``bones``
   label set's 62 classes (the paper's Table 1 "s" column). Defaults: the quick network and patches
   32/48/64 on a CPU, the paper's network and patches 96/128/160 on a GPU.
2. **Balanced vs uniform sampling** on one prepared upper-body phantom: seconds to draw a patch, the
   number of classes in a patch, and how often the rarest bones are in one.
3. **Whole-scan prediction**: ``VolumetricPredictor.predict`` end to end (resampling, sliding window in
   slabs, arg-max, labels back on the CT's grid) against the bare ``sliding_window_inference`` forward
   over the same resampled scan, and the peak memory of the end-to-end run over the CT's size (float32).
   Memory is measured in a fresh process after the CT is loaded: the kernel's peak resident size (``VmHWM``,
   reset through ``/proc/self/clear_refs`` where Linux allows it) above the resident size before predicting.

Usage: ``python benchmarks/unet3d_speed.py [--device cpu|cuda] [--patches 32 48 64] [--repeats 5]``.
The phantom is generated into ``--work`` (default ``out/bench-unet3d-speed``) on first use.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pointseg.labels import get_label_set
from pointseg.models import build_model
from pointseg.train.losses.many_class import SparseDiceCELoss
from pointseg.train.unet3d import PROFILES

LABELS = "bones"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def iteration_seconds(filters, patch: int, classes: int, ce_only: bool, device: torch.device, repeats: int,
                      batch: int = 1) -> float:
    model = build_model("no_new_net", num_classes=classes, filters=filters).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = SparseDiceCELoss(ce_only=ce_only)
    x = torch.rand(batch, 1, patch, patch, patch, device=device)
    y = torch.randint(0, classes, (batch, patch, patch, patch), device=device)
    times = []
    for n in range(repeats + 2):  # two warm-up iterations
        _sync(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(x)
        loss(logits, y).backward()
        optimizer.step()
        _sync(device)
        if n >= 2:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def phantom_case(work: Path):
    from pointseg.io.dataset import discover_cases

    data = work / "data"
    if not data.exists():
        subprocess.run([sys.executable, "-m", "pointseg", "phantom", str(data), "--anatomy", "upper-body",
                        "--cases", "1", "--spacing", "2", "--quiet"], check=True)
    return discover_cases(data)[0]


def sampling(work: Path, patch: int, draws: int) -> dict:
    from pointseg.train.volumetric import (PatchDataset, VolumetricConfig, default_views, patch_loader,
                                           patch_transforms)
    from pointseg.train.cases import class_indices, prepare_case

    label_set = get_label_set(LABELS)
    case = phantom_case(work)
    out = {}
    for name in ("balanced", "uniform"):
        config = VolumetricConfig(spacing=2.0, patch=(patch,) * 3, sampling=name, intensity=False)
        item = prepare_case(case, "labels", config, label_set)
        volume = np.bincount(item["label"].ravel(), minlength=label_set.num_classes)
        if name == "balanced":
            item = class_indices(item, label_set.num_classes, 20000, seed=0)
        views = default_views(config)
        dataset = PatchDataset([item], patch_transforms(config, views), views)
        present = np.zeros(label_set.num_classes)
        start = time.perf_counter()
        for batch in patch_loader(dataset, draws, 1, seed=0):
            present[np.unique(batch["label"].numpy())] += 1
        seconds = (time.perf_counter() - start) / draws
        classes = np.flatnonzero(volume[1:] > 0) + 1
        rare = classes[np.argsort(volume[classes])[:10]]  # the ten smallest bones of the scan
        out[name] = {"seconds_per_patch": seconds, "classes_per_patch": float(present[1:].sum() / draws),
                     "rare_in_patch": float(present[rare].mean() / draws),
                     "least_seen": float(present[classes].min() / draws)}
    return out


def _status_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> int:
    """Reset the process's peak resident size where Linux allows it; the resident size now (bytes)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux: the peak since start stands (an upper bound on the loading's share)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return _status_bytes("VmRSS")


def _peak_rss() -> int:
    peak = _status_bytes("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def predict_child(work: Path, profile: str, device: str, sw_batch: int) -> None:
    """In a fresh process: whole-scan prediction of the phantom by stages, and the bare forward; one JSON line.

    A network with random weights calls every voxel some class, so every class's box is the whole scan and
    bringing its labels back to the CT's grid would cost 61 whole-scan interpolations (73 s here); a trained
    network's labels are bones in their own boxes. That stage is therefore timed on the phantom's own labels
    resampled to the model grid, which is what a good prediction looks like.
    """
    from monai.inferers import sliding_window_inference

    from pointseg.device import autocast
    from pointseg.io.volume import Volume
    from pointseg.predict.volume import labels_to_grid, normalise_ct, resample_ct, resample_labels, sliding_window_labels

    label_set = get_label_set(LABELS)
    settings = PROFILES[profile]
    spacing, patch, overlap = settings["spacing"], tuple(settings["patch"]), settings.get("overlap", 0.5)
    torch_device = torch.device(device)
    model = build_model("no_new_net", num_classes=label_set.num_classes, filters=settings["filters"]).to(torch_device)
    model.eval()
    case = phantom_case(work)
    ct, truth = case.load_ct(), case.load_labels(label_set)
    before = _reset_peak_rss()
    stages = {}
    start = time.perf_counter()
    model_ct = resample_ct(ct, spacing)
    image = normalise_ct(model_ct.array)
    stages["resample"] = time.perf_counter() - start
    start = time.perf_counter()
    sliding_window_labels(model, image, patch, label_set.num_classes, overlap, torch_device, sw_batch)
    _sync(torch_device)
    stages["sliding window, softmax, arg-max (slabs)"] = time.perf_counter() - start
    realistic = Volume(resample_labels(truth, spacing).array, model_ct.affine)
    start = time.perf_counter()
    labels_to_grid(realistic, ct.shape, ct.affine, label_set.num_classes)
    stages["labels back on the CT grid"] = time.perf_counter() - start
    peak = _peak_rss() - before
    gpu_peak = torch.cuda.max_memory_allocated() if torch_device.type == "cuda" else None
    x = torch.from_numpy(image)[None, None].to(torch_device)
    _sync(torch_device)
    start = time.perf_counter()
    with torch.no_grad(), autocast(torch_device):  # the prediction's own mixed precision
        sliding_window_inference(x, patch, sw_batch, model, overlap=overlap, mode="gaussian")
    _sync(torch_device)
    bare = time.perf_counter() - start
    print(json.dumps({"stages": stages, "bare_s": bare, "peak_bytes": peak, "gpu_peak_bytes": gpu_peak,
                      "ct_bytes": int(np.prod(ct.shape)) * 4, "shape": list(ct.shape),
                      "model_shape": list(image.shape)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--patches", type=int, nargs="+", help="patch edges (default 32 48 64 on CPU, 96 128 160 on GPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--draws", type=int, default=200, help="patches drawn per sampling strategy")
    parser.add_argument("--work", default="out/bench-unet3d-speed")
    parser.add_argument("--sw-batch", type=int, default=4, help="windows per forward pass when predicting")
    parser.add_argument("--child", choices=("predict",), help=argparse.SUPPRESS)
    parser.add_argument("--profile", default=None, help="network profile (default quick on CPU, paper on GPU)")
    args = parser.parse_args()
    device = torch.device(args.device)
    profile = args.profile or ("paper" if device.type == "cuda" else "quick")
    work = Path(args.work)
    if args.child == "predict":
        predict_child(work, profile, args.device, args.sw_batch)
        return
    classes = get_label_set(LABELS).num_classes
    filters = PROFILES[profile]["filters"]
    patches = args.patches or ([96, 128, 160] if device.type == "cuda" else [32, 48, 64])
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'}), "
          f"{profile} network (filters {list(filters)}), {classes} classes, batch 1, median of {args.repeats}")
    print(f"{'patch':>7s}{'CE + Dice s':>13s}{'CE s':>9s}{'ratio':>8s}")
    for patch in patches:
        full = iteration_seconds(filters, patch, classes, False, device, args.repeats)
        ce = iteration_seconds(filters, patch, classes, True, device, args.repeats)
        print(f"{patch:>5d}^3{full:13.3f}{ce:9.3f}{full / ce:8.2f}")
    patch = PROFILES[profile]["patch"][0]
    batch = max(2, PROFILES[profile]["batch_size"])
    one = iteration_seconds(filters, patch, classes, False, device, args.repeats)
    many = iteration_seconds(filters, patch, classes, False, device, args.repeats, batch=batch)
    print(f"batch {batch} vs 1 at {patch}^3 (CE + Dice): {many:.3f} s vs {one:.3f} s a step, {many / batch:.3f} vs "
          f"{one:.3f} s a patch, ratio per patch {many / batch / one:.2f}")

    patch = PROFILES[profile]["patch"][0]
    numbers = sampling(work, patch, args.draws)
    print(f"sampling, one upper-body phantom at 2 mm, {patch}^3 patches, {args.draws} draws each:")
    print(f"{'':10s}{'s / patch':>11s}{'classes / patch':>17s}{'10 smallest in patch':>22s}{'least-seen bone':>17s}")
    for name, n in numbers.items():
        print(f"{name:10s}{n['seconds_per_patch']:11.4f}{n['classes_per_patch']:17.1f}{n['rare_in_patch']:22.2f}"
              f"{n['least_seen']:17.2f}")
    b, u = numbers["balanced"], numbers["uniform"]
    print(f"balanced / uniform: {b['seconds_per_patch'] / u['seconds_per_patch']:.2f}x time per patch, "
          f"{b['rare_in_patch'] / max(u['rare_in_patch'], 1e-9):.2f}x presence of the smallest bones")

    done = subprocess.run([sys.executable, __file__, "--child", "predict", "--work", str(work), "--device", args.device,
                           "--profile", profile, "--sw-batch", str(args.sw_batch)],
                          check=True, capture_output=True, text=True)
    p = json.loads(done.stdout.strip().splitlines()[-1])
    total = sum(p["stages"].values())
    print(f"whole-scan predict ({profile} network, {args.sw_batch} windows a pass), phantom {p['shape']} at 2 mm "
          f"-> model grid {p['model_shape']}:")
    for stage, seconds in p["stages"].items():
        print(f"  {stage:42s}{seconds:8.1f} s")
    print(f"  {'end to end':42s}{total:8.1f} s   bare sliding-window forward {p['bare_s']:.1f} s, ratio "
          f"{total / p['bare_s']:.2f}")
    print(f"  peak memory above the loaded CT {p['peak_bytes'] / 2**20:.0f} MiB = {p['peak_bytes'] / p['ct_bytes']:.2f} x "
          f"the CT as float32" + (f"; GPU peak {p['gpu_peak_bytes'] / 2**30:.2f} GiB" if p["gpu_peak_bytes"] else ""))

if __name__ == "__main__":
    main()
