"""Per-class connected-component cleanup of predicted label maps."""

import numpy as np

from pointseg.predict.steps import STEPS, build_step
from pointseg.imaging.morphology import keep_largest_per_class


def test_each_class_keeps_its_largest_component():
    labels = np.zeros((6, 6, 6), dtype=np.uint8)
    labels[0:2, 0:2, 0:2] = 1  # 8 voxels
    labels[4:6, 4:6, 5] = 1  # 4 voxels, apart: dropped
    labels[3, 0, 0] = 2  # class 2: two single voxels touching diagonally (26-connected): kept together
    labels[4, 1, 1] = 2
    labels[0, 5, 0] = 3
    out = keep_largest_per_class(labels, 4)
    assert (out == 1).sum() == 8 and out[5, 5, 5] == 0
    assert (out == 2).sum() == 2 and (out == 3).sum() == 1
    assert out.dtype == np.uint8 and {"none", "largest_component", "bone_watershed"} <= set(STEPS)
    no_clicks = (np.zeros((0, 3)), np.zeros(0, np.int64))
    assert np.array_equal(build_step("none")(labels, None, None, no_clicks), labels)
    assert np.array_equal(build_step("largest_component")(labels, None, None, no_clicks), out)
