"""The volumetric engine's cases: each CT and its target map once on the model grid, cached.

A case is reoriented to the engine's canonical orientation (:data:`~pointseg.predict.volume.CANONICAL`),
resampled to ``spacing`` mm and windowed to [0, 1] (the functions prediction uses), and stored as a dict of
channel-first arrays (see the contract in :mod:`pointseg.train.volumetric`) in HDF5 under
``DATASET/.pointseg-cache``, keyed on the files and the settings that make it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np

from pointseg.errors import InputError
from pointseg.imaging.stacks import file_stamp
from pointseg.io.atomic import atomic_path
from pointseg.io.dataset import Case
from pointseg.io.volume import Volume
from pointseg.io.grid import reorient
from pointseg.labels import LabelSet
from pointseg.predict.base import label_dtype
from pointseg.predict.volume import CANONICAL, normalise_ct, resample_ct, resample_labels
from pointseg.train.patches import coarse_key

CACHE_FORMAT = 2


def _cache_key(case: Case, target: str, config, label_set: LabelSet, factors, multiple: int = 1) -> str:
    source = case.labels_path if target == "labels" else case.pseudo_path
    text = "|".join([file_stamp(case.ct_path), file_stamp(source), target, f"{config.spacing:g}",
                     ",".join(f"{w:g}" for w in config.window), ",".join(map(str, config.patch)), f"x{multiple}", label_set.name,
                     str(label_set.version), CANONICAL, ",".join(map(str, sorted(factors))),
                     f"format={CACHE_FORMAT}"])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def canonical(volume: Volume) -> Volume:
    """``volume`` in the engine's canonical orientation (:data:`CANONICAL`; the same array when it is)."""
    return reorient(volume, CANONICAL)[0]


def cache_path(case: Case, target: str, config, label_set: LabelSet, cache_dir: Path,
               factors=(), multiple: int = 1) -> Path:
    key = _cache_key(case, target, config, label_set, factors, multiple)
    return Path(cache_dir) / case.id / f"volume-{target}-{key}.h5"


def prepare_case(case: Case, target: str, config, label_set: LabelSet,
                 cache_dir: Path | None = None, factors: tuple[int, ...] = (), write: bool = True,
                 multiple: int = 1) -> dict:
    """The case's arrays on the model grid (see the module notes), padded to at least one patch (air,
    background); from the cache when its inputs have not changed, else computed (and cached when
    ``write``). ``factors``: the coarser copies of the image to add (``image@F``). An axis the patch takes
    whole (``-1``) is padded to a ``multiple`` of voxels (the network's divisor)."""
    path = cache_path(case, target, config, label_set, cache_dir, factors, multiple) if cache_dir is not None else None
    if path is not None and path.exists():
        with h5py.File(path, "r") as f:
            return {key: f[key][()] for key in f}
    ct = case.load_ct()
    labels = case.load_labels(label_set) if target == "labels" else case.load_pseudo(label_set)
    if labels is None:
        raise InputError("no labels.nii.gz to train on", case.dir)
    if tuple(labels.shape) != tuple(ct.shape):
        raise InputError(f"{target} map of shape {labels.shape} is not on the CT's grid {ct.shape}", labels.path)
    values = np.unique(np.asarray(labels.array))
    if values.min() < 0 or values.max() >= label_set.num_classes:
        raise InputError(f"label ids must lie in 0..{label_set.num_classes - 1} (label set {label_set.name})",
                         labels.path)
    ct, labels = canonical(ct), canonical(labels)
    image = normalise_ct(resample_ct(ct, config.spacing).array, config.window)
    label = np.asarray(resample_labels(labels, config.spacing).array).astype(label_dtype(label_set.num_classes))
    pad = [(0, -(-n // multiple) * multiple - n if p == -1 else max(0, p - n)) for p, n in zip(config.patch, image.shape)]
    item = {"image": np.pad(image, pad, constant_values=0.0).astype(np.float16)[None],
            "label": np.pad(label, pad, constant_values=0)[None]}
    for factor in factors:
        coarse = normalise_ct(resample_ct(ct, config.spacing * factor).array, config.window)
        item[coarse_key(factor)] = coarse.astype(np.float16)[None]
    if path is not None and write:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"volume-{target}-*.h5"):
            stale.unlink(missing_ok=True)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                for key, value in item.items():
                    f.create_dataset(key, data=value, compression="lzf", chunks=True)
    return item


def class_indices(item: dict, num_classes: int, max_per_class: int, seed: int) -> dict:
    """``item`` with ``label_cls_indices``: each class's voxel positions (MONAI ``ClassesToIndicesd``),
    at most ``max_per_class`` of them, drawn with ``seed``."""
    from monai.transforms import ClassesToIndicesd

    indexer = ClassesToIndicesd("label", num_classes=num_classes, max_samples_per_class=max_per_class)
    np.random.seed(seed % (2**32))  # ClassesToIndicesd subsamples with NumPy's global generator
    return indexer(item)
