"""Writing phantom datasets and simulated clicks to disk (the library side of ``pointseg phantom`` and
``pointseg simulate-clicks``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from pointseg.io.atomic import write_text
from pointseg.simulate.clicks import ClickConfig, case_rng, simulate_clicks
from pointseg.io.dataset import LABELS_META_NAME, Case, check_label_values, discover_cases, write_labels
from pointseg.errors import InputError
from pointseg.labels import LabelSet, get_label_set
from pointseg.io.points import write_points
from pointseg.progress import progress, say
from pointseg.io.volume import Volume, write_nifti
from pointseg.io.grid import reorient


def phantom_case_seed(seed: int, index: int) -> int:
    """The seed of case ``index`` of a phantom set: independent streams, the same for the same inputs."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def write_phantoms(
    out: Path,
    cases: int,
    seed: int,
    spacing: Sequence[float] | None = None,
    orientation: str = "RAS",
    preview: bool = False,
    force: bool = False,
    first_index: int = 0,
    anatomy: str = "lumbar",
) -> list[Path]:
    """Write ``cases`` synthetic CT cases ``out/phantom_NNN/`` (CT, labels, parameters, preview).

    ``anatomy`` is a key of ``pointseg.phantom.ANATOMIES``: "lumbar" writes plain L1..L5 labels, "upper-body"
    writes labels in the label set ``upper_body`` with the ``labels.json`` that names it.
    """
    from pointseg.phantom import ANATOMIES
    from pointseg.imaging.preview import save_preview

    if anatomy not in ANATOMIES:
        raise InputError(f"unknown anatomy {anatomy!r} (known: {', '.join(ANATOMIES)})")
    if cases < 1:
        raise InputError("--cases must be at least 1")
    letters = [set("LR"), set("AP"), set("SI")]
    code = str(orientation).upper()
    if len(code) != 3 or sorted(next((i for i, s in enumerate(letters) if c in s), 9) for c in code) != [0, 1, 2]:
        raise InputError(f"--orientation must name one of L/R, A/P and S/I each (RAS, LPS, PIR ...), not {orientation!r}")
    kind = ANATOMIES[anatomy]
    config = kind.config() if spacing is None else kind.config(spacing=tuple(float(s) for s in spacing))
    label_set = None if kind.label_set is None else get_label_set(kind.label_set)
    names = [f"phantom_{first_index + n:03d}" for n in range(cases)]
    existing = [out / name for name in names if (out / name / "ct.nii.gz").exists()]
    if existing and not force:
        raise InputError("case already exists (use --force to overwrite)", existing[0])
    written = []
    for index, name in progress(list(enumerate(names, start=first_index)), "phantoms", unit="case"):
        case_seed = phantom_case_seed(seed, index)
        phantom = kind.make(case_seed, config)
        ct, _ = reorient(Volume(phantom.ct, phantom.affine), orientation)
        labels, _ = reorient(Volume(phantom.labels, phantom.affine), orientation)
        folder = out / name
        write_nifti(ct, folder / "ct.nii.gz", dtype=np.int16)
        if label_set is None:
            write_nifti(labels, folder / "labels.nii.gz", dtype=np.uint8)
            (folder / LABELS_META_NAME).unlink(missing_ok=True)     # left by an upper-body case overwritten
        else:
            write_labels(folder, labels, label_set)
        record = {"seed": seed, "index": index, "case_seed": case_seed, "orientation": orientation,
                  "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()},
                  "params": phantom.params}
        if label_set is not None:
            record = {"anatomy": anatomy, **record}
        write_text(folder / "phantom.json", json.dumps(record, indent=2, default=float))
        if preview:
            save_preview(ct.array, labels.array, ct.affine, folder / "preview.png", title=name, label_set=label_set)
        written.append(folder)
    return written


def write_simulated_clicks(
    dataset: Path, label_set: LabelSet, config: ClickConfig, seed: int, force: bool = False
) -> list[Case]:
    """``points.csv`` for every case with labels; refuses to overwrite any existing file without ``force``."""
    cases = [c for c in discover_cases(dataset) if c.labels_path is not None]
    if not cases:
        raise InputError("no case has labels.nii.gz, so there is nothing to simulate clicks from", dataset)
    existing = [c.points_path for c in cases if c.has_points]
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise InputError(f"already exists{more} (use --force to overwrite)", existing[0])
    for case in progress(cases, "simulated clicks"):
        ct, labels = case.load_ct(), case.load_labels(label_set)
        check_label_values(labels, label_set)
        difference = labels.grid_difference(ct, names=("labels", "CT"))
        if difference is not None:
            raise InputError(f"labels are not on the CT's grid: {difference}", labels.path)
        points = simulate_clicks(labels, label_set, config, case_rng(seed, case.id), ct)
        write_points(case.points_path, points, force=True)
        counts = points.counts()
        say(f"{case.id}: " + ", ".join(f"{k} {counts[k]}" for k in sorted(counts, key=label_set.names.index)))
    return cases
