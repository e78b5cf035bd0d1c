"""Rotation consistency loss L_C (eq. 1): the prediction should follow a rotation/flip of the input."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from pointseg.train.losses.base import Model, WeakLoss, register_loss

NUM_TRANSFORMS = 8  # the dihedral group of the square: 4 rotations x (no flip, flip)


def dihedral(x: Tensor, index: int) -> Tensor:
    """Transform ``index`` in 0..7 of the (..., H, W) tensor ``x``: flip, then rotate.

    ``index % 4`` quarter turns (``torch.rot90`` over the last two dims) after a horizontal flip (last dim)
    when ``index >= 4``; index 0 is the identity. A quarter turn makes an (H, W) image (W, H).
    """
    if not 0 <= index < NUM_TRANSFORMS:
        raise ValueError(f"dihedral transform index must be in 0..7, got {index}")
    if index >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, k=index % 4, dims=(-2, -1))


@register_loss("consistency")
class ConsistencyLoss(WeakLoss):
    """``mean |t[softmax(f(X))] - softmax(f(t[X]))|`` for a random non-identity dihedral transform t.

    ``f(X)`` is the given ``logits`` (B, C, H, W); ``f(t[X])`` is ``model(t(batch["image"]))``, which is
    (B, C, W, H) after a quarter turn; the two are compared in the transformed frame. Eq. 1 sums the
    difference over pixels; we take the mean over all B*C*H*W elements so that the weight of the term does
    not depend on the image size, and we compare softmax probabilities rather than raw logits (logits are
    only defined up to a per-pixel shift). Gradients flow through both forward passes.

    t is drawn uniformly from the 7 non-identity transforms (rotation by 0/90/180/270 degrees combined with
    an optional horizontal flip) by a ``torch.Generator`` seeded at construction, whose state is part of
    the module's ``state_dict`` so a resumed run replays the same sequence.

    Args:
        seed: seed of the generator drawing the transforms.
    """

    def __init__(self, seed: int = 0):
        super().__init__()
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self) -> int:
        """The next transform index, in 1..7."""
        return int(torch.randint(1, NUM_TRANSFORMS, (1,), generator=self.generator))

    def apply(self, logits: Tensor, image: Tensor, model: Model, index: int) -> Tensor:
        """The loss for the fixed transform ``index`` (0..7; 0, the identity, compares two passes on X)."""
        expected = dihedral(torch.softmax(logits, dim=1), index)
        transformed = torch.softmax(model(dihedral(image, index)), dim=1)
        if transformed.shape != expected.shape:
            raise ValueError(f"model output {tuple(transformed.shape)} on the transformed image does not match "
                             f"the transformed logits {tuple(expected.shape)}")
        return (expected - transformed).abs().mean()

    def forward(self, logits: Tensor, batch: Mapping[str, Tensor], model: Model | None = None) -> Tensor:
        if model is None:
            raise ValueError("the consistency loss needs the model for its second forward pass")
        return self.apply(logits, batch["image"], model, self.draw())

    def get_extra_state(self) -> dict:
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def set_extra_state(self, state: dict) -> None:
        self.seed = state["seed"]
        self.generator.set_state(state["generator"])
