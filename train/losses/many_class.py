"""Cross-entropy plus soft Dice over all classes without a one-hot target (seed 001 §2.3, eq. 1).

``L = CE + (1 - mean_c Dice_c)`` for label sets of 60-126 classes: the per-class sums of the soft Dice
are gathered at each voxel's target class and added into C bins (``index_add_``, ``bincount``), so no
(B, C, *spatial) one-hot of the target is ever built. Value and gradient equal MONAI's
``DiceCELoss(to_onehot_y=True, softmax=True, batch=True)``; the backward is written by hand so that forward
and backward each hold a single float32 buffer the size of the logits (the backward's becomes the gradient),
about 1.1x the logits at peak against 5x for MONAI (``benchmarks/many_class_loss.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from pointseg.errors import InputError


def _flat_target(logits: Tensor, target: Tensor) -> Tensor:
    """Target (B, *spatial) or (B, 1, *spatial) as int64 (B, *spatial), checked against the logits' shape."""
    if target.dim() == logits.dim() and target.shape[1] == 1:
        target = target[:, 0]
    if logits.dim() < 3 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise InputError(
            f"logits (B, C, *spatial) and target (B, *spatial) or (B, 1, *spatial) do not match: "
            f"logits {tuple(logits.shape)}, target {tuple(target.shape)}"
        )
    if logits.shape[1] < 2:
        raise InputError(f"need at least 2 classes, got logits {tuple(logits.shape)}")
    if target.is_floating_point():
        target = target.round()
    target = target.to(device=logits.device, dtype=torch.long)
    if target.numel():
        low, high = (int(v) for v in torch.aminmax(target))
        if low < 0 or high >= logits.shape[1]:
            raise InputError(f"target classes must lie in [0, {logits.shape[1] - 1}], got [{low}, {high}]")
    return target


def _dice_parts(probabilities: Tensor, target: Tensor, smooth_nr: float, smooth_dr: float) -> tuple[Tensor, Tensor]:
    """Numerator ``2 I_c + smooth_nr`` and denominator ``P_c + G_c + smooth_dr`` (C,) of each class's soft Dice."""
    num_classes = probabilities.shape[1]
    labels = target.reshape(-1)
    p_target = probabilities.gather(1, target.unsqueeze(1)).reshape(-1)
    # float64 bins: a class may hold millions of voxels, added one by one.
    intersection = torch.zeros(num_classes, dtype=torch.float64, device=probabilities.device)
    intersection = intersection.index_add(0, labels, p_target.double())
    predicted = probabilities.sum(dim=[0, *range(2, probabilities.dim())])
    counts = torch.bincount(labels, minlength=num_classes)
    numerator = (2 * intersection + smooth_nr).to(probabilities.dtype)
    denominator = (predicted.double() + counts + smooth_dr).to(probabilities.dtype)
    return numerator, denominator


def sparse_soft_dice(probabilities: Tensor, target: Tensor, smooth_nr: float = 1e-5,
                     smooth_dr: float = 1e-5) -> Tensor:
    """Soft Dice per class (C,), summed over the batch and all voxels, from a label map instead of a one-hot.

    Args:
        probabilities: (B, C, *spatial) softmax probabilities p (differentiable).
        target: int64 (B, *spatial) class of each voxel.
        smooth_nr, smooth_dr: added to the numerator and the denominator.

    Returns ``(2 I_c + smooth_nr) / (P_c + G_c + smooth_dr)`` with I_c the sum of p_c over the voxels of
    class c (p gathered at the target class, added into C bins), P_c the sum of p_c over all voxels and G_c
    the number of voxels of class c. A class absent from the target has I_c = G_c = 0, hence
    Dice_c = smooth_nr / (P_c + smooth_dr): about 0 unless the class is predicted nowhere
    (P_c << smooth_dr), as in MONAI.
    """
    numerator, denominator = _dice_parts(probabilities, target, smooth_nr, smooth_dr)
    return numerator / denominator


_CHUNK = 8  # classes per in-place step of the backward (its temporary is _CHUNK / C of the logits)


class _SparseDiceCE(torch.autograd.Function):
    """Forward and hand-written backward of the loss, each holding one (B, C, *spatial) float32 buffer.

    Forward keeps only the class sums; backward recomputes p = softmax(logits) and overwrites it with the
    gradient ``p_c (beta_c + w_ce / N - s) + [t = c] (alpha_c p_c - w_ce / N)``, where
    ``alpha_c = -2 w_d / (C den_c)``, ``beta_c = w_d num_c / (C den_c^2)`` and ``s = alpha_t p_t + sum_k beta_k p_k``
    per voxel (the softmax Jacobian applied to d loss / d p). Autograd would instead keep log p and p and
    build several one-hot-sized gradients.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor, smooth_nr: float, smooth_dr: float, dice_weight: float,
                ce_weight: float, with_dice: bool) -> tuple[Tensor, Tensor, Tensor]:
        logp = F.log_softmax(logits.float(), dim=1)
        ce = F.nll_loss(logp, target)
        total = ce_weight * ce
        dice_loss = torch.zeros_like(ce)
        numerator = denominator = None
        if with_dice:
            numerator, denominator = _dice_parts(logp.exp_(), target, smooth_nr, smooth_dr)
            dice_loss = 1 - (numerator / denominator).mean()
            total = total + dice_weight * dice_loss
        del logp
        ctx.save_for_backward(logits, target, numerator, denominator)
        ctx.weights = (dice_weight, ce_weight)
        ctx.mark_non_differentiable(ce, dice_loss)
        return total, ce, dice_loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_total: Tensor, grad_ce: Tensor, grad_dice: Tensor) -> tuple[Tensor | None, ...]:
        logits, target, numerator, denominator = ctx.saved_tensors
        dice_weight, ce_weight = ctx.weights
        p = torch.softmax(logits.float(), dim=1)
        b, c = p.shape[:2]
        p = p.reshape(b, c, -1)  # a copy only for channels-last logits
        labels = target.reshape(b, 1, -1)
        ce_scale = ce_weight / target.numel()
        if numerator is None:
            grad = p.scatter_add_(1, labels, torch.full_like(labels, -1.0, dtype=p.dtype)).mul_(ce_scale)
        else:
            alpha = -2 * dice_weight / (c * denominator)
            beta = dice_weight * numerator / (c * denominator**2)
            p_target = p.gather(1, labels)  # (B, 1, N)
            alpha_target = alpha[labels]
            s = alpha_target * p_target + torch.matmul(beta, p).unsqueeze(1)  # (B, 1, N)
            scale = (beta + ce_scale).view(1, c, 1)
            factor = p.new_empty(b, min(c, _CHUNK), p.shape[2])
            for start in range(0, c, _CHUNK):  # p becomes the gradient in place, _CHUNK classes at a time
                chunk = factor[:, :min(_CHUNK, c - start)]
                p[:, start:start + _CHUNK].mul_(torch.sub(scale[:, start:start + _CHUNK], s, out=chunk))
            del factor
            grad = p.scatter_add_(1, labels, alpha_target * p_target - ce_scale)
        grad = grad.mul_(grad_total).view(logits.shape).to(logits.dtype)
        return grad, None, None, None, None, None, None


class SparseDiceCELoss(nn.Module):
    """``ce_weight * CE + dice_weight * (1 - mean_c Dice_c)`` of logits against a label map, with no one-hot.

    ``loss(logits, target) -> scalar`` with logits (B, C, *spatial) (2D or 3D) and integer target
    (B, *spatial) or (B, 1, *spatial). Computed in float32 (also under autocast) from one ``log_softmax``
(the backward recomputes the softmax instead of keeping it):
    CE is the mean of ``-log p_target`` over all voxels, Dice_c is :func:`sparse_soft_dice` summed over the
    batch, and the mean runs over all C classes, background and classes absent from the target included
    (an absent class adds about ``dice_weight / C`` unless it is predicted nowhere) -- exactly MONAI's
    ``DiceCELoss(to_onehot_y=True, softmax=True, batch=True, lambda_dice=dice_weight, lambda_ce=ce_weight)``.

    Args:
        smooth_nr, smooth_dr: added to the Dice's numerator and denominator.
        dice_weight, ce_weight: weights of the two terms.
        ce_only: the paper's "xent" variant: cross-entropy alone (``ce_weight * CE``), the Dice is not computed.
    """

    def __init__(self, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, dice_weight: float = 1.0,
                 ce_weight: float = 1.0, ce_only: bool = False):
        super().__init__()
        if dice_weight < 0 or ce_weight < 0:
            raise InputError(f"loss weights must be >= 0, got dice {dice_weight}, ce {ce_weight}")
        self.smooth_nr = float(smooth_nr)
        self.smooth_dr = float(smooth_dr)
        self.dice_weight = float(dice_weight)
        self.ce_weight = float(ce_weight)
        self.ce_only = bool(ce_only)

    def terms(self, logits: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The total and its unweighted terms ``{"ce": CE, "dice": 1 - mean Dice}`` (detached; no "dice" if ce_only)."""
        target = _flat_target(logits, target)
        with torch.autocast(logits.device.type, enabled=False):
            total, ce, dice = _SparseDiceCE.apply(logits, target, self.smooth_nr, self.smooth_dr, self.dice_weight,
                                                  self.ce_weight, not self.ce_only)
        return total, ({"ce": ce} if self.ce_only else {"ce": ce, "dice": dice})

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.terms(logits, target)[0]
