"""``pointseg evaluate``: a prediction against its ground truth, as a table or as JSON."""

from __future__ import annotations

import json

from pointseg.cli.command import Command, add_labels
from pointseg.errors import InputError


class Evaluate(Command):
    description = ("Per-class Dice and Dice_wi; with many classes or groups also the median Dice of the detected "
                   "classes (Dice > 0) with its distances to the 16th and 84th percentiles, the detection ratio dr "
                   "and the foreground Dice fg of all bone together, per group and over all classes.")

    def add_arguments(self, p, argv):
        p.add_argument("pred", help="predicted label map (NIfTI, NRRD, MHA)")
        p.add_argument("gt", help="ground-truth label map on the same grid")
        p.add_argument("--json", action="store_true", help="print JSON (top-level dice_wi, dice by class name)")
        add_labels(p)

    def run(self, args):
        import numpy as np

        from pointseg.io.dataset import case_labels_in
        from pointseg.io.volume import read_volume
        from pointseg.labels import get_label_set
        from pointseg.metrics.dice import dice_scores
        from pointseg.metrics.summary import scores_as_dict

        label_set = get_label_set(args.labels)
        pred, gt = read_volume(args.pred), case_labels_in(args.gt, label_set)
        difference = pred.grid_difference(gt, names=("prediction", "ground truth"))
        if difference is not None:
            raise InputError(f"not on the ground truth's grid: {difference}", args.pred)
        for volume in (pred, gt):
            values = np.unique(volume.array)
            if values.min() < 0 or values.max() >= label_set.num_classes or not np.all(np.mod(values, 1) == 0):
                raise InputError(f"label ids must be integers in 0..{label_set.num_classes - 1}", volume.path)
        result = scores_as_dict(dice_scores(pred.array, gt.array, label_set.num_classes), label_set)
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
            print_many_class(result["many_class"])
        return 0


def print_many_class(many: dict) -> None:
    """The many-class table: median DSC of the detected classes with its distances to the 16th/84th
    percentiles, detection ratio and foreground DSC, per group and over all classes."""
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
