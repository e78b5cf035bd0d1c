"""Supervised planar training (seed 003 §3.1.3/§4): the final model on pseudo-masks, the reference on full masks.

Same VGG16-FCN8 and trainer as the weak planar models, on sagittal slices by default, with a weighted
cross-entropy over every pixel of the target label map (``pseudo.nii.gz`` or ``labels.nii.gz``).
Class weights are median-frequency balanced (weight_c = median frequency / frequency_c) over the
training slices, so the five small vertebra classes are not swamped by the background.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pointseg.dataset import discover_cases, held_out_case_ids
from pointseg.errors import InputError
from pointseg.inference import resolve_device
from pointseg.models import build_model
from pointseg.preprocess import SliceStack, cached_stack, normalize_axis
from pointseg.progress import progress, say
from train.config import PROFILES, PlanarConfig, hub_vgg16_weights
from train.planar import split_cases
from train.slice_trainer import SliceTrainer, resumed_config

TARGETS = ("pseudo", "labels")
# A supervised step costs about a fifth of a weak one (no second pass for the consistency loss, no
# semi-masks), so the profiles train the final and reference models for more epochs than the planar ones.
SUPERVISED_EPOCHS = {"quick": 16, "paper": 30, "tiny": 2}


@dataclass
class SupervisedConfig(PlanarConfig):
    """A supervised run: the planar settings plus the target label maps (``pseudo`` or ``labels``)."""

    target: str = "pseudo"
    foreground_fraction: float = 0.5


def make_supervised_config(profile: str = "quick", target: str = "pseudo", **overrides) -> SupervisedConfig:
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r} (use {', '.join(PROFILES)})")
    if target not in TARGETS:
        raise InputError(f"unknown target {target!r} (use pseudo or labels)")
    config = replace(SupervisedConfig(), profile=profile, target=target, axis="sagittal",
                     **{**PROFILES[profile], "epochs": SUPERVISED_EPOCHS[profile]})
    if profile == "paper" and config.pretrained is None and hub_vgg16_weights() is not None:
        config = replace(config, pretrained=str(hub_vgg16_weights()))
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def median_frequency_weights(stacks: list[SliceStack], num_classes: int) -> torch.Tensor:
    """weight_c = median(freq) / freq_c over the classes present (absent classes get 0)."""
    counts = np.zeros(num_classes, dtype=np.float64)
    for stack in stacks:
        counts += np.bincount(stack.labels.ravel(), minlength=num_classes)[:num_classes]
    present = counts > 0
    freq = counts / counts.sum()
    weights = np.zeros(num_classes)
    weights[present] = np.median(freq[present]) / freq[present]
    return torch.tensor(weights, dtype=torch.float32)


class SupervisedSlices:
    """Slices with their full label maps; batches mix slices with foreground and any slices."""

    def __init__(self, stacks: list[SliceStack], batch_size: int, foreground_fraction: float, seed: int):
        self.stacks = stacks
        self.batch_size = batch_size
        self.items = [(c, s) for c, st in enumerate(stacks) for s in range(len(st.image)) if (st.image[s] > 0).mean() > 0.01]
        self.foreground = [n for n, (c, s) in enumerate(self.items) if stacks[c].labels[s].any()]
        if not self.items:
            raise ValueError("no slices to train on")
        self.n_foreground = round(batch_size * foreground_fraction) if self.foreground else 0
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> dict[str, torch.Tensor]:
        chosen = list(self.rng.choice(self.foreground, self.n_foreground)) if self.n_foreground else []
        chosen += list(self.rng.choice(len(self.items), self.batch_size - len(chosen)))
        images, targets = [], []
        for n in chosen:
            c, s = self.items[int(n)]
            images.append(torch.from_numpy(self.stacks[c].image[s]).float().div_(255.0).unsqueeze(0))
            targets.append(torch.from_numpy(self.stacks[c].labels[s].astype(np.int64)))
        return {"image": torch.stack(images), "target": torch.stack(targets)}

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


class SupervisedTrainer(SliceTrainer):
    """Trains a planar VGG16-FCN8 on full label maps with weighted cross-entropy."""

    def build(self) -> None:
        config = self.config
        cases = {c.id: c for c in discover_cases(self.dataset)}
        has_target = (lambda c: c.pseudo_path.exists()) if config.target == "pseudo" else (lambda c: c.labels_path is not None)
        what = "pseudo.nii.gz (run pointseg fuse first)" if config.target == "pseudo" else "labels.nii.gz"
        self.split = split_cases(list(cases.values()), config.val_cases, config.seed, trainable=has_target,
                                 held_out=held_out_case_ids(self.dataset), what=what)
        self.val_cases = [cases[i] for i in self.split["val"]]
        cache = self.dataset / ".pointseg-cache"
        stacks = [
            cached_stack(cases[i], config.axis, config.preprocess, self.label_set, cache, target=config.target)
            for i in progress(self.split["train"], f"slices ({config.axis}, {config.target})")
        ]
        self.batches = SupervisedSlices(stacks, config.batch_size, config.foreground_fraction, config.seed)
        self.class_weights = median_frequency_weights(stacks, self.label_set.num_classes).to(self.device)
        self.model = build_model(**config.model_spec(self.label_set.num_classes), pretrained=config.pretrained or False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = self.cosine_schedule()
        say(f"{config.target}: {len(self.split['train'])} training case(s), {len(self.batches.items)} slices, "
            f"{len(self.val_cases)} validation case(s); class weights {[round(float(w), 2) for w in self.class_weights]}")

    def next_batch(self) -> dict[str, torch.Tensor]:
        return self.batches.next_batch()

    def compute_loss(self, batch):
        logits = self.model(batch["image"]).float()
        loss = F.cross_entropy(logits, batch["target"], weight=self.class_weights)
        return loss, {"ce": float(loss.detach())}

    def extra_state(self) -> dict:
        return {"batches": self.batches.state()}

    def load_extra_state(self, state: dict) -> None:
        self.batches.set_state(state["batches"])


def train_supervised(
    dataset: str | Path, target: str, out: str | Path, profile: str = "quick", seed: int = 0, resume: bool = False,
    device: str = "auto", **overrides,
) -> Path:
    """``pointseg train``: the final model (``target="pseudo"``) or the reference (``target="labels"``)."""
    out = Path(out)
    if resume and (out / "config.json").exists():
        config = resumed_config(out, SupervisedConfig, overrides.get("epochs"))
    else:
        if "axis" in overrides and overrides["axis"] is not None:
            overrides["axis"] = normalize_axis(overrides["axis"])
        config = make_supervised_config(profile, target, seed=seed, **overrides)
    SupervisedTrainer(Path(dataset), config, out, resolve_device(device), resume).fit()
    return out
