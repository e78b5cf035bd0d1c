"""Maximal extent loss L_E (eqs. 3-4) and the semi-masks m_k it reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pointseg.errors import InputError
from pointseg.train.losses.base import Model, WeakLoss, register_loss


def semi_mask(
    points_mm: np.ndarray | Tensor,
    point_labels: np.ndarray | Tensor,
    slice_mm: float,
    shape: tuple[int, int],
    pixel_mm: float,
    num_classes: int,
    radius_mm: float | Sequence[float] = 110.0,
) -> np.ndarray:
    """The semi-masks m_k of eq. 3 on one slice: bool (C, H, W), True where class k may be present.

    Args:
        points_mm: (N, 3) the case's clicks as (slice, row, col) positions in millimetres.
        point_labels: (N,) class id of each click (0 = background).
        slice_mm: position of this slice along the stack, in mm.
        shape: (H, W) of the slice; pixel (r, c) lies at (slice_mm, r * pixel_mm, c * pixel_mm).
        pixel_mm: in-plane pixel spacing in mm.
        num_classes: C, background included.
        radius_mm: r, the largest distance from a click at which its class may still be present: one value
            for every class, or one per class id (the label set's extent radii, e.g. 110 mm for a vertebra,
            260 mm for a femur).

    Eq. 3: ``m_k(q) = 1`` iff ``max_{p of class k} ||q - p|| < r``, i.e. q lies within r of *every* click of
    class k (the intersection of the balls). A class without clicks gets all True (the max over an empty
    set is -inf), and so does channel 0: there is no extent prior for the background.
    """
    points = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    labels = np.asarray(point_labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(points):
        raise InputError(f"{len(points)} points but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise InputError(f"point labels must be in 0..{num_classes - 1}, got {sorted(set(labels.tolist()))}")
    height, width = shape
    radii = np.broadcast_to(np.asarray(radius_mm, dtype=np.float64), (num_classes,))
    mask = np.ones((num_classes, height, width), dtype=bool)
    rows = np.arange(height, dtype=np.float64) * pixel_mm
    cols = np.arange(width, dtype=np.float64) * pixel_mm
    for k in np.unique(labels[labels > 0]):
        mine = points[labels == k]  # (n, 3)
        d2_slice = (slice_mm - mine[:, 0])[:, None, None] ** 2  # (n, 1, 1)
        d2_row = (rows[None, :] - mine[:, 1:2])[:, :, None] ** 2  # (n, H, 1)
        d2_col = (cols[None, :] - mine[:, 2:3])[:, None, :] ** 2  # (n, 1, W)
        mask[k] = (d2_slice + d2_row + d2_col).max(axis=0) < radii[k] ** 2
    return mask


@register_loss("extent")
class ExtentLoss(WeakLoss):
    """``L_E = -sum_k sum_q (1 - m_k(q)) log(1 - sigmoid(z_k(q))) / (B*C*H*W)``.

    Binary cross-entropy towards 0 of the per-channel sigmoid of ``logits`` (B, C, H, W) wherever
    ``batch["extent_mask"]`` (B, C, H, W, bool) is False, and no loss where it is True. Eq. 4 as printed
    writes ``log S(z_k)``, which would push class k *towards* 1 outside its extent; the text says the output
    "should not indicate class k" there, so we use ``log(1 - S(z_k))`` (a BCE with target 0 and weight
    ``1 - m_k``, computed from the logits for numerical stability). The sum is divided by the number of
    elements B*C*H*W so that the weight of the term does not depend on the image size.
    """

    def forward(self, logits: Tensor, batch: Mapping[str, Tensor], model: Model | None = None) -> Tensor:
        mask = batch["extent_mask"].to(device=logits.device)
        if mask.shape != logits.shape:
            raise ValueError(f"extent_mask {tuple(mask.shape)} does not match logits {tuple(logits.shape)}")
        outside = (~mask.bool()).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), weight=outside, reduction="sum") / logits.numel()
