"""Run configurations for the planar models and their profiles.

A config is a dataclass saved as JSON next to every checkpoint together with the seed, the package
version and the case split, so any checkpoint can be explained (and used to predict) on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path

from pointseg.errors import InputError
from pointseg.labels import DEFAULT_LABEL_SET
from pointseg.models.fcn8 import VGG16_WEIGHTS_FILE, hub_weights_path
from pointseg.imaging.preprocess import PreprocessConfig
from pointseg.runs import WEAK_PLANAR, RunConfig, RunInfo
from pointseg.train import pipelines
from pointseg.train.losses import DEFAULT_WEIGHTS


@dataclass
class PlanarConfig(RunConfig):
    """Everything that defines a weak planar training run."""

    axis: str = "sagittal"
    profile: str = "quick"
    label_set: str = DEFAULT_LABEL_SET
    width: float = 0.125
    pretrained: str | None = None  # path of torchvision's VGG16 ImageNet weights, used only to initialise
    # The network's options next to the paper's (plain VGG16, stride-8 scores, dropout 0.5 on fc6/fc7).
    batch_norm: bool = False
    output_stride: int = 8
    dropout: float = 0.5
    # Random 2D augmentation of the training slices (rotation, scaling, brightness/contrast), moving
    # the clicks and label maps with the image; see train.augment.
    augment: bool = False
    # Neighbouring slices on each side given to the network as extra input channels (2.5D): 1 makes the
    # three input channels slices s - 1, s, s + 1. 0 is the paper's single slice (repeated to 3 channels).
    context: int = 0
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(spacing=2.5, size=(112, 112)))
    epochs: int = 8
    steps_per_epoch: int = 40
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-5
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # The extent loss's radius: None takes each class's from the label set (110 mm for a vertebra, more
    # for a rib or a femur); a number applies to every class.
    radius_mm: float | None = None
    clicked_fraction: float = 0.5
    val_cases: int = 0
    val_every: int = 1
    seed: int = 0

    def model_spec(self, num_classes: int) -> dict:
        """What :func:`pointseg.models.build_model` needs to rebuild the network (no pretrained weights)."""
        return {"name": "vgg16_fcn8", "num_classes": num_classes, "width": self.width,
                "batch_norm": self.batch_norm, "output_stride": self.output_stride, "dropout": self.dropout}

    def run_info(self) -> RunInfo:
        return RunInfo(pipeline=WEAK_PLANAR, predictor="slices", label_set=self.label_set, target="clicks",
                       axis=self.axis)


def hub_vgg16_weights() -> Path | None:
    """torchvision's VGG16 ImageNet weights in the torch hub cache, when they are there."""
    path = hub_weights_path(VGG16_WEIGHTS_FILE)
    return path if path.exists() else None


# What the CPU profiles change from the paper's network, chosen by measurement on the same phantoms
# (benchmarks/supervised_choices.py, reference model, 640 steps, test Dice_wi): BatchNorm after every
# convolution (vgg16_bn layout) and CE + Dice: 0.60 at stride 4 against 0.37 for the plain network with
# weighted CE; stride-2 scores 0.66 against 0.60 at stride 4 and 0.50 at stride 8 (2.5 mm pixels give a
# 5 mm output grid, finer than a disc, while the last x2 upsampling stays fixed bilinear);
# augmentation 0.60 against 0.54 without; light dropout. Two neighbouring slices as extra channels
# (context=1) measured no better (0.65) and stay off.
CPU_NETWORK = dict(batch_norm=True, output_stride=2, dropout=0.1, augment=True)

PROFILES: dict[str, dict] = {
    # CPU-sized: an eighth of the channels, 2.5 mm pixels and 112 x 112 training windows (280 mm, enough for
    # L1-L5 with T12 and the sacrum; prediction sees whole slices); about 0.15 s a step on 2 CPU cores.
    "quick": dict(width=0.125, preprocess=PreprocessConfig(spacing=2.5, size=(112, 112)),
                  epochs=8, steps_per_epoch=40, batch_size=8, lr=1e-3, val_every=4, **CPU_NETWORK),
    # The paper's network and slices: width 1.0, 1 mm, 352 x 352, ImageNet initialisation when present.
    "paper": dict(width=1.0, preprocess=PreprocessConfig(), epochs=30, steps_per_epoch=250, batch_size=8, lr=1e-4,
                  val_every=5),
    # For tests: seconds on a CPU.
    "tiny": dict(width=0.0625, preprocess=PreprocessConfig(spacing=4.0, size=(64, 64)),
                 epochs=2, steps_per_epoch=4, batch_size=4, lr=2e-3, val_every=1, **CPU_NETWORK),
}


assert set(PROFILES) == set(pipelines.PROFILES), "every profile needs settings and a description"


def make_config(profile: str = pipelines.DEFAULT_PROFILE, **overrides) -> PlanarConfig:
    """The config of a profile with ``overrides`` applied (unknown keys are an InputError)."""
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r} (use {', '.join(PROFILES)})")
    config = replace(PlanarConfig(), profile=profile, **PROFILES[profile])
    if profile == "paper" and config.pretrained is None:
        weights = hub_vgg16_weights()
        config = replace(config, pretrained=str(weights) if weights else None)
    known = {f.name for f in dataclasses.fields(PlanarConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(sorted(unknown))}")
    if overrides.get("context") not in (None, 0, 1):
        raise InputError(f"context must be 0 or 1 (the network takes 1 or 3 input channels), got {overrides['context']}")
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
