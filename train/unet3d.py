"""Seed 001's pipeline: one No-New-Net style 3D U-Net for every bone at once.

The network (:class:`pointseg.models.unet3d.NoNewNet`: MONAI ``DynUNet`` with instance norm and leaky ReLU
0.02), the loss of eq. 1 (cross-entropy + Dice over all classes, computed without a dense one-hot:
:class:`pointseg.train.losses.many_class.SparseDiceCELoss`; ``ce`` alone is the paper's *xent*
variant), Adam at 1e-3, batch 1, CT resampled to 2 mm, balanced or uniform patch sampling and optional
elastic deformation, all on the shared volumetric engine (:mod:`pointseg.train.volumetric`).
"""

from __future__ import annotations

from pointseg.models.unet3d import NO_NEW_NET_FILTERS
from pointseg.train.patches import CENTRES
from pointseg.train.volumetric import VolumetricPipeline, VolumetricTrainer

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


class UNet3DPipeline(VolumetricPipeline):
    """The many-class 3D U-Net (No-New-Net style) on patches, by sliding window at prediction."""

    name = "unet3d"
    title = "No-New-Net 3D U-Net on patches, one output per class (3D)"
    losses = ("ce_dice", "ce")  # names in pointseg.train.losses.volumetric.VOLUMETRIC_LOSSES
    loss_help = "ce_dice (CE + Dice over all classes, eq. 1, without a dense one-hot; default) or ce (CE alone)"
    profiles = {"quick": "CPU-sized: 4 mm, 48-voxel patches, five levels from 16 filters, about 30 min",
                "paper": "the paper's network at 2 mm with 128-voxel patches (meant for a GPU)",
                "tiny": "seconds, for tests and smoke checks"}
    default_label_set = "bones"
    trainer_class = UNet3DTrainer
    profile_settings = PROFILES

    def add_arguments(self, group) -> None:
        CENTRES.add_option(group, "--sampling", None, "patch sampling (the profile's by default)")
        group.add_argument("--patch", type=int, metavar="N", help="patch edge in voxels (the profile's by default: "
                           "tiny 32, quick 48, paper 128; the paper compares 96, 128 and 160)")
        group.add_argument("--spacing", type=float, metavar="MM", help="isotropic voxel size the network works at "
                           "(the profile's by default: tiny 4, quick 4, paper 2)")
        group.add_argument("--batch-size", type=int, metavar="N", help="patches per batch (the profile's by default)")
        group.add_argument("--filters", type=int, nargs="+", metavar="F",
                           help="filters per level (three or more), one down-sampling between levels (the profile's "
                                "by default: quick 16 32 64 128 128, paper 30 60 120 240 480)")
        group.add_argument("--elastic", action="store_true", help="elastic deformation with a random affine")
        group.add_argument("--accumulate", type=int, metavar="K", help="batches of gradient per optimiser step")
        group.add_argument("--workers", type=int, metavar="N", help="data loader processes (the profile's by default)")

    def settings(self, args) -> dict:
        return {"loss": self.check_loss(args.loss), "sampling": args.sampling,
                "patch": (args.patch,) if args.patch else None, "spacing": args.spacing,
                "batch_size": args.batch_size, "filters": tuple(args.filters) if args.filters else None,
                "elastic": True if args.elastic else None,
                "accumulate": args.accumulate, "workers": args.workers}

