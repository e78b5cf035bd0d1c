"""*Build pseudo-mask* for one case, as the annotation widget runs it (in its worker thread).

The widget's one entry into training and fusion: train the planar models that are missing
(:func:`pointseg.train.planar.ensure_planar_models`) on the case's dataset, then fuse the case
(:func:`pointseg.pseudo.pipeline.fuse_cases`). Both are imported when a build starts, so opening the
plugin does not import PyTorch.
"""

from __future__ import annotations

from pathlib import Path

from pointseg.io.dataset import Case
from pointseg.errors import InputError
from pointseg.labels import LabelSet


def build_case_pseudo_mask(case: Case, runs: Path, label_set: LabelSet, profile: str = "quick", seed: int = 0,
                           device: str = "auto", **fuse_options) -> Path:
    """Train the planar models that ``runs`` lacks on the case's dataset (its parent folder), then write
    ``<case>/pseudo.nii.gz``; returns its path. ``fuse_options``: strategy, smoothing, refinement."""
    from pointseg.device import resolve_device
    from pointseg.pseudo.pipeline import fuse_cases
    from pointseg.train.planar import ensure_planar_models

    if not case.has_points:
        raise InputError("the case has no points yet: click some points first", case.points_path)
    ensure_planar_models(case.dir.parent, runs, profile, seed, device, label_set.name)
    fuse_cases([case], runs, label_set, resolve_device(device), **fuse_options)
    return case.pseudo_path
