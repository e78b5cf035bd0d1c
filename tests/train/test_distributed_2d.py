"""The 2D trainers under torchrun: two CPU processes (gloo) run the real ``pointseg`` command line.

The weak planar trainer (``pointseg train-planar``) and the supervised ``fcn8`` pipeline (``pointseg train
--pipeline fcn8``) each train a tiny model in two processes, then resume it: one run folder (rank 0 writes
it), the same parameters on both ranks, each rank its own batches, a model that trained.
``ddp_cli.py`` runs ``python -m pointseg`` itself and only notes what each rank did next to the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pointseg.labels import get_label_set
from pointseg.models import build_model
from pointseg.runs import load_checkpoint
from pointseg.simulate.cases import write_phantoms, write_simulated_clicks
from pointseg.simulate.clicks import ClickConfig

SCRIPT = Path(__file__).with_name("ddp_cli.py")
ROOT = Path(__file__).resolve().parents[2]
STEPS = 2


def _torchrun(notes: Path, *args: str) -> None:
    """``torchrun --nproc_per_node 2 -m pointseg ARGS`` on CPUs (through ddp_cli.py, which notes each rank)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "DDP_NOTES": str(notes)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(SCRIPT), *args, "--profile", "tiny", "--steps", str(STEPS), "--device", "cpu", "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def _ranks(notes: Path) -> tuple[list[dict], list[dict]]:
    """What each rank noted (world size, batches, steps) and the weights it started and ended with."""
    noted = [json.loads((notes / f"rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    weights = [torch.load(notes / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    return noted, weights


def _check_run(run: Path, notes: Path, epochs: int, pipeline: str) -> dict:
    """The run folder after ``epochs`` epochs of two ranks; returns its checkpoint."""
    assert [p.name for p in run.parent.iterdir()] == [run.name], "one run folder"
    assert sorted(p.name for p in run.iterdir()) == sorted(
        ["checkpoint_last.pt", "config.json", "split.json", "log.jsonl", "validation.json"]), "no stray files"
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["run"]["pipeline"] == pipeline and config["config"]["axis"] == "sagittal"
    assert json.loads((run / "split.json").read_text(encoding="utf-8"))["val"]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["epoch"] for r in log] == list(range(1, epochs + 1)) and "val_dice_wi" in log[-1]

    checkpoint = load_checkpoint(run)
    assert checkpoint["epoch"] == epochs and checkpoint["step"] == epochs * STEPS
    noted, weights = _ranks(notes)
    assert [n["rank"] for n in noted] == [0, 1] and [n["world_size"] for n in noted] == [2, 2]
    assert all(n["ddp"] for n in noted), "each rank trained the DDP-wrapped model"
    assert noted[1]["written"] == [], "rank 1 writes nothing"
    # each command trains one epoch here: rank 0 writes config.json and split.json, then validates, saves, logs
    assert noted[0]["written"] == ["write_run_files", "write_validation", "save_checkpoint", "write_log"]
    assert [n["step"] for n in noted] == [epochs * STEPS] * 2
    assert len(noted[0]["drawn"]) == len(noted[1]["drawn"]) == STEPS, "each rank took every step of this run"
    assert all(a != b for a, b in zip(noted[0]["drawn"], noted[1]["drawn"])), "each rank draws its own batches"

    saved = checkpoint["model"]
    parameters = {name for name, _ in build_model(**checkpoint["config"]["model"]).named_parameters()}
    trained = False
    for name, value in saved.items():
        assert torch.equal(value, weights[0]["end"][name]), name  # rank 0 saved its weights
        if value.is_floating_point():
            assert torch.isfinite(value).all(), name
        if name in parameters:  # DDP keeps the parameters equal; BatchNorm statistics are each rank's own
            assert torch.equal(value, weights[1]["end"][name]), name
            assert torch.equal(weights[0]["start"][name], weights[1]["start"][name]), name
            trained |= not torch.equal(value, weights[0]["start"][name])
    assert trained, "the weights moved from where this run started"
    return checkpoint


def _train_and_resume(notes: Path, run: Path, *args: str, pipeline: str) -> None:
    _torchrun(notes, *args, "--out", str(run), "--epochs", "1")
    first = _check_run(run, notes, 1, pipeline)  # trained away from a fresh model

    _torchrun(notes, *args, "--out", str(run), "--epochs", "2", "--resume")
    resumed = _check_run(run, notes, 2, pipeline)
    start = torch.load(notes / "rank0.pt", weights_only=True)["start"]
    assert all(torch.equal(first["model"][k], v) for k, v in start.items()), "the resumed run started from the checkpoint"
    assert resumed["history"][0] == first["history"][0]


@pytest.fixture
def clicked_phantoms(tmp_path) -> Path:
    """Three coarse (4 mm) phantoms with 3 clicks per vertebra; the last keeps no clicks (validation)."""
    root = tmp_path / "phantoms"
    write_phantoms(root, 3, seed=5, spacing=(4.0, 4.0, 4.0))
    write_simulated_clicks(root, get_label_set(), ClickConfig(per_class=3, background=6), seed=1)
    (root / "phantom_002" / "points.csv").unlink()
    return root


def test_planar_trainer_under_torchrun(clicked_phantoms, tmp_path):
    _train_and_resume(tmp_path / "notes", tmp_path / "runs" / "sagittal",
                      "train-planar", str(clicked_phantoms), "--axis", "sagittal", pipeline="weak_planar")


def test_supervised_fcn8_under_torchrun(tmp_path):
    dataset = tmp_path / "labelled"
    write_phantoms(dataset, 3, seed=8, spacing=(4.0, 4.0, 4.0))
    _train_and_resume(tmp_path / "notes", tmp_path / "runs" / "fcn8",
                      "train", str(dataset), "--pipeline", "fcn8", "--target", "labels", "--val-cases", "1",
                      pipeline="fcn8")
