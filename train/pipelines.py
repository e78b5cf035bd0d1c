"""The supervised pipelines by name: ``pointseg train DATASET --pipeline NAME --target pseudo|labels``.

A pipeline is a class registered in :data:`PIPELINES` with what the command line and the reports need
to know about it (title, predictor kind, its own options) and a :meth:`Pipeline.train` that imports its
trainer only when called, so this module (and ``pointseg --help``) stays free of PyTorch. Every
pipeline trains into a run folder of the contract in :mod:`pointseg.runs`, records its name in the run's
:class:`~pointseg.runs.RunInfo`, and predicts through the predictor registered under its ``predictor``
name in :data:`pointseg.inference.PREDICTORS`.

A new pipeline: subclass :class:`Pipeline`, register it here under its name, add its options in
:meth:`Pipeline.add_arguments` and turn them into trainer settings in :meth:`Pipeline.settings`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pointseg.registry import Registry

# The training profiles, with what each is for (the settings are in pointseg.train.config.PROFILES).
PROFILES = {
    "quick": "CPU-sized: minutes on a laptop",
    "paper": "the paper's network and sizes (meant for a GPU)",
    "tiny": "seconds, for tests and smoke checks",
}
DEFAULT_PROFILE = "quick"
DEFAULT_PIPELINE = "fcn8"


class Pipeline:
    """A supervised training pipeline; subclasses set the class attributes and :meth:`train`."""

    name: str = ""
    title: str = ""  # what it is, in a sentence fragment
    predictor: str = ""  # name in pointseg.inference.PREDICTORS
    dims: int = 2  # 2: slice by slice; 3: volumetric
    losses: tuple[str, ...] = ()  # what ``--loss`` may name for it (the first is described first)
    loss_help: str = ""

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        """The pipeline's own options of ``pointseg train`` (shown in ``--help`` under its name)."""

    def settings(self, args: argparse.Namespace) -> dict:
        """The trainer settings taken from the parsed options of :meth:`add_arguments`."""
        return {}

    def check_loss(self, loss: str | None) -> str | None:
        """``--loss`` when this pipeline has it; an InputError naming its losses otherwise."""
        if loss is not None and loss not in self.losses:
            from pointseg.errors import InputError

            raise InputError(f"the {self.name} pipeline has no loss {loss!r} (use {', '.join(self.losses)})")
        return loss

    def train(self, dataset: str | Path, target: str, out: str | Path, profile: str = DEFAULT_PROFILE, seed: int = 0,
              resume: bool = False, device: str = "auto", **settings) -> Path:
        """Train (or resume) a run of this pipeline into ``out``; returns the run folder."""
        raise NotImplementedError


PIPELINES: Registry[Pipeline] = Registry("pipeline")


@PIPELINES.register("fcn8")
class FCN8Pipeline(Pipeline):
    """Seed 003's final and reference models: a VGG16-FCN8 on slices of one axis (sagittal by default)."""

    name = "fcn8"
    title = "VGG16-FCN8 on the slices of one axis, sagittal by default (2D)"
    predictor = "slices"
    dims = 2
    # Names in pointseg.train.supervised.SUPERVISED_LOSSES (a test keeps the two equal).
    losses = ("ce_dice", "ce", "weighted_ce")
    loss_help = "ce_dice (CE + soft Dice, quick), ce, or weighted_ce (median-frequency weighted CE, the paper's)"

    def add_arguments(self, group) -> None:
        group.add_argument("--axis", default="sagittal", help="slice axis (the paper uses sagittal)")
        group.add_argument("--pretrained", metavar="PATH", help="torchvision VGG16 ImageNet weights to start from")

    def settings(self, args) -> dict:
        return {"axis": args.axis, "loss": self.check_loss(args.loss), "pretrained": args.pretrained}

    def train(self, dataset, target, out, profile=DEFAULT_PROFILE, seed=0, resume=False, device="auto", **settings):
        from pointseg.train.supervised import train_supervised

        return train_supervised(dataset, target, out, profile=profile, seed=seed, resume=resume, device=device,
                                **settings)


def get_pipeline(name: str) -> Pipeline:
    """The pipeline registered as ``name``; an InputError lists the known ones."""
    return PIPELINES.build(name)


@PIPELINES.register("unet3d")
class UNet3DPipeline(Pipeline):
    """Seed 001's many-class 3D U-Net (No-New-Net style) on patches, by sliding window at prediction."""

    name = "unet3d"
    title = "No-New-Net 3D U-Net on patches, one output per class (3D, seed 001)"
    predictor = "volume"
    dims = 3
    losses = ("ce_dice", "ce")
    loss_help = "ce_dice (CE + Dice over all classes, eq. 1, without a dense one-hot; default) or ce (CE alone)"
    samplings = ("balanced", "uniform")  # pointseg.train.volumetric.SAMPLINGS (a test keeps them equal)

    def add_arguments(self, group) -> None:
        group.add_argument("--sampling", choices=self.samplings, default=None,
                           help="patch sampling: balanced (every class equally likely in a patch; default) or "
                                "uniform (every position equally likely)")
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

    def train(self, dataset, target, out, profile=DEFAULT_PROFILE, seed=0, resume=False, device="auto", **settings):
        from pointseg.train.unet3d import train_unet3d

        return train_unet3d(dataset, target, out, profile=profile, seed=seed, resume=resume, device=device, **settings)
