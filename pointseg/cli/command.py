"""What every ``pointseg`` command is, and the options several commands share.

A command is a :class:`Command` registered lazily in :data:`pointseg.cli.COMMANDS`: ``add_arguments`` adds
its options (``argv`` is the whole command line, for commands whose options depend on an earlier one, like
``train --pipeline``) and ``run`` parses nothing more: it calls library functions and returns the exit
status. The option helpers below take their choices and help from the registries that own the names.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from pointseg.errors import InputError


class Command:
    """A ``pointseg`` command (see the module notes)."""

    description: str = ""  # the longer text of ``--help`` (the one-line help is given at registration)

    def add_arguments(self, parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
        raise NotImplementedError

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


def add_device(parser: argparse.ArgumentParser) -> None:
    from pointseg.device import DEVICES

    parser.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} or cuda:N")


def add_seed(parser: argparse.ArgumentParser, what: str = "random seed") -> None:
    parser.add_argument("--seed", type=int, default=0, help=what)


def add_labels(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--labels SET`` with the label sets as choices (``default``: the project's default set)."""
    from pointseg.labels import DEFAULT_LABEL_SET, LABEL_SETS

    parser.add_argument("--labels", default=default or DEFAULT_LABEL_SET, choices=tuple(LABEL_SETS), metavar="SET",
                        help=f"label set ({', '.join(LABEL_SETS)})")


def add_profile(parser: argparse.ArgumentParser, what: str, profiles: dict[str, str] | None = None,
                default: str | None = None) -> None:
    """``--profile`` with the profiles (name → what it is for) of a pipeline; the planar models' by default."""
    from pointseg.train.pipelines import DEFAULT_PROFILE, PROFILES

    profiles = profiles or PROFILES
    parser.add_argument("--profile", choices=tuple(profiles), default=default or DEFAULT_PROFILE,
                        help=f"{what}: " + "; ".join(f"{name}: {text}" for name, text in profiles.items()))


def add_training(parser: argparse.ArgumentParser, val_help: str) -> None:
    """The options every trainer shares: seed, resume, device, epochs, steps, validation cases."""
    add_seed(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_device(parser)
    parser.add_argument("--epochs", type=int, help="override the profile's number of epochs")
    parser.add_argument("--steps", type=int, help="override the profile's steps per epoch")
    parser.add_argument("--val-cases", type=int, default=0, help=val_help)


def spacing(values: Sequence[float] | None) -> tuple[float, float, float] | None:
    """``--spacing`` of one value or three (mm along i j k); an InputError otherwise."""
    if values is None:
        return None
    if len(values) not in (1, 3) or min(values) <= 0:
        raise InputError("--spacing takes one positive number or three (mm along the array axes i j k)")
    return tuple(values * 3) if len(values) == 1 else tuple(values)  # type: ignore[return-value]
