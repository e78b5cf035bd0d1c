"""Morphological smoothing and cleanup on tiny hand-made label maps."""

from __future__ import annotations

import numpy as np
import pytest

from pointseg.pseudo import ellipsoid_element, largest_component, smooth_labels, smooth_probabilities

ISO = (1.0, 1.0, 1.0)
# radius 1.8 mm on a 1 mm grid: every offset with |d_a| <= 1 has length <= sqrt(3) = 1.73 mm <= 1.8, and
# +-2 voxels is beyond 1.8 mm, so the element is the full 3 x 3 x 3 box: opening and closing of boxes by
# it are exact.
BOX_MM = 1.8


def cube(shape, *box, label=1) -> np.ndarray:
    labels = np.zeros(shape, dtype=np.uint8)
    labels[tuple(slice(a, b) for a, b in box)] = label
    return labels


def test_ellipsoid_element_anisotropic():
    element = ellipsoid_element(3.0, (3.0, 1.0, 1.0))
    # half-extents floor(3/3) = 1 and floor(3/1) = 3 voxels
    assert element.shape == (3, 7, 7)
    # slice i = 0: disc of radius 3 voxels, #{(j, k): j^2 + k^2 <= 9} = 29; slices i = +-1 (3 mm away):
    # only the centre voxel
    assert element[1].sum() == 29
    assert element[0].sum() == element[2].sum() == 1 and element[0, 3, 3] and element[2, 3, 3]
    assert element.sum() == 31


def test_ellipsoid_element_small_cases():
    np.testing.assert_array_equal(ellipsoid_element(0, ISO), np.ones((1, 1, 1), bool))
    assert ellipsoid_element(BOX_MM, ISO).all() and ellipsoid_element(BOX_MM, ISO).shape == (3, 3, 3)
    assert ellipsoid_element(1.0, ISO).sum() == 7  # the centre and its 6 face neighbours
    with pytest.raises(ValueError):
        ellipsoid_element(-1, ISO)


def test_largest_component_uses_26_connectivity():
    mask = np.zeros((6, 6, 6), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # corner-touching: one component of 2
    mask[4:6, 0:2, 5] = True  # 4 voxels: the largest
    expected = np.zeros_like(mask)
    expected[4:6, 0:2, 5] = True
    np.testing.assert_array_equal(largest_component(mask), expected)
    mask[2, 2, 2] = mask[3, 3, 3] = True  # now the diagonal chain 0..3 has 4 voxels too, and comes first
    assert largest_component(mask)[0, 0, 0] and not largest_component(mask)[4, 0, 5]
    assert not largest_component(np.zeros((3, 3, 3), bool)).any()


def test_keep_largest_removes_a_detached_speck():
    labels = cube((12, 12, 12), (2, 7), (2, 7), (2, 7), label=2)
    body = labels.copy()
    labels[9:11, 9:11, 9:11] = 2  # a 2x2x2 speck of class 2 far from its body
    out = smooth_labels(labels, ISO, num_classes=6, opening_mm=0, closing_mm=0)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, body)
    kept = smooth_labels(labels, ISO, num_classes=6, opening_mm=0, closing_mm=0, keep_largest=False)
    np.testing.assert_array_equal(kept, labels)


def test_fill_holes_fills_a_cavity():
    labels = cube((11, 11, 11), (2, 9), (2, 9), (2, 9))
    full = labels.copy()
    labels[4:7, 4:7, 5] = 0  # a 3x3x1 cavity inside the class-1 cube
    np.testing.assert_array_equal(smooth_labels(labels, ISO, 6, opening_mm=0, closing_mm=0), full)
    np.testing.assert_array_equal(smooth_labels(labels, ISO, 6, opening_mm=0, closing_mm=0, fill_holes=False), labels)


def test_opening_removes_a_thin_spur():
    labels = cube((16, 13, 13), (3, 10), (3, 10), (3, 10))
    body = labels.copy()
    labels[10:14, 6, 6] = 1  # a 1-voxel-thin spur, 4 voxels long, sticking out of the 7^3 cube
    # opening with the 3x3x3 box: erosion leaves [4:9]^3 (the spur cannot hold the box), dilation gives
    # back exactly the cube; closing the cube with the same box changes nothing
    np.testing.assert_array_equal(smooth_labels(labels, ISO, 6, opening_mm=BOX_MM, closing_mm=BOX_MM), body)
    assert smooth_labels(labels, ISO, 6, opening_mm=0, closing_mm=0)[10:14, 6, 6].all()  # without opening it stays


def test_closing_bridges_a_one_voxel_crack():
    labels = cube((12, 12, 12), (2, 10), (2, 10), (2, 10))
    full = labels.copy()
    labels[6] = 0  # crack: slabs i = 2..5 and 7..9, a 1-voxel gap at i = 6
    # dilation by the 3x3x3 box fills [1:11]^3, erosion brings it back to [2:10]^3 with the crack filled
    out = smooth_labels(labels, ISO, 6, opening_mm=0, closing_mm=BOX_MM, keep_largest=False, fill_holes=False)
    np.testing.assert_array_equal(out, full)
    # without closing, the two slabs are separate 26-components and keep_largest keeps the thicker one
    out = smooth_labels(labels, ISO, 6, opening_mm=0, closing_mm=0)
    np.testing.assert_array_equal(out, cube((12, 12, 12), (2, 6), (2, 10), (2, 10)))


def test_element_follows_the_spacing():
    labels = cube((11, 20, 20), (4, 7), (2, 18), (2, 18))  # a slab 3 voxels thick along axis 0
    # 3 mm voxels along axis 0: the 3 mm ball is (3, 7, 7) voxels (a disc of radius 3 at i = 0, one voxel at
    # i = +-1) and fits in the 9 mm thick slab. Erosion keeps i = 5, j, k in 5..14 (10 x 10); dilation
    # gives back at i = 5 the 16 x 16 square minus 5 voxels per corner (offsets (a, b) in 1..3 with
    # a^2 + b^2 > 9), and at i = 4, 6 the 10 x 10 square: 256 - 20 + 2 * 100 = 436 voxels.
    thick = smooth_labels(labels, (3.0, 1.0, 1.0), 6, opening_mm=3, closing_mm=0)
    assert thick[5, 2:18, 5:15].all() and thick[4:7, 5:15, 5:15].all() and not thick[4, 4, 4]
    assert thick.sum() == 436
    # 1 mm voxels: the same ball is 7 voxels across and cannot fit in a 3 mm slab, so opening removes it
    assert not smooth_labels(labels, ISO, 6, opening_mm=3, closing_mm=0).any()


def test_conflict_goes_to_the_original_label_then_to_the_higher_probability():
    shape = (12, 12, 12)
    labels = cube(shape, (2, 10), (2, 10), (2, 10), label=1)
    labels[6, 2:10, 2:10] = 2  # a class-2 plate splitting the class-1 cube
    # closing class 1 claims the plate (a 1-voxel crack); class 2 (a plate, closed by the box) keeps it too
    options = dict(opening_mm=0, closing_mm=BOX_MM, keep_largest=False, fill_holes=False)
    np.testing.assert_array_equal(smooth_labels(labels, ISO, 3, **options), labels)  # original label wins
    probs = np.zeros(shape + (3,), np.float32)
    probs[..., 0] = 1
    probs[6, 2:10, 2:6] = [0.1, 0.6, 0.3]  # class 1 more probable on half of the plate
    probs[6, 2:10, 6:10] = [0.1, 0.3, 0.6]  # class 2 more probable on the other half
    expected = labels.copy()
    expected[6, 2:10, 2:6] = 1
    np.testing.assert_array_equal(smooth_labels(labels, ISO, 3, probs=probs, **options), expected)


def test_conflict_on_a_background_voxel_goes_to_the_lower_id():
    # column k = 2..9 through (6, 6): class 1 on the 4 diagonal neighbours, class 2 on the 4 face neighbours.
    # Every 3x3 square containing (6, 6) meets both classes, so closing with the 3x3x3 box makes both claim
    # it; it was background, so without probabilities the lower id (1) wins.
    labels = np.zeros((13, 13, 12), np.uint8)
    for di, dj in [(-1, -1), (-1, 1), (1, -1), (1, 1)]:
        labels[6 + di, 6 + dj, 2:10] = 1
    for di, dj in [(-1, 0), (1, 0), (0, -1), (0, 1)]:
        labels[6 + di, 6 + dj, 2:10] = 2
    options = dict(opening_mm=0, closing_mm=BOX_MM, keep_largest=False, fill_holes=False)
    assert smooth_labels(labels, ISO, 3, **options)[6, 6, 5] == 1
    probs = np.zeros(labels.shape + (3,), np.float32)
    probs[6, 6, 5] = [0.2, 0.3, 0.5]
    assert smooth_labels(labels, ISO, 3, probs=probs, **options)[6, 6, 5] == 2


def test_background_only_stays_background():
    out = smooth_labels(np.zeros((5, 6, 7), np.int64), (3.0, 1.0, 1.0), 6)
    assert out.dtype == np.uint8 and out.shape == (5, 6, 7) and not out.any()


def test_objects_at_the_volume_border_keep_their_border_voxels():
    labels = cube((8, 8, 8), (0, 5), (0, 8), (0, 8), label=4)  # a slab touching five faces of the volume
    np.testing.assert_array_equal(smooth_labels(labels, ISO, 6, opening_mm=0, closing_mm=BOX_MM), labels)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        smooth_labels(np.full((3, 3, 3), 6), ISO, num_classes=6)  # label 6 not below num_classes
    with pytest.raises(ValueError):
        smooth_labels(np.zeros((3, 3)), ISO, num_classes=6)
    with pytest.raises(ValueError):
        smooth_labels(np.zeros((3, 3, 3), int), ISO, num_classes=6, probs=np.zeros((3, 3, 3, 5), np.float32))


def test_smooth_probabilities_keeps_a_constant_field_and_sums_to_one():
    probs = np.broadcast_to(np.array([0.2, 0.3, 0.5], np.float32), (6, 7, 8, 3)).copy()
    out = smooth_probabilities(probs, (3.0, 1.0, 1.0), sigma_mm=2.0)
    assert out.dtype == np.float32 and out.shape == probs.shape
    np.testing.assert_allclose(out, probs, atol=1e-6)

    rng = np.random.default_rng(0)
    noisy = rng.random((6, 7, 8, 3)).astype(np.float32)
    noisy /= noisy.sum(axis=-1, keepdims=True)
    noisy[0] = 0  # a slab without opinion stays without opinion
    out = smooth_probabilities(noisy, (3.0, 1.0, 1.0), sigma_mm=2.0)
    np.testing.assert_allclose(out[1:].sum(axis=-1), 1, atol=1e-6)
    assert not out[0].any()
    assert out[1:].std() < noisy[1:].std()  # it did smooth
    assert smooth_probabilities(noisy, (3.0, 1.0, 1.0), sigma_mm=0) is noisy
