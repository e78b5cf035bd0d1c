"""Inference with any trained run: a whole CT volume back on the CT's own grid.

:func:`load_model` reads a run's checkpoint (see :mod:`pointseg.runs`) and builds the predictor its
:class:`~pointseg.runs.RunInfo` names, from :data:`PREDICTORS`. The planar models (``slices``) predict a
CT slice by slice along their axis: the checkpoint holds the weights and the run's configuration
(``config["model"]``: registry name and keyword arguments; ``config["preprocess"]``: the
:class:`~pointseg.preprocess.PreprocessConfig` fields; ``config["axis"]`` and ``config["label_set"]``).
A volumetric predictor registers itself in :data:`PREDICTORS` under its own name, with the same
``from_checkpoint`` and ``predict_labels``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from pointseg.atomic import atomic_path
from pointseg.errors import InputError
from pointseg.labels import LabelSet, get_label_set
from pointseg.preprocess import PreprocessConfig, SliceGeometry, preprocess_case, with_context
from pointseg.progress import progress
from pointseg.registry import Registry
from pointseg.runs import RunInfo, load_checkpoint, run_info_from
from pointseg.volume import Volume, read_volume, write_nifti

PREDICTORS: Registry = Registry("predictor")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; an unavailable CUDA request is an InputError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available")
    return device


@PREDICTORS.register("slices")
@dataclass
class LoadedModel:
    """A planar model ready to predict, with what is needed to prepare its input."""

    model: torch.nn.Module
    axis: str
    preprocess: PreprocessConfig
    label_set: LabelSet
    config: dict
    run: RunInfo | None = None

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, device: torch.device | str = "cpu") -> "LoadedModel":
        config = checkpoint["config"]
        model = network_from_checkpoint(checkpoint, device)
        preprocess = PreprocessConfig.from_dict(config["preprocess"])
        return cls(model, config["axis"], preprocess, get_label_set(config["label_set"]), config,
                   run_info_from(checkpoint))

    def predict_labels(self, ct: Volume, device: torch.device | str = "cpu", batch_size: int = 8,
                       show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Labels and probabilities of a whole CT on its own grid (see :func:`predict_labels`)."""
        probs, _ = predict_volume(self, ct, device, batch_size, show_progress)
        postprocess = POSTPROCESSING.build(self.config.get("postprocess") or "none")
        return postprocess(labels_from_probabilities(probs), probs, ct, self.label_set.num_classes), probs


def network_from_checkpoint(checkpoint: dict, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The network a checkpoint's ``config["model"]`` names (registry name and keyword arguments), with the
    checkpoint's weights, on ``device``, in eval mode."""
    from pointseg.models import build_model

    spec = dict(checkpoint["config"]["model"])
    model = build_model(spec.pop("name"), **spec)
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()


def load_model(run: str | os.PathLike, device: torch.device | str = "cpu"):
    """The predictor of a run folder (or checkpoint file): the one its RunInfo names in :data:`PREDICTORS`,
    built from the checkpoint (loaded with ``weights_only=True``) and moved to ``device``."""
    import pointseg.volumetric  # noqa: F401  (registers the "volume" predictor)

    checkpoint = load_checkpoint(run)
    return PREDICTORS.lookup(run_info_from(checkpoint).predictor).from_checkpoint(checkpoint, device)


def slices_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 slices ``(n, H, W)`` → float tensor ``(n, 1, H, W)`` in [0, 1] (the models' input); slices with
    context channels ``(n, c, H, W)`` → ``(n, c, H, W)``."""
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    return (tensor.unsqueeze(1) if tensor.dim() == 3 else tensor).float().div_(255.0)


@torch.no_grad()
def predict_slices(
    model: torch.nn.Module, image: np.ndarray, device: torch.device | str = "cpu", batch_size: int = 8,
    show_progress: bool = False, dtype: np.dtype | type = np.float32, window: tuple[slice, slice] | None = None,
    context: int = 0, out=None,
) -> np.ndarray:
    """Softmax probabilities ``(n, C, H, W)`` (``dtype``, float32 by default) for uint8 slices ``(n, H, W)``.

    With ``window`` (rows, columns) only that part of each slice is kept: ``(n, C, h, w)``. ``context``: the
    model takes that many neighbouring slices on each side as extra channels (see ``with_context``).
    ``out``: a function ``shape -> array`` (e.g. an HDF5 dataset on disk) to write into instead of memory.
    """
    window = window or (slice(None), slice(None))
    device = torch.device(device)
    model.eval()
    result = None
    starts = range(0, len(image), batch_size)
    for start in progress(starts, "predict", unit="batch") if show_progress else starts:
        stop = min(start + batch_size, len(image))
        batch = slices_to_tensor(with_context(image, start, stop, context) if context else image[start:stop]).to(device)
        if device.type == "cuda":
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = model(batch)
        probs = torch.softmax(logits.float(), dim=1)[:, :, window[0], window[1]].cpu().numpy()
        if result is None:
            shape = (len(image),) + probs.shape[1:]
            result = out(shape) if out is not None else np.empty(shape, dtype=dtype)
        result[start : start + len(probs)] = probs.astype(dtype, copy=False)
    return result if result is not None else np.zeros((0, 1) + image[:, window[0], window[1]].shape[1:], dtype)


def predict_volume(
    loaded: LoadedModel, ct: Volume, device: torch.device | str = "cpu", batch_size: int = 8,
    show_progress: bool = False,
) -> tuple[np.ndarray, SliceGeometry]:
    """Class probabilities ``(I, J, K, C)`` float32 on the CT's own grid, and the slicing geometry used.

    Every slice is predicted whole (the network is fully convolutional), so nothing of a CT taller or
    wider than the training crops is cut away, and prediction does not depend on where clicks are.
    """
    stack = preprocess_case(ct, loaded.axis, loaded.preprocess, full_plane=True)
    probs = predict_slices(loaded.model, stack.image, device, batch_size, show_progress,
                           context=int(loaded.config.get("context", 0)))
    volume = stack.geometry.stack_to_original(np.moveaxis(probs, 1, -1), "linear", fill=0.0)
    return volume, stack.geometry


def predict_volume_into(
    loaded: LoadedModel, ct: Volume, target, device: torch.device | str = "cpu", batch_size: int = 8,
) -> SliceGeometry:
    """Like :func:`predict_volume`, but one class at a time into ``target`` (an ``(I, J, K, C)`` array or
    HDF5 dataset): the memory-lean path used by ``fuse``. The slice probabilities of all classes wait in a
    temporary float16 HDF5 file, not in memory, so memory stays a few times the CT's size whatever the
    number of classes (``benchmarks/fuse_memory.py``)."""
    stack = preprocess_case(ct, loaded.axis, loaded.preprocess, full_plane=True)
    geometry = stack.geometry
    with tempfile.TemporaryFile() as spill, h5py.File(spill, "w") as h5:
        def on_disk(shape):  # one chunk per batch of slices and class
            return h5.create_dataset("probabilities", shape=shape, dtype=np.float16,
                                     chunks=(min(batch_size, shape[0]), 1) + shape[2:])

        probs = predict_slices(loaded.model, stack.image, device, batch_size, dtype=np.float16,
                               window=geometry.stack_window, context=int(loaded.config.get("context", 0)), out=on_disk)
        del stack
        for c in range(probs.shape[1]):
            channel = geometry.probability_to_original(geometry.window_to_volume(probs[:, c].astype(np.float32)))
            target[..., c] = channel.astype(target.dtype)  # one contiguous copy, already in the stored type
    return geometry


def labels_from_probabilities(probs: np.ndarray) -> np.ndarray:
    """Arg-max label ids ``(I, J, K)`` uint8 from probabilities ``(I, J, K, C)``; all-zero voxels → 0."""
    return np.argmax(probs, axis=-1).astype(np.uint8)


POSTPROCESSING: Registry = Registry("post-processing")


@POSTPROCESSING.register("none")
class NoPostprocessing:
    """The arg-max as it is."""

    def __call__(self, labels: np.ndarray, probs: np.ndarray, ct: Volume, num_classes: int) -> np.ndarray:
        return labels


@POSTPROCESSING.register("largest_component")
class LargestComponent:
    """Each class keeps its largest connected component."""

    def __call__(self, labels: np.ndarray, probs: np.ndarray, ct: Volume, num_classes: int) -> np.ndarray:
        from pointseg.morphology import keep_largest_per_class

        return keep_largest_per_class(labels, num_classes)


@POSTPROCESSING.register("bone_watershed")
class BonePostprocessing:
    """Each class's boundary re-drawn on the CT's bone, seeded by its confident voxels
    (:class:`pointseg.bone.BoneWatershed` without clicks)."""

    def __call__(self, labels: np.ndarray, probs: np.ndarray, ct: Volume, num_classes: int) -> np.ndarray:
        from pointseg.bone import BoneWatershed

        return BoneWatershed()(labels, probs, ct, (np.zeros((0, 3)), np.zeros(0, dtype=np.int64)))


def predict_labels(
    loaded: LoadedModel, ct: Volume, device: torch.device | str = "cpu", batch_size: int = 8,
    show_progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(I, J, K)`` uint8 and probabilities ``(I, J, K, C)`` of a whole CT on its own grid.

    The labels are the arg-max, post-processed as the run's config says (``postprocess``, a name in
    :data:`POSTPROCESSING`; absent: ``none``). ``loaded`` is any predictor from :func:`load_model`.
    """
    return loaded.predict_labels(ct, device, batch_size, show_progress)


def write_probabilities(path: str | os.PathLike, probs: np.ndarray, affine: np.ndarray, label_set: LabelSet) -> Path:
    """Probabilities ``(I, J, K, C)`` to HDF5 as float16, chunked per k-slice, with the affine and class names."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            chunks = (probs.shape[0], probs.shape[1], 1, probs.shape[3]) if probs.size else None
            f.create_dataset("probabilities", data=probs.astype(np.float16), chunks=chunks, compression="lzf")
            f.attrs["affine"] = affine
            f.attrs["classes"] = list(label_set.names)
            f.attrs["axes"] = "i,j,k,class"
    return path


def predict_file(
    run: str | os.PathLike,
    ct_path: str | os.PathLike,
    out: str | os.PathLike,
    probabilities: str | os.PathLike | None = None,
    device: str = "auto",
    batch_size: int = 8,
    show_progress: bool = True,
) -> Path:
    """``pointseg predict``: labels NIfTI (and optional float16 HDF5 probabilities) on the CT's grid."""
    torch_device = resolve_device(device)
    loaded = load_model(run, torch_device)
    ct = read_volume(ct_path)
    kind = getattr(getattr(loaded, "run", None), "predictor", "slices")
    if probabilities is not None and kind != "slices":
        raise InputError(f"a {kind} run writes labels only (no --probabilities)", run)
    labels, probs = predict_labels(loaded, ct, torch_device, batch_size, show_progress)
    write_nifti(Volume(labels, ct.affine), out, dtype=np.uint8)
    if probabilities is not None and probs is not None:
        write_probabilities(probabilities, probs, ct.affine, loaded.label_set)
    return Path(out)
