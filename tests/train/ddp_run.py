"""Run by tests/train/test_distributed.py under ``torchrun --nproc_per_node 2``: trains the tiny unet3d
with DDP on CPUs (gloo) and leaves each rank's weights and the patches it drew next to the run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from pointseg.progress import set_enabled
from pointseg.train.unet3d import PROFILES, UNet3DTrainer
from pointseg.train.volumetric import make_volumetric_config


class RecordingTrainer(UNet3DTrainer):
    """Notes a fingerprint of every patch this rank trains on."""

    drawn: list[float] = []

    def next_batch(self):
        batch = super().next_batch()
        self.drawn.append(float(batch["image"].sum()))
        return batch


def main(dataset: str, out: str, epochs: int, resume: bool, val_cases: int = 0) -> None:
    set_enabled(False)
    torch.set_num_threads(1)
    config = make_volumetric_config(PROFILES, "tiny", "labels", label_set="lumbar", epochs=epochs, steps_per_epoch=3,
                                    val_cases=val_cases)
    trainer = RecordingTrainer(Path(dataset), config, Path(out), torch.device("cpu"), resume)
    trainer.fit()
    rank = trainer.dist.rank
    torch.save(trainer.network.state_dict(), Path(out).parent / f"weights_rank{rank}.pt")
    (Path(out).parent / f"drawn_rank{rank}.json").write_text(json.dumps(
        {"drawn": trainer.drawn, "world_size": trainer.dist.world_size, "step": trainer.step,
         "cases": len(trainer.patches.cases), "validated": [c.id for c in trainer.val_cases]}))


if __name__ == "__main__":
    extra = sys.argv[4:]
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), "--resume" in extra,
         int(extra[extra.index("--val-cases") + 1]) if "--val-cases" in extra else 0)
