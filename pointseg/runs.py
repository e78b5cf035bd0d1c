"""The run folder and checkpoint contract: what every training run writes, and how it is read back.

Every trainer (2D or 3D, weak or supervised) writes the same folder::

    RUN/config.json          {"run": RunInfo, "config": the run's config, "seed", "dataset", "environment"}
    RUN/split.json           the case ids trained on ("train") and watched ("val")
    RUN/log.jsonl            one line per epoch: losses, seconds, validation metrics
    RUN/validation.json      the latest validation scores per case (when there are validation cases)
    RUN/checkpoint_last.pt   model, optimiser, scaler and random states, config, RunInfo, split, versions;
                             written every epoch, atomically; ``--resume`` continues from it

:class:`RunInfo` says what a run *is*: the pipeline that made it, how it predicts (``predictor``: a name
in :data:`pointseg.predict.base.PREDICTORS`), its label set, what it was trained on (``clicks``, ``pseudo`` or
``labels``) and, for planar models, the axis. Reports group their rows by it; ``pointseg predict`` picks
the predictor from it. A checkpoint alone is enough to predict.

:class:`RunConfig` is the base of every run's config dataclass: ``to_dict``/``from_dict`` through JSON,
nested dataclasses and tuples included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from pointseg.io.atomic import atomic_path, write_text
from pointseg.errors import InputError
from pointseg.labels import DEFAULT_LABEL_SET

CHECKPOINT_NAME = "checkpoint_last.pt"
CONFIG_NAME = "config.json"
SPLIT_NAME = "split.json"
LOG_NAME = "log.jsonl"
VALIDATION_NAME = "validation.json"

# What a run was trained on, and how a report names it.
TARGETS = {"clicks": "clicks", "pseudo": "pseudo-masks", "labels": "full labels"}
SUPERVISED_TARGETS = ("pseudo", "labels")  # what `pointseg train --target` takes
# Pipelines that are no ``pointseg train --pipeline`` choice but still make runs.
WEAK_PLANAR = "weak_planar"


@dataclass(frozen=True)
class RunInfo:
    """What a run is (stored under ``"run"`` in ``config.json`` and in the checkpoint)."""

    pipeline: str  # who made it: "weak_planar", or a name in pointseg.train.pipelines.PIPELINES
    predictor: str  # how it predicts a CT: a name in pointseg.predict.base.PREDICTORS
    label_set: str
    target: str  # "clicks", "pseudo" or "labels"
    axis: str | None = None  # the slice axis of a planar model

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"unknown run target {self.target!r} (use {', '.join(TARGETS)})")

    @property
    def title(self) -> str:
        """The run's row title in a report, e.g. ``fcn8 on pseudo-masks`` or ``weak_planar (axial) on clicks``."""
        axis = f" ({self.axis})" if self.axis and self.pipeline == WEAK_PLANAR else ""
        return f"{self.pipeline}{axis} on {TARGETS[self.target]}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunInfo":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _from_json(kind, value):
    """``value`` (as JSON gave it back) as the annotated type ``kind``: dataclasses and tuples rebuilt."""
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and isinstance(value, dict):
        hints = typing.get_type_hints(kind)
        fields = {f.name for f in dataclasses.fields(kind) if f.init}
        return kind(**{k: _from_json(hints[k], v) for k, v in value.items() if k in fields})
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return value if value is None or len(options) != 1 else _from_json(options[0], value)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value


class RunConfig:
    """Base of the run config dataclasses: JSON round trip and the run's identity.

    Subclasses are dataclasses with at least ``seed``, ``epochs``, ``steps_per_epoch``, ``val_every`` and
    ``label_set``, and implement :meth:`run_info`.
    """

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict):
        """The config from :meth:`to_dict`'s output (unknown keys, e.g. from newer versions, are ignored)."""
        return _from_json(cls, data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def run_info(self, num_classes: int | None = None) -> RunInfo:
        raise NotImplementedError


def environment(device=None) -> dict:
    """Package and library versions and the hardware, as every run records them."""
    import torch

    import pointseg

    cuda = device is not None and getattr(device, "type", str(device)) == "cuda"
    return {
        "pointseg": pointseg.__version__, "torch": str(torch.__version__), "python": platform.python_version(),
        "device": str(device) if device is not None else None,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
    }


# --------------------------------------------------------------------------------------- run folders
def is_run(path: str | os.PathLike) -> bool:
    return (Path(path) / CHECKPOINT_NAME).exists()


def find_runs(paths: list[str | os.PathLike]) -> list[Path]:
    """Run folders (holding ``checkpoint_last.pt``) given directly or found below the given folders."""
    runs: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError("no such run folder", path)
        if is_run(path):
            runs.append(path)
        else:
            runs.extend(sorted(p.parent for p in path.rglob(CHECKPOINT_NAME)))
    if not runs:
        raise InputError(f"no trained run found (no {CHECKPOINT_NAME} below the given folders)")
    return runs


def write_run_files(run_dir: Path, info: RunInfo, config: dict, seed: int, dataset: str | os.PathLike | None,
                    split: dict, device=None) -> None:
    """``config.json`` and ``split.json`` of a run (each written atomically)."""
    write_text(run_dir / CONFIG_NAME, json.dumps(
        {"run": info.to_dict(), "config": config, "seed": seed, "dataset": str(dataset or ""),
         "environment": environment(device)}, indent=2))
    write_text(run_dir / SPLIT_NAME, json.dumps(split, indent=2))


def write_log(run_dir: Path, history: list[dict]) -> None:
    """``log.jsonl`` rewritten from the whole history (one line per epoch), atomically."""
    write_text(run_dir / LOG_NAME, "\n".join(json.dumps(r) for r in history) + "\n")


def read_run_file(run: str | os.PathLike) -> dict:
    """A run folder's ``config.json``; an InputError when it is missing or unreadable."""
    path = Path(run) / CONFIG_NAME
    if not path.exists():
        raise InputError(f"run folder without {CONFIG_NAME}", run)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the run's configuration ({exc})", path) from exc


def run_info_from(saved: dict) -> RunInfo:
    """The :class:`RunInfo` of a ``config.json`` or checkpoint dict.

    Runs written before RunInfo existed are recognised from their config: a ``target`` makes the 2D
    supervised model (``fcn8``), none the weak planar model.
    """
    if "run" in saved:
        return RunInfo.from_dict(saved["run"])
    config = saved["config"]
    target = config.get("target")
    return RunInfo(pipeline="fcn8" if target else WEAK_PLANAR, predictor="slices",
                   label_set=config.get("label_set", DEFAULT_LABEL_SET), target=target or "clicks", axis=config.get("axis"))


def read_run_info(run: str | os.PathLike) -> RunInfo:
    """What the run folder ``run`` is."""
    return run_info_from(read_run_file(run))


# ---------------------------------------------------------------------------------------- checkpoints
def check_run_label_set(run: str | os.PathLike, run_label_set: str, label_set) -> None:
    """An InputError, naming the run, when a run of one label set meets a command of another (``label_set``:
    a :class:`~pointseg.labels.LabelSet`, its name, or ``None`` for no check)."""
    wanted = getattr(label_set, "name", label_set)
    if wanted is not None and run_label_set != wanted:
        raise InputError(f"this run was trained on label set {run_label_set!r}, not {wanted!r}; use --labels "
                         f"{run_label_set}, or another run folder for {wanted!r}", run)


def checkpoint_path(run: str | os.PathLike) -> Path:
    """The checkpoint file of a run folder (or the file itself)."""
    run = Path(run)
    path = run / CHECKPOINT_NAME if run.is_dir() else run
    if not path.exists():
        raise InputError(f"no checkpoint here (expected a run folder holding {CHECKPOINT_NAME})", run)
    return path


def save_checkpoint(run_dir: Path, state: dict) -> None:
    """``state`` to ``run_dir/checkpoint_last.pt`` under a temporary name, then renamed into place.

    Only tensors, numbers, strings and containers of them go in, so prediction can load it with
    ``weights_only=True``.
    """
    import torch

    with atomic_path(Path(run_dir) / CHECKPOINT_NAME) as tmp:
        torch.save(state, tmp)


def load_checkpoint(run: str | os.PathLike, map_location="cpu") -> dict:
    """A run's checkpoint dict, loaded with ``weights_only=True``: no code from the file is ever run."""
    import torch

    path = checkpoint_path(run)
    try:
        # checkpoints of earlier versions hold torch.__version__ as a TorchVersion (a str subclass)
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "empty or cut short"
        raise InputError(f"cannot read checkpoint ({type(exc).__name__}: {reason})", path) from exc
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "config" not in checkpoint:
        raise InputError("not a pointseg checkpoint (no model weights and config)", path)
    return checkpoint
