"""How much of a supervised training step is the network, and how much is sampling, augmentation and the loss.

Writes phantom cases, then on the same device and with the same batch size and window times:

* a training epoch of the ``fcn8`` pipeline on full labels (``SupervisedTrainer``: window sampling from the
  slice stacks, augmentation, forward, the profile's loss, backward, Adam; mixed precision and
  channels-last on CUDA), and
* the bare network: forward, cross-entropy, backward and Adam on a random batch of the same shape, with
  the same mixed precision.

Prints seconds per step of both, their ratio, and the peak GPU memory on CUDA. Usage:
``python benchmarks/train_step.py [--profile quick|paper] [--steps 40] [--device auto]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pointseg.device import resolve_device
from pointseg.models import build_model
from pointseg.simulate.cases import write_phantoms
from pointseg.train.pipelines import PROFILES
from pointseg.train.supervised import SupervisedTrainer, make_supervised_config


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_steps(config, num_classes: int, device: torch.device, steps: int) -> float:
    """Seconds per step of forward + CE + backward + Adam on random input of the training batch's shape."""
    model = build_model(**config.model_spec(num_classes)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    height, width = config.preprocess.size
    image = torch.rand(config.batch_size, 1 + 2 * config.context, height, width, device=device)
    target = torch.randint(0, num_classes, (config.batch_size, height, width), device=device)
    amp = torch.bfloat16 if device.type == "cuda" else None
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        image = image.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = F.cross_entropy(model(image).float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=tuple(PROFILES))
    parser.add_argument("--steps", type=int, default=40, help="timed steps")
    parser.add_argument("--cases", type=int, default=2, help="phantom cases to train on")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_phantoms(root / "data", args.cases, seed=0)
        config = make_supervised_config(args.profile, "labels", epochs=2, steps_per_epoch=args.steps, val_every=0)
        trainer = SupervisedTrainer(root / "data", config, root / "run", device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        history = trainer.fit()  # the first epoch warms up; the second is timed
        ours = history[-1]["seconds"] / args.steps
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
        bare = bare_steps(config, trainer.label_set.num_classes, device, args.steps)
    size = "x".join(map(str, config.preprocess.size))
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), profile "
          f"{args.profile}: batch {config.batch_size} of {size} windows, width {config.width}, loss {config.loss}")
    print(f"fcn8 training step   {ours * 1000:8.1f} ms")
    print(f"bare network step    {bare * 1000:8.1f} ms")
    print(f"ratio ours / bare    {ours / bare:8.2f}")
    if peak is not None:
        print(f"peak GPU memory      {peak:8.2f} GiB (training)")


if __name__ == "__main__":
    main()
