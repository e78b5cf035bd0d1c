"""Weak planar training end to end on tiny data: learning, checkpoints, resume, prediction."""

import json

import h5py
import numpy as np
import pytest
import torch

from pointseg.cli import main
from pointseg.simulate.clicks import ClickConfig
from pointseg.io.dataset import discover_cases
from pointseg.predict.planar import predict_slices
from pointseg.runs import load_checkpoint
from pointseg.labels import get_label_set
from pointseg.imaging.preprocess import PreprocessConfig
from pointseg.simulate.cases import write_phantoms, write_simulated_clicks
from pointseg.io.volume import read_volume
from pointseg.train.config import make_config
from pointseg.train.planar import PlanarTrainer, split_cases, train_planar

LUMBAR = get_label_set()


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    """Three coarse (4 mm) phantom cases with 3 clicks per vertebra; the last keeps no clicks (validation)."""
    root = tmp_path_factory.mktemp("phantoms")
    write_phantoms(root, 3, seed=5, spacing=(4.0, 4.0, 4.0))
    write_simulated_clicks(root, LUMBAR, ClickConfig(per_class=3, background=6), seed=1)
    (root / "phantom_002" / "points.csv").unlink()
    return root


def test_split_keeps_validation_out_of_training(phantoms):
    cases = discover_cases(phantoms)
    split = split_cases(cases, val_cases=0, seed=0)
    assert split == {"train": ["phantom_000", "phantom_001"], "val": ["phantom_002"]}
    held = split_cases(cases, val_cases=1, seed=0)
    assert len(held["train"]) == 1 and len(held["val"]) == 2 and not set(held["train"]) & set(held["val"])


def test_test_cases_never_validate(phantoms):
    cases = discover_cases(phantoms)
    split = split_cases(cases, val_cases=0, seed=0, held_out_ids={"phantom_002"})
    assert split == {"train": ["phantom_000", "phantom_001"], "val": []}
    split = split_cases(cases, val_cases=1, seed=0, held_out_ids={"phantom_002"})
    assert len(split["train"]) == 1 and split["val"] != [] and "phantom_002" not in split["val"]


def test_tiny_model_learns_the_clicked_pixels(phantoms, tmp_path):
    # 2.5 mm pixels: the final upsampling is a fixed 8x bilinear, so coarser pixels blur neighbouring vertebrae
    # the point and extent terms only, so that 200 steps suffice; the other terms have their own tests
    config = make_config("tiny", axis="sagittal", epochs=1, steps_per_epoch=200, lr=3e-3, seed=0, val_every=0,
                         width=0.125, preprocess=PreprocessConfig(spacing=2.5, size=(112, 112)),
                         loss_weights={"point": 1.0, "consistency": 0.0, "separation": 0.0, "extent": 1.0})
    trainer = PlanarTrainer(phantoms, config, tmp_path / "run", torch.device("cpu"))
    trainer.build()
    trainer.model.to("cpu")
    stacks = trainer.batches.data.stacks

    def click_accuracy():
        hits = total = 0
        for stack in stacks:
            probs = predict_slices(trainer.model, stack.image, context=config.context)
            s, r, c = stack.point_pixels().T
            hits += int((probs[s, :, r, c].argmax(axis=1) == stack.point_labels).sum())
            total += len(s)
        return hits / total

    before = click_accuracy()
    losses = [trainer.train_step(trainer.next_batch())["point"] for _ in range(200)]
    after = click_accuracy()
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), "the point loss falls"
    assert after >= 0.75 and after > before + 0.3, (before, after)


def test_run_folder_resume_and_predict(phantoms, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    # a run of 2 epochs interrupted during its second epoch: the checkpoint of epoch 1 stays
    original = PlanarTrainer.validate

    def interrupt_in_epoch_2(self):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(PlanarTrainer, "validate", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_planar(phantoms, "coronal", run, profile="tiny", seed=3, epochs=2)
    monkeypatch.setattr(PlanarTrainer, "validate", original)
    checkpoint = load_checkpoint(run)
    assert checkpoint["epoch"] == 1 and checkpoint["step"] == 4
    assert checkpoint["seed"] == 3 and checkpoint["version"]
    assert checkpoint["split"] == {"train": ["phantom_000", "phantom_001"], "val": ["phantom_002"]}
    assert checkpoint["config"]["model"] == {"name": "vgg16_fcn8", "num_classes": 6, "width": 0.0625,
                                             "batch_norm": True, "output_stride": 2, "dropout": 0.1}
    for name in ("config.json", "split.json", "log.jsonl", "validation.json"):
        assert (run / name).exists(), name
    validation = json.loads((run / "validation.json").read_text(encoding="utf-8"))
    assert 0.0 <= validation["val_dice_wi"] <= 1.0 and set(validation["cases"]) == {"phantom_002"}

    # an existing run is never overwritten; --resume continues from the saved step
    args = ["train-planar", str(phantoms), "--axis", "coronal", "--out", str(run), "--profile", "tiny", "--quiet"]
    assert main(args + ["--seed", "3"]) == 2
    assert "already holds a trained run" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    resumed = load_checkpoint(run)
    assert resumed["epoch"] == 2 and resumed["step"] == 8
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]

    # the resumed run equals an uninterrupted one
    straight = tmp_path / "straight"
    train_planar(phantoms, "coronal", straight, profile="tiny", seed=3, epochs=2)
    uninterrupted = load_checkpoint(straight)
    for name, tensor in uninterrupted["model"].items():
        assert torch.allclose(tensor, resumed["model"][name], atol=1e-5), name

    # predict from the checkpoint alone: labels on the CT's grid, float16 probabilities
    ct_path = phantoms / "phantom_002" / "ct.nii.gz"
    out, probs = tmp_path / "pred.nii.gz", tmp_path / "probs.h5"
    assert main(["predict", str(run), str(ct_path), "--out", str(out), "--probabilities", str(probs), "--quiet"]) == 0
    ct, pred = read_volume(ct_path), read_volume(out)
    assert pred.same_grid(ct) and pred.array.dtype == np.uint8 and pred.array.max() < 6
    with h5py.File(probs) as f:
        data = f["probabilities"]
        assert data.dtype == np.float16 and data.shape == ct.shape + (6,)
        assert np.allclose(data[...].astype(np.float32).sum(-1)[pred.array > 0], 1.0, atol=0.02)


def test_predict_handles_the_real_case(phantoms, tmp_path):
    from tests.conftest import REAL_CASE

    run = tmp_path / "run"
    train_planar(phantoms, "axial", run, profile="tiny", seed=0, epochs=1, steps_per_epoch=1)
    out = tmp_path / "real_pred.nii.gz"
    assert main(["predict", str(run), str(REAL_CASE / "ct.nii.gz"), "--out", str(out), "--quiet"]) == 0
    ct, pred = read_volume(REAL_CASE / "ct.nii.gz"), read_volume(out)
    assert pred.same_grid(ct)


def test_training_errors(tmp_path, phantoms, capsys):
    assert main(["train-planar", str(tmp_path / "none"), "--axis", "axial", "--out", str(tmp_path / "r")]) == 2
    assert "dataset folder does not exist" in capsys.readouterr().err
    assert main(["train-planar", str(phantoms), "--axis", "oblique", "--out", str(tmp_path / "r")]) == 2
    assert "unknown axis" in capsys.readouterr().err
    assert main(["train-planar", str(phantoms), "--axis", "axial", "--out", str(tmp_path / "r"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), str(phantoms / "phantom_000" / "ct.nii.gz"), "--out", str(tmp_path / "p.nii.gz")]) == 2
    assert "no checkpoint here" in capsys.readouterr().err
