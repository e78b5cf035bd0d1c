"""Memory and time of CE + soft Dice with many classes: the sparse loss against MONAI's one-hot ``DiceCELoss``.

For each number of classes C (``--classes``, default 8 32 64 126) on a 1 x C x S^3 patch (``--size``, default
64), runs forward + backward of :class:`pointseg.train.losses.many_class.SparseDiceCELoss` ("ours") and of
``monai.losses.DiceCELoss(to_onehot_y=True, softmax=True, batch=True)`` on the same random float32 logits
and label map, and prints per C:

* the loss's own peak extra memory in MiB (above the logits, their target and the libraries), also divided
  by the size of the logits tensor, and the ratio ours / MONAI;
* the best time of forward + backward over ``--repeats`` runs.

On CUDA the extra memory is ``torch.cuda.max_memory_allocated`` minus what is allocated before the loss
(peak reset in between). On CPU each configuration runs in a fresh subprocess (this script with the hidden
``--child`` flag) and the extra memory is its peak resident memory (``getrusage``'s ``ru_maxrss``) minus that
of a subprocess which only allocates the logits and the target (all of them run both losses on a tiny patch
first, so that the libraries' code and thread pools count in none of the differences).

Usage: ``python benchmarks/many_class_loss.py [--size 64] [--classes 8 32 64 126] [--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
from monai.losses import DiceCELoss

from pointseg.device import resolve_device
from pointseg.train.losses.many_class import SparseDiceCELoss

KINDS = ("baseline", "ours", "monai")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_inputs(classes: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits (1, C, S, S, S) that need a gradient and a random label map (1, S, S, S)."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn((1, classes, size, size, size), generator=generator).to(device).requires_grad_()
    target = torch.randint(0, classes, (1, size, size, size), generator=generator).to(device)
    return logits, target


def make_loss(kind: str):
    """``loss(logits, target)`` of one kind; MONAI takes the target with a channel axis."""
    if kind == "ours":
        return SparseDiceCELoss()
    monai = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    return lambda logits, target: monai(logits, target[:, None])


def run(kind: str, logits: torch.Tensor, target: torch.Tensor, repeats: int) -> float:
    """Best seconds of forward + backward over ``repeats`` runs (``kind="baseline"``: nothing runs, 0)."""
    if kind == "baseline":
        return 0.0
    loss_fn = make_loss(kind)
    best = float("inf")
    for _ in range(repeats):
        logits.grad = None
        _sync(logits.device)
        start = time.perf_counter()
        loss_fn(logits, target).backward()
        _sync(logits.device)
        best = min(best, time.perf_counter() - start)
    return best


def child(kind: str, classes: int, size: int, repeats: int) -> None:
    """One CPU configuration in this fresh process: prints ``{"rss": peak MiB, "seconds": ...}`` as JSON.

    Every child, the baseline included, first runs both losses on a 4^3 patch, so that the code they page
    in and the thread pools they start are in all the peaks and cancel out in the differences.
    """
    for warm_up in ("ours", "monai"):
        run(warm_up, *make_inputs(classes, 4, torch.device("cpu")), 1)
    logits, target = make_inputs(classes, size, torch.device("cpu"))
    seconds = run(kind, logits, target, repeats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rss": rss, "seconds": seconds}))


def measure_cpu(kind: str, classes: int, size: int, repeats: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, "--classes", str(classes), "--size", str(size),
               "--repeats", str(repeats)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_cuda(kind: str, classes: int, size: int, repeats: int, device: torch.device) -> dict[str, float]:
    logits, target = make_inputs(classes, size, device)
    run(kind, logits, target, 1)  # warm-up: kernels, workspaces
    logits.grad = None
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    seconds = run(kind, logits, target, repeats)
    extra = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    del logits, target
    torch.cuda.empty_cache()
    return {"extra": extra, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="edge of the cubic patch in voxels")
    parser.add_argument("--classes", type=int, nargs="+", default=[8, 32, 64, 126])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (the best is kept)")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.classes[0], args.size, args.repeats)
        return
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}), patch 1 x C x {args.size}^3, float32, best of {args.repeats}; "
          "extra = the loss's peak memory above logits + target")
    print(f"{'C':>4} {'logits MiB':>10} {'ours MiB':>9} {'MONAI MiB':>9} {'ours/MONAI':>10} "
          f"{'ours/logits':>11} {'MONAI/logits':>12} {'ours ms':>8} {'MONAI ms':>8}")
    for classes in args.classes:
        logits_mib = classes * args.size**3 * 4 / 2**20
        if device.type == "cuda":
            ours = measure_cuda("ours", classes, args.size, args.repeats, device)
            monai = measure_cuda("monai", classes, args.size, args.repeats, device)
        else:
            base = measure_cpu("baseline", classes, args.size, args.repeats)["rss"]
            ours, monai = (measure_cpu(kind, classes, args.size, args.repeats) for kind in ("ours", "monai"))
            ours["extra"], monai["extra"] = ours["rss"] - base, monai["rss"] - base
        print(f"{classes:>4} {logits_mib:>10.1f} {ours['extra']:>9.1f} {monai['extra']:>9.1f} "
              f"{ours['extra'] / monai['extra']:>10.2f} {ours['extra'] / logits_mib:>11.2f} "
              f"{monai['extra'] / logits_mib:>12.2f} {ours['seconds'] * 1000:>8.0f} {monai['seconds'] * 1000:>8.0f}")


if __name__ == "__main__":
    main()
