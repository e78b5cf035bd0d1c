"""Fixtures for the napari plugin tests: small phantom cases, and a viewer with the widget docked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pointseg.simulate.cases import write_phantoms


@pytest.fixture(scope="session")
def phantom_template(tmp_path_factory) -> Path:
    """One coarse phantom case (3 mm), written once; tests copy it."""
    root = tmp_path_factory.mktemp("phantom-template")
    write_phantoms(root, 1, seed=5, spacing=(3.0, 3.0, 3.0), orientation="PIR")
    return root / "phantom_000"


@pytest.fixture
def case_dir(tmp_path, phantom_template) -> Path:
    """A writable copy of the phantom case in its own dataset folder."""
    target = tmp_path / "dataset" / "phantom_000"
    shutil.copytree(phantom_template, target)
    return target


@pytest.fixture
def annotation(make_napari_viewer, case_dir, qtbot):
    """(viewer, widget) with the phantom case open, shown on screen at a fixed size."""
    from pointseg.annotate.app import open_annotation

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1500, 950)
    viewer, widget = open_annotation(case_dir, viewer=viewer)
    qtbot.wait(50)
    return viewer, widget
