"""The prediction layer: any trained run over a whole CT, back on the CT's own grid.

- :mod:`pointseg.predict.base`: the predictor contract, :data:`~pointseg.predict.base.PREDICTORS` (lazy
  entries by name) and :class:`~pointseg.predict.base.Prediction`, the named maps a predictor returns;
- :mod:`pointseg.predict.planar`: the ``slices`` predictor (2D planar and 2D supervised runs);
- :mod:`pointseg.predict.volume`: the ``volume`` predictor (3D networks by sliding window);
- :mod:`pointseg.predict.steps`: the post-processing and refinement steps, one registry, one signature.

:func:`load_model` builds the predictor a run names; :func:`predict_file` is ``pointseg predict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import os
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from pointseg.device import resolve_device
from pointseg.errors import InputError
from pointseg.io.atomic import atomic_path, check_output
from pointseg.io.volume import Volume, read_volume, write_nifti
from pointseg.labels import LabelSet
from pointseg.predict.base import CONFIDENCE, LABELS, PREDICTORS, Prediction, label_dtype, network_from_checkpoint
from pointseg.runs import load_checkpoint, run_info_from

if TYPE_CHECKING:
    import torch

def load_model(run: str | os.PathLike, device: torch.device | str = "cpu"):
    """The predictor of a run folder (or checkpoint file): the one its RunInfo names in :data:`PREDICTORS`,
    built from the checkpoint (loaded with ``weights_only=True``) and moved to ``device``."""
    checkpoint = load_checkpoint(run)
    return PREDICTORS.lookup(run_info_from(checkpoint).predictor).from_checkpoint(checkpoint, device)


def probabilities_file(h5, affine: np.ndarray, label_set: LabelSet):
    """A ``shape -> dataset`` function that creates the ``probabilities`` dataset of an open HDF5 file
    (float16, chunked per k-slice, lzf) with the affine and class names as attributes."""

    def create(shape):
        h5.attrs["affine"] = affine
        h5.attrs["classes"] = list(label_set.names)
        h5.attrs["axes"] = "i,j,k,class"
        return h5.create_dataset("probabilities", shape=shape, dtype=np.float16,
                                 chunks=(shape[0], shape[1], 1, shape[3]), compression="lzf")

    return create


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
    import h5py

    check_output(out, suffixes=(".nii.gz", ".nii"))  # before the model is loaded or anything predicted
    if probabilities is not None:
        check_output(probabilities, suffixes=(".h5", ".hdf5"))
    torch_device = resolve_device(device)
    loaded = load_model(run, torch_device)
    if probabilities is not None and not getattr(loaded, "has_probabilities", False):
        kind = run_info_from(load_checkpoint(run)).predictor
        raise InputError(f"a {kind} run writes labels only (no --probabilities)", run)
    ct = read_volume(ct_path)
    with ExitStack() as stack:
        sink = None
        if probabilities is not None:
            tmp = stack.enter_context(atomic_path(Path(probabilities)))
            sink = probabilities_file(stack.enter_context(h5py.File(tmp, "w")), ct.affine, loaded.label_set)
        prediction = loaded.predict(ct, torch_device, batch_size, show_progress, probabilities=sink)
        write_nifti(Volume(prediction.labels, ct.affine), out, dtype=label_dtype(loaded.label_set.num_classes))
        for name, path in map_paths(out, prediction).items():
            value = prediction[name]
            write_nifti(Volume(value, ct.affine), path, dtype=value.dtype if value.dtype.kind in "iu" else np.float32)
    return Path(out)


def map_paths(out: str | os.PathLike, prediction: Prediction) -> dict[str, Path]:
    """Where ``pointseg predict --out LABELS.nii.gz`` writes the prediction's other maps: next to it, as
    ``LABELS_<name>.nii.gz`` (``instances``, say); the confidence is not written."""
    out = Path(out)
    stem = out.name[: -len(".nii.gz")] if out.name.endswith(".nii.gz") else out.stem
    suffix = out.name[len(stem):]
    return {name: out.with_name(f"{stem}_{name}{suffix}") for name in prediction.maps
            if name not in (LABELS, CONFIDENCE)}


__all__ = ["PREDICTORS", "Prediction", "load_model", "network_from_checkpoint", "predict_file",
           "probabilities_file"]
