"""Tri-planar fusion: combine the class probabilities of the axial, coronal and sagittal models.

Every strategy is a small class registered by name in :data:`FUSIONS` and called as
``fusion(probs) -> fused`` where

- ``probs``: a non-empty mapping ``{"axial" | "coronal" | "sagittal": (I, J, K, C) float array}``, all on
  the CT's own grid, C classes (0 background, 1..C-1 = L1..L5 for the lumbar label set), each vector
  summing to 1 over C; an all-zero vector means "no opinion" (a voxel the model did not see);
- ``fused``: (I, J, K, C) float32 summing to 1 over C wherever at least one model had an opinion, and all
  zero where none had.

Strategies work with any non-empty subset of the three models and raise ``ValueError`` when the volumes
differ in shape. They allocate the (I, J, K, C) float32 output plus at most one more full-size buffer, and
otherwise work in place on (I, J, K) arrays: a volume of 200 x 150 x 170 x 6 float32 is ~120 MB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from pointseg.errors import InputError
from pointseg.imaging.preprocess import AXES
from pointseg.registry import Registry


# The paper (seed 003, section 4) finds that the transverse (axial) model finds bone well but cannot tell
# L1-L5 apart, so the default takes the foreground from it and the vertebra identity from the other two.
# Provisional: to be revisited once the strategies have been measured on the phantoms.
DEFAULT_FUSION = "mean"  # best of the strategies on phantoms (benchmarks/fuse_strategies.py)

FUSIONS: Registry[Fusion] = Registry("fusion")


class Fusion:
    """Base of the fusion strategies: ``fusion(probs) -> (I, J, K, C) float32`` (see the module docstring)."""

    def __call__(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


register_fusion = FUSIONS.register
build_fusion = FUSIONS.build


def fuse(probs: Mapping[str, np.ndarray], strategy: str = "mean", **kwargs) -> np.ndarray:
    """Fuse ``{axis: (I, J, K, C)}`` probabilities with the strategy named ``strategy`` -> (I, J, K, C) float32."""
    return build_fusion(strategy, **kwargs)(probs)


# ----------------------------------------------------------------------------------------------- helpers


def check_probs(probs: Mapping[str, np.ndarray]) -> tuple[int, int, int, int]:
    """The common (I, J, K, C) shape of the volumes in ``probs``; ``ValueError`` if empty or mismatched."""
    if not probs:
        raise ValueError("no probability volumes to fuse")
    shapes = {name: tuple(np.shape(p)) for name, p in probs.items()}
    first = next(iter(shapes.values()))
    if len(first) != 4 or first[-1] < 1:
        raise ValueError(f"probability volumes must be (I, J, K, C) arrays; got shapes {shapes}")
    if any(shape != first for shape in shapes.values()):
        raise ValueError(f"probability volumes differ in shape: {shapes}")
    return first  # type: ignore[return-value]


def has_opinion(p: np.ndarray) -> np.ndarray:
    """(I, J, K) bool: True where the (I, J, K, C) vector ``p`` is not all zero."""
    return np.any(p, axis=-1)


def normalise_(out: np.ndarray) -> np.ndarray:
    """Divide (I, J, K, C) ``out`` in place by its sum over C where that sum is > 0; returns ``out``."""
    total = out.sum(axis=-1, keepdims=True, dtype=np.float32)
    np.divide(out, total, out=out, where=total > 0)
    return out


def has_any_opinion(probs: Iterable[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """(I, J, K) bool: True where at least one of the (I, J, K, C) volumes has an opinion."""
    any_opinion = np.zeros(shape, dtype=bool)
    for p in probs:
        any_opinion |= has_opinion(p)
    return any_opinion


def foreground_mass(probs: Iterable[np.ndarray], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sum over the volumes of 1 - P(background) where each has an opinion, and the opinion count.

    Returns two (I, J, K) float32 arrays ``(mass, count)``; ``mass / count`` is the mean P(foreground).
    """
    mass = np.zeros(shape, dtype=np.float32)
    count = np.zeros(shape, dtype=np.float32)
    for p in probs:
        opinion = has_opinion(p)
        mass += np.where(opinion, np.float32(1) - p[..., 0], np.float32(0))
        count += opinion
    return mass, count


# -------------------------------------------------------------------------------------------- strategies


@register_fusion("mean")
class MeanFusion(Fusion):
    """Mean of the probabilities over the models with an opinion at each voxel.

    The sum over models is divided by its own sum over C: for inputs that sum to 1 this is the number of
    models with an opinion, and for float16-rounded inputs it still gives a proper distribution.
    """

    def __call__(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.zeros(check_probs(probs), dtype=np.float32)
        for p in probs.values():
            out += p  # a model without opinion adds zeros
        return normalise_(out)


@register_fusion("weighted")
class WeightedFusion(Fusion):
    """Weighted mean ``sum_m w_m P_m / sum_m w_m`` over the models m with an opinion at each voxel.

    Args:
        weights: ``{axis: weight}``, non-negative; axes not named keep the default weight 1. A voxel where
            only zero-weight models have an opinion fuses to all zero.
    """

    DEFAULT_WEIGHTS: Mapping[str, float] = {axis: 1.0 for axis in AXES}

    def __init__(self, weights: Mapping[str, float] | None = None):
        merged = {**self.DEFAULT_WEIGHTS, **(weights or {})}
        bad = {name: w for name, w in merged.items() if not (np.isfinite(w) and w >= 0)}
        if bad:
            raise InputError(f"fusion weights must be finite and >= 0; got {bad}")
        self.weights = {name: float(w) for name, w in merged.items()}

    def __call__(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        shape = check_probs(probs)
        missing = sorted(set(probs) - set(self.weights))
        if missing:
            raise ValueError(f"no fusion weight for model(s) {missing}; weights are {self.weights}")
        out = np.zeros(shape, dtype=np.float32)
        buffer = np.empty(shape, dtype=np.float32)
        for name, p in probs.items():
            if self.weights[name] == 0:
                continue
            np.multiply(p, np.float32(self.weights[name]), out=buffer)
            out += buffer
        return normalise_(out)


@register_fusion("vote")
class VoteFusion(Fusion):
    """Majority vote of the per-model argmax labels, with ties broken by the mean probability.

    With ``V_k`` the number of models with an opinion whose argmax is class k, ``n`` the number of models
    with an opinion, ``Pbar_k`` their mean probability of k and ``e = tie_weight`` in (0, 1)::

        P(k) = (V_k + e * Pbar_k) / (n + e)

    This sums to 1 (``sum V_k = n``, ``sum Pbar_k = 1``) and is ~ the vote fractions ``V_k / n`` for
    small ``e``. Because vote counts differ by whole numbers and ``e * |Pbar_a - Pbar_b| <= e < 1``, the
    mean probability never overturns a majority; among classes with the same number of votes, the one with
    the higher mean probability gets the higher fused probability, so the argmax picks it. If the mean
    probabilities are also exactly equal, ``np.argmax`` picks the lowest class id.
    """

    def __init__(self, tie_weight: float = 0.1):
        if not 0 < tie_weight < 1:
            raise InputError(
                f"vote tie_weight must lie in (0, 1) so that it never overturns a majority; got {tie_weight}"
            )
        self.tie_weight = float(tie_weight)

    def __call__(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        shape = check_probs(probs)
        out = np.zeros(shape, dtype=np.float32)
        count = np.zeros(shape[:-1], dtype=np.float32)
        for p in probs.values():
            out += p
            count += has_opinion(p)
        # e * Pbar_k = e / n * sum_m P_m(k)
        scale = np.divide(np.float32(self.tie_weight), count, out=np.zeros_like(count), where=count > 0)
        out *= scale[..., None]
        for p in probs.values():
            label = np.argmax(p, axis=-1)
            label[~has_opinion(p)] = -1  # no vote
            for k in range(shape[-1]):
                out[..., k] += label == k
        return normalise_(out)


@register_fusion("axial_foreground")
class ForegroundIdentityFusion(Fusion):
    """Foreground from one model, vertebra identity from the others (the point-annotation paper, section 4).

    ``P(fg) = 1 - P_f(0)`` from the ``foreground_from`` model f, or, where f has no opinion (or is absent),
    ``1 - mean P(0)`` over the other models with an opinion. The identity ``q_k`` (k = 1..C-1) is the mean
    of ``P(k)`` over the ``identity_from`` models with an opinion, renormalised over k = 1..C-1; where those
    give no foreground mass (no opinion, absent, or P(0) = 1), it falls back to the same over all models.
    Then ``P(k) = P(fg) * q_k`` and ``P(0) = 1 - P(fg)``.

    Args:
        foreground_from: the model trusted for bone vs background (the axial model finds bone well).
        identity_from: the models trusted for L1..L5 (the axial model cannot tell them apart).
    """

    def __init__(self, foreground_from: str = "axial", identity_from: Iterable[str] = ("coronal", "sagittal")):
        identity = (identity_from,) if isinstance(identity_from, str) else tuple(identity_from)
        if not isinstance(foreground_from, str) or not identity:
            raise InputError(
                f"axial_foreground needs a foreground model name and at least one identity model; "
                f"got foreground_from={foreground_from!r}, identity_from={identity_from!r}"
            )
        self.foreground_from = foreground_from
        self.identity_from = identity

    def __call__(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        shape = check_probs(probs)
        if shape[-1] < 2:
            raise ValueError(f"axial_foreground needs a background and at least one foreground class; C = {shape[-1]}")
        any_opinion = has_any_opinion(probs.values(), shape[:-1])
        foreground = self.foreground(probs, shape[:-1])
        out = np.zeros(shape, dtype=np.float32)
        self.identity_into(out, probs, any_opinion)
        out[..., 1:] *= foreground[..., None]
        np.subtract(np.float32(1), foreground, out=out[..., 0], where=any_opinion)
        return normalise_(out)

    def foreground(self, probs: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        """(I, J, K) float32 P(fg) in [0, 1]: from the foreground model, else the others' mean; 0 if nobody."""
        others = [p for name, p in probs.items() if name != self.foreground_from]
        mass, count = foreground_mass(others, shape)
        foreground = np.divide(mass, count, out=np.zeros_like(mass), where=count > 0)
        if self.foreground_from in probs:
            p = probs[self.foreground_from]
            opinion = has_opinion(p)
            foreground[opinion] = np.float32(1) - p[..., 0][opinion]
        return np.clip(foreground, 0, 1, out=foreground)

    def identity_into(self, out: np.ndarray, probs: Mapping[str, np.ndarray], any_opinion: np.ndarray) -> None:
        """Write the identity q into (I, J, K, C) ``out[..., 1:]``: sums to 1 over 1..C-1, or all zero.

        ``any_opinion``: (I, J, K) bool, where at least one model has an opinion (the fallback is only
        looked up there).
        """
        identity = out[..., 1:]
        for name in self.identity_from:
            if name in probs:
                identity += probs[name][..., 1:]
        missing = any_opinion & ~np.any(identity, axis=-1)
        if missing.any():
            for p in probs.values():
                identity[missing] += p[missing][:, 1:]
        normalise_(identity)


@register_fusion("geometric")
class GeometricFusion(Fusion):
    """Normalised geometric mean ``prod_m max(P_m, eps) ** (1 / n)`` over the n models with an opinion.

    Computed as the exponential of the mean log-probability, then renormalised over C. The floor ``eps``
    keeps one model's hard zero from vetoing a class outright.
    """

    def __init__(self, eps: float = 1e-6):
        if not 0 < eps < 1:
            raise InputError(f"geometric fusion eps must lie in (0, 1); got {eps}")
        self.eps = float(eps)

    def __call__(self, probs: Mapping[str, np.ndarray]) -> np.ndarray:
        shape = check_probs(probs)
        out = np.zeros(shape, dtype=np.float32)
        buffer = np.empty(shape, dtype=np.float32)
        count = np.zeros(shape[:-1], dtype=np.float32)
        for p in probs.values():
            opinion = has_opinion(p)
            np.maximum(p, np.float32(self.eps), out=buffer)
            np.log(buffer, out=buffer)
            buffer *= opinion[..., None]
            out += buffer
            count += opinion
        del buffer
        np.divide(out, count[..., None], out=out, where=count[..., None] > 0)
        np.exp(out, out=out)
        out[count == 0] = 0
        return normalise_(out)
