"""Which loss, normalisation, output stride and augmentation the quick profile's supervised models use.

Trains the reference model (sagittal VGG16-FCN8 on full labels) once per variant (``2.5d``: the
neighbouring slices as the second and third input channels), all from the same
phantoms, seed and step budget, and prints Dice_wi on the training cases and on the held-out test cases
(so under-fitting and over-fitting can be told apart), with each variant's test Dice_wi as a ratio to
the first variant's (``before``: the quick profile as it was — median-frequency weighted CE, plain VGG,
stride-8 scores, dropout 0.5, no augmentation). Every number is measured on the same cases.

    .venv/bin/python benchmarks/supervised_choices.py --out /tmp/choices [--steps 640] [--variants a,b]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from pointseg.io.dataset import discover_cases
from pointseg.report.collect import evaluate_run
from pointseg.labels import get_label_set
from pointseg.simulate.cases import write_phantoms
from pointseg.train.supervised import train_supervised

PAPER_LIKE = dict(batch_norm=False, output_stride=8, dropout=0.5, augment=False)
VARIANTS: dict[str, dict] = {
    "before": dict(loss="weighted_ce", **PAPER_LIKE),
    "weighted_ce+bn+s4+aug": dict(loss="weighted_ce", batch_norm=True, output_stride=4, dropout=0.1, augment=True),
    "ce+bn+s4+aug": dict(loss="ce", batch_norm=True, output_stride=4, dropout=0.1, augment=True),
    "ce_dice+bn+s4+aug": dict(loss="ce_dice", batch_norm=True, output_stride=4, dropout=0.1, augment=True),
    "ce_dice+bn+s8+aug": dict(loss="ce_dice", batch_norm=True, output_stride=8, dropout=0.1, augment=True),
    "ce_dice+bn+s2+aug": dict(loss="ce_dice", batch_norm=True, output_stride=2, dropout=0.1, augment=True),
    "ce_dice+bn+s4": dict(loss="ce_dice", batch_norm=True, output_stride=4, dropout=0.1, augment=False),
    "ce_dice+bn+s4+aug+2.5d": dict(loss="ce_dice", batch_norm=True, output_stride=4, dropout=0.1, augment=True,
                                   context=1),
    "ce_dice+bn+s2+aug+2.5d": dict(loss="ce_dice", batch_norm=True, output_stride=2, dropout=0.1, augment=True,
                                   context=1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="work folder (phantoms and runs)")
    parser.add_argument("--train-cases", type=int, default=3)
    parser.add_argument("--test-cases", type=int, default=2)
    parser.add_argument("--steps", type=int, default=640, help="training steps per variant (quick profile: 640)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    dataset = args.out / "dataset"
    if not dataset.exists():
        write_phantoms(dataset, args.train_cases, args.seed)
        write_phantoms(dataset, args.test_cases, args.seed, first_index=args.train_cases)
        test_ids = [f"phantom_{n:03d}" for n in range(args.train_cases, args.train_cases + args.test_cases)]
        (dataset / "split.json").write_text(json.dumps({"test": test_ids}), encoding="utf-8")
    test_ids = set(json.loads((dataset / "split.json").read_text(encoding="utf-8"))["test"])
    cases = discover_cases(dataset)
    train = [c for c in cases if c.id not in test_ids]
    test = [c for c in cases if c.id in test_ids]
    label_set = get_label_set()
    device = torch.device("cpu")
    rows = []
    for name in args.variants.split(","):
        run = args.out / "runs" / name
        start = time.perf_counter()
        if not (run / "checkpoint_last.pt").exists():
            epochs = 16
            train_supervised(dataset, "labels", run, profile="quick", seed=args.seed, epochs=epochs,
                             steps_per_epoch=max(1, args.steps // epochs), val_every=0, **VARIANTS[name])
        seconds = time.perf_counter() - start
        on_train = evaluate_run(run, train, "reference", label_set, device, None)
        on_test = evaluate_run(run, test, "reference", label_set, device, None)
        rows.append({"variant": name, "train_dice_wi": on_train["dice_wi"], "test_dice_wi": on_test["dice_wi"],
                     "test_dice": on_test["dice"], "train_seconds": round(seconds, 1)})
        print(f"{name}: train {on_train['dice_wi']:.3f}  test {on_test['dice_wi']:.3f}  ({seconds:.0f} s)", flush=True)

    base = rows[0]["test_dice_wi"]
    print(f"\nReference model, {args.steps} steps, train cases {[c.id for c in train]}, test cases {[c.id for c in test]}")
    print(f"{'variant':28s} {'train Dice_wi':>13s} {'test Dice_wi':>12s} {'test / ' + rows[0]['variant']:>16s}")
    for row in rows:
        print(f"{row['variant']:28s} {row['train_dice_wi']:13.3f} {row['test_dice_wi']:12.3f} "
              f"{row['test_dice_wi'] / base if base else float('nan'):16.2f}")
    (args.out / "choices.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
