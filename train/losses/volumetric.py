"""Losses of the volumetric engine, picked by name: ``loss(outputs, batch) -> (total, terms)``.

``outputs`` is the dict of named heads a network returns (:func:`pointseg.models.call_named`), ``batch`` the
dict of named views the engine cut (``image``, ``label`` and whatever else the pipeline asked for); ``total``
is the scalar to minimise and ``terms`` its parts by name (detached, for the log). A pipeline names the
losses it offers (``--loss``); a new one registers here with the same signature.
"""

from __future__ import annotations

import torch
from torch import nn

from pointseg.registry import Registry
from pointseg.train.losses.many_class import SparseDiceCELoss

VOLUMETRIC_LOSSES: Registry = Registry("loss")


@VOLUMETRIC_LOSSES.register("ce_dice", help="cross-entropy + soft Dice over all classes (eq. 1), without a dense "
                                            "one-hot")
class LogitsCEDice(nn.Module):
    """:class:`SparseDiceCELoss` of the ``logits`` head against the ``label`` view."""

    ce_only = False

    def __init__(self):
        super().__init__()
        self.loss = SparseDiceCELoss(ce_only=self.ce_only)

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]):
        return self.loss.terms(outputs["logits"], batch["label"])


@VOLUMETRIC_LOSSES.register("ce", help="cross-entropy alone")
class LogitsCE(LogitsCEDice):
    """Cross-entropy of the ``logits`` head against the ``label`` view."""

    ce_only = True
