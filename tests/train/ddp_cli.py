"""Run by tests/train/test_distributed_2d.py under ``torchrun --nproc_per_node 2``: the real ``pointseg``
command line (``python -m pointseg ARGS``), with each rank leaving notes of what it did in ``$DDP_NOTES``.

Nothing the command does changes: :meth:`Trainer.train_step`, :meth:`Trainer.fit` and the functions that
write the run folder are wrapped only to note, per rank, the process group it trained in, a fingerprint of
every batch it trained on, what it wrote to the run folder, the weights it started from and the weights it
ended with (``rank<N>.json`` and ``rank<N>.pt``).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

import torch

from pointseg.train import slice_trainer, trainer
from pointseg.train.trainer import Trainer

NOTES = Path(os.environ["DDP_NOTES"])
_fit, _train_step = Trainer.fit, Trainer.train_step
WRITTEN: list[str] = []  # what this process wrote to the run folder, in order


def _noting(module, name: str) -> None:
    write = getattr(module, name)

    def noted(*args, **kwargs):
        WRITTEN.append(name)
        return write(*args, **kwargs)

    setattr(module, name, noted)


for _name in ("write_run_files", "save_checkpoint", "write_log"):
    _noting(trainer, _name)
_noting(slice_trainer, "write_validation")


def _state(self: Trainer) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in self.network.state_dict().items()}


def train_step(self: Trainer, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    if not hasattr(self, "_notes"):
        self._notes = {"drawn": [], "start": _state(self)}
    self._notes["drawn"].append(float(batch["image"].double().sum()))
    return _train_step(self, batch)


def fit(self: Trainer) -> list[dict]:
    history = _fit(self)
    notes = getattr(self, "_notes", {"drawn": [], "start": {}})
    rank = self.dist.rank
    NOTES.mkdir(parents=True, exist_ok=True)
    torch.save({"start": notes["start"], "end": _state(self)}, NOTES / f"rank{rank}.pt")
    (NOTES / f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": self.dist.world_size, "ddp": isinstance(self.model, torch.nn.parallel.DistributedDataParallel),
        "step": self.step, "epoch": self.epoch, "drawn": notes["drawn"], "written": WRITTEN,
    }), encoding="utf-8")
    return history


Trainer.fit, Trainer.train_step = fit, train_step

if __name__ == "__main__":
    sys.argv = ["pointseg", *sys.argv[1:]]
    runpy.run_module("pointseg", run_name="__main__", alter_sys=True)
