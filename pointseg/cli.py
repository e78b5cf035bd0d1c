"""The ``pointseg`` command line. Each command parses its arguments and calls library functions.

Conventions shared by every command: ``--help``; a progress bar on long work (``--quiet`` hides it);
bad input ends with one line naming the file and the problem and exit status 2 (``--debug`` shows the
traceback); every output file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Sequence

from pointseg import __version__
from pointseg.errors import InputError, PointsegError
from pointseg.runs import SUPERVISED_TARGETS


# --------------------------------------------------------------------------------------------- commands
def cmd_phantom(args: argparse.Namespace) -> int:
    from pointseg.synthetic import write_phantoms

    written = write_phantoms(
        Path(args.out), args.cases, args.seed, _spacing(args.spacing), args.orientation, args.preview, args.force,
        anatomy=args.anatomy,
    )
    print(f"wrote {len(written)} phantom case(s) to {args.out}")
    return 0


def cmd_simulate_clicks(args: argparse.Namespace) -> int:
    from pointseg.clicks import ClickConfig
    from pointseg.labels import get_label_set
    from pointseg.synthetic import write_simulated_clicks

    config = ClickConfig(
        per_class=args.per_class, background=args.background, strategy=args.strategy,
        jitter_mm=args.jitter_mm, margin_mm=args.margin_mm,
    )
    cases = write_simulated_clicks(Path(args.dataset), get_label_set(args.labels), config, args.seed, args.force)
    print(f"wrote points.csv for {len(cases)} case(s)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pointseg.importers import import_case, totalsegmentator_cases, verse_cases
    from pointseg.labels import get_label_set
    from pointseg.progress import progress, say

    source, dataset = Path(args.source), Path(args.dataset)
    if not source.is_dir():
        raise InputError("source folder does not exist", source)
    label_set = get_label_set(args.labels)
    found = list(verse_cases(source) if args.format == "verse" else totalsegmentator_cases(source, args.ts_version))
    if not found:
        raise InputError(f"no {args.format} cases found", source)
    for case in progress(found, f"import {args.format}"):
        import_case(case, dataset, label_set, args.force)
        if case.load_labels is None:
            say(f"{case.id}: no labels found, imported the CT only")
    print(f"imported {len(found)} case(s) into {dataset}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pointseg.dataset import check_case, discover_cases
    from pointseg.labels import get_label_set
    from pointseg.progress import progress

    label_set = get_label_set(args.labels)
    cases = discover_cases(args.dataset)
    problems = {case.id: check_case(case, label_set) for case in progress(cases, "check")}
    for case in cases:
        found = problems[case.id]
        extras = [name for name, present in (("labels", case.labels_path), ("points", case.has_points)) if present]
        print(f"{case.id}: {'ok' if not found else f'{len(found)} problem(s)'} ({', '.join(['ct'] + extras)})")
        for problem in found:
            print(f"  - {problem}")
    total = sum(len(p) for p in problems.values())
    if total:
        print(f"{total} problem(s) in {sum(1 for p in problems.values() if p)} of {len(cases)} case(s)", file=sys.stderr)
        return 2
    print(f"all {len(cases)} case(s) ok")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from pointseg.dataset import case_labels_in
    from pointseg.labels import get_label_set
    from pointseg.metrics import dice_scores
    from pointseg.volume import read_volume

    label_set = get_label_set(args.labels)
    pred, gt = read_volume(args.pred), case_labels_in(args.gt, label_set)
    difference = pred.grid_difference(gt, names=("prediction", "ground truth"))
    if difference is not None:
        raise InputError(f"not on the ground truth's grid: {difference}", args.pred)
    for volume in (pred, gt):
        values = np.unique(volume.array)
        if values.min() < 0 or values.max() >= label_set.num_classes or not np.all(np.mod(values, 1) == 0):
            raise InputError(f"label ids must be integers in 0..{label_set.num_classes - 1}", volume.path)
    result = dice_scores(pred.array, gt.array, label_set.num_classes).as_dict(label_set)
    result.update(pred=str(args.pred), gt=str(args.gt))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    width = max([12] + [len(name) + 2 for name in result["dice"]] + [len(g) + 7 for g in result["groups"]])
    print(f"{'class':<{width}}{'Dice':>8}{'GT voxels':>12}{'pred voxels':>13}")
    for name, dice in result["dice"].items():
        print(f"{name:<{width}}{dice:>8.4f}{result['gt_voxels'][name]:>12d}{result['pred_voxels'][name]:>13d}")
    print(f"{'Dice_wi':<{width}}{result['dice_wi']:>8.4f}")
    if len(result["groups"]) > 1 or label_set.num_classes > 12:
        for group, dice in result["groups"].items():
            print(f"{'mean ' + group:<{width}}{dice:>8.4f}")
    if len(label_set.groups()) > 1 or label_set.num_classes > 12:
        _print_many_class(result["many_class"])
    return 0


def _print_many_class(many: dict) -> None:
    """The many-class table of ``evaluate``: median DSC of the detected classes with its distances to the
    16th/84th percentiles, detection ratio and foreground DSC, per group and over all classes."""
    def number(value: float | None, form: str = ".4f") -> str:
        return "-" if value is None else format(value, form)

    rows = {**many["groups"], "all": many["all"]}
    width = max(len(name) for name in rows) + 2
    print()
    print(f"{'group':<{width}}{'median DSC':>11}{'-p16':>8}{'+p84':>8}{'dr':>14}{'fg':>8}")
    for name, m in rows.items():
        dr = f"{number(m['detection_ratio'], '.3f')} ({m['detected']}/{m['classes']})"
        print(f"{name:<{width}}{number(m['median']):>11}{number(m['lower']):>8}{number(m['upper']):>8}"
              f"{dr:>14}{number(m['fg']):>8}")


def cmd_preprocess(args: argparse.Namespace) -> int:
    from pointseg.dataset import discover_cases
    from pointseg.labels import get_label_set
    from pointseg.preprocess import AXES, PreprocessConfig, cached_stack, normalize_axis
    from pointseg.progress import progress

    label_set = get_label_set(args.labels)
    config = PreprocessConfig(spacing=args.spacing, size=(args.size, args.size))
    axes = AXES if args.axis == "all" else (normalize_axis(args.axis),)
    cases = discover_cases(args.dataset)
    cache = Path(args.cache) if args.cache else Path(args.dataset) / ".pointseg-cache"
    jobs = [(case, axis) for case in cases for axis in axes]
    for case, axis in progress(jobs, "preprocess", unit="stack"):
        cached_stack(case, axis, config, label_set, cache)
    print(f"{len(jobs)} slice stack(s) in {cache}")
    return 0


def cmd_train_planar(args: argparse.Namespace) -> int:
    from pointseg.train.planar import train_planar

    run = train_planar(
        args.dataset, args.axis, args.out, profile=args.profile, seed=args.seed, resume=args.resume,
        device=args.device, epochs=args.epochs, steps_per_epoch=args.steps, val_cases=args.val_cases,
        pretrained=args.pretrained,
    )
    print(f"planar model ({args.axis}) in {run}")
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    from pointseg.dataset import discover_cases
    from pointseg.inference import resolve_device
    from pointseg.labels import get_label_set
    from pointseg.pseudo.fusion import DEFAULT_FUSION
    from pointseg.pseudo.pipeline import SmoothingConfig, fuse_cases
    from pointseg.train.planar import ensure_planar_models
    from pointseg.pseudo.refine import build_refinement

    dataset = Path(args.dataset)
    runs = Path(args.runs) if args.runs else dataset / "planar-runs"
    label_set = get_label_set(args.labels)
    cases = [c for c in discover_cases(dataset) if c.has_points]
    if not cases:
        raise InputError("no case has points.csv; click points (pointseg annotate) or run pointseg simulate-clicks", dataset)
    build_refinement(args.refinement)  # an unknown name fails before any training
    ensure_planar_models(dataset, runs, args.profile, args.seed, args.device, args.labels)
    smoothing = SmoothingConfig(opening_mm=args.opening_mm, closing_mm=args.closing_mm)
    strategy = args.strategy or DEFAULT_FUSION
    fuse_cases(cases, runs, label_set, resolve_device(args.device), strategy, smoothing, args.refinement)
    print(f"pseudo.nii.gz written for {len(cases)} case(s) with models from {runs}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pointseg.train.pipelines import get_pipeline

    pipeline = get_pipeline(args.pipeline)
    run = pipeline.train(
        args.dataset, args.target, args.out, profile=args.profile, seed=args.seed, resume=args.resume,
        device=args.device, epochs=args.epochs, steps_per_epoch=args.steps, val_cases=args.val_cases,
        label_set=args.labels, **pipeline.settings(args),
    )
    print(f"{pipeline.name} on {'pseudo-masks' if args.target == 'pseudo' else 'full labels'}: run in {run}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from pointseg.inference import predict_file

    out = predict_file(args.run, args.ct, args.out, args.probabilities, args.device, args.batch_size,
                       show_progress=not args.quiet)
    print(f"labels written to {out}" + (f", probabilities to {args.probabilities}" if args.probabilities else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pointseg.cost import CostModel
    from pointseg.evaluation import collect_results
    from pointseg.inference import resolve_device
    from pointseg.report import write_report

    out = Path(args.out)
    cost = CostModel(seconds_per_click=args.seconds_per_click, seconds_per_structure_slice=args.seconds_per_slice)
    results = collect_results(args.runs, args.dataset, out, resolve_device(args.device), cost)
    paths = write_report(results, out)
    print(f"report written to {paths['markdown']} and {paths['html']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pointseg.demo import run_demo

    report = run_demo(Path(args.out), seed=args.seed, annotated=args.cases, test=args.test_cases,
                      profile=args.profile, curve=not args.no_curve, device=args.device)
    print(f"demo finished; the report is {report}")
    return 0


# ----------------------------------------------------------------------------------------------- parser
def _spacing(values: Sequence[float] | None) -> tuple[float, float, float] | None:
    if values is None:
        return None
    if len(values) not in (1, 3) or min(values) <= 0:
        raise InputError("--spacing takes one positive number or three (mm along the array axes i j k)")
    return tuple(values * 3) if len(values) == 1 else tuple(values)  # type: ignore[return-value]


def cmd_annotate(args: argparse.Namespace) -> int:
    try:
        from pointseg.annotate.app import load_layers, open_annotation, preload_training
    except ImportError as exc:
        raise InputError(f"pointseg annotate needs napari ({exc}): pip install 'pointseg[napari]'") from exc

    layers = load_layers(args.path, args.labels) if args.path is not None else []  # bad input: one line, no window
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        raise InputError("no display to open napari on (set DISPLAY, or run under xvfb-run for a virtual one)")
    preload_training()  # before any OpenGL context exists, and so the first build does not freeze the viewer
    import napari

    open_annotation(args.path, labels=args.labels, layers=layers)
    napari.run()
    return 0


def _add(sub, name: str, func, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    parser = sub.add_parser(name, help=help_text, description=description or help_text, parents=[common],
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def _label_option(parser: argparse.ArgumentParser) -> None:
    from pointseg.labels import DEFAULT_LABEL_SET, LABEL_SETS

    parser.add_argument("--labels", default=DEFAULT_LABEL_SET, choices=tuple(LABEL_SETS), metavar="SET",
                        help=f"label set ({', '.join(LABEL_SETS)}; default %(default)s)")


# The training code registers the pipelines and profiles; its registry module imports no PyTorch, so the
# parser can list them (imported here, inside functions: the core never imports the training package at
# module level).
def _pipelines() -> dict:
    from pointseg.train.pipelines import PIPELINES

    return {name: PIPELINES.build(name) for name in PIPELINES}


def _default_pipeline() -> str:
    from pointseg.train.pipelines import DEFAULT_PIPELINE

    return DEFAULT_PIPELINE


def _profile_option(parser: argparse.ArgumentParser, what: str) -> None:
    from pointseg.train.pipelines import DEFAULT_PROFILE, PROFILES

    parser.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE,
                        help=f"{what}: " + "; ".join(f"{name}: {text}" for name, text in PROFILES.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointseg",
        description="Dense vertebra masks for CT from a few clicks per vertebra.",
    )
    parser.add_argument("--version", action="version", version=f"pointseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _add(sub, "demo", cmd_demo, "run the main job end to end on built-in synthetic data",
             "Phantoms -> simulated clicks -> three weak planar models -> fused pseudo-masks -> final and reference "
             "models -> label-efficiency curve -> cost-vs-accuracy report (report/report.html).")
    p.add_argument("--out", default="out/demo", help="output folder (must not hold a demo yet)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--cases", type=int, default=3, help="annotated phantom cases (clicked, used for training)")
    p.add_argument("--test-cases", type=int, default=2, help="test phantom cases (never trained on)")
    _profile_option(p, "network and sizes of every model")
    p.add_argument("--no-curve", action="store_true", help="skip the label-efficiency curve (saves most of the time)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")

    p = _add(sub, "annotate", cmd_annotate, "click points per vertebra in napari (autosaved to points.csv)",
             "Open a case folder (DATASET/<case>/ with ct.nii.gz), a CT file or a DICOM folder in napari with the "
             "annotation widget docked. Keys 1-5 pick L1-L5 and 0 background; a click adds a point; every change "
             "is saved at once to the case's points.csv. 'Build pseudo-mask' runs fuse for the case.")
    p.add_argument("path", nargs="?", metavar="CASE_OR_CT", help="case folder, CT file or DICOM folder (optional)")
    _label_option(p)

    p = _add(sub, "phantom", cmd_phantom, "write synthetic CT cases (lumbar spine or upper body) in the dataset layout")
    p.add_argument("out", help="dataset folder to write phantom_NNN/ cases into")
    p.add_argument("--anatomy", choices=("lumbar", "upper-body"), default="lumbar",
                   help="lumbar: L1-L5 labels; upper-body: neck to mid-femur, every bone and the main organs "
                        "labelled in the label set upper_body (default lumbar)")
    p.add_argument("--cases", type=int, default=1, help="number of cases")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same cases)")
    p.add_argument("--spacing", type=float, nargs="+", metavar="MM",
                   help="voxel size in mm: one value, or three along i j k, e.g. 1 1 3 (default 1.5)")
    p.add_argument("--orientation", default="RAS", metavar="AXCODES",
                   help="orientation of the written arrays, e.g. RAS, LPS, PIR")
    p.add_argument("--preview", action="store_true", help="also write preview.png (sagittal, coronal, axial)")
    p.add_argument("--force", action="store_true", help="overwrite existing cases")

    p = _add(sub, "simulate-clicks", cmd_simulate_clicks, "write points.csv with simulated clicks from labels")
    p.add_argument("dataset", help="dataset folder")
    p.add_argument("--per-class", type=int, default=5, metavar="K", help="clicks inside each vertebra")
    p.add_argument("--background", type=int, default=15, metavar="B",
                   help="background clicks: 40%% on other bone, 30%% on soft tissue near the vertebrae, the rest anywhere")
    p.add_argument("--strategy", choices=("random", "center"), default="random",
                   help="random interior points or points near the centre")
    p.add_argument("--jitter-mm", type=float, default=0.0, help="annotator-like jitter (never leaves the structure)")
    p.add_argument("--margin-mm", type=float, default=3.0, help="minimum distance from the structure's border")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--force", action="store_true", help="overwrite existing points.csv files")
    _label_option(p)

    p = _add(sub, "import", cmd_import,
             "import a VerSe or TotalSegmentator folder into the dataset layout, labels mapped to --labels by name")
    p.add_argument("format", choices=("verse", "totalsegmentator"), help="layout of the source")
    p.add_argument("source", help="source folder")
    p.add_argument("dataset", help="dataset folder to write")
    p.add_argument("--ts-version", type=int, choices=(1, 2), default=2,
                   help="TotalSegmentator version whose class ids a multi-label segmentations.nii.gz holds "
                        "(the per-structure segmentations/ folder needs none; default %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing cases")
    _label_option(p)

    p = _add(sub, "check", cmd_check, "validate every case of a dataset and list all problems")
    p.add_argument("dataset", help="dataset folder")
    _label_option(p)

    p = _add(sub, "evaluate", cmd_evaluate, "per-class Dice and Dice_wi of a prediction against ground truth",
             "Per-class Dice and Dice_wi; with many classes or groups also the median Dice of the detected "
             "classes (Dice > 0) with its distances to the 16th and 84th percentiles, the detection ratio dr "
             "and the foreground Dice fg of all bone together, per group and over all classes.")
    p.add_argument("pred", help="predicted label map (NIfTI, NRRD, MHA)")
    p.add_argument("gt", help="ground-truth label map on the same grid")
    p.add_argument("--json", action="store_true", help="print JSON (top-level dice_wi, dice by class name)")
    _label_option(p)

    p = _add(sub, "train-planar", cmd_train_planar, "train one weak planar model from the clicks of a dataset",
             "Train a VGG16-FCN8 on slices along one axis with the point, consistency, separation and extent "
             "losses, on every case that has points.csv. Labelled cases not trained on are used for validation.")
    p.add_argument("dataset", help="dataset folder")
    p.add_argument("--axis", required=True, help="axial, coronal or sagittal")
    p.add_argument("--out", required=True, help="run folder (checkpoint, config, split, logs)")
    _profile_option(p, "network and slice sizes")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=int, help="override the profile's number of epochs")
    p.add_argument("--steps", type=int, help="override the profile's steps per epoch")
    p.add_argument("--val-cases", type=int, default=0,
                   help="clicked and labelled cases held out for validation (labelled cases without clicks always are)")
    p.add_argument("--pretrained", metavar="PATH",
                   help="torchvision VGG16 ImageNet weights (vgg16-397923af.pth) to start from; width 1.0 only")

    p = _add(sub, "fuse", cmd_fuse, "build pseudo-masks from the clicks: three planar models, fusion, smoothing",
             "For every case with points.csv: train the planar models that are missing (as train-planar would), "
             "predict the case along the three axes, fuse the probabilities, smooth, and write <case>/pseudo.nii.gz "
             "on the CT's grid plus the fused probabilities (pseudo_probabilities.h5).")
    p.add_argument("dataset", help="dataset folder")
    p.add_argument("--runs", help="folder of the planar runs axial/, coronal/, sagittal/ (default DATASET/planar-runs)")
    p.add_argument("--strategy", default=None, help="fusion strategy (mean, weighted, vote, axial_foreground, geometric)")
    p.add_argument("--refinement", default="bone_watershed",
                   help="image-guided refinement after fusion: bone_watershed (default: re-draws each vertebra's "
                        "boundary on the CT's bone within a vertebra's reach of its clicks, seeded by the clicks and "
                        "the confident fused voxels near them), bone_watershed_fused (the fusion decides where each "
                        "class may go) or none")
    _profile_option(p, "profile of missing planar models")
    p.add_argument("--seed", type=int, default=0, help="random seed of missing models")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--opening-mm", type=float, default=2.0, help="morphological opening radius (0: off)")
    p.add_argument("--closing-mm", type=float, default=2.0, help="morphological closing radius (0: off)")
    _label_option(p)

    pipelines = _pipelines()
    p = _add(sub, "train", cmd_train, "train a supervised pipeline on pseudo-masks or on full labels",
             "Train the pipeline --pipeline on the pseudo-masks pseudo.nii.gz (--target pseudo: the final model) "
             "or on labels.nii.gz (--target labels: the fully supervised reference). Cases listed as test in "
             "DATASET/split.json are never trained on. Pipelines: "
             + "; ".join(f"{name}: {pipeline.title}" for name, pipeline in pipelines.items()) + ".")
    p.add_argument("dataset", help="dataset folder")
    p.add_argument("--pipeline", choices=tuple(pipelines), default=_default_pipeline(),
                   help="which pipeline to train (default %(default)s)")
    p.add_argument("--target", choices=SUPERVISED_TARGETS, required=True, help="pseudo-masks or full labels")
    p.add_argument("--out", required=True, help="run folder (checkpoint, config, split, logs)")
    _profile_option(p, "network and sizes")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=int, help="override the profile's number of epochs")
    p.add_argument("--steps", type=int, help="override the profile's steps per epoch")
    p.add_argument("--val-cases", type=int, default=0, help="trainable labelled cases held out for validation")
    p.add_argument("--loss", choices=sorted({loss for pipeline in pipelines.values() for loss in pipeline.losses}),
                   help="override the profile's loss; "
                   + "; ".join(f"{name}: {pipeline.loss_help}" for name, pipeline in pipelines.items() if pipeline.losses))
    _label_option(p)
    for name, pipeline in pipelines.items():
        pipeline.add_arguments(p.add_argument_group(f"{name} options"))

    p = _add(sub, "report", cmd_report, "cost-vs-accuracy report: the paper's Table 1 for your data, every "
             "pipeline, costs, curve",
             "Evaluate planar runs (on the annotated cases, with the pseudo-masks) and the supervised runs of every "
             "pipeline, trained on pseudo-masks or on full labels (on the test cases of DATASET/split.json, or the "
             "labelled cases without clicks, and on their training cases), compute the labelling cost, and write "
             "report.md, report.html, report.json and PNG plots. Table 1 shows the fcn8 runs; every other pipeline "
             "gets a section of its own.")
    p.add_argument("runs", nargs="+", metavar="RUN_OR_DIR", help="run folders, or folders holding them")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--dataset", help="dataset folder (default: the one the runs were trained on)")
    p.add_argument("--seconds-per-click", type=float, default=2.0,
                   help="click time when points.csv has no time_s (measured times are used when present)")
    p.add_argument("--seconds-per-slice", type=float, default=12.5, help="time to draw one structure on one slice")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")

    p = _add(sub, "predict", cmd_predict,
             "predict a CT volume with a trained run: 2D runs slice by slice, 3D runs by sliding window")
    p.add_argument("run", help="run folder (or checkpoint file)")
    p.add_argument("ct", help="CT file or DICOM folder")
    p.add_argument("--out", required=True, help="labels NIfTI to write (on the CT's grid)")
    p.add_argument("--probabilities", metavar="H5", help="also write class probabilities (HDF5, float16)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=8, help="slices (2D) or windows (3D) per forward pass")

    p = _add(sub, "preprocess", cmd_preprocess, "build the HDF5 slice stacks used for planar training")
    p.add_argument("dataset", help="dataset folder")
    p.add_argument("--axis", default="all", help="axial, coronal, sagittal or all")
    p.add_argument("--spacing", type=float, default=1.0, help="isotropic resampling in mm")
    p.add_argument("--size", type=int, default=352, help="slice height and width after crop/pad")
    p.add_argument("--cache", help="cache folder (default DATASET/.pointseg-cache)")
    _label_option(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
