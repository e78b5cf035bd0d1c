"""Slices for weak planar training: clicked and unclicked slices of the training cases.

Each item is one slice of a case's :class:`~pointseg.preprocess.SliceStack`: the image, the clicks that
fall on it and the extent semi-masks m_k of eq. 3 (computed from all of the case's clicks in 3D, in mm).
Batches mix slices that hold clicks with slices that do not (which still feed the consistency,
separation and extent terms), drawn by a seeded generator whose state is saved with the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pointseg.preprocess import SliceStack
from train.losses.extent import semi_mask


@dataclass
class SliceIndex:
    case: int
    slice: int
    clicked: bool


class PlanarSlices:
    """The slices of several stacks, with per-slice clicks and semi-masks.

    Slices that hold almost no body (more than 99 % of the pixels black) are left out.
    """

    def __init__(self, stacks: list[SliceStack], num_classes: int, radius_mm: float = 110.0):
        self.stacks = stacks
        self.num_classes = num_classes
        self.radius_mm = radius_mm
        self.items: list[SliceIndex] = []
        for c, stack in enumerate(stacks):
            clicked = set(stack.point_pixels()[:, 0].tolist())
            for s in range(stack.image.shape[0]):
                if s in clicked or (stack.image[s] > 0).mean() > 0.01:
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
        item = self.items[index]
        stack = self.stacks[item.case]
        pixels = stack.point_pixels()
        on_slice = pixels[:, 0] == item.slice
        height, width = stack.image.shape[1:]
        inside = on_slice & (pixels[:, 1] >= 0) & (pixels[:, 1] < height) & (pixels[:, 2] >= 0) & (pixels[:, 2] < width)
        mask = semi_mask(
            stack.points * stack.spacing_mm, stack.point_labels, item.slice * stack.spacing_mm,
            (height, width), stack.spacing_mm, self.num_classes, self.radius_mm,
        )
        return {
            "image": torch.from_numpy(stack.image[item.slice]).float().div_(255.0).unsqueeze(0),
            "points": torch.from_numpy(np.column_stack([pixels[inside, 1:], stack.point_labels[inside]])),
            "extent_mask": torch.from_numpy(mask),
        }


def collate(items: list[dict]) -> dict[str, torch.Tensor]:
    """Stack items into the batch contract of :mod:`train.losses` (``point_index`` rows ``(b, row, col)``)."""
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
        return collate([self.data[int(i)] for i in chosen])

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
