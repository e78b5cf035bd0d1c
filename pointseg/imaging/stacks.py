"""Planar slice stacks on disk: HDF5 files keyed on the inputs that make them, so a stack is prepared once.

:func:`cached_stack` returns the stack of a case along an axis (:func:`pointseg.imaging.preprocess.preprocess_case`)
from ``DATASET/.pointseg-cache`` when its CT, labels, points and settings have not changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from pointseg.imaging.preprocess import PreprocessConfig, SliceGeometry, SliceStack, normalize_axis, preprocess_case
from pointseg.io.atomic import atomic_path
from pointseg.labels import LabelSet


def save_stack(path: str | os.PathLike, stack: SliceStack, key: str = "") -> Path:
    """Write a stack to HDF5 atomically (datasets chunked one slice per chunk)."""
    path = Path(path)
    n, height, width = stack.image.shape
    chunks = (1, height, width) if n else None
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("image", data=stack.image, chunks=chunks, compression="lzf")
            if stack.labels is not None:
                f.create_dataset("labels", data=stack.labels, chunks=chunks, compression="lzf")
            f.create_dataset("points", data=stack.points.astype(np.float64))
            f.create_dataset("point_labels", data=stack.point_labels.astype(np.int64))
            if stack.body_pixels is not None:
                f.create_dataset("body_pixels", data=stack.body_pixels.astype(np.int64))
            f.attrs["geometry"] = stack.geometry.to_json()
            f.attrs["spacing_mm"] = stack.spacing_mm
            f.attrs["key"] = key
    return path


def load_stack(path: str | os.PathLike) -> SliceStack:
    """Read a stack written by :func:`save_stack` (whole arrays; use h5py directly for single slices)."""
    with h5py.File(path, "r") as f:
        return SliceStack(
            image=f["image"][...],
            geometry=SliceGeometry.from_json(f.attrs["geometry"]),
            labels=f["labels"][...] if "labels" in f else None,
            points=f["points"][...],
            point_labels=f["point_labels"][...],
            spacing_mm=float(f.attrs["spacing_mm"]),
            body_pixels=f["body_pixels"][...] if "body_pixels" in f else None,
        )


def file_stamp(path: Path | None) -> str:
    """A file's identity for cache keys: its resolved path, size and modification time ("-" when absent)."""
    if path is None or not path.exists():
        return "-"
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


STACK_FORMAT = 2  # bumped when what a cached stack holds changes (2: full planes, body_pixels)


def cache_key(paths: Sequence[Path | None], axis: str, config: PreprocessConfig, label_set: LabelSet,
              full_plane: bool = False) -> str:
    """A digest of the input files' identities, the axis, the configuration, the label set and the layout."""
    text = "|".join([*map(file_stamp, paths), axis, config.key(), label_set.name, str(label_set.version),
                     f"full={full_plane}", f"format={STACK_FORMAT}"])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def cached_stack(
    case, axis: str, config: PreprocessConfig, label_set: LabelSet, cache_dir: str | os.PathLike, target: str = "labels",
    full_plane: bool = True,
) -> SliceStack:
    """The stack of ``case`` along ``axis``, from the HDF5 cache when its inputs have not changed.

    ``target`` chooses the label map carried along: ``labels`` (full masks) or ``pseudo`` (pseudo-masks).
    Training stacks keep whole planes by default (``full_plane``): the trainers crop their windows from them.
    """
    axis = normalize_axis(axis)
    points_path = case.points_path if case.has_points else None
    labels_path = {"labels": case.labels_path, "pseudo": case.pseudo_path}[target]
    labels_path = labels_path if labels_path is not None and labels_path.exists() else None
    key = cache_key([case.ct_path, labels_path, points_path], axis, config, label_set, full_plane)
    # labels and pseudo-masks stored in another label set (labels.json, pseudo.json) are read in this one
    path = Path(cache_dir) / case.id / f"{axis}-{target}-{key}.h5"
    if path.exists():
        return load_stack(path)
    ct = case.load_ct()
    if labels_path is None:
        labels = None
    else:
        labels = case.load_labels(label_set) if target == "labels" else case.load_pseudo(label_set)
    points = case.load_points(label_set, ct) if points_path is not None else None
    stack = preprocess_case(ct, axis, config, labels, points, label_set, full_plane)
    for stale in path.parent.glob(f"{axis}-{target}-*.h5"):
        stale.unlink()
    save_stack(path, stack, key)
    return stack

