"""Building pseudo-masks for a dataset: predict with the three planar models, fuse, smooth, write.

For every case with ``points.csv``: each planar model predicts the case (whole slices,
so the result does not depend on where the clicks are) and its class probabilities are brought to the CT's own grid one class at a time and
kept in float16 HDF5 (``<case>/planar_probabilities.h5``, one dataset per axis). The fusion then runs
slab by slab along the last array axis, so memory stays a small multiple of the CT. The fused
probabilities go to ``<case>/pseudo_probabilities.h5``; their arg-max is refined on the CT
(:mod:`pointseg.predict.steps`, by default a seeded watershed on bone), smoothed (morphology, largest component
per class, hole filling) and written as ``<case>/pseudo.nii.gz`` on the CT's grid and affine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from pointseg.io.atomic import atomic_path
from pointseg.io.dataset import Case, write_pseudo
from pointseg.errors import InputError
from pointseg.predict import load_model
from pointseg.predict.planar import PlanarPredictor, predict_volume_into
from pointseg.labels import LabelSet
from pointseg.runs import check_run_label_set
from pointseg.imaging.preprocess import AXES
from pointseg.progress import progress, say
from pointseg.io.volume import Volume
from pointseg.pseudo.fusion import DEFAULT_FUSION, build_fusion
from pointseg.predict.steps import DEFAULT_REFINEMENT, build_step
from pointseg.pseudo.smoothing import smooth_labels


@dataclass(frozen=True)
class SmoothingConfig:
    """Morphological smoothing of the fused labels (radii in mm; 0 switches a step off)."""

    opening_mm: float = 2.0
    closing_mm: float = 2.0
    keep_largest: bool = True
    fill_holes: bool = True

    def __post_init__(self):
        for name in ("opening_mm", "closing_mm"):
            value = getattr(self, name)
            if not (value >= 0 and np.isfinite(value)):
                raise InputError(f"--{name.replace('_', '-')} must be 0 (off) or a positive number of mm, not {value:g}")


def load_planar_models(runs: Path, device: torch.device, label_set: LabelSet | None = None
                       ) -> dict[str, PlanarPredictor]:
    """The planar models ``runs/<axis>/`` for the three axes; an InputError names a missing one, one trained
    on another axis, or (given ``label_set``) one trained on another label set."""
    models = {}
    for axis in AXES:
        loaded = load_model(runs / axis, device)
        if loaded.axis != axis:
            raise InputError(f"this run was trained on {loaded.axis} slices, not {axis}", runs / axis)
        check_run_label_set(runs / axis, loaded.label_set.name, label_set)
        models[axis] = loaded
    return models


def predict_planar(case: Case, models: dict[str, PlanarPredictor], device: torch.device, label_set: LabelSet) -> Path:
    """Write every planar model's probabilities for ``case`` to ``<case>/planar_probabilities.h5``."""
    ct = case.load_ct()
    path = case.planar_probabilities_path
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for axis, loaded in progress(list(models.items()), f"predict {case.id}", unit="axis"):
            # one chunk per k-slice and class: written a class at a time, read a slab of k-slices at a time
            data = f.create_dataset(axis, shape=ct.shape + (label_set.num_classes,), dtype=np.float16,
                                    chunks=ct.shape[:2] + (1, 1), compression="lzf")
            predict_volume_into(loaded, ct, data, device)
        f.attrs["affine"] = ct.affine
        f.attrs["classes"] = list(label_set.names)
    return path


def fuse_probabilities(planar: Path, fused: Path, strategy: str, slab: int | None = None, **options) -> np.ndarray:
    """Fuse the per-axis probabilities slab by slab; write them (float16) with each voxel's ``confidence``
    (the probability of its fused label, all the refinement reads) and return the arg-max labels.

    ``slab`` k-slices at a time (None: as many as keep the three axes' float32 probabilities of the slab
    under a quarter of the CT's float32 size, so memory does not grow with the number of classes)."""
    fusion = build_fusion(strategy, **options)
    with h5py.File(planar, "r") as f:
        axes = [a for a in AXES if a in f]
        shape = f[axes[0]].shape
        if slab is None:
            slab = max(1, shape[2] // (4 * 3 * shape[3]))
        labels = np.zeros(shape[:3], dtype=np.uint8)
        with atomic_path(fused) as tmp, h5py.File(tmp, "w") as out:
            data = out.create_dataset("probabilities", shape=shape, dtype=np.float16,
                                      chunks=shape[:2] + (1, shape[3]), compression="lzf")
            confidence = out.create_dataset("confidence", shape=shape[:3], dtype=np.float16,
                                            chunks=shape[:2] + (1,), compression="lzf")
            for k in range(0, shape[2], slab):
                part = {a: f[a][:, :, k : k + slab].astype(np.float32) for a in axes}
                probs = fusion(part)
                del part
                data[:, :, k : k + slab] = probs
                best = np.argmax(probs, axis=-1)
                labels[:, :, k : k + slab] = best
                confidence[:, :, k : k + slab] = np.take_along_axis(probs, best[..., None], axis=-1)[..., 0]
            out.attrs["affine"] = f.attrs["affine"]
            out.attrs["classes"] = f.attrs["classes"]
            out.attrs["strategy"] = strategy
            out.attrs["axes"] = "i,j,k,class"
    return labels


def refine_case(case: Case, labels: np.ndarray, ct: Volume, label_set: LabelSet, refinement: str = DEFAULT_REFINEMENT,
                **options) -> np.ndarray:
    """The fused ``labels`` of ``case`` refined on its CT by the refinement named ``refinement`` (fitted to
    ``label_set``: which classes are bone, how far each may reach from its clicks)."""
    refine = build_step(refinement, label_set=label_set, **options)
    points = case.load_points(label_set, ct) if case.has_points else None
    clicks = (points.ijk, points.label_ids(label_set)) if points is not None else (np.zeros((0, 3)), np.zeros(0))
    with h5py.File(case.fused_probabilities_path, "r") as f:
        # the probability of each voxel's fused label is all a refinement reads (files of earlier versions
        # hold only the probabilities of every class)
        return refine(labels, f["confidence"] if "confidence" in f else f["probabilities"], ct, clicks)


def fuse_case(
    case: Case, models: dict[str, PlanarPredictor] | None, device: torch.device, label_set: LabelSet,
    strategy: str = DEFAULT_FUSION, smoothing: SmoothingConfig = SmoothingConfig(),
    refinement: str = DEFAULT_REFINEMENT,
) -> dict[str, float]:
    """Build ``<case>/pseudo.nii.gz`` (and the probability files); returns seconds per stage.

    ``models`` None reuses the case's ``planar_probabilities.h5`` (e.g. to try another fusion or refinement).
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if models is not None:
        planar = predict_planar(case, models, device, label_set)
    else:
        planar = case.planar_probabilities_path
        if not planar.exists():
            raise InputError("no planar predictions to fuse again (run fuse with planar models first)", planar)
    timings["predict_s"] = time.perf_counter() - start

    start = time.perf_counter()
    labels = fuse_probabilities(planar, case.fused_probabilities_path, strategy)
    timings["fuse_s"] = time.perf_counter() - start

    start = time.perf_counter()
    ct = case.load_ct()
    labels = refine_case(case, labels, ct, label_set, refinement)
    timings["refine_s"] = time.perf_counter() - start

    start = time.perf_counter()
    smoothed = smooth_labels(labels, ct.spacing, label_set.num_classes, smoothing.opening_mm, smoothing.closing_mm,
                             smoothing.keep_largest, smoothing.fill_holes)
    write_pseudo(case, Volume(smoothed, ct.affine), label_set)
    timings["smooth_s"] = time.perf_counter() - start
    return timings


def fuse_cases(
    cases: list[Case], runs: Path | None, label_set: LabelSet, device: torch.device, strategy: str = DEFAULT_FUSION,
    smoothing: SmoothingConfig = SmoothingConfig(), refinement: str = DEFAULT_REFINEMENT,
) -> dict[str, dict[str, float]]:
    """Pseudo-masks for ``cases`` with the planar models in ``runs`` (None: reuse each case's planar
    predictions); per-case timings by stage."""
    build_fusion(strategy)  # unknown names fail before any work
    build_step(refinement)
    models = load_planar_models(runs, device, label_set) if runs is not None else None
    timings = {}
    for case in progress(cases, "pseudo-masks"):
        timings[case.id] = fuse_case(case, models, device, label_set, strategy, smoothing, refinement)
        say(f"{case.id}: " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in timings[case.id].items()))
    return timings
