"""The supervised pipelines by name: ``pointseg train DATASET --pipeline NAME --target pseudo|labels``.

A pipeline is a class registered in :data:`PIPELINES` with what the command line and the reports need
to know about it (title, predictor kind, its own options) and a :meth:`Pipeline.train` that imports its
trainer only when called, so this module (and ``pointseg --help``) stays free of PyTorch. Every
pipeline trains into a run folder of the contract in :mod:`pointseg.runs`, records its name in the run's
:class:`~pointseg.runs.RunInfo`, and predicts through the predictor registered under its ``predictor``
name in :data:`pointseg.predict.base.PREDICTORS`.

A new pipeline: subclass :class:`Pipeline` (a 3D one :class:`pointseg.train.volumetric.VolumetricPipeline`,
which trains on the volumetric engine) in its own module, add its options in :meth:`Pipeline.add_arguments`,
turn them into trainer settings in :meth:`Pipeline.settings`, and register it with one line here
(``PIPELINES.register_lazy(name, "module:Class", help)``: the command line lists it without importing it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pointseg.registry import Registry

# The planar models' training profiles, with what each is for (the settings are in
# pointseg.train.config.PROFILES); a pipeline lists its own in ``Pipeline.profiles``.
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
    predictor: str = ""  # name in pointseg.predict.base.PREDICTORS
    dims: int = 2  # 2: slice by slice; 3: volumetric
    profiles: dict[str, str] = PROFILES  # ``--profile`` choices: name -> what it is for
    default_profile: str = DEFAULT_PROFILE
    default_label_set: str | None = None  # ``--labels`` default (None: the project's default set)
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


# The 3D pipelines live with their trainers (they import PyTorch and MONAI); listed here by name only, so the
# command line shows them without importing them. A new pipeline adds one line here.
PIPELINES.register_lazy("unet3d", "pointseg.train.unet3d:UNet3DPipeline",
                        "No-New-Net 3D U-Net on patches, one output per class (3D)")
