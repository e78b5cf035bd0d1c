"""The weak losses of the planar models, each a small module picked by name.

``build_loss(name, **kwargs)`` builds one of ``point`` (L_P), ``consistency`` (L_C, eq. 1),
``separation`` (L_S, eq. 2) and ``extent`` (L_E, eqs. 3-4); :class:`WeightedSum` combines them with
:data:`DEFAULT_WEIGHTS` or the config's weights. See :mod:`pointseg.train.losses.base` for the call contract.
:class:`SparseDiceCELoss` (not a weak loss: ``loss(logits, target)``) is the supervised CE + soft Dice over
many classes without a one-hot target.
"""

from pointseg.train.losses.base import DEFAULT_WEIGHTS, LOSSES, WeakLoss, WeightedSum, build_loss, register_loss
from pointseg.train.losses.consistency import ConsistencyLoss, dihedral
from pointseg.train.losses.extent import ExtentLoss, semi_mask
from pointseg.train.losses.many_class import SparseDiceCELoss, sparse_soft_dice
from pointseg.train.losses.point import PointLoss
from pointseg.train.losses.separation import SeparationLoss

__all__ = [
    "DEFAULT_WEIGHTS",
    "LOSSES",
    "ConsistencyLoss",
    "ExtentLoss",
    "PointLoss",
    "SeparationLoss",
    "SparseDiceCELoss",
    "WeakLoss",
    "WeightedSum",
    "build_loss",
    "dihedral",
    "register_loss",
    "semi_mask",
    "sparse_soft_dice",
]
