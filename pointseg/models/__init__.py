"""Segmentation networks, picked by name from :data:`MODELS`."""

from __future__ import annotations

from torch import nn

from pointseg.registry import Registry
from pointseg.models.fcn8 import VGG16FCN8, load_vgg16_imagenet
from pointseg.models.unet3d import NoNewNet

MODELS: Registry[nn.Module] = Registry("model")
MODELS.register("vgg16_fcn8")(VGG16FCN8)
MODELS.register("no_new_net")(NoNewNet)


def build_model(name: str, **kwargs) -> nn.Module:
    """The model registered as ``name``, built with ``kwargs`` (e.g. ``num_classes``, ``width``)."""
    return MODELS.build(name, **kwargs)


__all__ = ["MODELS", "NoNewNet", "VGG16FCN8", "build_model", "load_vgg16_imagenet"]
