"""Weak losses: hand-worked values on tiny tensors, the registry and the weighted sum."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from pointseg.errors import InputError
from pointseg.train.losses import (
    DEFAULT_WEIGHTS,
    LOSSES,
    ConsistencyLoss,
    ExtentLoss,
    PointLoss,
    SeparationLoss,
    WeightedSum,
    build_loss,
    dihedral,
    semi_mask,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_model(build, seed: int) -> nn.Module:
    """A network built inside a forked RNG so that the global random state is left untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


def make_batch(logits: torch.Tensor, points=(), labels=(), extent_mask=None, image=None) -> dict:
    b, c, h, w = logits.shape
    return {
        "image": torch.zeros(b, 1, h, w) if image is None else image,
        "point_index": torch.tensor(list(points), dtype=torch.int64).reshape(-1, 3),
        "point_label": torch.tensor(list(labels), dtype=torch.int64).reshape(-1),
        "extent_mask": torch.ones(b, c, h, w, dtype=torch.bool) if extent_mask is None else extent_mask,
    }


# ---------------------------------------------------------------- point loss L_P


def point_logits() -> torch.Tensor:
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, :, 0, 0] = torch.tensor([0.0, LN2, 0.0])  # softmax (1/4, 2/4, 1/4)
    logits[0, :, 1, 1] = torch.tensor([LN3, 0.0, 0.0])  # softmax (3/5, 1/5, 1/5)
    logits[0, :, 0, 1] = torch.tensor([5.0, -2.0, 1.0])  # unclicked
    return logits


POINTS = [(0, 0, 0), (0, 1, 1)]
LABELS = [1, 0]
# ce at (0,0), label 1: -log_softmax = -(ln 2 - ln(1 + 2 + 1)) = ln 4 - ln 2 = ln 2
# ce at (1,1), label 0: -(ln 3 - ln(3 + 1 + 1)) = ln(5/3)
CE = (LN2, math.log(5 / 3))


def test_point_loss_is_the_mean_cross_entropy_at_the_clicks():
    loss = PointLoss()(point_logits(), make_batch(point_logits(), POINTS, LABELS))
    assert loss.item() == pytest.approx((CE[0] + CE[1]) / 2, abs=1e-6)


def test_point_loss_class_weights_give_the_weighted_mean():
    logits = point_logits()
    loss = PointLoss(class_weights=(1.0, 3.0, 1.0))(logits, make_batch(logits, POINTS, LABELS))
    # click 1 has label 1 (weight 3), click 2 label 0 (weight 1): (3 ce_1 + 1 ce_2) / (3 + 1)
    assert loss.item() == pytest.approx((3 * CE[0] + 1 * CE[1]) / 4, abs=1e-6)


def test_point_loss_ignores_unclicked_pixels():
    logits = point_logits().requires_grad_(True)
    batch = make_batch(logits, POINTS, LABELS)
    loss = PointLoss()(logits, batch)
    loss.backward()
    assert torch.all(logits.grad[0, :, 0, 1] == 0) and torch.all(logits.grad[0, :, 1, 0] == 0)
    assert logits.grad[0, :, 0, 0].abs().sum() > 0
    changed = point_logits()
    changed[0, :, 0, 1] = torch.tensor([-7.0, 9.0, 3.0])
    changed[0, :, 1, 0] = 100.0
    assert PointLoss()(changed, batch).item() == loss.item()


def test_point_loss_without_clicks_is_a_connected_zero():
    logits = torch.randn(2, 3, 4, 4, generator=seeded(5)).requires_grad_(True)
    loss = PointLoss()(logits, make_batch(logits))
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.all(logits.grad == 0)


# ---------------------------------------------------------------- consistency loss L_C


def row_col_ramp(x: torch.Tensor) -> torch.Tensor:
    """A non-equivariant model: channels (x, x + row + 2 col)."""
    h, w = x.shape[-2:]
    ramp = torch.arange(h, dtype=x.dtype)[:, None] + 2 * torch.arange(w, dtype=x.dtype)[None, :]
    return torch.cat([x, x + ramp], dim=1)


@pytest.mark.parametrize("shape", [(2, 1, 5, 5), (2, 1, 4, 7)])
@pytest.mark.parametrize("index", range(1, 8))
def test_consistency_is_zero_for_an_equivariant_model(shape, index):
    model = tiny_model(lambda: nn.Conv2d(1, 3, kernel_size=1), seed=0)
    image = torch.randn(*shape, generator=seeded(0))
    loss = ConsistencyLoss().apply(model(image), image, model, index)
    assert loss.item() < 1e-6


@pytest.mark.parametrize("shape", [(1, 1, 5, 5), (1, 1, 4, 7)])
@pytest.mark.parametrize("index", range(1, 8))
def test_consistency_is_positive_for_a_non_equivariant_model(shape, index):
    image = torch.rand(*shape, generator=seeded(1))
    assert ConsistencyLoss().apply(row_col_ramp(image), image, row_col_ramp, index).item() > 1e-3


def test_consistency_hand_value_for_a_flip():
    def model(x):  # channel 0 = ln 3 * col, channel 1 = 0, whatever the input
        out = torch.zeros(x.shape[0], 2, *x.shape[-2:])
        out[:, 0] = LN3 * torch.arange(x.shape[-1], dtype=torch.float32)
        return out

    image = torch.zeros(1, 1, 1, 2)
    # softmax(f(X)): col 0 (0, 0) -> (1/2, 1/2); col 1 (ln 3, 0) -> (3/4, 1/4)
    # flipped:       col 0 (3/4, 1/4), col 1 (1/2, 1/2); softmax(f(flip X)) is the unflipped one again
    # |diff| = 1/4 in all 4 elements -> mean 1/4
    assert dihedral(image, 4).shape == image.shape
    loss = ConsistencyLoss().apply(model(image), image, model, index=4)
    assert loss.item() == pytest.approx(0.25, abs=1e-7)


def test_dihedral_transforms_are_the_eight_distinct_ones():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    images = [dihedral(x, i) for i in range(8)]
    assert torch.equal(images[0], x)
    assert images[1].shape == (1, 1, 3, 2)
    assert len({tuple(im.shape) + tuple(im.flatten().tolist()) for im in images}) == 8


def test_consistency_draws_replay_with_the_seed():
    first, second, other = ConsistencyLoss(seed=3), ConsistencyLoss(seed=3), ConsistencyLoss(seed=4)
    draws = [first.draw() for _ in range(200)]
    assert draws == [second.draw() for _ in range(200)]
    assert draws != [other.draw() for _ in range(200)]
    assert set(draws) == set(range(1, 8))


def test_consistency_generator_state_is_saved_with_the_module():
    loss = ConsistencyLoss(seed=5)
    for _ in range(3):
        loss.draw()
    state = loss.state_dict()
    expected = [loss.draw() for _ in range(20)]
    resumed = ConsistencyLoss(seed=0)
    resumed.load_state_dict(state)
    assert [resumed.draw() for _ in range(20)] == expected


def test_consistency_forward_runs_on_non_square_input_and_needs_the_model():
    model = tiny_model(lambda: nn.Conv2d(1, 3, kernel_size=3, padding=1), seed=1)
    image = torch.rand(2, 1, 6, 9, generator=seeded(1))
    logits = model(image)
    loss = ConsistencyLoss(seed=1)
    for _ in range(10):
        assert torch.isfinite(loss(logits, make_batch(logits, image=image), model))
    with pytest.raises(ValueError):
        loss(logits, make_batch(logits, image=image), None)


# ---------------------------------------------------------------- separation loss L_S


def test_separation_hand_value():
    logits = torch.tensor([0.0, LN3, -LN3]).reshape(1, 3, 1, 1)
    # sigmoid -> 0.5, 0.75, 0.25; pair differences 0.25, 0.25, 0.5; mean over 3 pairs = 1/3
    assert SeparationLoss()(logits, make_batch(logits)).item() == pytest.approx(-1.0 / 3.0, abs=1e-6)


def test_separation_identical_channels_contribute_nothing():
    logits = torch.tensor([1.3, 1.3, 1.3]).reshape(1, 3, 1, 1)
    assert SeparationLoss()(logits, make_batch(logits)).item() == pytest.approx(0.0, abs=1e-7)
    logits = torch.tensor([0.0, 0.0, LN3]).reshape(1, 3, 1, 1)
    # pairs (0.5, 0.5, 0.75): 0 + 0.25 + 0.25 over 3 pairs
    assert SeparationLoss()(logits, make_batch(logits)).item() == pytest.approx(-0.5 / 3, abs=1e-6)


def test_separation_matches_the_pairwise_definition():
    logits = torch.randn(2, 6, 3, 4, generator=seeded(1)) * 3
    s = torch.sigmoid(logits)
    pairs = [(s[:, m] - s[:, n]).abs() for m in range(6) for n in range(m + 1, 6)]
    expected = -torch.stack(pairs).mean()
    value = SeparationLoss()(logits, make_batch(logits))
    assert value.item() == pytest.approx(expected.item(), abs=1e-6)
    assert -1.0 <= value.item() <= 0.0


# ---------------------------------------------------------------- extent loss L_E


def test_extent_is_zero_when_silent_outside_the_mask_and_positive_when_firing():
    mask = torch.ones(1, 2, 3, 3, dtype=torch.bool)
    mask[0, 1, :, 2] = False
    logits = torch.zeros(1, 2, 3, 3)
    logits[0, 1, :, 2] = -50.0
    assert ExtentLoss()(logits, make_batch(logits, extent_mask=mask)).item() < 1e-12
    logits[0, 1, :, 2] = 3.0
    assert ExtentLoss()(logits, make_batch(logits, extent_mask=mask)).item() > 0.1


def test_extent_hand_value_and_nothing_counted_inside_the_mask():
    mask = torch.ones(2, 3, 2, 2, dtype=torch.bool)
    mask[1, 2, 0, 1] = False
    logits = torch.full((2, 3, 2, 2), 1e4)  # huge everywhere the class may be present: not counted
    logits[1, 2, 0, 1] = 0.0
    # one masked pixel with sigmoid 1/2: -log(1 - 1/2) = ln 2, over B*C*H*W = 24 elements
    assert ExtentLoss()(logits, make_batch(logits, extent_mask=mask)).item() == pytest.approx(LN2 / 24, abs=1e-7)


# ---------------------------------------------------------------- semi-masks (eq. 3)


def test_semi_mask_is_the_intersection_of_the_balls():
    points = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 20.0], [0.0, 0.0, 0.0]])
    labels = np.array([1, 1, 0])
    mask = semi_mask(points, labels, 0.0, (1, 30), 1.0, num_classes=4, radius_mm=10.0)
    assert mask.shape == (4, 1, 30) and mask.dtype == bool
    # col c is within 10 of both clicks iff |c - 5| < 10 and |c - 20| < 10, i.e. c in 11..14
    assert np.flatnonzero(mask[1, 0]).tolist() == [11, 12, 13, 14]
    assert not mask[1, 0, 5]  # on the first click, 15 from the second
    assert mask[0].all() and mask[2].all() and mask[3].all()  # background, unclicked classes


def test_semi_mask_counts_the_distance_between_slices():
    points = np.array([[0.0, 0.0, 5.0]])
    # slice at 6 mm: 36 + (c - 5)^2 < 100  <=>  |c - 5| < 8  <=>  c in -2..12
    mask = semi_mask(points, [1], 6.0, (1, 20), 1.0, num_classes=2, radius_mm=10.0)
    assert np.flatnonzero(mask[1, 0]).tolist() == list(range(0, 13))
    assert not semi_mask(points, [1], 10.0, (1, 20), 1.0, num_classes=2, radius_mm=10.0)[1].any()


def test_semi_mask_radius_is_in_millimetres():
    points = torch.tensor([[3.0, 20.0, 14.0], [-4.0, 12.0, 30.0], [1.0, 30.0, 8.0]])
    labels = torch.tensor([1, 1, 2])
    fine = semi_mask(points, labels, 2.0, (40, 40), 1.0, num_classes=3, radius_mm=15.0)
    coarse = semi_mask(points, labels, 2.0, (20, 20), 2.0, num_classes=3, radius_mm=15.0)
    assert fine[1].any() and not fine[1].all() and fine[2].any()
    np.testing.assert_array_equal(coarse, fine[:, ::2, ::2])


def test_semi_mask_rejects_labels_out_of_range():
    with pytest.raises(InputError):
        semi_mask(np.zeros((1, 3)), [3], 0.0, (2, 2), 1.0, num_classes=3)


def test_semi_mask_is_fast_on_a_full_slice():
    generator = np.random.default_rng(0)
    points = generator.uniform(0, 352, size=(50, 3))
    labels = generator.integers(0, 6, size=50)
    start = time.perf_counter()
    mask = semi_mask(points, labels, 170.0, (352, 352), 1.0, num_classes=6)
    assert time.perf_counter() - start < 2.0
    assert mask.shape == (6, 352, 352)


# ---------------------------------------------------------------- registry and weighted sum


def test_registry_builds_by_name_and_rejects_unknown_names():
    assert set(LOSSES) == {"point", "consistency", "separation", "extent"}
    assert set(DEFAULT_WEIGHTS) == set(LOSSES)
    assert isinstance(build_loss("extent"), ExtentLoss)
    assert isinstance(build_loss("point", class_weights=[1.0, 2.0]), PointLoss)
    with pytest.raises(InputError, match="consistency"):
        build_loss("dice")
    with pytest.raises(InputError):
        WeightedSum({"dice": 1.0})


def test_weighted_sum_is_the_weighted_total_and_skips_zero_weights():
    logits = torch.randn(1, 3, 4, 4, generator=seeded(2))
    mask = torch.rand(1, 3, 4, 4, generator=seeded(3)) > 0.5
    mask[:, 0] = True
    batch = make_batch(logits, [(0, 1, 2), (0, 3, 0)], [2, 0], extent_mask=mask)
    weights = {"point": 1.0, "consistency": 0.0, "separation": 0.5, "extent": 2.0}
    total, terms = WeightedSum(weights, point={"class_weights": [1.0, 2.0, 3.0]})(logits, batch, None)
    point = PointLoss(class_weights=[1.0, 2.0, 3.0])(logits, batch)
    separation = SeparationLoss()(logits, batch)
    extent = ExtentLoss()(logits, batch)
    assert set(terms) == {"point", "separation", "extent"}
    assert total.item() == pytest.approx((point + 0.5 * separation + 2.0 * extent).item(), abs=1e-6)
    assert terms["extent"].item() == pytest.approx(extent.item())
    assert all(not term.requires_grad for term in terms.values())


def test_gradients_flow_to_the_model_through_all_terms():
    model = tiny_model(
        lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1)), seed=3
    )
    image = torch.rand(2, 1, 8, 6, generator=seeded(4))
    logits = model(image)
    mask = torch.ones(2, 3, 8, 6, dtype=torch.bool)
    mask[:, 1:, :, :3] = False
    batch = make_batch(logits, [(0, 2, 2), (1, 5, 4)], [1, 2], extent_mask=mask, image=image)
    losses = WeightedSum(DEFAULT_WEIGHTS, consistency={"seed": 0})
    total, terms = losses(logits, batch, model)
    assert set(terms) == set(DEFAULT_WEIGHTS)
    total.backward()
    for parameter in model.parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_semi_mask_takes_one_radius_per_class():
    # one click per class at column 10 of a 1 x 40 slice, 1 mm pixels, on the slice itself
    points = np.array([[0.0, 0.0, 10.0], [0.0, 0.0, 10.0]])
    mask = semi_mask(points, [1, 2], 0.0, (1, 40), 1.0, num_classes=3, radius_mm=[0.0, 5.0, 20.0])
    assert np.flatnonzero(mask[1, 0]).tolist() == list(range(6, 15))  # |c - 10| < 5
    assert np.flatnonzero(mask[2, 0]).tolist() == list(range(0, 30))  # |c - 10| < 20
    assert mask[0].all()


def test_label_sets_give_each_structure_its_extent():
    from pointseg.labels import get_label_set

    bones = get_label_set("bones")
    radii = dict(zip(bones.names, bones.extent_radii()))
    assert radii["vertebrae_L3"] == 110.0 and radii["femur_left"] > 200.0 and radii["rib_left_1"] > 110.0
    assert get_label_set("lumbar").extent_radii() == (0.0,) + (110.0,) * 5  # as before: 110 mm per vertebra
