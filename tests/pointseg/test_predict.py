"""The prediction layer: named maps, post-processing steps on every predictor, label types, and the 2D
predictor's memory with many classes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import torch

from pointseg.imaging.preprocess import PreprocessConfig
from pointseg.io.volume import Volume
from pointseg.labels import get_label_set
from pointseg.metrics.dice import dice_scores
from pointseg.predict.base import label_dtype
from pointseg.predict.planar import PlanarPredictor
from pointseg.predict.volume import VolumetricPredictor
from tests.train.test_volumetric import Threshold


def _sphere_ct(shape=(40, 40, 40), radius=10.0, spacing=2.0) -> tuple[Volume, np.ndarray]:
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    inside = np.linalg.norm(grid - np.array(shape) / 2, axis=-1) * spacing < radius * spacing
    return Volume(np.where(inside, 1000, -100).astype(np.int16), np.diag([spacing] * 3 + [1.0])), inside


def test_label_maps_take_the_smallest_integer_type():
    assert label_dtype(6) == np.uint8 and label_dtype(256) == np.uint8 and label_dtype(257) == np.int16


def test_the_bone_watershed_post_processes_a_3d_prediction():
    # A 3D predictor has no probabilities: the step must treat every labelled voxel as confident (it used to
    # crash reading probabilities that were None).
    ct, inside = _sphere_ct()
    config = {"spacing": 2.0, "patch": [16, 16, 16], "overlap": 0.5, "label_set": "lumbar",
              "window": [-450.0, 1050.0], "postprocess": "bone_watershed"}
    labels = VolumetricPredictor(Threshold(), get_label_set("lumbar"), config).predict(ct).labels
    assert labels.dtype == np.uint8 and dice_scores(labels, inside.astype(np.uint8), 6).dice[1] > 0.9


class Constant2D(torch.nn.Module):
    """Logits of ``num_classes`` channels calling everything above 0.5 class ``num_classes - 1``."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x):
        logits = torch.zeros(x.shape[0], self.num_classes, *x.shape[2:])
        logits[:, -1] = 40.0 * (x[:, 0] - 0.5)
        return logits


def test_the_2d_predictor_never_holds_every_class_on_the_ct_grid():
    # 62 classes on a 64^3 CT: the probabilities of all classes on the CT's grid would be 62 x 4 bytes per
    # voxel (65 MB); the predictor keeps a running arg-max and maximum instead, so its peak stays a small
    # multiple of the CT however many classes there are.
    bones = get_label_set("bones")
    ct, inside = _sphere_ct((64, 64, 64), radius=20.0, spacing=1.0)
    loaded = PlanarPredictor(Constant2D(bones.num_classes), "axial", PreprocessConfig(spacing=1.0, size=(64, 64)),
                             bones, {"label_set": "bones", "axis": "axial"})
    tracemalloc.start()
    prediction = loaded.predict(ct, batch_size=4)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    all_classes = ct.array.size * bones.num_classes * 4
    assert peak < 0.35 * all_classes, (peak, all_classes)
    assert dice_scores((prediction.labels == bones.num_classes - 1).astype(np.uint8), inside.astype(np.uint8),
                       2).dice[1] > 0.9
    assert prediction.confidence.shape == ct.shape and prediction.confidence.max() <= 1.0
