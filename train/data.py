"""Slices for weak planar training: clicked and unclicked slices of the training cases.

Each item is a window of one slice of a case's whole-plane :class:`~pointseg.imaging.preprocess.SliceStack`: the
image, the clicks that fall on it and the extent semi-masks m_k of eq. 3 (computed from all of the case's
clicks in 3D, in mm), optionally augmented with the clicks moved alongside (:mod:`pointseg.train.augment`).
Batches mix slices that hold clicks with slices that do not (which still feed the consistency,
separation and extent terms), drawn by a seeded generator whose state is saved with the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pointseg.imaging.preprocess import SliceStack, with_context
from pointseg.train.augment import SliceAugment, crop_window
from pointseg.train.losses.extent import semi_mask


@dataclass
class SliceIndex:
    case: int
    slice: int
    clicked: bool


class PlanarSlices:
    """The slices of several whole-plane stacks, with per-slice clicks and semi-masks, cut to ``size`` windows.

    Slices with clicks and slices through the body (more than 1 % of a window's area above −500 HU) are
    kept; the rest (air above the head, below the feet) is left out. A sample is a ``size`` window around
    one of the slice's clicks (or, on a slice without clicks, around the centroid of the case's clicks),
    moved at random by up to a quarter of the window, and optionally augmented (:class:`SliceAugment`).
    """

    def __init__(self, stacks: list[SliceStack], num_classes: int, radius_mm: float | Sequence[float] = 110.0,
                 size: tuple[int, int] | None = None, augment: SliceAugment | None = None, context: int = 0):
        self.stacks = stacks
        self.context = context
        self.num_classes = num_classes
        self.radius_mm = radius_mm
        self.size = tuple(size) if size is not None else tuple(stacks[0].image.shape[1:])
        self.augment = augment
        self.items: list[SliceIndex] = []
        area = self.size[0] * self.size[1]
        for c, stack in enumerate(stacks):
            clicked = set(stack.point_pixels()[:, 0].tolist())
            body = stack.has_body(0.01, area)
            for s in range(stack.image.shape[0]):
                if s in clicked or body[s]:
                    self.items.append(SliceIndex(c, s, s in clicked))
        if not self.items:
            raise ValueError("no slices to train on")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def clicked_items(self) -> np.ndarray:
        return np.array([n for n, item in enumerate(self.items) if item.clicked], dtype=np.int64)

    @property
    def unclicked_items(self) -> np.ndarray:
        return np.array([n for n, item in enumerate(self.items) if not item.clicked], dtype=np.int64)

    def __getitem__(self, index: int) -> dict:
        """The sample of item ``index`` without randomness: centred window, no augmentation."""
        return self.sample(index, None)

    def sample(self, index: int, rng: np.random.Generator | None) -> dict:
        """Item ``index`` as ``{"image": (2 context + 1, h, w), "points": (P, 3) rows (row, col, label), "extent_mask":
        (C, h, w)}`` for a ``size`` = (h, w) window; ``rng`` None: no jitter and no augmentation."""
        item = self.items[index]
        stack = self.stacks[item.case]
        on_slice = np.rint(stack.points[:, 0]).astype(np.int64) == item.slice
        if on_slice.any():
            candidates = stack.points[on_slice, 1:]
            center = candidates[rng.integers(len(candidates))] if rng is not None else candidates.mean(axis=0)
        else:
            center = stack.points[:, 1:].mean(axis=0)
        shape = stack.image.shape[1:]
        row, col = crop_window(tuple(center), self.size, shape, rng)
        height, width = self.size
        offset = np.array([0.0, row, col])
        mask = semi_mask(
            (stack.points - offset) * stack.spacing_mm, stack.point_labels, item.slice * stack.spacing_mm,
            (height, width), stack.spacing_mm, self.num_classes, self.radius_mm,
        )
        slices = with_context(stack.image, item.slice, item.slice + 1, self.context)[0]  # (2 context + 1, H, W)
        image = torch.from_numpy(np.ascontiguousarray(slices[:, row:row + height, col:col + width])).float().div_(255.0)
        points = torch.from_numpy(stack.points[on_slice, 1:] - offset[1:])
        labels = torch.from_numpy(stack.point_labels[on_slice].astype(np.int64))
        extent = torch.from_numpy(mask)
        if self.augment is not None and rng is not None:
            image, (extent,), points, inside = self.augment(image, [extent], points)
            points, labels = points[inside], labels[inside]
        pixels = torch.round(points).long()
        inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < height) & (pixels[:, 1] >= 0) & (pixels[:, 1] < width)
        return {
            "image": image,
            "points": torch.cat([pixels[inside], labels[inside, None]], dim=1).reshape(-1, 3),
            "extent_mask": extent,
        }


def collate(items: list[dict]) -> dict[str, torch.Tensor]:
    """Stack items into the batch contract of :mod:`pointseg.train.losses` (``point_index`` rows ``(b, row, col)``)."""
    point_rows = [
        torch.cat([torch.full((len(item["points"]), 1), b, dtype=torch.int64), item["points"][:, :2]], dim=1)
        for b, item in enumerate(items)
    ]
    return {
        "image": torch.stack([item["image"] for item in items]),
        "extent_mask": torch.stack([item["extent_mask"] for item in items]),
        "point_index": torch.cat(point_rows).reshape(-1, 3),
        "point_label": torch.cat([item["points"][:, 2] for item in items]).reshape(-1),
    }


class MixedBatches:
    """Batches with ``clicked_fraction`` of clicked slices, the rest unclicked, from a seeded generator."""

    def __init__(self, data: PlanarSlices, batch_size: int, clicked_fraction: float, seed: int):
        self.data = data
        self.batch_size = batch_size
        self.clicked = data.clicked_items
        self.unclicked = data.unclicked_items
        if len(self.clicked) == 0:
            raise ValueError("no slice holds a click")
        self.n_clicked = batch_size if len(self.unclicked) == 0 else max(1, round(batch_size * clicked_fraction))
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> dict[str, torch.Tensor]:
        chosen = list(self.rng.choice(self.clicked, self.n_clicked))
        if self.batch_size > self.n_clicked:
            chosen += list(self.rng.choice(self.unclicked, self.batch_size - self.n_clicked))
        return collate([self.data.sample(int(i), self.rng) for i in chosen])

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
