"""The ``slices`` predictor: a 2D network over a whole CT slice by slice along its axis, back on the CT's
own grid (the contract is in :mod:`pointseg.predict.base`).

A planar run's checkpoint holds its weights and configuration: ``config["model"]`` (registry name and
keyword arguments), ``config["preprocess"]`` (the :class:`~pointseg.imaging.preprocess.PreprocessConfig`
fields), ``config["axis"]``, ``config["label_set"]`` and, for supervised runs, ``config["postprocess"]``.

Every slice is predicted whole (the network is fully convolutional), so nothing of a CT taller or wider
than the training crops is cut away. The slice probabilities of all classes wait in a temporary HDF5 file,
not in memory, and come back onto the CT's grid one class at a time (:func:`predict_classes`): the labels
are the running arg-max and the confidence the running maximum, so memory stays a few times the CT's
whatever the number of classes (62 classes of a 512²×600 CT would be 39 GB as float32 probabilities).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Callable

import h5py
import numpy as np
import torch

from pointseg.device import autocast
from pointseg.imaging.preprocess import PreprocessConfig, SliceGeometry, preprocess_case, with_context
from pointseg.labels import LabelSet, get_label_set
from pointseg.predict.base import CONFIDENCE, LABELS, Prediction, label_dtype, network_from_checkpoint
from pointseg.predict.steps import NO_STEP, build_step, no_clicks
from pointseg.progress import progress
from pointseg.runs import RunInfo, run_info_from
from pointseg.io.volume import Volume


@dataclass
class PlanarPredictor:
    """A planar model ready to predict, with what is needed to prepare its input."""

    model: torch.nn.Module
    axis: str
    preprocess: PreprocessConfig
    label_set: LabelSet
    config: dict
    run: RunInfo | None = None
    has_probabilities = True

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, device: torch.device | str = "cpu") -> "PlanarPredictor":
        config = checkpoint["config"]
        model = network_from_checkpoint(checkpoint, device)
        preprocess = PreprocessConfig.from_dict(config["preprocess"])
        return cls(model, config["axis"], preprocess, get_label_set(config["label_set"]), config,
                   run_info_from(checkpoint))

    @property
    def context(self) -> int:
        return int(self.config.get("context", 0))

    def predict(self, ct: Volume, device: torch.device | str = "cpu", batch_size: int = 8,
                show_progress: bool = False, probabilities: Callable | None = None) -> Prediction:
        """Labels and confidence of a whole CT on its own grid, post-processed as the run's config says
        (``postprocess``, a step of :mod:`pointseg.predict.steps`); ``probabilities``: see the contract."""
        num_classes = self.label_set.num_classes
        labels = np.zeros(ct.shape, dtype=label_dtype(num_classes))
        best = np.full(ct.shape, -1.0, dtype=np.float32)
        target = probabilities(tuple(ct.shape) + (num_classes,)) if probabilities is not None else None

        def keep(c: int, channel: np.ndarray) -> None:
            wins = channel > best
            labels[wins] = c
            np.maximum(best, channel, out=best)
            if target is not None:
                target[..., c] = channel.astype(target.dtype, copy=False)

        predict_classes(self, ct, keep, device, batch_size, show_progress)
        best = np.maximum(best, 0.0, out=best)
        step = build_step(self.config.get("postprocess") or NO_STEP, label_set=self.label_set)
        labels = step(labels, best, ct, no_clicks())
        return Prediction({LABELS: labels.astype(label_dtype(num_classes), copy=False), CONFIDENCE: best})


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
        with autocast(device):
            logits = model(batch)
        probs = torch.softmax(logits.float(), dim=1)[:, :, window[0], window[1]].cpu().numpy()
        if result is None:
            shape = (len(image),) + probs.shape[1:]
            result = out(shape) if out is not None else np.empty(shape, dtype=dtype)
        result[start : start + len(probs)] = probs.astype(dtype, copy=False)
    return result if result is not None else np.zeros((0, 1) + image[:, window[0], window[1]].shape[1:], dtype)



def predict_classes(loaded: PlanarPredictor, ct: Volume, sink: Callable[[int, np.ndarray], None],
                    device: torch.device | str = "cpu", batch_size: int = 8, show_progress: bool = False,
                    dtype=np.float32, exact: bool = True) -> SliceGeometry:
    """Each class's probabilities ``(I, J, K)`` float32 on the CT's own grid, one class at a time, handed to
    ``sink(class_id, probabilities)``; returns the slicing geometry used.

    The slice probabilities wait in a temporary HDF5 file of ``dtype`` on disk. ``exact`` resamples each
    class over the whole grid (the same numbers as resampling all classes at once); otherwise only the box
    where it exceeds 1e-3 (:meth:`SliceGeometry.probability_to_original`, many times faster for large label
    sets whose classes each cover a small part of the scan).
    """
    stack = preprocess_case(ct, loaded.axis, loaded.preprocess, full_plane=True)
    geometry = stack.geometry
    with tempfile.TemporaryFile() as spill, h5py.File(spill, "w") as h5:
        def on_disk(shape):  # one chunk per batch of slices and class
            return h5.create_dataset("probabilities", shape=shape, dtype=dtype,
                                     chunks=(min(batch_size, shape[0]), 1) + shape[2:])

        probs = predict_slices(loaded.model, stack.image, device, batch_size, show_progress, dtype=dtype,
                               window=geometry.stack_window, context=loaded.context, out=on_disk)
        del stack
        for c in range(probs.shape[1]):
            window = geometry.window_to_volume(probs[:, c].astype(np.float32))
            if exact:
                channel = geometry.to_original(window, "linear", 0.0)
            else:
                channel = geometry.probability_to_original(window)
            sink(c, channel)
    return geometry


def predict_volume_into(loaded: PlanarPredictor, ct: Volume, target, device: torch.device | str = "cpu",
                        batch_size: int = 8) -> SliceGeometry:
    """Class probabilities ``(I, J, K, C)`` into ``target`` (an array or HDF5 dataset), one class at a time:
    the memory-lean path of ``fuse`` (float16 slices, each class resampled only where it is above 1e-3;
    ``benchmarks/fuse_memory.py``)."""

    def store(c: int, channel: np.ndarray) -> None:
        target[..., c] = channel.astype(target.dtype)  # one contiguous copy, already in the stored type

    return predict_classes(loaded, ct, store, device, batch_size, dtype=np.float16, exact=False)
