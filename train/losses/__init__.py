"""The weak losses of the planar models, each a small module picked by name.

``build_loss(name, **kwargs)`` builds one of ``point`` (L_P), ``consistency`` (L_C, eq. 1),
``separation`` (L_S, eq. 2) and ``extent`` (L_E, eqs. 3-4); :class:`WeightedSum` combines them with
:data:`DEFAULT_WEIGHTS` or the config's weights. See :mod:`train.losses.base` for the call contract.
"""

from train.losses.base import DEFAULT_WEIGHTS, LOSSES, WeakLoss, WeightedSum, build_loss, register_loss
from train.losses.consistency import ConsistencyLoss, dihedral
from train.losses.extent import ExtentLoss, semi_mask
from train.losses.point import PointLoss
from train.losses.separation import SeparationLoss

__all__ = [
    "DEFAULT_WEIGHTS",
    "LOSSES",
    "ConsistencyLoss",
    "ExtentLoss",
    "PointLoss",
    "SeparationLoss",
    "WeakLoss",
    "WeightedSum",
    "build_loss",
    "dihedral",
    "register_loss",
    "semi_mask",
]
