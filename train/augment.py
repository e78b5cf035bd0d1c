"""Training windows and 2D augmentation of slices, with the clicks and label maps moved alongside.

Stacks keep whole planes (:func:`pointseg.imaging.preprocess.cached_stack`); each training sample is a window of
the profile's size cut around what the sample is about (a click, a labelled pixel), with a random
offset, and then optionally augmented by :class:`SliceAugment`: torchvision's ``v2.RandomAffine``
(rotation and scaling) applied jointly to the image, its maps (label map or extent semi-masks, nearest
neighbour) and its clicks (``tv_tensors.KeyPoints``), and ``v2.ColorJitter`` on the image alone.
Random draws come from torch's generator, which the trainer seeds and checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


def crop_window(
    center: tuple[float, float], size: tuple[int, int], shape: tuple[int, int], rng: np.random.Generator | None,
    jitter: float = 0.25,
) -> tuple[int, int]:
    """Top-left ``(row, col)`` of a ``size`` window around ``center`` moved by up to ``jitter * size``
    (``rng`` None: not moved).

    The window is kept inside ``shape`` (which must be at least ``size``; stacks are padded to it).
    """
    start = []
    for c, s, n in zip(center, size, shape):
        shift = rng.uniform(-jitter, jitter) * s if rng is not None else 0.0
        start.append(int(np.clip(round(c + shift - s / 2.0), 0, max(n - s, 0))))
    return start[0], start[1]


@dataclass
class SliceAugment:
    """Random rotation (± ``degrees``), scaling (``scale``) and brightness/contrast jitter of one slice.

    ``__call__(image, maps, points)``: ``image`` float ``(1, H, W)`` in [0, 1]; ``maps`` a list of
    ``(..., H, W)`` integer or bool tensors (label maps, semi-masks), resampled by nearest neighbour, with 0
    where the rotation brings in pixels from outside the slice (background; for a semi-mask, "not there");
    ``points`` float ``(P, 2)`` ``(row, col)``. Returns the same, transformed, plus a bool ``(P,)`` of the
    points that stayed inside the slice (the caller drops the others with their labels).
    """

    degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    brightness: float = 0.15
    contrast: float = 0.15

    def __post_init__(self) -> None:
        self.geometric = v2.RandomAffine(degrees=self.degrees, scale=self.scale)
        self.intensity = v2.ColorJitter(brightness=self.brightness, contrast=self.contrast)

    def __call__(self, image: torch.Tensor, maps: list[torch.Tensor], points: torch.Tensor
                 ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]:
        height, width = image.shape[-2:]
        keypoints = tv_tensors.KeyPoints(points.float().flip(-1).reshape(-1, 2), canvas_size=(height, width))
        wrapped = [tv_tensors.Mask(m.to(torch.uint8)) for m in maps]
        out_image, out_maps, moved = self.geometric(tv_tensors.Image(image), wrapped, keypoints)
        moved = moved.as_subclass(torch.Tensor).flip(-1)
        inside = (moved[:, 0] >= 0) & (moved[:, 0] <= height - 1) & (moved[:, 1] >= 0) & (moved[:, 1] <= width - 1)
        out_image = self.intensity(out_image).as_subclass(torch.Tensor).clamp_(0.0, 1.0)
        out_maps = [m.as_subclass(torch.Tensor).to(original.dtype) for m, original in zip(out_maps, maps)]
        return out_image, out_maps, moved, inside
