"""Training windows and augmentation: clicks and label maps move exactly with the image."""

import numpy as np
import pytest
import torch

from pointseg.train.augment import SliceAugment, crop_window


def test_crop_window_stays_inside_and_is_centred_without_jitter():
    rng = np.random.default_rng(0)
    assert crop_window((50.0, 60.0), (20, 30), (100, 120), rng, jitter=0.0) == (40, 45)
    assert crop_window((2.0, 118.0), (20, 30), (100, 120), rng, jitter=0.0) == (0, 90)  # clipped to the slice
    for _ in range(200):
        row, col = crop_window((50.0, 60.0), (20, 30), (100, 120), rng, jitter=0.25)
        assert 35 <= row <= 45 and 37 <= col <= 53  # centre moved by at most a quarter of the window


@pytest.mark.parametrize("seed", range(5))
def test_clicks_and_maps_move_with_the_image(seed):
    torch.manual_seed(seed)
    height, width = 64, 80
    image = torch.zeros(1, height, width)
    labels = torch.zeros(height, width, dtype=torch.uint8)
    points = torch.tensor([[20.0, 30.0], [40.0, 50.0]])
    for n, (r, c) in enumerate(points.long().tolist()):
        image[0, r - 1:r + 2, c - 1:c + 2] = 1.0  # a bright 3 x 3 blob under each click
        labels[r - 1:r + 2, c - 1:c + 2] = n + 1
    augment = SliceAugment(degrees=25, scale=(0.8, 1.2), brightness=0.0, contrast=0.0)
    out_image, (out_labels,), moved, inside = augment(image, [labels], points)
    assert out_image.shape == image.shape and out_labels.shape == labels.shape and out_labels.dtype == torch.uint8
    assert inside.all()
    for n, (r, c) in enumerate(moved.tolist()):
        rows, cols = np.nonzero(out_labels.numpy() == n + 1)
        assert abs(rows.mean() - r) < 1.0 and abs(cols.mean() - c) < 1.0, "label blob follows the click"
        blob = out_image[0].numpy() * (np.abs(np.arange(height)[:, None] - r) < 5) * (np.abs(np.arange(width) - c) < 5)
        rows, cols = np.indices(blob.shape)
        br, bc = (rows * blob).sum() / blob.sum(), (cols * blob).sum() / blob.sum()
        assert abs(br - r) < 1.0 and abs(bc - c) < 1.0, "image blob follows the click"
    assert set(np.unique(out_labels.numpy())) <= {0, 1, 2}, "nearest neighbour: no blended label ids"


def test_points_pushed_outside_are_flagged():
    torch.manual_seed(0)
    image = torch.rand(1, 32, 32)
    points = torch.tensor([[0.0, 0.0], [16.0, 16.0]])
    augment = SliceAugment(degrees=45, scale=(1.0, 1.0))
    flags = []
    for _ in range(20):
        _, _, moved, inside = augment(image, [], points)
        assert inside[1], "the centre stays inside under rotation"
        flags.append(bool(inside[0]))
    assert not all(flags), "a corner click leaves the slice under some 45-degree rotation"
