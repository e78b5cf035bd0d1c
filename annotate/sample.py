"""Sample data: a phantom case to click on.

The case is written once to ``$XDG_CACHE_HOME/pointseg/sample/phantom_000/`` (``~/.cache`` by default) and
kept, so points clicked on it autosave there and come back the next time the sample is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from pointseg.annotate.reader import read_case
from pointseg.io.dataset import case_at


def sample_dataset() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "pointseg" / "sample"


def phantom_case() -> list[tuple]:
    """npe2 sample data: the layers of the phantom case (CT, labels, pseudo-mask when built, points)."""
    from pointseg.simulate.cases import write_phantoms

    dataset = sample_dataset()
    case = case_at(dataset / "phantom_000")
    if case is None:
        write_phantoms(dataset, cases=1, seed=0, force=True)
        case = case_at(dataset / "phantom_000")
    return read_case(case)
