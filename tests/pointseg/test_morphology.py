"""Per-class connected-component cleanup of predicted label maps."""

import numpy as np

from pointseg.inference import POSTPROCESSING
from pointseg.morphology import keep_largest_per_class


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
    assert out.dtype == np.uint8 and set(POSTPROCESSING) == {"none", "largest_component", "bone_watershed"}
    assert np.array_equal(POSTPROCESSING.build("none")(labels, None, None, 4), labels)
    assert np.array_equal(POSTPROCESSING.build("largest_component")(labels, None, None, 4), out)
