"""Commands that train, fuse, predict and report: the weak planar models, pseudo-masks, the supervised
pipelines, prediction with any run, and the cost-vs-accuracy report."""

from __future__ import annotations

import argparse
from pathlib import Path

from pointseg.cli.command import Command, add_device, add_labels, add_profile, add_seed, add_training
from pointseg.errors import InputError
from pointseg.runs import SUPERVISED_TARGETS, TARGETS, WEAK_PLANAR


class TrainPlanar(Command):
    description = ("Train a VGG16-FCN8 on slices along one axis with the point, consistency, separation and extent "
                   "losses, on every case that has points.csv. Labelled cases not trained on are used for validation.")

    def add_arguments(self, p, argv):
        p.add_argument("dataset", help="dataset folder")
        p.add_argument("--axis", required=True, help="axial, coronal or sagittal")
        p.add_argument("--out", required=True, help="run folder (checkpoint, config, split, logs)")
        add_profile(p, "network and slice sizes")
        add_training(p, "clicked and labelled cases held out for validation (labelled cases without clicks always are)")
        p.add_argument("--pretrained", metavar="PATH",
                       help="torchvision VGG16 ImageNet weights (vgg16-397923af.pth) to start from; width 1.0 only")
        add_labels(p)

    def run(self, args):
        from pointseg.train.planar import train_planar

        check_run_folder(args.out, args.resume, WEAK_PLANAR, args.labels)
        run = train_planar(args.dataset, args.axis, args.out, profile=args.profile, seed=args.seed, resume=args.resume,
                           device=args.device, epochs=args.epochs, steps_per_epoch=args.steps,
                           val_cases=args.val_cases, pretrained=args.pretrained, label_set=args.labels)
        print(f"planar model ({args.axis}) in {run}")
        return 0


class Fuse(Command):
    description = ("For every case with points.csv: train the planar models that are missing (as train-planar "
                   "would), predict the case along the three axes, fuse the probabilities, refine on the CT, smooth, "
                   "and write <case>/pseudo.nii.gz on the CT's grid plus the fused probabilities "
                   "(pseudo_probabilities.h5).")

    def add_arguments(self, p, argv):
        from pointseg.predict.steps import DEFAULT_REFINEMENT, STEPS
        from pointseg.pseudo.fusion import DEFAULT_FUSION, FUSIONS

        p.add_argument("dataset", help="dataset folder")
        p.add_argument("--runs", help="folder of the planar runs axial/, coronal/, sagittal/ (default DATASET/planar-runs)")
        FUSIONS.add_option(p, "--strategy", DEFAULT_FUSION, "fusion strategy")
        STEPS.add_option(p, "--refinement", DEFAULT_REFINEMENT, "image-guided refinement after fusion")
        add_profile(p, "profile of missing planar models")
        add_seed(p, "random seed of missing models")
        add_device(p)
        p.add_argument("--opening-mm", type=float, default=2.0, help="morphological opening radius (0: off)")
        p.add_argument("--closing-mm", type=float, default=2.0, help="morphological closing radius (0: off)")
        add_labels(p)

    def run(self, args):
        from pointseg.device import resolve_device
        from pointseg.io.dataset import discover_cases
        from pointseg.labels import get_label_set
        from pointseg.predict.steps import build_step
        from pointseg.io.atomic import check_output
        from pointseg.io.points import count_rows
        from pointseg.pseudo.pipeline import SmoothingConfig, fuse_cases
        from pointseg.train.planar import ensure_planar_models

        dataset = Path(args.dataset)
        runs = check_output(args.runs, folder=True) if args.runs else dataset / "planar-runs"
        label_set = get_label_set(args.labels)
        cases = [c for c in discover_cases(dataset) if c.has_points]
        if not cases:
            raise InputError("no case has points.csv; click points (pointseg annotate) or run pointseg "
                             "simulate-clicks", dataset)
        if not any(count_rows(c.points_path) for c in cases):  # before any planar model is trained
            raise InputError("no points.csv holds a click (only headers); click points first", dataset)
        build_step(args.refinement)  # an unknown name fails before any training
        smoothing = SmoothingConfig(opening_mm=args.opening_mm, closing_mm=args.closing_mm)  # checked up front
        ensure_planar_models(dataset, runs, args.profile, args.seed, args.device, args.labels)
        fuse_cases(cases, runs, label_set, resolve_device(args.device), args.strategy, smoothing, args.refinement)
        print(f"pseudo.nii.gz written for {len(cases)} case(s) with models from {runs}")
        return 0


class Train(Command):
    description = ("Train the pipeline --pipeline on the pseudo-masks pseudo.nii.gz (--target pseudo: the final "
                   "model) or on labels.nii.gz (--target labels: the fully supervised reference). Cases listed as "
                   "test in DATASET/split.json are never trained on. The options shown are those of the pipeline "
                   "given with --pipeline (the default one without it): 'pointseg train --pipeline NAME --help' "
                   "shows another's.")

    def add_arguments(self, p, argv):
        from pointseg.train.pipelines import DEFAULT_PIPELINE, PIPELINES

        first = argparse.ArgumentParser(add_help=False)
        first.add_argument("--pipeline", default=DEFAULT_PIPELINE)
        chosen = first.parse_known_args(list(argv))[0].pipeline
        PIPELINES.add_option(p, "--pipeline", DEFAULT_PIPELINE, "which pipeline to train")
        p.add_argument("dataset", help="dataset folder")
        p.add_argument("--target", choices=SUPERVISED_TARGETS, required=True,
                       help=" or ".join(f"{t} ({TARGETS[t]})" for t in SUPERVISED_TARGETS))
        p.add_argument("--out", required=True, help="run folder (checkpoint, config, split, logs)")
        if chosen not in PIPELINES:
            return  # the --pipeline choice is refused when the line is parsed
        pipeline = PIPELINES.build(chosen)
        add_profile(p, "network and sizes", pipeline.profiles, pipeline.default_profile)
        add_training(p, "trainable labelled cases held out for validation")
        if pipeline.losses:
            p.add_argument("--loss", choices=pipeline.losses, help=f"override the profile's loss: {pipeline.loss_help}")
        add_labels(p, default=pipeline.default_label_set)
        pipeline.add_arguments(p.add_argument_group(f"{chosen} options"))

    def run(self, args):
        from pointseg.train.pipelines import PIPELINES

        pipeline = PIPELINES.build(args.pipeline)
        check_run_folder(args.out, args.resume, pipeline.name, args.labels)
        run = pipeline.train(args.dataset, args.target, args.out, profile=args.profile, seed=args.seed,
                             resume=args.resume, device=args.device, epochs=args.epochs, steps_per_epoch=args.steps,
                             val_cases=args.val_cases, label_set=args.labels, **pipeline.settings(args))
        print(f"{pipeline.name} on {TARGETS[args.target]}: run in {run}")
        return 0


class Predict(Command):
    def add_arguments(self, p, argv):
        p.add_argument("run", help="run folder (or checkpoint file)")
        p.add_argument("ct", help="CT file or DICOM folder")
        p.add_argument("--out", required=True, help="labels NIfTI to write (on the CT's grid)")
        p.add_argument("--probabilities", metavar="H5", help="also write class probabilities (HDF5, float16; 2D runs)")
        add_device(p)
        p.add_argument("--batch-size", type=int, default=8, help="slices (2D) or windows (3D) per forward pass")

    def run(self, args):
        from pointseg.predict import predict_file

        out = predict_file(args.run, args.ct, args.out, args.probabilities, args.device, args.batch_size,
                           show_progress=not args.quiet)
        print(f"labels written to {out}" + (f", probabilities to {args.probabilities}" if args.probabilities else ""))
        return 0


class Report(Command):
    description = ("Evaluate planar runs (on the annotated cases, with the pseudo-masks) and the supervised runs of "
                   "every pipeline, trained on pseudo-masks or on full labels (on the test cases of "
                   "DATASET/split.json, or the labelled cases without clicks, and on their training cases), compute "
                   "the labelling cost, and write report.md, report.html, report.json and PNG plots. Table 1 shows "
                   "the fcn8 runs; every other pipeline gets a section of its own.")

    def add_arguments(self, p, argv):
        p.add_argument("runs", nargs="+", metavar="RUN_OR_DIR", help="run folders, or folders holding them")
        p.add_argument("--out", required=True, help="report folder")
        p.add_argument("--dataset", help="dataset folder (default: the one the runs were trained on)")
        p.add_argument("--seconds-per-click", type=float, default=2.0,
                       help="click time when points.csv has no time_s (measured times are used when present)")
        p.add_argument("--seconds-per-slice", type=float, default=12.5, help="time to draw one structure on one slice")
        p.add_argument("--compare-with", metavar="REPORT_JSON",
                       help="an earlier report.json (or its folder): its Table 1 numbers are shown next to these, "
                            "row by row where measured on the same cases")
        add_device(p)

    def run(self, args):
        from pointseg.device import resolve_device
        from pointseg.io.atomic import check_output
        from pointseg.metrics.cost import CostModel
        from pointseg.report import write_report
        from pointseg.report.collect import collect_results

        out = check_output(args.out, folder=True)
        cost = CostModel(seconds_per_click=args.seconds_per_click, seconds_per_structure_slice=args.seconds_per_slice)
        results = collect_results(args.runs, args.dataset, out, resolve_device(args.device), cost)
        paths = write_report(results, out, earlier=args.compare_with)
        print(f"report written to {paths['markdown']} and {paths['html']}")
        return 0


def check_run_folder(out: str, resume: bool, pipeline: str, label_set: str) -> None:
    """Before any work: ``--out`` must be a folder a run can be written to, and a run resumed there must be
    one of this pipeline and label set (one line naming the folder otherwise)."""
    from pointseg.io.atomic import check_output
    from pointseg.runs import CONFIG_NAME, check_run_label_set, read_run_info

    folder = check_output(out, folder=True)
    if resume and (folder / CONFIG_NAME).exists():
        info = read_run_info(folder)
        if info.pipeline != pipeline:
            raise InputError(f"this run was made by the {info.pipeline} pipeline; resume it with --pipeline "
                             f"{info.pipeline}, or start a {pipeline} run in another folder", folder)
        check_run_label_set(folder, info.label_set, label_set)
