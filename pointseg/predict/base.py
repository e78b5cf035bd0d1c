"""The predictor contract: how any trained run turns a CT into named maps on the CT's own grid.

A **predictor** is a class registered by name in :data:`PREDICTORS` (the name a run's
:class:`~pointseg.runs.RunInfo` gives as ``predictor``) with

- ``from_checkpoint(checkpoint, device) -> predictor``: built from a checkpoint dict alone (the run's
  ``config`` holds the network's registry name and options under ``config["model"]``, the label set under
  ``config["label_set"]`` and the post-processing step under ``config["postprocess"]``);
- ``predict(ct, device, batch_size, show_progress, probabilities=None) -> Prediction``: a whole CT
  (:class:`~pointseg.io.volume.Volume`, HU, any orientation and spacing) to a :class:`Prediction` whose
  maps lie on the CT's own grid. ``probabilities``, when given, is a function ``shape -> array`` (an HDF5
  dataset, say) that receives the class probabilities ``(I, J, K, C)`` where the predictor has them;
- the attributes ``has_probabilities`` (whether ``predict`` fills ``probabilities``), ``label_set`` (:class:`~pointseg.labels.LabelSet`), ``config`` (the run's saved config)
  and ``run`` (its :class:`~pointseg.runs.RunInfo`, ``None`` for a network being trained).

A :class:`Prediction` is a set of named maps: ``labels`` ``(I, J, K)`` always (uint8, int16 beyond 256
classes); ``confidence`` ``(I, J, K)`` float32, the probability of each voxel's own label, where the
predictor has one (the post-processing steps seed from it); ``instances`` ``(I, J, K)`` where the pipeline
separates instances. The post-processing steps of :mod:`pointseg.predict.steps` run on it afterwards.

The registry holds *lazy* entries: the planar and volumetric predictors are imported only when a run
names them, and a new pipeline registers its own predictor with one line (``register_lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field

import numpy as np

from pointseg.registry import Registry

if TYPE_CHECKING:
    import torch

PREDICTORS: Registry = Registry("predictor")
PREDICTORS.register_lazy("slices", "pointseg.predict.planar:PlanarPredictor",
                         "a 2D network slice by slice along its axis, back on the CT's grid")
PREDICTORS.register_lazy("volume", "pointseg.predict.volume:VolumetricPredictor",
                         "a 3D network by Gaussian-weighted sliding windows, back on the CT's grid")

LABELS, CONFIDENCE, INSTANCES = "labels", "confidence", "instances"


@dataclass
class Prediction:
    """Named maps on the CT's own grid (see the module notes): ``maps["labels"]`` always."""

    maps: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        return self.maps[LABELS]

    @property
    def confidence(self) -> np.ndarray | None:
        return self.maps.get(CONFIDENCE)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.maps[name]

    def __contains__(self, name: str) -> bool:
        return name in self.maps


def label_dtype(num_classes: int) -> np.dtype:
    """The smallest integer type of a label map of ``num_classes`` classes (uint8 up to 256)."""
    return np.dtype(np.uint8) if num_classes <= 256 else np.dtype(np.int16)


def network_from_checkpoint(checkpoint: dict, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The network a checkpoint's ``config["model"]`` names (registry name and keyword arguments), with the
    checkpoint's weights, on ``device``, in eval mode."""
    from pointseg.models import build_model

    spec = dict(checkpoint["config"]["model"])
    model = build_model(spec.pop("name"), **spec)
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()
