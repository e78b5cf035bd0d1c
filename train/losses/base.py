"""The weak-loss contract, the registry of losses by name, and their weighted sum.

Every loss is a :class:`WeakLoss`: a small ``torch.nn.Module`` called as
``loss(logits, batch, model=None) -> scalar``, where

- ``logits``: (B, C, H, W) raw model output for ``batch["image"]``;
- ``batch["image"]``: (B, 1, H, W) float input slices;
- ``batch["point_index"]``: int64 (P, 3) rows ``(b, row, col)`` of the clicked pixels (P may be 0);
- ``batch["point_label"]``: int64 (P,) class id of each click (0 = background, 1..C-1 vertebrae);
- ``batch["extent_mask"]``: bool (B, C, H, W) semi-masks m_k of eq. 3 (True where class k may be present);
- ``model``: the network, needed only by the consistency loss (a second forward pass).

Losses are picked by name (:func:`build_loss`) and combined with :class:`WeightedSum`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor, nn

from pointseg.errors import InputError
from pointseg.registry import Registry

Model = Callable[[Tensor], Tensor]

LOSSES: Registry[WeakLoss] = Registry("loss")

# Default weight of each term of the weak planar loss (the paper gives none):
DEFAULT_WEIGHTS: dict[str, float] = {
    # L_P is the only supervised signal: it sets the scale the other terms are measured against.
    "point": 1.0,
    # L_C: Laradji et al. (2021) add the point and consistency losses with equal weights; ours is a
    # mean of |probability differences| (in [0, 1]), so it stays comparable to a cross-entropy.
    "consistency": 1.0,
    # L_S is bounded in [-1, 0] and can be lowered on every pixel whatever the image shows; a strong push
    # saturates all channels to 0/1 everywhere, so it only breaks ties between undecided channels.
    "separation": 0.1,
    # L_E only acts outside the r = 110 mm balls around the clicks, where "not class k" is known for sure,
    # so it can be trusted like the point loss.
    "extent": 1.0,
}


class WeakLoss(nn.Module):
    """Base of the weak losses: ``forward(logits, batch, model=None)`` returns a scalar tensor."""

    def forward(self, logits: Tensor, batch: Mapping[str, Tensor], model: Model | None = None) -> Tensor:
        raise NotImplementedError


register_loss = LOSSES.register
build_loss = LOSSES.build


def zero_like_loss(logits: Tensor) -> Tensor:
    """A scalar 0 that is still connected to ``logits`` in the autograd graph."""
    return logits.sum() * 0


class WeightedSum(nn.Module):
    """Weighted sum of named losses: ``total, terms = WeightedSum(weights, **options)(logits, batch, model)``.

    Args:
        weights: ``{name: weight}``; terms with weight 0 are neither built nor computed.
        **options: per-loss constructor kwargs, e.g. ``point={"class_weights": w}, consistency={"seed": 0}``.

    Returns (from ``forward``): the scalar total ``sum_k w_k L_k`` and ``{name: L_k.detach()}`` for the
    computed terms (unweighted, for a progress bar).
    """

    def __init__(self, weights: Mapping[str, float], **options: Mapping[str, object]):
        super().__init__()
        unknown = sorted((set(weights) | set(options)) - set(LOSSES))
        if unknown:
            raise InputError(f"unknown loss {', '.join(map(repr, unknown))}; known losses: {', '.join(sorted(LOSSES))}")
        self.weights = {name: float(weight) for name, weight in weights.items() if float(weight) != 0.0}
        self.losses = nn.ModuleDict({name: build_loss(name, **dict(options.get(name, {}))) for name in self.weights})

    def forward(
        self, logits: Tensor, batch: Mapping[str, Tensor], model: Model | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        total = zero_like_loss(logits)
        terms: dict[str, Tensor] = {}
        for name, weight in self.weights.items():
            value = self.losses[name](logits, batch, model)
            terms[name] = value.detach()
            total = total + weight * value
        return total, terms
