"""Segmentation networks, picked by name from :data:`MODELS`."""

from __future__ import annotations

from torch import nn

from pointseg.errors import InputError
from pointseg.models.fcn8 import VGG16FCN8, load_vgg16_imagenet

MODELS: dict[str, type[nn.Module]] = {"vgg16_fcn8": VGG16FCN8}


def build_model(name: str, **kwargs) -> nn.Module:
    """The model registered as ``name``, built with ``kwargs`` (e.g. ``num_classes``, ``width``)."""
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)


__all__ = ["MODELS", "VGG16FCN8", "build_model", "load_vgg16_imagenet"]
