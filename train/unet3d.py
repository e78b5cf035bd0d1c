"""Seed 001's pipeline: one No-New-Net style 3D U-Net for every bone at once.

The network (:class:`pointseg.models.unet3d.NoNewNet`: MONAI ``DynUNet`` with instance norm and leaky ReLU
0.02), the loss of eq. 1 (cross-entropy + Dice over all classes, computed without a dense one-hot:
:class:`pointseg.train.losses.many_class.SparseDiceCELoss`; ``ce`` alone is the paper's *xent*
variant), Adam at 1e-3, batch 1, CT resampled to 2 mm, balanced or uniform patch sampling and optional
elastic deformation, all on the shared volumetric engine (:mod:`pointseg.train.volumetric`).
"""

from __future__ import annotations

from pathlib import Path

from pointseg.inference import resolve_device
from pointseg.models.unet3d import NO_NEW_NET_FILTERS
from pointseg.train.volumetric import VolumetricTrainer, make_volumetric_config, train_volumetric

PROFILES: dict[str, dict] = {
    # The paper: 2 mm, No-New-Net's filters (4 down-samplings), patches of 128 (96 and 160 compared),
    # batch 1, Adam 1e-3 (meant for a GPU).
    "paper": dict(spacing=2.0, patch=(128, 128, 128), filters=NO_NEW_NET_FILTERS, batch_size=1, epochs=100,
                  steps_per_epoch=250, lr=1e-3, workers=4, max_per_class=50000),
    # This CPU (2 cores, 30 min): 4 mm, 48-voxel patches (192 mm of context, what the paper's 96-voxel patches
    # see at 2 mm), five levels from 16 filters, batch 2, 10 x 100 steps (about 1.65 s a step). Measured on
    # upper-body phantoms (benchmarks/unet3d_phantoms.py) against 3 mm, 64-voxel patches and 8 filters at the
    # top for the same 30 min: that one named almost no bone (detection ratio 0.05), this one 0.40.
    # Batch 2 because oneDNN takes batch-1 3D convolutions of few channels by a slow path (unet3d_speed.py).
    "quick": dict(spacing=4.0, patch=(48, 48, 48), filters=(16, 32, 64, 128, 128), batch_size=2, epochs=10,
                  steps_per_epoch=100, lr=1e-3, workers=1, max_per_class=20000, overlap=0.25),
    # Tests: 4 mm, 32-voxel patches, three levels.
    "tiny": dict(spacing=4.0, patch=(32, 32, 32), filters=(4, 8, 16), batch_size=1, epochs=2, steps_per_epoch=4,
                 lr=2e-3, workers=0, max_per_class=2000, overlap=0.25),
}


class UNet3DTrainer(VolumetricTrainer):
    """The engine's trainer as it is: No-New-Net and the sparse CE + Dice are its defaults."""


def train_unet3d(dataset: str | Path, target: str, out: str | Path, profile: str = "quick", seed: int = 0,
                 resume: bool = False, device: str = "auto", epochs: int | None = None, **overrides) -> Path:
    """``pointseg train --pipeline unet3d``: a run trained on ``pseudo`` masks or full ``labels``."""
    config = make_volumetric_config(PROFILES, profile, target, pipeline="unet3d", seed=seed, epochs=epochs, **overrides)
    return train_volumetric(UNet3DTrainer, config, dataset, out, resolve_device(device), resume, epochs)
