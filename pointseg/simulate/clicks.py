"""Simulated annotator clicks: points inside each labelled structure and on the background.

Used to build ``points.csv`` for cases that have full labels (phantoms, public datasets), so that the
weak pipeline can be run and measured without a person clicking. Every point is placed at least
``margin_mm`` inside its structure when the structure is thick enough, and a jittered point is only
accepted when it stays inside.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pointseg.errors import InputError
from pointseg.labels import LabelSet
from pointseg.io.points import Points
from pointseg.io.volume import Volume

STRATEGIES = ("random", "center")


@dataclass(frozen=True)
class ClickConfig:
    """How clicks are simulated.

    ``strategy``: ``random`` draws uniformly over the interior (at least ``margin_mm`` from the border);
    ``center`` draws from the structure's core (the voxels at least 60 % of the deepest distance inside).
    ``jitter_mm``: standard deviation of an annotator-like offset, rejected when it would leave the
    structure. Background points, as an annotator places them: ``hard_negative_fraction`` on other bone
    (CT above ``bone_hu`` with no label: ribs, T12, sacrum), ``near_fraction`` on soft tissue within
    ``near_mm`` of a labelled structure (where a mask would leak), the rest anywhere else in the body.
    """

    per_class: int = 5
    background: int = 15
    strategy: str = "random"
    jitter_mm: float = 0.0
    margin_mm: float = 3.0
    hard_negative_fraction: float = 0.4
    near_fraction: float = 0.3
    near_mm: float = 15.0
    bone_hu: float = 250.0
    body_hu: float = -500.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(f"unknown click strategy {self.strategy!r} (use {' or '.join(STRATEGIES)})")
        if self.per_class < 0 or self.background < 0:
            raise InputError("the numbers of clicks must not be negative")


def case_rng(seed: int, case_id: str) -> np.random.Generator:
    """A generator that depends only on the seed and the case id (not on the order of cases)."""
    return np.random.default_rng([int(seed), zlib.crc32(case_id.encode())])


def _bbox(mask: np.ndarray, pad: int = 1) -> tuple[slice, ...]:
    coords = np.nonzero(mask)
    return tuple(
        slice(max(int(c.min()) - pad, 0), min(int(c.max()) + pad + 1, n)) for c, n in zip(coords, mask.shape)
    )


def _interior_candidates(mask: np.ndarray, spacing: np.ndarray, config: ClickConfig) -> np.ndarray:
    """Voxel indices ``(M, 3)`` of a structure where clicks may go (see :class:`ClickConfig`)."""
    box = _bbox(mask)
    depth = ndimage.distance_transform_edt(np.pad(mask[box], 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    deepest = float(depth.max())
    threshold = 0.6 * deepest if config.strategy == "center" else min(config.margin_mm, 0.5 * deepest)
    local = np.argwhere(depth >= max(threshold, 1e-6))
    return local + np.array([s.start for s in box])


def _jitter(points: np.ndarray, mask: np.ndarray, spacing: np.ndarray, sigma_mm: float, rng) -> np.ndarray:
    """Offset each voxel point by Gaussian noise (mm) when the rounded result stays inside ``mask``."""
    out = points.astype(np.float64)
    if sigma_mm <= 0:
        return out
    upper = np.asarray(mask.shape) - 1
    for n, point in enumerate(out):
        for _ in range(20):
            moved = point + rng.normal(0.0, sigma_mm, 3) / spacing
            index = np.clip(np.rint(moved).astype(int), 0, upper)
            if np.all(np.abs(moved - index) <= 0.5) and mask[tuple(index)]:
                out[n] = moved
                break
    return out


def _draw(candidates: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    if len(candidates) == 0 or count == 0:
        return np.zeros((0, 3), dtype=np.int64)
    index = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    return candidates[np.sort(index)]


def simulate_clicks(
    labels: Volume, label_set: LabelSet, config: ClickConfig, rng: np.random.Generator, ct: Volume | None = None
) -> Points:
    """Clicks for every structure present in ``labels`` plus background clicks (hard negatives need ``ct``)."""
    spacing = labels.spacing
    names: list[str] = []
    voxels: list[np.ndarray] = []
    present = [int(v) for v in np.unique(labels.array) if 0 < v < label_set.num_classes]
    for label_id in present:
        mask = labels.array == label_id
        chosen = _draw(_interior_candidates(mask, spacing, config), config.per_class, rng)
        voxels.append(_jitter(chosen, mask, spacing, config.jitter_mm, rng))
        names += [label_set.name_of(label_id)] * len(chosen)
    background = _background_clicks(labels, config, rng, ct)
    voxels.append(background.astype(np.float64))
    names += ["background"] * len(background)
    ijk = np.concatenate(voxels) if voxels else np.zeros((0, 3))
    return Points.from_voxels(names, ijk, labels.affine, annotator=["simulated"] * len(names))


def _background_clicks(labels: Volume, config: ClickConfig, rng: np.random.Generator, ct: Volume | None) -> np.ndarray:
    if config.background == 0:
        return np.zeros((0, 3), dtype=np.int64)
    distance = ndimage.distance_transform_edt(labels.array == 0, sampling=labels.spacing)
    away = distance >= config.margin_mm
    if ct is None:
        return _draw(np.argwhere(away), config.background, rng)
    bone = ct.array > config.bone_hu
    soft = away & ~bone & (ct.array > config.body_hu)
    hard = _draw(np.argwhere(away & bone), int(round(config.background * config.hard_negative_fraction)), rng)
    near = _draw(np.argwhere(soft & (distance <= config.near_mm)), int(round(config.background * config.near_fraction)), rng)
    rest = _draw(np.argwhere(soft), config.background - len(hard) - len(near), rng)
    return np.concatenate([hard, near, rest])
