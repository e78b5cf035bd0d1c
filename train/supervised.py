"""Supervised planar training (seed 003 §3.1.3/§4): the final model on pseudo-masks, the reference on full masks.

Same VGG16-FCN8 and trainer as the weak planar models, on sagittal slices by default, with a loss over
every pixel of the target label map (``pseudo.nii.gz`` or ``labels.nii.gz``), picked by name from
:data:`SUPERVISED_LOSSES`:

* ``weighted_ce`` — the paper's weighted cross-entropy with median-frequency class weights
  (weight_c = median frequency / frequency_c over the training slices). On lumbar CT that weighs a
  vertebra pixel about 300 times a background pixel, so the arg-max calls a pixel vertebra once
  P(vertebra) > 0.3 %: vertebrae come out 2-2.6 times too large.
* ``ce`` — plain cross-entropy.
* ``ce_dice`` — cross-entropy plus the soft Dice loss over all classes (MONAI's ``DiceCELoss``), which
  balances the small classes without moving the arg-max threshold the way weights do.

Which one each profile uses was measured (``benchmarks/supervised_choices.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pointseg.io.dataset import discover_cases, held_out_case_ids
from pointseg.errors import InputError
from pointseg.device import resolve_device
from pointseg.models import build_model
from pointseg.imaging.preprocess import SliceStack, normalize_axis, with_context
from pointseg.imaging.stacks import cached_stack
from pointseg.progress import progress, say
from pointseg.registry import Registry
from pointseg.runs import CONFIG_NAME, SUPERVISED_TARGETS, RunInfo
from pointseg.train.augment import SliceAugment, crop_window
from pointseg.train.config import PROFILES, PlanarConfig, hub_vgg16_weights
from pointseg.train.planar import split_cases
from pointseg.train.slice_trainer import SliceTrainer, resumed_config

# A supervised step costs about a fifth of a weak one (no second pass for the consistency loss, no
# semi-masks), so the profiles train the final and reference models for more epochs than the planar ones.
SUPERVISED_EPOCHS = {"quick": 16, "paper": 30, "tiny": 2}
# The loss of each profile's supervised models (measured: benchmarks/supervised_choices.py); the paper's
# profile keeps the paper's weighted cross-entropy.
SUPERVISED_LOSS = {"quick": "ce_dice", "paper": "weighted_ce", "tiny": "ce_dice"}


@dataclass
class SupervisedConfig(PlanarConfig):
    """A supervised run: the planar settings plus the target label maps (``pseudo`` or ``labels``)."""

    target: str = "pseudo"
    foreground_fraction: float = 0.5
    loss: str = "weighted_ce"
    # Post-processing of the predicted labels (a step of pointseg.predict.steps): each vertebra's
    # boundary re-drawn on the CT's bone (measured on the test phantoms: Dice_wi 0.60 -> 0.71 for the
    # stride-4 reference; keeping each class's largest component alone changed nothing).
    postprocess: str = "bone_watershed"

    def run_info(self) -> RunInfo:
        return RunInfo(pipeline="fcn8", predictor="slices", label_set=self.label_set, target=self.target,
                       axis=self.axis)


def make_supervised_config(profile: str = "quick", target: str = "pseudo", **overrides) -> SupervisedConfig:
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r} (use {', '.join(PROFILES)})")
    if target not in SUPERVISED_TARGETS:
        raise InputError(f"unknown target {target!r} (use pseudo or labels)")
    config = replace(SupervisedConfig(), profile=profile, target=target, axis="sagittal", loss=SUPERVISED_LOSS[profile],
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


SUPERVISED_LOSSES: Registry = Registry("supervised loss")


@SUPERVISED_LOSSES.register("weighted_ce")
class WeightedCE(torch.nn.Module):
    """``F.cross_entropy(logits (B, C, H, W), target (B, H, W), weight=class_weights)``."""

    def __init__(self, class_weights: torch.Tensor):
        super().__init__()
        self.register_buffer("class_weights", class_weights)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, weight=self.class_weights)


@SUPERVISED_LOSSES.register("ce")
class PlainCE(torch.nn.Module):
    """Unweighted ``F.cross_entropy``."""

    def __init__(self, class_weights: torch.Tensor | None = None):
        super().__init__()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)


@SUPERVISED_LOSSES.register("ce_dice")
class CEDice(torch.nn.Module):
    """MONAI's ``DiceCELoss`` (softmax, one-hot target, all classes, Dice over the whole batch) = CE + soft Dice."""

    def __init__(self, class_weights: torch.Tensor | None = None):
        super().__init__()
        from monai.losses import DiceCELoss

        self.loss = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(logits, target[:, None])


class SupervisedSlices:
    """Windows of whole-plane slices with their label maps; batches mix slices with foreground and any slices.

    A slice with foreground is cut around one of its labelled pixels, any other slice through the body at
    a uniformly random place; windows move by up to a quarter of their size and are optionally augmented.
    """

    def __init__(self, stacks: list[SliceStack], batch_size: int, foreground_fraction: float, seed: int,
                 size: tuple[int, int] | None = None, augment: SliceAugment | None = None, context: int = 0):
        self.stacks = stacks
        self.context = context
        self.batch_size = batch_size
        self.size = tuple(size) if size is not None else tuple(stacks[0].image.shape[1:])
        self.augment = augment
        area = self.size[0] * self.size[1]
        self.items = [(c, s) for c, st in enumerate(stacks) for s in np.flatnonzero(st.has_body(0.01, area))]
        self.foreground = [n for n, (c, s) in enumerate(self.items) if stacks[c].labels[s].any()]
        if not self.items:
            raise ValueError("no slices to train on")
        self.n_foreground = round(batch_size * foreground_fraction) if self.foreground else 0
        self.rng = np.random.default_rng(seed)

    def sample(self, index: int, around_foreground: bool) -> tuple[torch.Tensor, torch.Tensor]:
        c, s = self.items[index]
        stack = self.stacks[c]
        shape = stack.image.shape[1:]
        if around_foreground:
            rows, cols = np.nonzero(stack.labels[s])
            pick = self.rng.integers(len(rows))
            center = (float(rows[pick]), float(cols[pick]))
        else:
            center = (self.rng.uniform(0, shape[0]), self.rng.uniform(0, shape[1]))
        row, col = crop_window(center, self.size, shape, self.rng)
        window = (slice(row, row + self.size[0]), slice(col, col + self.size[1]))
        slices = with_context(stack.image, s, s + 1, self.context)[0]  # (2 context + 1, H, W)
        image = torch.from_numpy(np.ascontiguousarray(slices[(slice(None),) + window])).float().div_(255.0)
        target = torch.from_numpy(stack.labels[(s,) + window].astype(np.int64))
        if self.augment is not None:
            image, (target,), _, _ = self.augment(image, [target], torch.zeros(0, 2))
        return image, target

    def next_batch(self) -> dict[str, torch.Tensor]:
        chosen = [(int(n), True) for n in self.rng.choice(self.foreground, self.n_foreground)] if self.n_foreground else []
        chosen += [(int(n), False) for n in self.rng.choice(len(self.items), self.batch_size - len(chosen))]
        samples = [self.sample(n, fg) for n, fg in chosen]
        return {"image": torch.stack([i for i, _ in samples]), "target": torch.stack([t for _, t in samples])}

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
                                 held_out_ids=held_out_case_ids(self.dataset), what=what)
        self.val_cases = [cases[i] for i in self.split["val"]]
        cache = self.dataset / ".pointseg-cache"
        stacks = self.main_first(lambda: [
            cached_stack(cases[i], config.axis, config.preprocess, self.label_set, cache, target=config.target)
            for i in progress(self.split["train"], f"slices ({config.axis}, {config.target})")
        ])
        self.batches = SupervisedSlices(stacks, config.batch_size, config.foreground_fraction, config.seed,
                                        size=config.preprocess.size, augment=SliceAugment() if config.augment else None,
                                        context=config.context)
        self.class_weights = median_frequency_weights(stacks, self.label_set.num_classes).to(self.device)
        self.loss = SUPERVISED_LOSSES.build(config.loss, class_weights=self.class_weights).to(self.device)
        self.model = build_model(**config.model_spec(self.label_set.num_classes), pretrained=config.pretrained or False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = self.cosine_schedule()
        say(f"{config.target}: {len(self.split['train'])} training case(s), {len(self.batches.items)} slices, "
            f"{len(self.val_cases)} validation case(s); loss {config.loss}")

    def next_batch(self) -> dict[str, torch.Tensor]:
        return self.batches.next_batch()

    def compute_loss(self, batch):
        logits = self.model(batch["image"]).float()
        loss = self.loss(logits, batch["target"])
        return loss, {self.config.loss: float(loss.detach())}

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
    if resume and (out / CONFIG_NAME).exists():
        config = resumed_config(out, SupervisedConfig, overrides.get("epochs"))
    else:
        if "axis" in overrides and overrides["axis"] is not None:
            overrides["axis"] = normalize_axis(overrides["axis"])
        config = make_supervised_config(profile, target, seed=seed, **overrides)
    SupervisedTrainer(Path(dataset), config, out, resolve_device(device), resume).fit()
    return out
