"""The final and reference models: weighted cross-entropy on pseudo-masks or full labels."""

import json

import numpy as np
import pytest
import torch

from pointseg.cli import main
from pointseg.runs import load_checkpoint, read_run_info, run_info_from
from pointseg.simulate.cases import write_phantoms
from pointseg.io.volume import Volume, read_volume, write_nifti
from pointseg.train.supervised import SupervisedTrainer, make_supervised_config, median_frequency_weights, train_supervised


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Three coarse phantoms; case 0 and 1 get a pseudo-mask (a copy of the labels with L5 dropped), case 2 is test."""
    root = tmp_path_factory.mktemp("sup")
    write_phantoms(root, 3, seed=8, spacing=(4.0, 4.0, 4.0))
    for name in ("phantom_000", "phantom_001"):
        labels = read_volume(root / name / "labels.nii.gz")
        pseudo = np.where(labels.array == 5, 0, labels.array).astype(np.uint8)
        write_nifti(Volume(pseudo, labels.affine), root / name / "pseudo.nii.gz")
    (root / "split.json").write_text(json.dumps({"test": ["phantom_002"]}))
    return root


def test_median_frequency_weights_by_hand():
    class Stack:
        def __init__(self, labels):
            self.labels = labels

    # counts: background 6, class 1: 3, class 2: 1 -> freq .6 .3 .1, median .3 -> weights .5, 1, 3
    stack = Stack(np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2], dtype=np.uint8))
    weights = median_frequency_weights([stack], 4)
    assert torch.allclose(weights, torch.tensor([0.5, 1.0, 3.0, 0.0]))


def test_train_on_pseudo_reads_pseudo_masks(dataset, tmp_path):
    config = make_supervised_config("tiny", "pseudo", epochs=1, steps_per_epoch=2, val_every=0)
    trainer = SupervisedTrainer(dataset, config, tmp_path / "run", torch.device("cpu"))
    trainer.build()
    assert trainer.split == {"train": ["phantom_000", "phantom_001"], "val": []}, "test cases never validate"
    targets = np.concatenate([s.labels.ravel() for s in trainer.batches.stacks])
    assert set(np.unique(targets)) == {0, 1, 2, 3, 4}, "the pseudo-masks (no L5), not the full labels"
    assert trainer.class_weights[5] == 0


def test_reference_learns_from_labels_and_predicts(dataset, tmp_path, capsys):
    run = tmp_path / "ref"
    args = ["train", str(dataset), "--pipeline", "fcn8", "--target", "labels", "--out", str(run), "--profile", "tiny",
            "--epochs", "2", "--steps", "15", "--quiet"]
    assert main(args) == 0
    checkpoint = load_checkpoint(run)  # weights_only: nothing but tensors, numbers, strings and containers
    assert checkpoint["config"]["target"] == "labels" and checkpoint["config"]["axis"] == "sagittal"
    info = read_run_info(run)  # the run folder says which pipeline made it
    assert (info.pipeline, info.target, info.predictor, info.label_set) == ("fcn8", "labels", "slices", "lumbar")
    assert info == run_info_from(checkpoint) and info.title == "fcn8 on full labels"
    assert checkpoint["split"] == {"train": ["phantom_000", "phantom_001"], "val": []}
    history = checkpoint["history"]
    assert history[-1]["ce_dice"] < history[0]["ce_dice"]
    out = tmp_path / "pred.nii.gz"
    ct_path = dataset / "phantom_002" / "ct.nii.gz"
    assert main(["predict", str(run), str(ct_path), "--out", str(out), "--quiet"]) == 0
    assert read_volume(out).same_grid(read_volume(ct_path))


def test_train_without_pseudo_masks_is_a_clear_error(tmp_path, capsys):
    write_phantoms(tmp_path / "d", 1, seed=1, spacing=(4.0, 4.0, 4.0))
    assert main(["train", str(tmp_path / "d"), "--target", "pseudo", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "pseudo.nii.gz (run pointseg fuse first)" in capsys.readouterr().err


def test_supervised_losses_by_hand():
    from pointseg.train.supervised import SUPERVISED_LOSSES

    # Two pixels: logits [0, 0] (p = .5, .5) with target 0, and [ln 3, 0] (p = .75, .25) with target 1.
    logits = torch.tensor([[[[0.0, np.log(3.0)]], [[0.0, 0.0]]]], dtype=torch.float32)  # (B=1, C=2, H=1, W=2)
    target = torch.tensor([[[0, 1]]])
    ce = (-np.log(0.5) - np.log(0.25)) / 2  # 1.0397
    # soft Dice per class over the batch: class 0: 2 * .5 / (1.25 + 1) = .4444; class 1: 2 * .25 / (.75 + 1) = .2857
    dice_loss = 1 - (2 * 0.5 / 2.25 + 2 * 0.25 / 1.75) / 2
    weights = torch.tensor([0.25, 1.0])
    weighted = (0.25 * -np.log(0.5) + 1.0 * -np.log(0.25)) / 1.25
    assert float(SUPERVISED_LOSSES.build("ce")(logits, target)) == pytest.approx(ce, rel=1e-5)
    assert float(SUPERVISED_LOSSES.build("ce_dice")(logits, target)) == pytest.approx(ce + dice_loss, rel=1e-4)
    assert float(SUPERVISED_LOSSES.build("weighted_ce", class_weights=weights)(logits, target)) == pytest.approx(
        weighted, rel=1e-5)


def test_reference_learns_more_than_one_class(dataset, tmp_path):
    """A model that predicts background (or any one class) everywhere scores Dice_wi near 0 and fails this."""
    from pointseg.io.dataset import discover_cases
    from pointseg.predict import load_model
    from pointseg.metrics.dice import dice_scores

    run = train_supervised(dataset, "labels", tmp_path / "ref", profile="tiny", seed=0, epochs=1, steps_per_epoch=400,
                           val_every=0)
    loaded = load_model(run)
    case = next(c for c in discover_cases(dataset) if c.id == "phantom_000")
    truth = case.load_labels().array
    pred = loaded.predict(case.load_ct()).labels
    learned = dice_scores(pred, truth, 6)
    constant = max(dice_scores(np.full_like(truth, k), truth, 6).dice_wi for k in range(6))
    assert constant < 0.01
    assert len(np.unique(pred)) == 6, "every vertebra and the background appear"
    assert learned.dice_wi > 0.5, learned.dice
    assert min(learned.dice[1:]) > 0.3, learned.dice
