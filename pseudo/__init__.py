"""Turning planar predictions into pseudo-masks: tri-planar fusion, smoothing and per-class cleanup.

- :mod:`pointseg.pseudo.fusion`: fusion strategies picked by name (``mean``, ``weighted``, ``vote``,
  ``axial_foreground``, ``geometric``) combining the (I, J, K, C) probabilities of the planar models;
- :mod:`pointseg.pseudo.smoothing`: morphological smoothing, largest component and hole filling per class, in mm.
"""

from pointseg.pseudo.fusion import (
    AXES,
    DEFAULT_FUSION,
    FUSIONS,
    ForegroundIdentityFusion,
    Fusion,
    GeometricFusion,
    MeanFusion,
    VoteFusion,
    WeightedFusion,
    build_fusion,
    fuse,
    register_fusion,
)
from pointseg.pseudo.smoothing import ellipsoid_element, largest_component, smooth_labels, smooth_mask, smooth_probabilities

__all__ = [
    "AXES",
    "DEFAULT_FUSION",
    "FUSIONS",
    "ForegroundIdentityFusion",
    "Fusion",
    "GeometricFusion",
    "MeanFusion",
    "VoteFusion",
    "WeightedFusion",
    "build_fusion",
    "ellipsoid_element",
    "fuse",
    "largest_component",
    "register_fusion",
    "smooth_labels",
    "smooth_mask",
    "smooth_probabilities",
]
