"""What the planar trainers share: a dataset, a label set, the saved model spec, validation, resuming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pointseg.predict.planar import PlanarPredictor
from pointseg.labels import LabelSet, get_label_set
from pointseg.runs import VALIDATION_NAME
from pointseg.train.config import PlanarConfig
from pointseg.train.trainer import Trainer, resumed_config  # noqa: F401  (re-exported for the planar trainers)
from pointseg.train.validation import validate_cases, write_validation


class SliceTrainer(Trainer):
    """A :class:`Trainer` of a planar VGG16-FCN8 on a dataset's slices.

    Subclasses set ``self.val_cases`` in :meth:`build`; validation is Dice_wi of whole-volume predictions
    on those cases, written to ``validation.json``.
    """

    def __init__(self, dataset: Path, config: PlanarConfig, run_dir: Path, device: torch.device, resume: bool = False):
        super().__init__(run_dir, config, device, resume)
        self.dataset = Path(dataset)
        self.label_set: LabelSet = get_label_set(config.label_set)
        self.val_cases: list = []

    def model_config(self) -> dict:
        data = self.config.to_dict()
        data["model"] = self.config.model_spec(self.label_set.num_classes)
        return data

    def reseed_rank(self, seed: int) -> None:
        """Each rank but 0 draws its own slices (``self.batches``, built with the run's seed) under torchrun."""
        super().reseed_rank(seed)
        self.batches.set_state(np.random.default_rng(seed).bit_generator.state)

    def validate(self) -> dict[str, float]:
        if not self.val_cases:
            return {}
        loaded = PlanarPredictor(self.network, self.config.axis, self.config.preprocess, self.label_set, self.model_config(),
                             self.config.run_info())
        scores = validate_cases(loaded, self.val_cases, self.device)
        return {"val_dice_wi": write_validation(self.run_dir / VALIDATION_NAME, scores, loaded, self.epoch)}

