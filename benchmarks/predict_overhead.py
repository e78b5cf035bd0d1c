"""How much of ``pointseg predict`` is the network, and how much is IO, preprocessing and stitching.

Writes one phantom case and a checkpoint with the quick profile's network (random weights: the cost of a
forward pass does not depend on the values), then times on the same slices:

* the bare network forward (``model(batch)`` over every preprocessed slice, ``torch.no_grad``), and
* ``predict_file`` end to end (read CT, resample, slice, CLAHE, forward, softmax, back to the CT grid,
  write labels NIfTI and float16 probabilities).

Prints both and their ratio. Usage: ``python benchmarks/predict_overhead.py [--profile quick|paper]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from pointseg.predict import load_model, predict_file
from pointseg.predict.planar import slices_to_tensor
from pointseg.models import build_model
from pointseg.imaging.preprocess import preprocess_case
from pointseg.simulate.cases import write_phantoms
from pointseg.io.volume import read_volume
from pointseg.train.config import make_config
from pointseg.train.pipelines import PROFILES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=tuple(PROFILES))
    parser.add_argument("--axis", default="sagittal")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_phantoms(root / "data", 1, seed=0)
        ct_path = root / "data" / "phantom_000" / "ct.nii.gz"
        config = make_config(args.profile, axis=args.axis)
        spec = config.model_spec(6)
        model = build_model(**spec)
        run = root / "run"
        run.mkdir()
        torch.save({"model": model.state_dict(), "config": {**config.to_dict(), "model": spec}}, run / "checkpoint_last.pt")

        loaded = load_model(run)
        stack = preprocess_case(read_volume(ct_path), args.axis, loaded.preprocess)
        with torch.no_grad():
            loaded.model(slices_to_tensor(stack.image[: args.batch_size]))  # warm-up
            start = time.perf_counter()
            for i in range(0, len(stack.image), args.batch_size):
                loaded.model(slices_to_tensor(stack.image[i : i + args.batch_size]))
            bare = time.perf_counter() - start

        start = time.perf_counter()
        predict_file(run, ct_path, root / "pred.nii.gz", root / "probs.h5", "cpu", args.batch_size, show_progress=False)
        end_to_end = time.perf_counter() - start

    print(f"profile {args.profile}, axis {args.axis}: {len(stack.image)} slices of {stack.image.shape[1:]}, "
          "one default-size phantom")
    print(f"bare forward      {bare:7.2f} s")
    print(f"predict end to end {end_to_end:7.2f} s")
    print(f"ratio end-to-end / forward = {end_to_end / bare:.2f}  (overhead {end_to_end - bare:.2f} s)")


if __name__ == "__main__":
    main()
