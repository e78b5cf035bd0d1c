"""The volumetric engine: patches, sampling balance, sliding window on the CT's grid, training, resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pointseg.labels import get_label_set
from pointseg.metrics.dice import dice_scores
from pointseg.models import build_model
from pointseg.io.volume import Volume, read_volume
from pointseg.predict.volume import VolumetricPredictor, labels_to_grid, sliding_window_labels
from pointseg.train.unet3d import PROFILES, UNet3DTrainer
from pointseg.train.volumetric import (PatchDataset, VolumetricConfig, default_views, make_volumetric_config,
                                       patch_loader, patch_transforms)
from pointseg.train.cases import class_indices
from tests.conftest import oblique_affine, write_case


def coded_dataset(root: Path, cases: int = 3, seed: int = 0) -> Path:
    """Cases with four boxes at random places: two bright ones of class 1 (1000 HU), two dim ones of
    class 2 (250 HU), in soft tissue (learnable from intensity alone)."""
    rng = np.random.default_rng(seed)
    for n in range(cases):
        labels = np.zeros((44, 40, 52), np.uint8)
        for c in (1, 2, 1, 2):
            i, j, k = rng.integers(2, 30), rng.integers(2, 26), rng.integers(2, 38)
            labels[i:i + 12, j:j + 12, k:k + 12] = c
        ct = np.choose(labels, [-100, 1000, 250]).astype(np.int16)
        affine = oblique_affine((3.0, 2.5, 3.5)) if n == cases - 1 else np.diag([3.0, 3.0, 3.0, 1.0])
        write_case(root, f"case{n}", labels, affine, ct)
    return root


def test_no_new_net_is_instance_norm_and_leaky_relu_002():
    model = build_model("no_new_net", num_classes=62, filters=(4, 8, 16))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.InstanceNorm3d)]
    acts = [m for m in model.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert norms and all(m.affine for m in norms)
    assert acts and all(m.negative_slope == pytest.approx(0.02) for m in acts)
    assert not any(isinstance(m, (torch.nn.BatchNorm3d, torch.nn.ReLU)) for m in model.modules())
    assert model(torch.zeros(1, 1, 16, 16, 16)).shape == (1, 62, 16, 16, 16)


def _presence(sampling: str, item: dict, draws: int, num_classes: int) -> np.ndarray:
    config = VolumetricConfig(patch=(16, 16, 16), sampling=sampling, intensity=False)
    if sampling == "balanced":
        item = class_indices(item, num_classes, 100000, seed=0)
    views = default_views(config)
    dataset = PatchDataset([item], patch_transforms(config, views), views)
    seen = np.zeros(num_classes)
    for batch in patch_loader(dataset, draws, 1, seed=3):
        seen[np.unique(batch["label"].numpy())] += 1
    return seen / draws


def test_balanced_sampling_puts_every_class_in_patches_equally_often():
    # background, one large class (a third of the volume) and four 3-voxel cubes in far corners
    label = np.zeros((64, 64, 64), np.uint8)
    label[:, :, :21] = 1
    for c, corner in zip(range(2, 6), [(2, 2, 40), (59, 59, 59), (2, 59, 30), (59, 2, 50)]):
        label[tuple(slice(x, x + 3) for x in corner)] = c
    item = {"image": label[None].astype(np.float16) / 5, "label": label[None]}
    balanced = _presence("balanced", item, 300, 6)
    uniform = _presence("uniform", item, 300, 6)
    # Balanced: each tiny class is the centre class with probability 1/6, so it is in at least ~1/6 of the
    # patches. Uniform: a 16-voxel patch holds a 3-voxel corner cube in (3/49)^3-ish of the positions.
    assert balanced[2:].min() > 0.12, balanced
    assert uniform[2:].max() < 0.05, uniform
    assert balanced[2:].min() > 4 * max(uniform[2:].max(), 0.01)


def test_labels_to_grid_interpolates_each_class_by_hand():
    # model grid: 4 voxels of 2 mm along k, labels 0 1 1 0; CT grid: 8 voxels of 1 mm over the same extent.
    # CT voxel x sits at model coordinate u = x / 2 - 0.25; class 1's indicator interpolated there:
    # x: 0 -> 0 (edge), 1 -> .25, 2 -> .75, 3 -> 1, 4 -> 1, 5 -> .75, 6 -> .25, 7 -> 0. Background is 1 - that,
    # so x = 2..5 are class 1.
    source = Volume(np.array([0, 1, 1, 0], np.uint8).reshape(1, 1, 4), np.diag([2.0, 2.0, 2.0, 1.0]))
    affine = np.diag([2.0, 2.0, 1.0, 1.0])
    affine[2, 3] = -0.5  # voxel edges shared with the 2 mm grid (whose first voxel centre is at 0)
    out = labels_to_grid(source, (1, 1, 8), affine, 2)
    assert out.ravel().tolist() == [0, 0, 1, 1, 1, 1, 0, 0]


class Threshold(torch.nn.Module):
    """A 'network' that calls a voxel class 1 where its input exceeds 0.5, pointwise."""

    def forward(self, x):
        return torch.cat([torch.zeros_like(x), 40.0 * (x - 0.5)], dim=1)


def test_sliding_window_on_an_oblique_anisotropic_grid_lands_on_the_ct_grid():
    affine = oblique_affine(spacing=(1.2, 0.9, 2.5), degrees=25.0)
    shape = (60, 70, 30)
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    world = (affine[:3, :3] @ ijk.T).T + affine[:3, 3]
    center = affine[:3, :3] @ (np.array(shape) / 2) + affine[:3, 3]
    sphere = (np.linalg.norm(world - center, axis=1) < 20.0).reshape(shape).astype(np.uint8)
    ct = Volume(np.where(sphere, 1000, -200).astype(np.int16), affine)
    config = {"spacing": 2.0, "patch": [16, 16, 16], "overlap": 0.5, "label_set": "lumbar",
              "window": [-450.0, 1050.0], "postprocess": "none"}
    prediction = VolumetricPredictor(Threshold(), get_label_set("lumbar"), config).predict(ct)
    labels = prediction.labels
    assert set(prediction.maps) == {"labels"} and labels.shape == shape
    # the 2 mm prediction brought back onto the oblique 1.2 x 0.9 x 2.5 mm grid matches the sphere there
    assert dice_scores(labels, sphere, 2).dice[1] > 0.95
    found = (affine[:3, :3] @ np.argwhere(labels == 1).mean(0)) + affine[:3, 3]
    truth = (affine[:3, :3] @ np.argwhere(sphere == 1).mean(0)) + affine[:3, 3]
    assert np.linalg.norm(found - truth) < 1.0  # mm


class Blur(torch.nn.Module):
    """A fixed 'network' with a receptive field: two passes of a 3 x 3 x 5 box mean (zero-padded, as a
    convolution is at a window's edges), class 1 where the result exceeds 0.45. A voxel's class depends on
    voxels up to 4 away along the last axis, and on where the window around it sits."""

    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", torch.full((1, 1, 3, 3, 5), 1.0 / 45))

    def forward(self, x):
        for _ in range(2):
            x = torch.nn.functional.conv3d(x, self.kernel.to(x.dtype), padding=(1, 1, 2))
        return torch.cat([torch.zeros_like(x), 40.0 * (x - 0.45)], dim=1)


def test_slabs_give_the_same_labels_as_one_pass(monkeypatch):
    import pointseg.predict.volume as volume

    rng = np.random.default_rng(1)
    image = rng.random((20, 24, 70)).astype(np.float32)  # slabs along the last (longest) axis
    patch, cut = (8, 8, 8), []
    whole = sliding_window_labels(Blur(), image, patch, 2, overlap=0.5)
    assert 0.2 < whole.mean() < 0.5

    def recorded(*args, slabs=volume._slabs):
        cut.extend(slabs(*args))
        return cut

    monkeypatch.setattr(volume, "_slabs", recorded)
    # a budget of about 13 planes: cores of 12 planes (a whole number of the windows' 4-plane stride) with a
    # window's worth (8 planes) of context on each side
    slabbed = sliding_window_labels(Blur(), image, patch, 2, overlap=0.5, slab_bytes=13 * 20 * 24 * 4 * (2 + 1))
    assert [(a, b) for _, _, a, b in cut] == [(0, 12), (12, 24), (24, 36), (36, 48), (48, 60), (60, 70)]
    assert all(a - start == 8 or a == 0 for start, _, a, _ in cut) and all(stop - b == 8 or b == 70 for _, stop, _, b in cut)
    assert np.array_equal(slabbed, whole)
    first = list(cut)
    for planes in (10, 17):  # any budget: the cores are cut to the stride, the labels stay the same
        assert np.array_equal(sliding_window_labels(Blur(), image, patch, 2, overlap=0.5,
                                                    slab_bytes=planes * 20 * 24 * 4 * (2 + 1)), whole), planes
    assert np.array_equal(sliding_window_labels(Blur(), image, patch, 2, overlap=0.25,
                                                slab_bytes=13 * 20 * 24 * 4 * 3), sliding_window_labels(
        Blur(), image, patch, 2, overlap=0.25))  # stride 6, a window of 8: contexts of 12 planes
    per_axis = (0.5, 0.5, 0.25)  # one overlap per axis; the slab axis (the last) takes its own
    assert np.array_equal(sliding_window_labels(Blur(), image, patch, 2, overlap=per_axis, slab_bytes=13 * 20 * 24 * 12),
                          sliding_window_labels(Blur(), image, patch, 2, overlap=per_axis))

    # the test has teeth: each core predicted alone, without its neighbours' context, differs at the seams
    # (the pointwise Threshold, which has no receptive field, cannot tell the two apart)
    alone = [np.s_[..., a:b] for _, _, a, b in first]
    no_context = np.concatenate([sliding_window_labels(Blur(), image[c], patch, 2, overlap=0.5) for c in alone], axis=2)
    assert (no_context != whole).mean() > 0.02
    pointwise = np.concatenate([sliding_window_labels(Threshold(), image[c], patch, 2, overlap=0.5) for c in alone], axis=2)
    assert np.array_equal(pointwise, sliding_window_labels(Threshold(), image, patch, 2, overlap=0.5))


def _trainer(dataset: Path, out: Path, **overrides) -> UNet3DTrainer:
    config = make_volumetric_config(PROFILES, "tiny", "labels", label_set="lumbar", **overrides)
    return UNet3DTrainer(dataset, config, out, torch.device("cpu"))


def test_tiny_unet3d_learns_the_classes(tmp_path):
    dataset = coded_dataset(tmp_path / "ds", cases=4)
    (dataset / "split.json").write_text('{"test": ["case3"]}', encoding="utf-8")
    trainer = _trainer(dataset, tmp_path / "run", epochs=4, steps_per_epoch=25, patch=(24, 24, 24), lr=1e-2)
    history = trainer.fit()
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    from pointseg.predict import load_model

    model = load_model(tmp_path / "run")
    test = dataset / "case3"
    labels = model.predict(read_volume(test / "ct.nii.gz")).labels
    truth = read_volume(test / "labels.nii.gz").array
    dice = dice_scores(labels, truth, 6)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert dice.dice[1] > 0.7 and dice.dice[2] > 0.7, dice.dice


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    dataset = coded_dataset(tmp_path / "ds", cases=2)
    straight = _trainer(dataset, tmp_path / "straight", epochs=2, steps_per_epoch=3)
    straight.fit()
    _trainer(dataset, tmp_path / "resumed", epochs=1, steps_per_epoch=3).fit()
    resumed = _trainer(dataset, tmp_path / "resumed", epochs=2, steps_per_epoch=3)
    resumed.resume = True
    resumed.fit()
    assert resumed.step == straight.step == 6
    for (name, a), b in zip(straight.network.state_dict().items(), resumed.network.state_dict().values()):
        assert torch.equal(a, b), name


def test_unet3d_command_line_options_and_one_line_errors(tmp_path, capsys):
    from pointseg.cli import main
    dataset = coded_dataset(tmp_path / "ds", cases=2)
    base = ["train", str(dataset), "--pipeline", "unet3d", "--target", "labels", "--profile", "tiny", "--quiet",
            "--labels", "lumbar"]
    assert main(base + ["--patch", "30", "--out", str(tmp_path / "a")]) == 2
    assert "multiples of 4" in capsys.readouterr().err.strip().splitlines()[-1]
    with pytest.raises(SystemExit) as refused:  # argparse: the choices are the pipeline's own losses
        main(base + ["--loss", "weighted_ce", "--out", str(tmp_path / "b")])
    assert refused.value.code == 2 and "invalid choice: 'weighted_ce'" in capsys.readouterr().err
    assert main(base + ["--target", "pseudo", "--out", str(tmp_path / "c")]) == 2
    assert "pseudo.nii.gz (run pointseg fuse first)" in capsys.readouterr().err
    assert main(base + ["--spacing", "0", "--out", str(tmp_path / "d")]) == 2
    assert "--spacing must be a positive number of mm, not 0" in capsys.readouterr().err
    assert main(base + ["--batch-size", "0", "--out", str(tmp_path / "e")]) == 2
    assert "--batch-size must be at least 1, not 0" in capsys.readouterr().err
    assert main(base + ["--filters", "4", "8", "--out", str(tmp_path / "f")]) == 2
    assert "--filters needs three or more levels of at least 1 filter, not 4 8" in capsys.readouterr().err
    assert main(base + ["--sampling", "uniform", "--patch", "16", "--elastic", "--loss", "ce", "--epochs", "1",
                        "--steps", "2", "--spacing", "3", "--batch-size", "2", "--filters", "6", "12", "24",
                        "--out", str(tmp_path / "run")]) == 0
    import json

    saved = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    assert saved["run"] == {"pipeline": "unet3d", "predictor": "volume", "label_set": "lumbar", "target": "labels",
                            "axis": None}
    config = saved["config"]
    assert (config["sampling"], config["patch"], config["elastic"], config["loss"]) == ("uniform", [16, 16, 16], True, "ce")
    assert (config["spacing"], config["batch_size"]) == (3.0, 2)
    assert config["model"] == {"name": "no_new_net", "num_classes": 6, "filters": [6, 12, 24]}
    ct = dataset / "case1" / "ct.nii.gz"
    assert main(["predict", str(tmp_path / "run"), str(ct), "--out", str(tmp_path / "p.nii.gz"), "--quiet"]) == 0
    assert read_volume(tmp_path / "p.nii.gz").same_grid(read_volume(ct))
    assert main(["predict", str(tmp_path / "run"), str(ct), "--out", str(tmp_path / "q.nii.gz"),
                 "--probabilities", str(tmp_path / "q.h5"), "--quiet"]) == 2
    assert "writes labels only" in capsys.readouterr().err


def test_gradient_accumulation_equals_the_larger_batch(tmp_path):
    # With cross-entropy alone (a mean over voxels) and instance norm (per patch), two accumulated batches of
    # one patch give the gradient of one batch of the same two patches.
    from pointseg.train import distributed

    dataset = coded_dataset(tmp_path / "ds", cases=2)
    grads = {}
    for name, batch, accumulate in (("batch2", 2, 1), ("accumulate2", 1, 2)):
        trainer = _trainer(dataset, tmp_path / name, epochs=1, steps_per_epoch=1, loss="ce", intensity=False,
                           batch_size=batch, accumulate=accumulate)
        trainer.dist = distributed.context(trainer.device)
        torch.manual_seed(0)
        trainer.build()
        trainer.optimizer.step = lambda *args, **kwargs: None  # keep the gradient, do not step
        trainer.on_epoch_start(0)
        terms = trainer.train_step(trainer.next_batch())
        grads[name] = ({k: p.grad.clone() for k, p in trainer.network.named_parameters()}, terms["ce"])
    assert grads["batch2"][1] == pytest.approx(grads["accumulate2"][1], rel=1e-5)
    for key, value in grads["batch2"][0].items():
        assert torch.allclose(value, grads["accumulate2"][0][key], rtol=1e-4, atol=1e-7), key
