"""Volumetric inference: a 3D network over a whole CT by sliding window, back on the CT's own grid.

A volumetric run sees CTs resampled to isotropic voxels of ``spacing`` mm along the CT's own voxel axes
(:func:`pointseg.volume.spacing_grid`: the direction cosines are kept, so an oblique scan stays oblique
and the only interpolation is the change of voxel size), with HU clipped to a window and scaled to
[0, 1] (:func:`normalise_ct`). Training (``pointseg.train.volumetric``) prepares its cases with the same
two functions, so what the network sees at training and at prediction is the same by construction.

Prediction (:class:`VolumetricModel`, the ``volume`` predictor) runs MONAI's
``sliding_window_inference`` (Gaussian weighting, configurable overlap) over the resampled CT. With many
classes the averaged probabilities of a whole scan do not fit comfortably in memory (62 classes of a
2 mm upper body are 5 GB), so a tall scan is predicted in slabs along its longest axis, each with half a
patch of context on either side, and only the arg-max of each slab's core is kept. The labels are then
brought onto the CT's grid class by class: each class's indicator is interpolated linearly inside its
own bounding box and every CT voxel takes the class with the largest interpolated value (background
being one minus the others), so labels upsampled to a finer CT are smooth, not 2 mm blocks, and memory
stays a few times the CT's size (``benchmarks/unet3d.py``). MONAI has no label-wise resampling that
works box by box, so that part is written here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pointseg.errors import InputError
from pointseg.hu import BONE_WINDOW_HU
from pointseg.inference import PREDICTORS, network_from_checkpoint
from pointseg.labels import LabelSet, get_label_set
from pointseg.progress import progress
from pointseg.runs import RunInfo, run_info_from
from pointseg.volume import Volume, resample_to_grid, spacing_grid

# Memory allowed for one slab's averaged probabilities (and MONAI's weight map); slabs are cut to fit.
SLAB_BYTES = 1 << 30


def normalise_ct(hu: np.ndarray, window: tuple[float, float] = BONE_WINDOW_HU) -> np.ndarray:
    """HU clipped to ``window`` and scaled to [0, 1], float32 (the volumetric networks' input)."""
    low, high = window
    out = np.asarray(hu, dtype=np.float32) - np.float32(low)
    out *= np.float32(1.0 / (high - low))
    return np.clip(out, 0.0, 1.0, out=out)


def _to_spacing(volume: Volume, spacing: float, interpolation: str, fill: float) -> Volume:
    """``volume`` on the model grid of ``spacing`` mm along its own axes; itself when already there."""
    shape, affine = spacing_grid(volume, spacing)
    if volume.same_grid(Volume(np.broadcast_to(np.uint8(0), shape), affine)):  # a grid, no voxels
        return volume
    return resample_to_grid(volume, shape, affine, interpolation, fill=fill)


def resample_ct(ct: Volume, spacing: float) -> Volume:
    """The CT on the model grid: ``spacing`` mm along its own axes, linear, outside filled with air."""
    out = _to_spacing(ct, spacing, "linear", -1024.0)
    return out if out is not ct else Volume(np.asarray(ct.array, dtype=np.float32), ct.affine, ct.path)


def resample_labels(labels: Volume, spacing: float) -> Volume:
    """A label map on the model grid of its CT (nearest neighbour)."""
    return _to_spacing(labels, spacing, "nearest", 0)


def _axis_map(source_affine: np.ndarray, target_affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` with source index = scale * target index + offset, for grids that share their
    direction cosines (the model grid of a CT and the CT)."""
    matrix = np.linalg.inv(source_affine) @ target_affine
    if not np.allclose(matrix[:3, :3], np.diag(np.diag(matrix[:3, :3])), atol=1e-6):
        raise ValueError("the two grids do not share their axes")
    return np.diag(matrix[:3, :3]).copy(), matrix[:3, 3].copy()


def labels_to_grid(labels: Volume, shape: tuple[int, ...], affine: np.ndarray, num_classes: int) -> np.ndarray:
    """Label map ``labels`` (model grid) onto the grid ``(shape, affine)`` with the same axes, smoothly.

    Each class's indicator is interpolated linearly (``scipy.ndimage.affine_transform``, order 1) in its
    bounding box only; a voxel takes the class of largest value, or background where ``1 - sum`` of the
    classes is larger. Memory: three arrays the size of the output.
    """
    from scipy import ndimage

    scale, offset = _axis_map(labels.affine, affine)
    out = np.zeros(shape, dtype=np.uint8 if num_classes <= 256 else np.int16)
    best = np.zeros(shape, dtype=np.float32)
    total = np.zeros(shape, dtype=np.float32)
    array = np.asarray(labels.array)
    source_shape = np.asarray(array.shape)
    objects = ndimage.find_objects(array.astype(np.int32, copy=False), max_label=num_classes - 1)
    for c, box in enumerate(objects, start=1):
        if box is None:
            continue
        low = np.maximum([s.start - 1 for s in box], 0)
        high = np.minimum([s.stop + 1 for s in box], source_shape)
        # target voxels whose source coordinate falls inside [low - .5, high - .5]
        t_low = np.maximum(np.floor((low - 0.5 - offset) / scale), 0).astype(int)
        t_high = np.minimum(np.ceil((high - 0.5 - offset) / scale) + 1, shape).astype(int)
        if np.any(t_high <= t_low):
            continue
        crop = (array[tuple(slice(a, b) for a, b in zip(low, high))] == c).astype(np.float32)
        value = ndimage.affine_transform(crop, scale, offset=offset + scale * t_low - low,
                                         output_shape=tuple(t_high - t_low), order=1, mode="nearest")
        region = tuple(slice(a, b) for a, b in zip(t_low, t_high))
        total[region] += value
        wins = value > best[region]
        best[region][wins] = value[wins]
        out[region][wins] = c
    out[best <= 1.0 - total] = 0  # background's own interpolated value is 1 - the sum of the others
    return out


def _slabs(length: int, core: int, context: int) -> list[tuple[int, int, int, int]]:
    """``(start, stop, core_start, core_stop)`` windows covering ``length`` with cores of ``core``."""
    out = []
    for core_start in range(0, length, core):
        core_stop = min(length, core_start + core)
        out.append((max(0, core_start - context), min(length, core_stop + context), core_start, core_stop))
    return out


@torch.no_grad()
def sliding_window_labels(
    model: torch.nn.Module, image: np.ndarray, patch: tuple[int, int, int], num_classes: int,
    overlap: float = 0.5, device: torch.device | str = "cpu", sw_batch_size: int = 1,
    slab_bytes: int = SLAB_BYTES, show_progress: bool = False,
) -> np.ndarray:
    """Arg-max labels of ``model`` over ``image`` ``(I, J, K)`` by Gaussian-weighted sliding windows.

    MONAI's ``sliding_window_inference`` averages the softmax of overlapping ``patch`` windows; a volume
    whose averaged probabilities exceed ``slab_bytes`` is done in slabs along its longest axis, each with
    half a patch of context on both sides (only the slab's core is kept).
    """
    from monai.inferers import sliding_window_inference

    device = torch.device(device)
    model.eval()
    axis = int(np.argmax(image.shape))
    plane = math.prod(n for a, n in enumerate(image.shape) if a != axis)
    core = max(patch[axis], int(slab_bytes // max(1, 4 * (num_classes + 1) * plane)))
    context = patch[axis] // 2 if core < image.shape[axis] else 0
    slabs = _slabs(image.shape[axis], core, context)
    labels = np.zeros(image.shape, dtype=np.uint8 if num_classes <= 256 else np.int16)

    def softmax(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = model(x)
        return torch.softmax(logits.float(), dim=1)

    for start, stop, core_start, core_stop in progress(slabs, "predict", unit="slab") if show_progress else slabs:
        index = [slice(None)] * 3
        index[axis] = slice(start, stop)
        x = torch.from_numpy(np.ascontiguousarray(image[tuple(index)], dtype=np.float32))[None, None].to(device)
        probs = sliding_window_inference(x, patch, sw_batch_size, softmax, overlap=overlap, mode="gaussian",
                                         padding_mode="constant", cval=0.0, sw_device=device, device=device)
        slab = probs[0].argmax(dim=0).to("cpu", torch.uint8 if num_classes <= 256 else torch.int16).numpy()
        del probs
        keep = [slice(None)] * 3
        keep[axis] = slice(core_start - start, core_stop - start)
        index[axis] = slice(core_start, core_stop)
        labels[tuple(index)] = slab[tuple(keep)]
    return labels


@PREDICTORS.register("volume")
@dataclass
class VolumetricModel:
    """A 3D network ready to predict whole CTs (the ``volume`` predictor of :mod:`pointseg.inference`).

    ``config`` is the run's saved config: ``model`` (registry name and keyword arguments), ``spacing``,
    ``window``, ``patch``, ``overlap`` and ``label_set``.
    """

    model: torch.nn.Module
    label_set: LabelSet
    config: dict
    run: RunInfo | None = None

    @property
    def spacing(self) -> float:
        return float(self.config["spacing"])

    @property
    def patch(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.config["patch"])  # type: ignore[return-value]

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, device: torch.device | str = "cpu") -> "VolumetricModel":
        config = checkpoint["config"]
        return cls(network_from_checkpoint(checkpoint, device), get_label_set(config["label_set"]), config,
                   run_info_from(checkpoint))

    def predict_labels(self, ct: Volume, device: torch.device | str = "cpu", batch_size: int = 4,
                       show_progress: bool = False, overlap: float | None = None) -> tuple[np.ndarray, None]:
        """Labels ``(I, J, K)`` on the CT's own grid; no probabilities (``None``: see the module notes)."""
        from pointseg.inference import POSTPROCESSING

        model_ct = resample_ct(ct, self.spacing)
        image = normalise_ct(model_ct.array, tuple(self.config.get("window", BONE_WINDOW_HU)))
        overlap = float(self.config.get("overlap", 0.5)) if overlap is None else overlap
        labels = sliding_window_labels(self.model, image, self.patch, self.label_set.num_classes, overlap, device,
                                       max(1, batch_size), show_progress=show_progress)
        del image
        if model_ct.same_grid(ct):
            on_ct = labels
        else:
            on_ct = labels_to_grid(Volume(labels, model_ct.affine), ct.shape, ct.affine, self.label_set.num_classes)
        postprocess = POSTPROCESSING.build(self.config.get("postprocess") or "none")
        return postprocess(on_ct, None, ct, self.label_set.num_classes), None


def check_patch(patch: tuple[int, ...], divisor: int) -> tuple[int, int, int]:
    """A patch of three sizes, each a multiple of ``divisor`` (the network's total down-sampling)."""
    patch = tuple(int(n) for n in (patch if len(patch) == 3 else tuple(patch) * 3))
    if any(n <= 0 or n % divisor for n in patch):
        raise InputError(f"patch sizes must be positive multiples of {divisor} (the network halves them "
                         f"{int(math.log2(divisor))} times), got {'x'.join(map(str, patch))}")
    return patch  # type: ignore[return-value]
