"""Segmentation networks, picked by name from :data:`MODELS`."""

from __future__ import annotations

from torch import nn

from pointseg.registry import Registry
from pointseg.models.fcn8 import VGG16FCN8, load_vgg16_imagenet

MODELS: Registry[nn.Module] = Registry("model")
MODELS.register("vgg16_fcn8")(VGG16FCN8)


@MODELS.register("no_new_net")
def no_new_net(**kwargs) -> nn.Module:
    """Seed 001's 3D U-Net (:class:`pointseg.models.unet3d.NoNewNet`), imported on first use: MONAI's networks
    take seconds to import, which the 2D models and the commands that never build a 3D one should not pay."""
    from pointseg.models.unet3d import NoNewNet

    return NoNewNet(**kwargs)


def build_model(name: str, **kwargs) -> nn.Module:
    """The model registered as ``name``, built with ``kwargs`` (e.g. ``num_classes``, ``width``)."""
    return MODELS.build(name, **kwargs)


__all__ = ["MODELS", "VGG16FCN8", "build_model", "load_vgg16_imagenet"]
