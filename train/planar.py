"""The weak planar pipeline (seed 003 §3.1): one VGG16-FCN8 per axis trained from clicks alone.

``train_planar`` trains on every case that has ``points.csv``; cases with ``labels.nii.gz`` that are not
trained on (those without clicks, plus ``val_cases`` held-out clicked cases) are used for validation:
Dice_wi of the whole-volume prediction on the CT's grid, logged and never used for training.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from pointseg.io.dataset import Case, discover_cases, held_out_case_ids
from pointseg.errors import InputError
from pointseg.labels import DEFAULT_LABEL_SET
from pointseg.device import resolve_device
from pointseg.models import build_model
from pointseg.imaging.preprocess import AXES, normalize_axis
from pointseg.imaging.stacks import cached_stack
from pointseg.progress import progress, say
from pointseg.runs import CHECKPOINT_NAME, CONFIG_NAME, check_run_label_set, read_run_info
from pointseg.train.config import PlanarConfig, make_config
from pointseg.train.augment import SliceAugment
from pointseg.train.data import MixedBatches, PlanarSlices
from pointseg.train.losses import WeightedSum
from pointseg.train.slice_trainer import SliceTrainer, resumed_config


def split_cases(
    cases: list[Case], val_cases: int, seed: int, trainable=lambda case: case.has_points, held_out_ids: set[str] = frozenset(),
    what: str = "points.csv; click points (pointseg annotate) or run pointseg simulate-clicks",
) -> dict[str, list[str]]:
    """Training and validation case ids.

    Training: the ``trainable`` cases (default: with clicks) that are not ``held_out`` (the dataset's test
    cases), less ``val_cases`` of those that also have labels (chosen by the seed).
    Validation: every labelled case that is neither trained on nor a test case (test cases are only ever
    looked at by the final evaluation, never to follow or steer training).
    """
    clicked = [c.id for c in cases if trainable(c) and c.id not in held_out_ids]
    labelled = {c.id for c in cases if c.labels_path is not None}
    if not clicked:
        raise InputError(f"no case to train on: no case outside the test split has {what}")
    candidates = sorted(set(clicked) & labelled)
    if val_cases > 0 and val_cases >= len(clicked):
        raise InputError(f"--val-cases {val_cases} would leave no case with clicks to train on")
    rng = np.random.default_rng(seed)
    chosen = set(rng.permutation(candidates)[:val_cases].tolist()) if val_cases else set()
    train = [c for c in clicked if c not in chosen]
    val = sorted(labelled - set(train) - set(held_out_ids))
    return {"train": train, "val": val}


def click_class_weights(counts: Counter, num_classes: int) -> torch.Tensor:
    """Inverse click frequency per class, mean 1 over the classes that have clicks (0 for the others)."""
    weights = torch.zeros(num_classes)
    present = [k for k in range(num_classes) if counts.get(k, 0) > 0]
    for k in present:
        weights[k] = 1.0 / counts[k]
    return weights * (len(present) / weights.sum())


class PlanarTrainer(SliceTrainer):
    """Trains one planar VGG16-FCN8 with the weak losses on the clicked cases of a dataset."""

    def __init__(self, dataset: Path, config: PlanarConfig, run_dir: Path, device: torch.device, resume: bool = False,
                 cache_dir: Path | None = None):
        super().__init__(dataset, config, run_dir, device, resume)
        self.cache_dir = cache_dir or self.dataset / ".pointseg-cache"

    def build(self) -> None:
        config = self.config
        cases = {c.id: c for c in discover_cases(self.dataset)}
        self.split = split_cases(list(cases.values()), config.val_cases, config.seed,
                                 held_out_ids=held_out_case_ids(self.dataset))
        self.val_cases = [cases[i] for i in self.split["val"]]
        stacks = self.main_first(lambda: [
            cached_stack(cases[i], config.axis, config.preprocess, self.label_set, self.cache_dir)
            for i in progress(self.split["train"], f"slices ({config.axis})")
        ])
        radii = config.radius_mm if config.radius_mm is not None else self.label_set.extent_radii()
        data = PlanarSlices(stacks, self.label_set.num_classes, radii, size=config.preprocess.size,
                            augment=SliceAugment() if config.augment else None, context=config.context)
        self.batches = MixedBatches(data, config.batch_size, config.clicked_fraction, config.seed)
        counts = Counter(int(k) for s in stacks for k in s.point_labels)
        self.model = build_model(**config.model_spec(self.label_set.num_classes), pretrained=config.pretrained or False)
        self.loss = WeightedSum(
            config.loss_weights,
            point={"class_weights": click_class_weights(counts, self.label_set.num_classes)},
            consistency={"seed": config.seed},
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = self.cosine_schedule()
        say(f"{config.axis}: {len(self.split['train'])} training case(s), {len(data)} slices "
            f"({len(self.batches.clicked)} with clicks), {len(self.val_cases)} validation case(s)")

    def next_batch(self) -> dict[str, torch.Tensor]:
        return self.batches.next_batch()

    def compute_loss(self, batch):
        logits = self.model(batch["image"])
        total, terms = self.loss(logits.float(), batch, self.model)
        return total, {name: float(value) for name, value in terms.items()}

    def extra_state(self) -> dict:
        return {"batches": self.batches.state(), "loss": self.loss.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        self.batches.set_state(state["batches"])
        self.loss.load_state_dict(state["loss"])


def train_planar(
    dataset: str | Path,
    axis: str,
    out: str | Path,
    profile: str = "quick",
    seed: int = 0,
    resume: bool = False,
    device: str = "auto",
    **overrides,
) -> Path:
    """``pointseg train-planar``: train (or resume) one planar model; returns the run folder."""
    out = Path(out)
    if resume and (out / CONFIG_NAME).exists():
        config = resumed_config(out, PlanarConfig, overrides.get("epochs"))
    else:
        config = make_config(profile, axis=normalize_axis(axis), seed=seed, **overrides)
    trainer = PlanarTrainer(Path(dataset), config, out, resolve_device(device), resume)
    trainer.fit()
    return out


def ensure_planar_models(
    dataset: Path, runs: Path, profile: str = "quick", seed: int = 0, device: str = "auto", label_set: str = DEFAULT_LABEL_SET,
) -> None:
    """Train every planar model missing from ``runs/<axis>/`` on ``dataset`` (resuming one that was interrupted).

    ``pointseg fuse`` and the annotation widget call this before fusing: fusion itself never trains.
    """
    for axis in AXES:
        if (runs / axis / CONFIG_NAME).exists():  # a run of another label set is never reused, nor resumed
            check_run_label_set(runs / axis, read_run_info(runs / axis).label_set, label_set)
        if not (runs / axis / CHECKPOINT_NAME).exists():
            say(f"no {axis} model in {runs / axis}: training it ({profile} profile)")
            train_planar(dataset, axis, runs / axis, profile=profile, seed=seed, device=device,
                         resume=(runs / axis / CONFIG_NAME).exists(), label_set=label_set)
