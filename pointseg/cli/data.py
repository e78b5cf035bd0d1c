"""Commands on data: phantoms, simulated clicks, importing, checking and preprocessing datasets, the demo,
and the napari annotation window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pointseg.cli.command import Command, add_device, add_labels, add_profile, add_seed, spacing
from pointseg.errors import InputError


class Demo(Command):
    description = ("Phantoms -> simulated clicks -> three weak planar models -> fused pseudo-masks -> final and "
                   "reference models -> label-efficiency curve -> cost-vs-accuracy report (report/report.html).")

    def add_arguments(self, p, argv):
        p.add_argument("--out", default="out/demo", help="output folder (must not hold a demo yet)")
        add_seed(p)
        p.add_argument("--cases", type=int, default=3, help="annotated phantom cases (clicked, used for training)")
        p.add_argument("--test-cases", type=int, default=2, help="test phantom cases (never trained on)")
        add_profile(p, "network and sizes of every model")
        p.add_argument("--no-curve", action="store_true", help="skip the label-efficiency curve (saves most of the time)")
        add_device(p)

    def run(self, args):
        from pointseg.demo import run_demo

        report = run_demo(Path(args.out), seed=args.seed, annotated=args.cases, test=args.test_cases,
                          profile=args.profile, curve=not args.no_curve, device=args.device)
        print(f"demo finished; the report is {report}")
        return 0


class Annotate(Command):
    description = ("Open a case folder (DATASET/<case>/ with ct.nii.gz), a CT file or a DICOM folder in napari with "
                   "the annotation widget docked. Number keys pick the first structures of the label set and 0 "
                   "background (sets of more than 10 structures get a searchable list instead); a click adds a "
                   "point; every change is saved at once to the case's points.csv. 'Build pseudo-mask' runs fuse "
                   "for the case.")

    def add_arguments(self, p, argv):
        p.add_argument("path", nargs="?", metavar="CASE_OR_CT", help="case folder, CT file or DICOM folder (optional)")
        add_labels(p)

    def run(self, args):
        try:
            from pointseg.annotate.app import load_layers, open_annotation, preload_training
        except ImportError as exc:
            raise InputError(f"pointseg annotate needs napari ({exc}): pip install 'pointseg[napari]'") from exc

        layers = load_layers(args.path, args.labels) if args.path is not None else []  # bad input: no window
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                     or os.environ.get("QT_QPA_PLATFORM")):
            raise InputError("no display to open napari on (set DISPLAY, or run under xvfb-run for a virtual one)")
        preload_training()  # before any OpenGL context exists, and so the first build does not freeze the viewer
        import napari

        open_annotation(args.path, labels=args.labels, layers=layers)
        napari.run()
        return 0


class Phantom(Command):
    def add_arguments(self, p, argv):
        from pointseg.phantom import ANATOMIES

        p.add_argument("out", help="dataset folder to write phantom_NNN/ cases into")
        p.add_argument("--anatomy", choices=tuple(ANATOMIES), default=next(iter(ANATOMIES)),
                       help="lumbar: L1-L5 labels; upper-body: neck to mid-femur, every bone and the main organs "
                            "labelled in the label set upper_body")
        p.add_argument("--cases", type=int, default=1, help="number of cases")
        add_seed(p, "random seed (same seed, same cases)")
        p.add_argument("--spacing", type=float, nargs="+", metavar="MM",
                       help="voxel size in mm: one value, or three along i j k, e.g. 1 1 3 (default 1.5)")
        p.add_argument("--orientation", default="RAS", metavar="AXCODES",
                       help="orientation of the written arrays, e.g. RAS, LPS, PIR")
        p.add_argument("--preview", action="store_true", help="also write preview.png (sagittal, coronal, axial)")
        p.add_argument("--force", action="store_true", help="overwrite existing cases")

    def run(self, args):
        from pointseg.simulate.cases import write_phantoms

        written = write_phantoms(Path(args.out), args.cases, args.seed, spacing(args.spacing), args.orientation,
                                 args.preview, args.force, anatomy=args.anatomy)
        print(f"wrote {len(written)} phantom case(s) to {args.out}")
        return 0


class SimulateClicks(Command):
    def add_arguments(self, p, argv):
        from pointseg.simulate.clicks import STRATEGIES

        p.add_argument("dataset", help="dataset folder")
        p.add_argument("--per-class", type=int, default=5, metavar="K", help="clicks inside each structure")
        p.add_argument("--background", type=int, default=15, metavar="B", help="background clicks: 40%% on other "
                       "bone, 30%% on soft tissue near the structures, the rest anywhere")
        p.add_argument("--strategy", choices=STRATEGIES, default=STRATEGIES[0],
                       help="random interior points or points near the centre")
        p.add_argument("--jitter-mm", type=float, default=0.0, help="annotator-like jitter (never leaves the structure)")
        p.add_argument("--margin-mm", type=float, default=3.0, help="minimum distance from the structure's border")
        add_seed(p)
        p.add_argument("--force", action="store_true", help="overwrite existing points.csv files")
        add_labels(p)

    def run(self, args):
        from pointseg.labels import get_label_set
        from pointseg.simulate.cases import write_simulated_clicks
        from pointseg.simulate.clicks import ClickConfig

        config = ClickConfig(per_class=args.per_class, background=args.background, strategy=args.strategy,
                             jitter_mm=args.jitter_mm, margin_mm=args.margin_mm)
        cases = write_simulated_clicks(Path(args.dataset), get_label_set(args.labels), config, args.seed, args.force)
        print(f"wrote points.csv for {len(cases)} case(s)")
        return 0


class Import(Command):
    def add_arguments(self, p, argv):
        from pointseg.io.importers import IMPORTERS

        IMPORTERS.add_option(p, "format", None, "layout of the source")
        p.add_argument("source", help="source folder")
        p.add_argument("dataset", help="dataset folder to write")
        p.add_argument("--ts-version", type=int, choices=(1, 2), default=2,
                       help="TotalSegmentator version whose class ids a multi-label segmentations.nii.gz holds "
                            "(the per-structure segmentations/ folder needs none)")
        p.add_argument("--force", action="store_true", help="overwrite existing cases")
        add_labels(p)

    def run(self, args):
        from pointseg.io.importers import IMPORTERS, import_case
        from pointseg.labels import get_label_set
        from pointseg.progress import progress, say

        source, dataset = Path(args.source), Path(args.dataset)
        if not source.is_dir():
            raise InputError("source folder does not exist", source)
        label_set = get_label_set(args.labels)
        found = list(IMPORTERS.lookup(args.format)(source, args.ts_version))
        if not found:
            raise InputError(f"no {args.format} cases found", source)
        for case in progress(found, f"import {args.format}"):
            import_case(case, dataset, label_set, args.force)
            if case.load_labels is None:
                say(f"{case.id}: no labels found, imported the CT only")
        print(f"imported {len(found)} case(s) into {dataset}")
        return 0


class Check(Command):
    def add_arguments(self, p, argv):
        p.add_argument("dataset", help="dataset folder")
        add_labels(p)

    def run(self, args):
        from pointseg.io.dataset import check_case, discover_cases, held_out_case_ids
        from pointseg.labels import get_label_set
        from pointseg.progress import progress

        label_set = get_label_set(args.labels)
        cases = discover_cases(args.dataset)
        held_out_case_ids(args.dataset)  # a split.json naming no case is an error, not a silent nothing
        problems = {case.id: check_case(case, label_set) for case in progress(cases, "check")}
        for case in cases:
            found = problems[case.id]
            extras = [name for name, present in (("labels", case.labels_path), ("points", case.has_points)) if present]
            print(f"{case.id}: {'ok' if not found else f'{len(found)} problem(s)'} ({', '.join(['ct'] + extras)})")
            for problem in found:
                print(f"  - {problem}")
        total = sum(len(p) for p in problems.values())
        if total:
            print(f"{total} problem(s) in {sum(1 for p in problems.values() if p)} of {len(cases)} case(s)",
                  file=sys.stderr)
            return 2
        print(f"all {len(cases)} case(s) ok")
        return 0


class Preprocess(Command):
    def add_arguments(self, p, argv):
        p.add_argument("dataset", help="dataset folder")
        p.add_argument("--axis", default="all", help="axial, coronal, sagittal or all")
        p.add_argument("--spacing", type=float, default=1.0, help="isotropic resampling in mm")
        p.add_argument("--size", type=int, default=352, help="slice height and width after crop/pad")
        p.add_argument("--cache", help="cache folder (default DATASET/.pointseg-cache)")
        add_labels(p)

    def run(self, args):
        from pointseg.imaging.preprocess import AXES, PreprocessConfig, normalize_axis
        from pointseg.imaging.stacks import cached_stack
        from pointseg.io.dataset import discover_cases
        from pointseg.labels import get_label_set
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
