"""Image-guided refinement: the CT's bone decides where each fused class ends."""

import numpy as np
import pytest
from scipy import ndimage

from pointseg.errors import InputError
from pointseg.metrics.dice import dice_scores
from pointseg.io.volume import Volume
from pointseg.imaging.bone import fill_holes_2d, foreground_box, keep_clicked_components, slice_axis
from pointseg.predict.steps import STEPS, build_step

SPACING = (1.5, 1.5, 1.5)
SHAPE = (40, 40, 64)


def on_grid(hu: np.ndarray) -> Volume:
    """The HU array as a CT of 1.5 mm voxels in RAS order (axial slices along the last axis)."""
    return Volume(hu, np.diag([*SPACING, 1.0]))


def vertebra(ct: np.ndarray, labels: np.ndarray | None, k0: int, k1: int, label: int) -> None:
    """A bone box along k: a closed 900 HU cortical shell, 100 HU marrow (below the bone threshold)."""
    region = (slice(12, 28), slice(12, 28), slice(k0, k1))
    ct[region] = 900
    ct[13:27, 13:27, k0 + 1:k1 - 1] = 100
    if labels is not None:
        labels[region] = label


@pytest.fixture
def spine():
    """Unlabelled bone (a 'T12', k 4-14), then L1 (k 18-30) and L2 (k 34-46) with 80 HU discs, in 40 HU tissue."""
    ct = np.full(SHAPE, 40.0, dtype=np.float32)
    truth = np.zeros(SHAPE, dtype=np.uint8)
    vertebra(ct, None, 4, 14, 0)
    vertebra(ct, truth, 18, 30, 1)
    vertebra(ct, truth, 34, 46, 2)
    ct[12:28, 12:28, 14:18] = 80
    ct[12:28, 12:28, 30:34] = 80
    # The fusion's answer: each vertebra moved 2 voxels towards the head, and spilled 3 voxels into the
    # soft tissue in front (+i), as coarse planar outputs do.
    fused = np.zeros(SHAPE, dtype=np.uint8)
    for label in (1, 2):
        mask = np.roll(truth == label, -2, axis=2)
        mask[28:31] |= mask[25:28]
        fused[mask] = label
    probs = np.stack([ndimage.gaussian_filter((fused == c).astype(np.float32), 1.0) for c in range(3)], axis=-1)
    probs /= probs.sum(axis=-1, keepdims=True)
    clicks = (np.array([[20.0, 20.0, 24.0], [18.0, 22.0, 40.0], [20.0, 5.0, 50.0]]), np.array([1, 2, 0]))
    return ct, truth, fused, probs, clicks


def test_registry_and_none():
    assert {"none", "bone_watershed", "bone_watershed_fused"} <= set(STEPS)
    labels = np.random.default_rng(0).integers(0, 3, SHAPE).astype(np.uint8)
    out = build_step("none")(labels, None, None, None)
    assert np.array_equal(out, labels)
    with pytest.raises(InputError, match="unknown step 'crf'"):
        build_step("crf")
    with pytest.raises(InputError, match="grow_mm"):
        build_step("bone_watershed", grow_mm=-1)


def test_bone_watershed_redraws_the_classes_on_bone(spine):
    ct, truth, fused, probs, clicks = spine
    before = dice_scores(fused, truth, 3)
    refined = build_step("bone_watershed", axial_axis=2)(fused, probs, on_grid(ct), clicks)
    after = dice_scores(refined, truth, 3)
    assert before.dice[1] < 0.8 and before.dice[2] < 0.8
    assert after.dice[1] > 0.97 and after.dice[2] > 0.97, after.dice
    assert not refined[29:31].any(), "the soft-tissue spill in front of the bodies is gone"
    assert (refined[14:26, 14:26, 20:28] == 1).all(), "the marrow inside the shell (below the threshold) is kept"
    assert not refined[..., :15].any(), "the unlabelled bone above L1 is not handed to L1"


def test_bone_watershed_without_foreground_or_far_from_it(spine):
    ct, truth, fused, probs, clicks = spine
    empty = build_step("bone_watershed")(np.zeros(SHAPE, np.uint8), probs, on_grid(ct),
                                               (np.zeros((0, 3)), np.zeros(0)))
    assert not empty.any()
    # Bone out of a class's reach is never claimed, even when connected to it: with clicks, reach_mm from
    # them (L1's click at k = 24, 15 mm = 10 voxels); without clicks, grow_mm beyond the fused mask.
    ct2 = ct.copy()
    ct2[12:28, 12:28, 14:18] = 900  # the disc between 'T12' and L1 turns to bone: one connected block
    refined = build_step("bone_watershed", reach_mm=15.0, axial_axis=2)(fused, probs, on_grid(ct2), clicks)
    assert (refined == 1).any() and not refined[..., :13].any()
    no_clicks = (np.zeros((0, 3)), np.zeros(0))
    refined = build_step("bone_watershed", grow_mm=3.0, axial_axis=2)(fused, probs, on_grid(ct2), no_clicks)
    assert (refined == 1).any() and not refined[..., :12].any()


def test_helpers_by_hand():
    mask = np.zeros((5, 6, 7), dtype=bool)
    mask[1:3, 2, 4] = True
    assert foreground_box(mask, (1, 1, 1)) == (slice(0, 4), slice(1, 4), slice(3, 6))
    assert foreground_box(np.zeros((2, 2, 2), bool), (1, 1, 1)) is None
    ring = np.zeros((3, 5, 5), dtype=bool)
    ring[1, 1:4, 1:4] = True
    ring[1, 2, 2] = False
    assert fill_holes_2d(ring, 0)[1, 2, 2] and not fill_holes_2d(ring, 1)[1, 2, 2]
    # A LPS-permuted affine: array axis 0 runs along z.
    affine = np.array([[0, 0, -2.0, 0], [0, -1.0, 0, 0], [3.0, 0, 0, 0], [0, 0, 0, 1]])
    assert slice_axis(affine) == 0 and slice_axis(np.eye(4)) == 2


def test_stray_blobs_without_clicks_are_dropped():

    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[1:3, 1:3, 1:3] = 1  # clicked
    labels[6:9, 6:9, 6:9] = 1  # larger, but no click of class 1
    labels[6:8, 1:3, 1:3] = 2  # class 2 has no click at all: its largest component stays
    labels[0, 9, 9] = 2
    kept = keep_clicked_components(labels, np.array([[1, 1, 1], [7, 7, 7]]), np.array([1, 0]), 3)
    assert (kept == 1).sum() == 8 and kept[1, 1, 1] == 1 and kept[7, 7, 7] == 0
    assert (kept == 2).sum() == 8 and kept[0, 9, 9] == 0


def test_label_set_refinement_on_a_case_without_its_last_classes(spine):
    # fuse hands the refinement a confidence map (3D), not one probability per class, so the number of
    # classes comes from the labels and clicks: here 3, while the label set's reach has one entry per class
    # of `bones` (62), as for a scan whose field of view stops above the femora.
    from pointseg.imaging.bone import BoneWatershed
    from pointseg.labels import get_label_set

    ct, truth, fused, probs, clicks = spine
    refine = BoneWatershed.for_label_set(get_label_set("bones"), axial_axis=2)
    refined = refine(fused, probs.max(axis=-1), on_grid(ct), clicks)
    assert dice_scores(refined, truth, 3).dice[1] > 0.9
