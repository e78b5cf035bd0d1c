"""Point loss L_P: class-weighted cross-entropy on the clicked pixels only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from pointseg.train.losses.base import Model, WeakLoss, register_loss, zero_like_loss


@register_loss("point")
class PointLoss(WeakLoss):
    """Cross-entropy of the logits at the P clicked pixels against the clicks' labels.

    ``logits[b, :, row, col]`` (P, C) is gathered for each row of ``batch["point_index"]`` (P, 3) and
    compared with ``batch["point_label"]`` (P,) by ``F.cross_entropy(..., weight=class_weights)``, i.e. the
    weighted mean ``sum_i w[y_i] ce_i / sum_i w[y_i]``. Unclicked pixels get exactly zero gradient.
    With no click (P = 0) the loss is a 0 still connected to ``logits``.

    Args:
        class_weights: optional (C,) weight per class; ``None`` weighs all classes equally.
    """

    def __init__(self, class_weights: Tensor | Sequence[float] | None = None):
        super().__init__()
        weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32).reshape(-1)
        self.register_buffer("class_weights", weights)

    def forward(self, logits: Tensor, batch: Mapping[str, Tensor], model: Model | None = None) -> Tensor:
        index = batch["point_index"].to(device=logits.device, dtype=torch.long).reshape(-1, 3)
        labels = batch["point_label"].to(device=logits.device, dtype=torch.long).reshape(-1)
        if len(index) == 0:
            return zero_like_loss(logits)
        clicked = logits[index[:, 0], :, index[:, 1], index[:, 2]]  # (P, C)
        weight = None if self.class_weights is None else self.class_weights.to(logits.dtype)
        return F.cross_entropy(clicked, labels, weight=weight)
