"""Shared fixtures: tiny synthetic volumes in a temporary folder and the small real CT case."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pointseg.io.volume import Volume, write_nifti

REAL_CASE = Path(__file__).parent / "data" / "real" / "tptbox_l3"


def oblique_affine(spacing=(3.0, 1.0, 1.0), degrees=20.0, axcodes_perm=(2, 0, 1), origin=(-40.0, 25.0, 60.0)):
    """An anisotropic, obliquely rotated, axis-permuted voxel-to-RAS affine."""
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    tilt = np.array([[1, 0, 0], [0, np.cos(angle / 2), -np.sin(angle / 2)], [0, np.sin(angle / 2), np.cos(angle / 2)]])
    permutation = np.eye(3)[:, list(axcodes_perm)] * np.array([1, -1, 1])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ tilt @ permutation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def box_labels(shape=(40, 36, 60), boxes=None) -> np.ndarray:
    """A label map with a stack of boxes (labels 1..5 along the last axis), the rest background."""
    labels = np.zeros(shape, dtype=np.uint8)
    boxes = boxes or [(1 + n, slice(10, 30), slice(8, 28), slice(5 + 10 * n, 13 + 10 * n)) for n in range(5)]
    for label, *region in boxes:
        labels[tuple(region)] = label
    return labels


def write_case(root: Path, name: str, labels: np.ndarray, affine: np.ndarray, ct: np.ndarray | None = None) -> Path:
    """Write ``root/name/ct.nii.gz`` (bone-like HU where labelled) and ``labels.nii.gz``."""
    folder = root / name
    if ct is None:
        ct = np.where(labels > 0, 400, 30).astype(np.int16)
    write_nifti(Volume(ct, affine), folder / "ct.nii.gz", dtype=np.int16)
    write_nifti(Volume(labels, affine), folder / "labels.nii.gz", dtype=np.uint8)
    return folder


@pytest.fixture
def real_dataset(tmp_path) -> Path:
    """A writable copy of the real case in its own dataset folder."""
    root = tmp_path / "real"
    shutil.copytree(REAL_CASE, root / REAL_CASE.name)
    for path in (root / REAL_CASE.name).iterdir():
        path.chmod(0o644)
    return root


@pytest.fixture
def box_dataset(tmp_path) -> Path:
    """Two small cases with box-shaped 'vertebrae': one RAS 1 mm, one oblique and anisotropic."""
    root = tmp_path / "boxes"
    write_case(root, "ras", box_labels(), np.diag([1.0, 1.0, 1.0, 1.0]))
    write_case(root, "oblique", box_labels(), oblique_affine())
    return root
