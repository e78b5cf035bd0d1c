"""Separation loss L_S (eq. 2): the sigmoids of different class channels should differ at every pixel."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from pointseg.train.losses.base import Model, WeakLoss, register_loss, zero_like_loss


@register_loss("separation")
class SeparationLoss(WeakLoss):
    """``L_S = - mean over pixels of mean over channel pairs m < n of |sigmoid(z_m) - sigmoid(z_n)|``.

    Eq. 2 as printed is the signed sum ``-sum_p sum_{m<n} (S(z_m) - S(z_n))``, which rewards one arbitrary
    ordering of the channels (S(z_0) > S(z_1) > ...) rather than their separation; we implement the stated
    intent and reward the absolute pairwise differences. The sigmoid is taken per channel of ``logits``
    (B, C, H, W), all C channels (background included) take part, and the mean runs over the C(C-1)/2 pairs
    and the B*H*W pixels, so ``L_S`` lies in [-1, 0] (0 when all channels agree, -1 impossible for C > 2).

    The pair sum uses sorted values, ``sum_{m<n} |s_m - s_n| = sum_i (2i - C + 1) s_(i)`` (i = 0..C-1), which
    needs O(C) memory per pixel instead of O(C^2).
    """

    def forward(self, logits: Tensor, batch: Mapping[str, Tensor], model: Model | None = None) -> Tensor:
        channels = logits.shape[1]
        if channels < 2:
            return zero_like_loss(logits)
        ordered = torch.sigmoid(logits).sort(dim=1).values  # (B, C, H, W), ascending along C
        rank = torch.arange(channels, device=logits.device, dtype=logits.dtype)
        coefficient = (2 * rank - channels + 1).reshape(1, channels, 1, 1)
        pair_sum = (coefficient * ordered).sum(dim=1)  # (B, H, W)
        return -pair_sum.mean() / (channels * (channels - 1) / 2)
