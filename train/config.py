"""Run configurations for the planar models and their profiles.

A config is a dataclass saved as JSON next to every checkpoint together with the seed, the package
version and the case split, so any checkpoint can be explained (and used to predict) on its own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from pointseg.errors import InputError
from pointseg.preprocess import PreprocessConfig
from train.losses import DEFAULT_WEIGHTS

VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"


@dataclass
class PlanarConfig:
    """Everything that defines a weak planar training run."""

    axis: str = "sagittal"
    profile: str = "quick"
    label_set: str = "lumbar"
    width: float = 0.125
    pretrained: str | None = None  # path of torchvision's VGG16 ImageNet weights, used only to initialise
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(spacing=2.5, size=(112, 112)))
    epochs: int = 8
    steps_per_epoch: int = 40
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-5
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    radius_mm: float = 110.0
    clicked_fraction: float = 0.5
    val_cases: int = 0
    val_every: int = 1
    seed: int = 0

    def model_spec(self, num_classes: int) -> dict:
        """What :func:`pointseg.models.build_model` needs to rebuild the network (no pretrained weights)."""
        return {"name": "vgg16_fcn8", "num_classes": num_classes, "width": self.width}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PlanarConfig":
        data = dict(data)
        pre = dict(data.pop("preprocess"))
        pre = PreprocessConfig(**{**pre, "size": tuple(pre["size"]), "window": tuple(pre["window"])})
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(preprocess=pre, **{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def hub_vgg16_weights() -> Path | None:
    """torchvision's VGG16 ImageNet weights in the torch hub cache, when they are there."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_WEIGHTS_FILE
    return path if path.exists() else None


PROFILES: dict[str, dict] = {
    # CPU-sized: an eighth of the channels, 2.5 mm pixels and 112 x 112 slices (a 280 mm field of view,
    # enough for L1-L5 with T12 and the sacrum); about 0.2 s a step on 2 CPU cores, so a planar model
    # trains in 1-2 minutes.
    "quick": dict(width=0.125, preprocess=PreprocessConfig(spacing=2.5, size=(112, 112)),
                  epochs=8, steps_per_epoch=40, batch_size=8, lr=1e-3, val_every=4),
    # The paper's network and slices: width 1.0, 1 mm, 352 x 352, ImageNet initialisation when present.
    "paper": dict(width=1.0, preprocess=PreprocessConfig(), epochs=30, steps_per_epoch=250, batch_size=8, lr=1e-4,
                  val_every=5),
    # For tests: seconds on a CPU.
    "tiny": dict(width=0.0625, preprocess=PreprocessConfig(spacing=4.0, size=(64, 64)),
                 epochs=2, steps_per_epoch=4, batch_size=4, lr=2e-3, val_every=1),
}


def make_config(profile: str = "quick", **overrides) -> PlanarConfig:
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
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
