"""CE + soft Dice without a one-hot target: MONAI's DiceCELoss in value and gradient, and hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss, DiceLoss

from pointseg.errors import InputError
from pointseg.train.losses import SparseDiceCELoss, sparse_soft_dice

LN3 = math.log(3.0)


def random_case(classes: int, spatial: tuple[int, ...], seed: int = 0, batch: int = 2):
    """Peaked random logits (B, C, *spatial) that need a gradient and a label map (B, *spatial)."""
    generator = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn((batch, classes, *spatial), generator=generator)).requires_grad_()
    target = torch.randint(0, classes, (batch, *spatial), generator=generator)
    return logits, target


def value_and_grad(loss, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    value = loss(logits, target)
    (grad,) = torch.autograd.grad(value, logits)
    return value.detach(), grad


def monai_loss(**kwargs):
    monai = DiceCELoss(to_onehot_y=True, softmax=True, batch=True, **kwargs)
    return lambda logits, target: monai(logits, target[:, None])


@pytest.mark.parametrize("classes", [7, 64])
@pytest.mark.parametrize("spatial", [(9, 11), (5, 6, 7)], ids=["2d", "3d"])
def test_equals_monai_dice_ce_in_value_and_gradient(classes, spatial):
    logits, target = random_case(classes, spatial)
    ours, ours_grad = value_and_grad(SparseDiceCELoss(), logits, target)
    ref, ref_grad = value_and_grad(monai_loss(), logits, target)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    # the gradients are ~1 / (number of voxels): compare them relatively
    torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-5, atol=1e-5 * ref_grad.abs().max().item())


def test_weights_equal_monai_lambdas():
    logits, target = random_case(5, (4, 5, 6), seed=1)
    ours, ours_grad = value_and_grad(SparseDiceCELoss(dice_weight=0.3, ce_weight=2.0), logits, target)
    ref, ref_grad = value_and_grad(monai_loss(lambda_dice=0.3, lambda_ce=2.0), logits, target)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-5, atol=1e-5 * ref_grad.abs().max().item())


def test_hand_worked_two_classes_four_voxels():
    # voxel:          v0         v1         v2         v3
    # logits (c0,c1): (0, ln 3)  (0, ln 3)  (0, 0)     (0, 0)
    # p (c0, c1):     (1/4, 3/4) (1/4, 3/4) (1/2, 1/2) (1/2, 1/2)
    # target:         1          0          1          0
    logits = torch.tensor([[[[0.0, 0.0], [0.0, 0.0]], [[LN3, LN3], [0.0, 0.0]]]])  # (1, 2, 2, 2)
    target = torch.tensor([[[1, 0], [1, 0]]])
    # CE = mean(-ln p_target) = (ln 4/3 + ln 4 + ln 2 + ln 2) / 4 = (6 ln 2 - ln 3) / 4
    ce = (6 * math.log(2.0) - LN3) / 4
    # class 0: I = 1/4 (v1) + 1/2 (v3) = 3/4, P = 1/4 + 1/4 + 1/2 + 1/2 = 3/2, G = 2: Dice = 1.5 / 3.5 = 3/7
    # class 1: I = 3/4 (v0) + 1/2 (v2) = 5/4, P = 3/4 + 3/4 + 1/2 + 1/2 = 5/2, G = 2: Dice = 2.5 / 4.5 = 5/9
    # Dice loss = 1 - (3/7 + 5/9) / 2 = 1 - 62/126 = 32/63
    dice = 32 / 63
    exact = SparseDiceCELoss(smooth_nr=0.0, smooth_dr=0.0)
    total, terms = exact.terms(logits, target)
    assert terms["ce"].item() == pytest.approx(ce, abs=1e-6)
    assert terms["dice"].item() == pytest.approx(dice, abs=1e-6)
    assert total.item() == pytest.approx(ce + dice, abs=1e-6)
    assert SparseDiceCELoss()(logits, target).item() == pytest.approx(ce + dice, abs=1e-5)  # smooth 1e-5
    dices = sparse_soft_dice(torch.softmax(logits, 1), target, 0.0, 0.0)
    torch.testing.assert_close(dices, torch.tensor([3 / 7, 5 / 9]))
    assert SparseDiceCELoss(ce_only=True)(logits, target).item() == pytest.approx(ce, abs=1e-6)


def test_a_class_absent_from_the_target_still_counts_in_the_mean():
    # MONAI's behaviour, kept: all C classes are averaged, whether the target holds them or not.
    # 4 voxels, target (0, 1, 0, 1); logits 4 for the target class, 0 for the other present class and -7
    # for class 2, which the target lacks: p_target = e^4 / (e^4 + 1 + e^-7) ~ 0.982 and
    # p_2 = e^-7 / (e^4 + 1 + e^-7) ~ 1.6e-5 on every voxel.
    # Classes 0 and 1: I = 2 p_t, P = 2 p_t + 2 p_other, G = 2: Dice = (4 p_t + s) / (2 p_t + 2 p_other + 2 + s) ~ 0.98.
    # Class 2: I = G = 0, so Dice_2 = s / (P_2 + s) with P_2 = 4 p_2 ~ 6.6e-5: Dice_2 ~ 0.13. Class 2 thus adds
    # ~ (1 - 0.13) / 3 ~ 0.29 to the Dice loss although it is barely predicted; its Dice reaches ~ 1 only
    # once P_2 << s, i.e. when it is predicted nowhere.
    s = 1e-5
    target = torch.tensor([[[0, 1], [0, 1]]])
    logits = torch.zeros(1, 3, 2, 2)
    logits[:, 2] = -7.0
    logits.scatter_(1, target[:, None], 4.0)
    p_t, p_other, p_2 = (v / (math.e**4 + 1 + math.e**-7) for v in (math.e**4, 1.0, math.e**-7))
    dice_present = (4 * p_t + s) / (2 * p_t + 2 * p_other + 2 + s)
    dice_2 = s / (4 * p_2 + s)
    assert dice_present > 0.98 and 0.12 < dice_2 < 0.14
    _, terms = SparseDiceCELoss().terms(logits, target)
    assert terms["dice"].item() == pytest.approx(1 - (2 * dice_present + dice_2) / 3, rel=1e-5)
    assert terms["dice"].item() > 0.29  # the mean over the present classes only would be < 0.02
    logits.requires_grad_()
    ours, ours_grad = value_and_grad(SparseDiceCELoss(), logits, target)
    ref, ref_grad = value_and_grad(monai_loss(), logits, target)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-4, atol=1e-8)
    assert (ours_grad[:, 2] > 0).all()  # descent lowers the absent class's logit further
    nowhere = logits.detach().clone()
    nowhere[:, 2] = -30.0  # P_2 ~ 4e-15 << s: Dice_2 ~ 1
    _, terms = SparseDiceCELoss().terms(nowhere, target)
    assert terms["dice"].item() == pytest.approx(1 - (2 * dice_present + 1) / 3, abs=1e-5)


def test_terms_are_monai_dice_and_ce():
    logits, target = random_case(6, (5, 4, 3), seed=2)
    total, terms = SparseDiceCELoss().terms(logits, target)
    dice = DiceLoss(to_onehot_y=True, softmax=True, batch=True)(logits, target[:, None])
    torch.testing.assert_close(terms["ce"], F.cross_entropy(logits, target).detach())
    torch.testing.assert_close(terms["dice"], dice.detach())
    torch.testing.assert_close(total.detach(), terms["ce"] + terms["dice"])
    assert not terms["ce"].requires_grad and not terms["dice"].requires_grad
    per_class = DiceLoss(to_onehot_y=True, softmax=True, batch=True, reduction="none")(logits, target[:, None])
    torch.testing.assert_close(1 - sparse_soft_dice(torch.softmax(logits, 1), target), per_class.detach().flatten())


def test_ce_only_is_plain_cross_entropy():
    logits, target = random_case(9, (6, 7), seed=3)
    loss = SparseDiceCELoss(ce_only=True)
    ours, ours_grad = value_and_grad(loss, logits, target)
    ref, ref_grad = value_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-5, atol=1e-9)
    assert set(loss.terms(logits, target)[1]) == {"ce"}
    ours, _ = value_and_grad(SparseDiceCELoss(ce_only=True, ce_weight=0.5), logits, target)
    torch.testing.assert_close(ours, 0.5 * ref)


def test_target_forms_agree():
    logits, target = random_case(4, (3, 4, 5), seed=4)
    loss = SparseDiceCELoss()
    reference = value_and_grad(loss, logits, target)
    for form in (target[:, None], target.to(torch.uint8), target.to(torch.int32)[:, None], target.float()):
        value, grad = value_and_grad(loss, logits, form)
        torch.testing.assert_close(value, reference[0])
        torch.testing.assert_close(grad, reference[1])


def test_channels_last_logits():
    logits, target = random_case(5, (4, 5, 6), seed=5)
    reference = value_and_grad(SparseDiceCELoss(), logits, target)
    strided = logits.detach().to(memory_format=torch.channels_last_3d).requires_grad_()
    value, grad = value_and_grad(SparseDiceCELoss(), strided, target)
    torch.testing.assert_close(value, reference[0])
    torch.testing.assert_close(grad, reference[1])


def test_builds_no_one_hot(monkeypatch):
    def no_one_hot(*args, **kwargs):
        raise AssertionError("one-hot built")

    monkeypatch.setattr(F, "one_hot", no_one_hot)
    monkeypatch.setattr(torch.nn.functional, "one_hot", no_one_hot)
    logits, target = random_case(64, (4, 4, 4), seed=6)
    SparseDiceCELoss()(logits, target).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_computes_in_float32_under_autocast():
    logits, target = random_case(8, (4, 5, 6), seed=7)
    half = logits.detach().bfloat16().requires_grad_()
    reference = value_and_grad(SparseDiceCELoss(), half.detach().float().requires_grad_(), target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value, grad = value_and_grad(SparseDiceCELoss(), half, target)
    assert value.dtype == torch.float32 and grad.dtype == torch.bfloat16
    torch.testing.assert_close(value, reference[0])
    torch.testing.assert_close(grad.float(), reference[1], rtol=1e-2, atol=1e-2 * reference[1].abs().max().item())


def test_bad_inputs_are_input_errors():
    logits, target = random_case(4, (3, 4), seed=8)
    loss = SparseDiceCELoss()
    with pytest.raises(InputError, match="do not match"):
        loss(logits, target[:, :2])
    with pytest.raises(InputError, match="do not match"):
        loss(logits, torch.stack([target, target], 1))
    with pytest.raises(InputError, match="target classes"):
        loss(logits, target + 1)
    with pytest.raises(InputError, match="target classes"):
        loss(logits, target - 1)
    with pytest.raises(InputError, match="at least 2 classes"):
        loss(logits[:, :1], target.clamp(max=0))
    with pytest.raises(InputError, match=">= 0"):
        SparseDiceCELoss(dice_weight=-1.0)
