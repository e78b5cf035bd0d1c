"""DDP through torchrun: two CPU processes (gloo) train one model and resume it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from pointseg.runs import load_checkpoint
from tests.train.test_volumetric import coded_dataset

SCRIPT = Path(__file__).with_name("ddp_run.py")
ROOT = Path(__file__).resolve().parents[2]


def _torchrun(dataset: Path, out: Path, epochs: int, *extra: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(SCRIPT), str(dataset), str(out), str(epochs), *extra]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _weights(folder: Path, rank: int) -> dict:
    return torch.load(folder / f"weights_rank{rank}.pt", weights_only=True)


def test_two_processes_keep_one_model_and_resume(tmp_path):
    dataset = coded_dataset(tmp_path / "ds", cases=2)
    run = tmp_path / "runs" / "ddp"
    _torchrun(dataset, run, 1)
    first = [json.loads((run.parent / f"drawn_rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    assert [f["world_size"] for f in first] == [2, 2]
    assert first[0]["drawn"] != first[1]["drawn"], "each rank draws its own patches"
    start = torch.load(run / "checkpoint_last.pt", weights_only=True)["model"]
    for name, value in _weights(run.parent, 0).items():
        assert torch.equal(value, _weights(run.parent, 1)[name]), name  # the same weights on both ranks
        assert torch.equal(value, start[name]), name  # and rank 0 saved them
    assert sorted(p.name for p in run.iterdir() if p.suffix == ".pt") == ["checkpoint_last.pt"]

    _torchrun(dataset, run, 2, "--resume")
    checkpoint = load_checkpoint(run)
    assert checkpoint["epoch"] == 2 and checkpoint["step"] == 6
    resumed = [_weights(run.parent, r) for r in (0, 1)]
    changed = False
    for name, value in resumed[0].items():
        assert torch.equal(value, resumed[1][name]), name
        assert torch.equal(value, checkpoint["model"][name]), name
        changed |= not torch.equal(value, start[name])
    assert changed, "the resumed run trained on"
    log = (run / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2]


def test_two_processes_hold_their_own_cases_and_share_the_validation(tmp_path):
    # four cases: two to train on (one held by each rank), two to validate on (one predicted by each rank);
    # rank 0 gathers both scores into validation.json
    dataset = coded_dataset(tmp_path / "ds", cases=4)
    run = tmp_path / "runs" / "ddp"
    _torchrun(dataset, run, 1, "--val-cases", "2")
    ranks = [json.loads((run.parent / f"drawn_rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    assert [r["cases"] for r in ranks] == [1, 1]  # each rank holds its share of the training cases
    held_out = ranks[0]["validated"]
    assert len(held_out) == 2
    scores = json.loads((run / "validation.json").read_text(encoding="utf-8"))
    assert sorted(scores["cases"]) == sorted(held_out)
