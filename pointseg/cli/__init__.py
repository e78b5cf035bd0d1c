"""The ``pointseg`` command line. Each command parses its arguments and calls library functions.

Conventions shared by every command: ``--help``; a progress bar on long work (``--quiet`` hides it);
bad input ends with one line naming the file and the problem and exit status 2 (``--debug`` shows the
traceback); every output file is written under a temporary name and renamed into place.

Every command is a :class:`~pointseg.cli.command.Command` registered by name in :data:`COMMANDS`, lazily:
the parser lists every command with its one-line help, and builds the options of the one command being run
only (so ``pointseg --help`` imports neither PyTorch nor the command modules, and a pipeline's own options
are added only when it is the one asked for). Choices and their help come from the registries that own them
(pipelines, profiles, losses, samplings, fusion strategies, refinement steps, label sets, anatomies, import
formats): a name is typed once, where it is registered.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Sequence

from pointseg import __version__
from pointseg.errors import PointsegError
from pointseg.registry import Registry

COMMANDS: Registry = Registry("command")
for _name, _target, _help in (
    ("demo", "data:Demo", "run the main job end to end on built-in synthetic data"),
    ("annotate", "data:Annotate", "click points per structure in napari (autosaved to points.csv)"),
    ("phantom", "data:Phantom", "write synthetic CT cases (lumbar spine or upper body) in the dataset layout"),
    ("simulate-clicks", "data:SimulateClicks", "write points.csv with simulated clicks from labels"),
    ("import", "data:Import", "import a VerSe or TotalSegmentator folder into the dataset layout, labels mapped to "
                              "--labels by name"),
    ("check", "data:Check", "validate every case of a dataset and list all problems"),
    ("evaluate", "evaluate:Evaluate", "per-class Dice and Dice_wi of a prediction against ground truth"),
    ("preprocess", "data:Preprocess", "build the HDF5 slice stacks used for planar training"),
    ("train-planar", "models:TrainPlanar", "train one weak planar model from the clicks of a dataset"),
    ("fuse", "models:Fuse", "build pseudo-masks from the clicks: three planar models, fusion, refinement, smoothing"),
    ("train", "models:Train", "train a supervised pipeline on pseudo-masks or on full labels"),
    ("report", "models:Report", "cost-vs-accuracy report: the paper's Table 1 for your data, every pipeline, "
                                "costs, curve"),
    ("predict", "models:Predict", "predict a CT volume with a trained run: 2D runs slice by slice, 3D runs by "
                                  "sliding window"),
):
    COMMANDS.register_lazy(_name, f"pointseg.cli.{_target}", _help)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one worth saying (not None, False or a suppressed one)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default is argparse.SUPPRESS or not action.option_strings:
            return action.help
        return super()._get_help_string(action)


def _selected(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (its first word that is one), if any."""
    return next((word for word in argv if word in COMMANDS), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser: every command with its help; the options of the command in ``argv`` only (all commands'
    options when ``argv`` is None)."""
    parser = argparse.ArgumentParser(prog="pointseg", description="Dense masks of bones and organs in CT from a "
                                     "few clicks per structure.")
    parser.add_argument("--version", action="version", version=f"pointseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    selected = _selected(argv) if argv is not None else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    for name in COMMANDS:
        if argv is not None and name != selected:
            sub.add_parser(name, help=COMMANDS.help(name), parents=[common])
            continue
        command = COMMANDS.build(name)
        p = sub.add_parser(name, help=COMMANDS.help(name), description=command.description or COMMANDS.help(name),
                           parents=[common], formatter_class=_HelpFormatter)
        command.add_arguments(p, list(argv or ()))
        p.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except PointsegError as exc:  # a registry refused a name while the options were being built
        print(f"pointseg: error: {exc}", file=sys.stderr)
        return exc.exit_code
    from pointseg.progress import set_enabled

    set_enabled(not args.quiet)
    try:
        return int(args.func(args) or 0)
    except PointsegError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"pointseg {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"pointseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: say so in one line unless --debug
        if args.debug:
            raise
        print(f"pointseg {args.command}: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return 1


__all__ = ["COMMANDS", "build_parser", "main"]
