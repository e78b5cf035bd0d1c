"""Segmentation networks, picked by name from :data:`MODELS`.

**Named inputs and heads.** A network says what it takes and what it returns with two class attributes:
``inputs``, the batch keys passed to ``forward`` in that order (default ``("image",)``; SneakyNet adds its
context views), and ``outputs``, the names of the heads it returns (default ``("logits",)``; the rib network
``("binary", "number")``, the transformers ``("semantic", "embedding")``). ``forward`` returns one tensor, a
tuple in the order of ``outputs``, or a dict. :func:`call_named` turns a batch dict into the dict of named
heads, so training and prediction speak of heads by name while the networks stay plain ``nn.Module``s (their
weights and checkpoints do not change).
"""

from __future__ import annotations

from torch import nn

from pointseg.registry import Registry
from pointseg.models.fcn8 import VGG16FCN8, load_vgg16_imagenet

MODELS: Registry[nn.Module] = Registry("model")
MODELS.register("vgg16_fcn8")(VGG16FCN8)


@MODELS.register("no_new_net")
def no_new_net(**kwargs) -> nn.Module:
    """The many-class 3D U-Net (:class:`pointseg.models.unet3d.NoNewNet`), imported on first use: MONAI's networks
    take seconds to import, which the 2D models and the commands that never build a 3D one should not pay."""
    from pointseg.models.unet3d import NoNewNet

    return NoNewNet(**kwargs)


DEFAULT_INPUTS = ("image",)
DEFAULT_OUTPUTS = ("logits",)


def network_inputs(network: nn.Module) -> tuple[str, ...]:
    """The batch keys ``network`` (or the network inside a DDP wrapper) takes, in order."""
    return tuple(getattr(getattr(network, "module", network), "inputs", DEFAULT_INPUTS))


def network_outputs(network: nn.Module) -> tuple[str, ...]:
    """The names of the heads ``network`` (or the network inside a DDP wrapper) returns."""
    return tuple(getattr(getattr(network, "module", network), "outputs", DEFAULT_OUTPUTS))


def call_named(network: nn.Module, batch: dict) -> dict:
    """``{head name: tensor}`` of ``network`` run on the named inputs of ``batch`` (see the module notes)."""
    result = network(*[batch[key] for key in network_inputs(network)])
    if isinstance(result, dict):
        return result
    names = network_outputs(network)
    if isinstance(result, (tuple, list)):
        if len(result) != len(names):
            raise ValueError(f"the network returned {len(result)} heads for {len(names)} names {names}")
        return dict(zip(names, result))
    return {names[0]: result}


def build_model(name: str, **kwargs) -> nn.Module:
    """The model registered as ``name``, built with ``kwargs`` (e.g. ``num_classes``, ``width``)."""
    return MODELS.build(name, **kwargs)


__all__ = ["MODELS", "VGG16FCN8", "build_model", "call_named", "load_vgg16_imagenet", "network_inputs",
           "network_outputs"]
