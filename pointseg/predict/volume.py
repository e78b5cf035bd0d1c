"""Volumetric inference: a 3D network over a whole CT by sliding window, back on the CT's own grid.

A volumetric run sees CTs resampled to isotropic voxels of ``spacing`` mm along the CT's own voxel axes
(:func:`pointseg.io.grid.spacing_grid`: the direction cosines are kept, so an oblique scan stays oblique
and the only interpolation is the change of voxel size), with HU clipped to a window and scaled to
[0, 1] (:func:`normalise_ct`). Training (``pointseg.train.volumetric``) prepares its cases with the same
two functions, so what the network sees at training and at prediction is the same by construction.

Prediction (:class:`VolumetricPredictor`, the ``volume`` predictor of :mod:`pointseg.predict.base`) runs MONAI's
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
from typing import Callable

import numpy as np
import torch

from pointseg.errors import InputError
from pointseg.imaging.hu import BONE_WINDOW_HU
from pointseg.device import autocast
from pointseg.predict.base import LABELS, Prediction, label_dtype, network_from_checkpoint
from pointseg.predict.steps import NO_STEP, build_step, no_clicks
from pointseg.labels import LabelSet, get_label_set
from pointseg.progress import progress
from pointseg.registry import Registry
from pointseg.runs import RunInfo, run_info_from
from pointseg.io.volume import Volume
from pointseg.io.grid import reorient, resample_to_grid, spacing_grid, undo_reorient

# The orientation the volumetric networks learn and predict in (RAS+: the array axes run toward the patient's
# right, anterior and superior): a dataset mixing RAS and LPS files teaches one meaning of left and right.
CANONICAL = "RAS"
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
    out = np.zeros(shape, dtype=label_dtype(num_classes))
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


AGGREGATORS: Registry = Registry("aggregator")


@AGGREGATORS.register("gaussian", help="Gaussian-weighted mean of the overlapping windows (MONAI)")
class GaussianMean:
    """MONAI's ``sliding_window_inference`` over one slab: every head the window function returns is averaged
    over the overlapping windows with Gaussian weights. ``window(x, coords)`` receives a batch of windows and
    each one's slices in the slab (``with_coord``)."""

    def __call__(self, slab: torch.Tensor, patch, window, sw_batch_size: int, overlap, device) -> dict:
        from monai.inferers import sliding_window_inference

        out = sliding_window_inference(slab, patch, sw_batch_size, window, overlap=overlap, mode="gaussian",
                                       padding_mode="constant", cval=0.0, sw_device=device, device=device,
                                       with_coord=True)
        return out if isinstance(out, dict) else {PROBABILITIES: out}


PROBABILITIES = "probabilities"


def softmax_window(model: torch.nn.Module, device) -> Callable:
    """The default window function: ``{"probabilities": softmax of the logits head}`` of one batch of windows."""
    from pointseg.models import call_named

    def window(x: torch.Tensor, coords=None) -> dict[str, torch.Tensor]:
        with autocast(device):
            logits = call_named(model, {"image": x})["logits"]
        return {PROBABILITIES: torch.softmax(logits.float(), dim=1)}

    return window


def argmax_decode(num_classes: int) -> Callable:
    """The default decode step: ``{"labels": arg-max of the probabilities}`` of one slab."""
    dtype = torch.uint8 if num_classes <= 256 else torch.int16

    def decode(outputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        return {LABELS: outputs[PROBABILITIES][0].argmax(dim=0).to("cpu", dtype).numpy()}

    return decode


@torch.no_grad()
def sliding_window_maps(
    image: np.ndarray, patch: tuple[int, int, int], window: Callable, decode: Callable, channels: int,
    overlap=0.5, device: torch.device | str = "cpu", sw_batch_size: int = 1, slab_bytes: int = SLAB_BYTES,
    slab_axis: int | None = None, aggregator: str = "gaussian", show_progress: bool = False,
) -> dict[str, np.ndarray]:
    """Named maps over ``image`` ``(I, J, K)`` by sliding windows, slab by slab.

    ``window(x, coords) -> {head: (B, C, *patch)}`` runs on a batch of windows ``x`` ``(B, 1, *patch)``;
    ``coords`` holds each window's slices in ``image`` (a pipeline with context views cuts them there). The
    aggregator (:data:`AGGREGATORS`) combines the windows of a slab, and ``decode(outputs) -> {name: map}``
    turns the slab's combined heads into maps. A volume whose ``channels`` combined float32 maps exceed
    ``slab_bytes`` is done in slabs along ``slab_axis`` (its longest axis by default), each with a window's
    worth of context on both sides, cut so that the result equals one pass; only each slab's core is kept.
    ``overlap``: one fraction or one per axis.
    """
    device = torch.device(device)
    axis = int(np.argmax(image.shape)) if slab_axis is None else int(slab_axis)
    plane = math.prod(n for a, n in enumerate(image.shape) if a != axis)
    # Slabs give exactly the labels of one pass when every core voxel is covered by the same windows, at
    # the same places: cores and contexts are whole numbers of the windows' stride along the slab axis (so
    # a slab's windows sit where the one pass puts them), and the context is at least a window, so the
    # window a slab's end pulls inwards (MONAI keeps the last window inside the input) misses the core.
    share = overlap[axis] if isinstance(overlap, (tuple, list)) else overlap
    stride = max(1, int(patch[axis] * (1.0 - float(share))))
    core = max(stride, int(slab_bytes // max(1, 4 * (channels + 1) * plane)) // stride * stride)
    context = -(-patch[axis] // stride) * stride if core < image.shape[axis] else 0
    slabs = _slabs(image.shape[axis], core, context)
    combine = AGGREGATORS.build(aggregator)
    maps: dict[str, np.ndarray] = {}
    for start, stop, core_start, core_stop in progress(slabs, "predict", unit="slab") if show_progress else slabs:
        index = [slice(None)] * 3
        index[axis] = slice(start, stop)
        x = torch.from_numpy(np.ascontiguousarray(image[tuple(index)], dtype=np.float32))[None, None].to(device)

        def shifted(batch: torch.Tensor, coords) -> dict[str, torch.Tensor]:  # coords in the slab -> in the image
            moved = [[*c[:2], *(slice(s.start + (start if a == axis else 0), s.stop + (start if a == axis else 0))
                                for a, s in enumerate(c[2:]))] for c in coords]
            return window(batch, moved)

        decoded = decode(combine(x, patch, shifted, sw_batch_size, overlap, device))
        keep = [slice(None)] * 3
        keep[axis] = slice(core_start - start, core_stop - start)
        index[axis] = slice(core_start, core_stop)
        for name, value in decoded.items():
            if name not in maps:
                maps[name] = np.zeros(image.shape, dtype=value.dtype)
            maps[name][tuple(index)] = value[tuple(keep)]
    return maps


def sliding_window_labels(
    model: torch.nn.Module, image: np.ndarray, patch: tuple[int, int, int], num_classes: int,
    overlap=0.5, device: torch.device | str = "cpu", sw_batch_size: int = 1,
    slab_bytes: int = SLAB_BYTES, show_progress: bool = False, slab_axis: int | None = None,
) -> np.ndarray:
    """Arg-max labels of ``model`` over ``image`` ``(I, J, K)``: :func:`sliding_window_maps` with the softmax
    window and the arg-max decode (the averaged probabilities of ``num_classes`` set the slabs)."""
    model.eval()
    maps = sliding_window_maps(image, patch, softmax_window(model, device), argmax_decode(num_classes), num_classes,
                               overlap, device, sw_batch_size, slab_bytes, slab_axis, show_progress=show_progress)
    return maps[LABELS]


@dataclass
class VolumetricPredictor:
    """A 3D network ready to predict whole CTs (the ``volume`` predictor of :mod:`pointseg.predict.base`).

    ``config`` is the run's saved config: ``model`` (registry name and keyword arguments), ``spacing``,
    ``window``, ``patch``, ``overlap`` (one or per axis), ``slab_axis``, ``aggregator`` and ``label_set``.
    Built as ``cls(network, label_set, config, run)`` by the engine's trainer for validation.

    The hooks a pipeline overrides: :meth:`inputs` (the model-grid arrays windows are cut from),
    :meth:`window` (a batch of windows and their coordinates to named
    heads), :meth:`decode` (a slab's combined heads to named maps), :meth:`channels` (how many float32 maps
    the aggregator holds per voxel, for the slab size) and :meth:`to_ct_grid` (a map from the model grid
    back onto the CT's).
    """

    model: torch.nn.Module
    label_set: LabelSet
    config: dict
    run: RunInfo | None = None
    has_probabilities = False

    @property
    def spacing(self) -> float:
        return float(self.config["spacing"])

    @property
    def patch(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.config["patch"])  # type: ignore[return-value]

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, device: torch.device | str = "cpu") -> "VolumetricPredictor":
        config = checkpoint["config"]
        return cls(network_from_checkpoint(checkpoint, device), get_label_set(config["label_set"]), config,
                   run_info_from(checkpoint))

    # ----------------------------------------------------------------------------------------- hooks
    def inputs(self, ct: Volume, model_ct: Volume) -> dict[str, np.ndarray]:
        """The model-grid arrays the windows are cut from, by name, for the canonical ``ct`` and its
        resampled ``model_ct``: ``image`` (windowed to [0, 1]); a pipeline with coarser context views adds
        them (``image@F``)."""
        return {"image": normalise_ct(model_ct.array, tuple(self.config.get("window", BONE_WINDOW_HU)))}

    def window(self, inputs: dict[str, np.ndarray], device) -> Callable:
        """The window function over the model-grid ``inputs`` (``image``; coarser views where the pipeline
        has them): :func:`softmax_window` by default."""
        return softmax_window(self.model, device)

    def decode(self) -> Callable:
        return argmax_decode(self.label_set.num_classes)

    def channels(self) -> int:
        return self.label_set.num_classes

    def to_ct_grid(self, name: str, value: np.ndarray, model_grid: Volume, ct: Volume) -> np.ndarray:
        """A label map ``value`` on ``model_grid`` onto the (canonical) CT's grid, smoothly (see the module)."""
        if model_grid.same_grid(ct):
            return value
        return labels_to_grid(Volume(value, model_grid.affine), ct.shape, ct.affine, self.label_set.num_classes)

    # ---------------------------------------------------------------------------------------- predict
    def predict(self, ct: Volume, device: torch.device | str = "cpu", batch_size: int = 4,
                show_progress: bool = False, probabilities=None, overlap=None) -> Prediction:
        """Named maps on the CT's own grid (``labels``, and whatever else :meth:`decode` names; no
        probabilities: see the module notes), the labels post-processed as the run's config says
        (``postprocess``, a step of :mod:`pointseg.predict.steps`). The CT is predicted in the engine's
        canonical orientation and the maps are put back in the CT's own."""
        self.model.eval()
        on_canonical, ornt = reorient(ct, CANONICAL)
        model_ct = resample_ct(on_canonical, self.spacing)
        inputs = self.inputs(on_canonical, model_ct)
        image = inputs["image"]
        overlap = self.config.get("overlap", 0.5) if overlap is None else overlap
        overlap = tuple(overlap) if isinstance(overlap, (list, tuple)) else float(overlap)
        divisor = int(getattr(self.model, "divisor", 1))  # -1: the whole axis, padded to the network's divisor
        patch = tuple(-(-n // divisor) * divisor if s == -1 else s for s, n in zip(self.patch, image.shape))
        maps = sliding_window_maps(image, patch, self.window(inputs, device), self.decode(),
                                   self.channels(), overlap, device, max(1, batch_size),
                                   slab_axis=self.config.get("slab_axis"),
                                   aggregator=self.config.get("aggregator", "gaussian"), show_progress=show_progress)
        del image, inputs
        out = {}
        for name, value in maps.items():
            value = self.to_ct_grid(name, value, Volume(value, model_ct.affine), on_canonical)
            out[name] = np.ascontiguousarray(undo_reorient(value, ornt))
        step = build_step(self.config.get("postprocess") or NO_STEP, label_set=self.label_set)
        out[LABELS] = np.asarray(step(out[LABELS], None, ct, no_clicks())).astype(
            label_dtype(self.label_set.num_classes), copy=False)
        return Prediction(out)


def check_patch(patch: tuple[int, ...], divisor: int) -> tuple[int, int, int]:
    """A patch of three sizes, each a multiple of ``divisor`` (the network's total down-sampling)."""
    patch = tuple(int(n) for n in (patch if len(patch) == 3 else tuple(patch) * 3))
    if any(n <= 0 or n % divisor for n in patch):
        raise InputError(f"patch sizes must be positive multiples of {divisor} (the network halves them "
                         f"{int(math.log2(divisor))} times), got {'x'.join(map(str, patch))}")
    return patch  # type: ignore[return-value]
