"""The volumetric engine's contract: named views cut around one centre (the same draws as MONAI's own crops),
the canonical orientation, and a toy pipeline with two inputs and two heads that moves in without touching
the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from pointseg.io.volume import Volume, read_volume
from pointseg.labels import get_label_set
from pointseg.predict.volume import VolumetricPredictor, normalise_ct, resample_ct
from pointseg.train.patches import View, cut
from pointseg.train.volumetric import (VolumetricConfig, VolumetricPipeline, VolumetricTrainer, default_views,
                                       patch_transforms)
from pointseg.train.cases import class_indices, prepare_case
from pointseg.io.dataset import discover_cases
from tests.train.test_volumetric import coded_dataset


def _item(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    label = np.zeros((40, 36, 44), np.uint8)
    for c in range(1, 5):
        i, j, k = rng.integers(0, 30, 3)
        label[i:i + 6, j:j + 6, k:k + 6] = c
    image = (label / 5 + rng.random(label.shape) * 0.1).astype(np.float16)
    return {"image": image[None], "label": label[None]}


def _monai_chain(sampling: str, patch, num_classes: int, elastic: bool):
    """The transforms the engine used before views: MONAI's own random crop of image and label together."""
    from monai.transforms import (Compose, EnsureTyped, Rand3DElasticd, RandCropByLabelClassesd, RandScaleIntensityd,
                                  RandShiftIntensityd, RandSpatialCropd)

    keys = ["image", "label"]
    crop = (RandCropByLabelClassesd(keys, label_key="label", spatial_size=patch, num_classes=num_classes,
                                    num_samples=1, indices_key="label_cls_indices", warn=False)
            if sampling == "balanced" else RandSpatialCropd(keys, roi_size=patch, random_size=False))
    steps = [crop, EnsureTyped(keys, data_type="tensor", dtype=(torch.float32, torch.int64), track_meta=False)]
    if elastic:
        steps.append(Rand3DElasticd(keys, sigma_range=(5.0, 8.0), magnitude_range=(40.0, 120.0), prob=0.5,
                                    rotate_range=(0.2, 0.2, 0.2), scale_range=(0.1, 0.1, 0.1),
                                    mode=("bilinear", "nearest"), padding_mode="border"))
    steps += [RandScaleIntensityd("image", factors=0.1, prob=0.5), RandShiftIntensityd("image", offsets=0.05, prob=0.5)]
    return Compose(steps)


@pytest.mark.parametrize("sampling,elastic", [("balanced", False), ("uniform", False), ("balanced", True)])
def test_views_draw_the_same_patches_as_monais_crops(sampling, elastic):
    patch = (16, 16, 16)
    config = VolumetricConfig(patch=patch, sampling=sampling, elastic=elastic)
    item = class_indices(_item(), 5, 1000, seed=0) if sampling == "balanced" else _item()
    ours = patch_transforms(config, default_views(config))
    theirs = _monai_chain(sampling, patch, 5, elastic)
    ours.set_random_state(seed=11)
    theirs.set_random_state(seed=11)
    for _ in range(12 if not elastic else 4):
        a = ours(dict(item))
        b = theirs(dict(item))
        b = b[0] if isinstance(b, list) else b
        assert torch.equal(torch.as_tensor(a["image"]).float(), torch.as_tensor(b["image"]).float())
        assert torch.equal(torch.as_tensor(a["label"]).long(), torch.as_tensor(b["label"]).long())


def test_cut_pads_outside_and_centres_like_monai():
    array = np.arange(10, dtype=np.float32)[None, :, None, None] * np.ones((1, 10, 3, 3), np.float32)
    out = cut(array, (1, 1, 1), (4, 3, 3), fill=-1.0)
    # start = centre - size // 2 = -1 along the first axis: one padded voxel, then 0, 1, 2
    assert out[0, :, 1, 1].tolist() == [-1.0, 0.0, 1.0, 2.0] and out.shape == (1, 4, 3, 3)


def test_a_context_view_is_centred_where_the_image_view_is():
    # the image is a ramp of its first coordinate; its half-resolution copy covers twice the extent
    ramp = np.broadcast_to(np.arange(64, dtype=np.float32)[:, None, None], (64, 32, 32)).copy()
    coarse = ramp.reshape(32, 2, 32, 32).mean(axis=1)[:, ::2, ::2]
    item = {"image": ramp[None], "label": np.zeros((1, 64, 32, 32), np.uint8), "image@2": coarse[None]}
    from pointseg.train.patches import CutViews

    views = (View("image", "image", (8, 8, 8)), View("label", "label", (8, 8, 8)),
             View("context_1", "image@2", (8, 8, 8), fill=-1.0))
    cutter = CutViews("uniform", (8, 8, 8), views)
    cutter.set_random_state(seed=3)
    for _ in range(10):
        out = cutter(item)
        image_centre = out["image"][0, 4, 4, 4]  # the centre voxel's ramp value
        context_centre = out["context_1"][0, 4, 4, 4]  # covers image voxels 2c, 2c + 1: ramp 2c + 0.5
        assert abs(context_centre - image_centre) <= 1.5
        assert out["context_1"].shape == (1, 8, 8, 8)
        line = out["context_1"][0, :, 4, 4]
        assert np.all(np.diff(line[line >= 0]) == 2.0)  # a context voxel spans two image voxels


def test_cases_are_prepared_in_one_orientation_whatever_their_files(tmp_path):
    labels = np.zeros((20, 24, 28), np.uint8)
    labels[2:8, 3:9, 4:10] = 1  # a box near the patient's left (low i in RAS+)
    ct = np.where(labels > 0, 1000, -100).astype(np.int16)
    ras = np.diag([2.0, 2.0, 2.0, 1.0])
    lps = np.diag([-2.0, -2.0, 2.0, 1.0])
    lps[:3, 3] = [19 * 2.0, 23 * 2.0, 0.0]  # the same voxels in space, stored flipped along i and j
    from tests.conftest import write_case

    write_case(tmp_path / "ds", "ras", labels, ras, ct)
    write_case(tmp_path / "ds", "lps", labels[::-1, ::-1].copy(), lps, ct[::-1, ::-1].copy())
    config = VolumetricConfig(spacing=2.0, patch=(8, 8, 8), label_set="lumbar")
    cases = {c.id: c for c in discover_cases(tmp_path / "ds")}
    a = prepare_case(cases["ras"], "labels", config, get_label_set("lumbar"))
    b = prepare_case(cases["lps"], "labels", config, get_label_set("lumbar"))
    assert np.array_equal(a["label"], b["label"]) and np.array_equal(a["image"], b["image"])


class RightSide(torch.nn.Module):
    """Class 1 on the first half of the window's first axis (the patient's left in RAS+), 0 elsewhere."""

    def forward(self, x):
        ramp = torch.arange(x.shape[2], dtype=torch.float32).view(1, 1, -1, 1, 1).expand_as(x)
        return torch.cat([ramp - x.shape[2] / 2, x.shape[2] / 2 - ramp], dim=1) * 10


def test_prediction_keeps_left_and_right_whatever_the_file_orientation():
    config = {"spacing": 2.0, "patch": [20, 12, 12], "overlap": 0.0, "label_set": "lumbar",
              "window": [-450.0, 1050.0], "postprocess": "none"}
    shape = (20, 12, 12)
    for affine in (np.diag([2.0, 2.0, 2.0, 1.0]), np.diag([-2.0, -2.0, 2.0, 1.0])):
        ct = Volume(np.zeros(shape, np.int16), affine)
        labels = VolumetricPredictor(RightSide(), get_label_set("lumbar"), config).predict(ct).labels
        world_x = (affine[:3, :3] @ np.argwhere(labels == 1).T + affine[:3, 3:4])[0]
        other_x = (affine[:3, :3] @ np.argwhere(labels == 0).T + affine[:3, 3:4])[0]
        # RAS+ world x grows toward the patient's right: class 1 lies left of everything else, in both files
        assert world_x.size and world_x.max() < other_x.min()


# ------------------------------------------------------------------------------------- a toy pipeline
class TwoHeads(torch.nn.Module):
    """Takes the image and a coarser context view, returns class logits and a foreground logit."""

    inputs = ("image", "context_1")
    outputs = ("logits", "foreground")
    divisor = 1

    def __init__(self, num_classes: int, width: int = 4):
        super().__init__()
        self.features = torch.nn.Conv3d(1, width, 3, padding=1)
        self.context = torch.nn.Linear(1, width)
        self.logits = torch.nn.Conv3d(width, num_classes, 1)
        self.foreground = torch.nn.Conv3d(width, 1, 1)

    def forward(self, image, context):
        bias = self.context(context.mean(dim=(2, 3, 4)))[:, :, None, None, None]
        h = torch.relu(self.features(image) + bias)
        return self.logits(h), self.foreground(h)


class TwoHeadLoss(torch.nn.Module):
    """Cross-entropy of the logits plus binary cross-entropy of the foreground head."""

    def forward(self, outputs, batch):
        ce = torch.nn.functional.cross_entropy(outputs["logits"].float(), batch["label"])
        fg = torch.nn.functional.binary_cross_entropy_with_logits(outputs["foreground"][:, 0].float(),
                                                                  (batch["label"] > 0).float())
        return ce + fg, {"ce": ce.detach(), "fg": fg.detach()}


@dataclass
class ToyConfig(VolumetricConfig):
    pipeline: str = "toy"
    network: str = "toy_two_heads"
    predictor: str = "toy_volume"
    loss: str = "toy_two_heads"
    width: int = 4

    def model_spec(self, num_classes):
        return {"name": self.network, "num_classes": num_classes, "width": self.width}


class ToyTrainer(VolumetricTrainer):
    def views(self):
        return default_views(self.config) + (View("context_1", "image@2", tuple(self.config.patch)),)


class ToyPredictor(VolumetricPredictor):
    """Cuts the context of each window from the half-resolution CT, decodes labels and a foreground map."""

    def inputs(self, ct, model_ct):
        coarse = normalise_ct(resample_ct(ct, 2 * self.spacing).array, tuple(self.config["window"]))
        return {**super().inputs(ct, model_ct), "image@2": coarse}

    def window(self, inputs, device):
        from pointseg.models import call_named

        def run(x, coords):
            centres = [[(s.start + s.stop) // 2 // 2 for s in c[2:]] for c in coords]
            context = np.stack([cut(inputs["image@2"][None], tuple(c), self.patch, 0.0) for c in centres])
            heads = call_named(self.model, {"image": x, "context_1": torch.from_numpy(context).float().to(device)})
            return {"probabilities": torch.softmax(heads["logits"].float(), 1),
                    "foreground": torch.sigmoid(heads["foreground"].float())}

        return run

    def decode(self):
        def decode(outputs):
            return {"labels": outputs["probabilities"][0].argmax(0).to(torch.uint8).numpy(),
                    "foreground": (outputs["foreground"][0, 0] > 0.5).to(torch.uint8).numpy()}

        return decode

    def channels(self):
        return self.label_set.num_classes + 1


class ToyPipeline(VolumetricPipeline):
    """Two inputs, two heads, two maps."""

    name = "toy"
    title = "a toy with a context view and two heads (3D)"
    predictor = "toy_volume"
    losses = ("toy_two_heads",)
    loss_help = "toy_two_heads: CE + foreground BCE"
    profiles = {"tiny": "seconds"}
    default_profile = "tiny"
    default_label_set = "lumbar"
    config_class = ToyConfig
    trainer_class = ToyTrainer
    profile_settings = {"tiny": dict(spacing=3.0, patch=(12, 12, 12), batch_size=4, epochs=4, steps_per_epoch=50,
                                     lr=1e-2, overlap=0.25, sampling="balanced", max_per_class=2000)}

    def add_arguments(self, group):
        group.add_argument("--width", type=int, help="features of the toy network")

    def settings(self, args):
        return {"width": args.width, "loss": args.loss}


@pytest.fixture
def toy_registered(monkeypatch):
    from pointseg.models import MODELS
    from pointseg.predict.base import PREDICTORS
    from pointseg.train.losses.volumetric import VOLUMETRIC_LOSSES
    from pointseg.train.pipelines import PIPELINES

    monkeypatch.setitem(MODELS, "toy_two_heads", TwoHeads)
    monkeypatch.setitem(PREDICTORS, "toy_volume", ToyPredictor)
    monkeypatch.setitem(VOLUMETRIC_LOSSES, "toy_two_heads", TwoHeadLoss)
    # the one registration line a new pipeline adds (lazy: the command line lists it without importing it)
    PIPELINES.register_lazy("toy", "tests.train.test_engine:ToyPipeline", "a toy with a context view and two heads")
    yield
    PIPELINES.pop("toy")


def test_a_new_pipeline_trains_predicts_and_reports_without_touching_the_cli(toy_registered, tmp_path, capsys):
    from pointseg.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "toy: a toy with a context view and two heads" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["train", "--pipeline", "toy", "--help"])
    text = capsys.readouterr().out
    assert "toy options" in text and "--width" in text and "--sampling" not in text

    dataset = coded_dataset(tmp_path / "ds", cases=3)
    (dataset / "split.json").write_text(json.dumps({"test": ["case2"]}), encoding="utf-8")
    run = tmp_path / "runs" / "toy"
    assert main(["train", str(dataset), "--pipeline", "toy", "--target", "labels", "--out", str(run),
                 "--width", "6", "--quiet"]) == 0
    saved = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert saved["run"]["pipeline"] == "toy" and saved["run"]["predictor"] == "toy_volume"
    assert saved["config"]["model"] == {"name": "toy_two_heads", "num_classes": 6, "width": 6}
    log = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"ce", "fg"} <= set(log[-1]) and log[-1]["loss"] < log[0]["loss"]  # both heads trained

    ct = dataset / "case2" / "ct.nii.gz"
    out = tmp_path / "pred.nii.gz"
    assert main(["predict", str(run), str(ct), "--out", str(out), "--quiet"]) == 0
    labels, foreground = read_volume(out), read_volume(tmp_path / "pred_foreground.nii.gz")
    assert labels.same_grid(read_volume(ct)) and foreground.same_grid(read_volume(ct))
    truth = np.asarray(read_volume(dataset / "case2" / "labels.nii.gz").array)
    from pointseg.metrics.dice import dice_scores

    assert dice_scores(np.asarray(foreground.array), (truth > 0).astype(np.uint8), 2).dice[1] > 0.8  # fg head
    assert dice_scores(np.asarray(labels.array), truth, 6).dice[1:3].min() > 0.7  # both classes, class head

    report = tmp_path / "report"
    assert main(["report", str(run), "--out", str(report), "--quiet"]) == 0
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert "toy" in json.dumps(data)


def test_cases_held_out_for_validation_are_validated_on(tmp_path):
    from pointseg.train.unet3d import PROFILES, UNet3DTrainer
    from pointseg.train.volumetric import make_volumetric_config

    dataset = coded_dataset(tmp_path / "ds", cases=3)
    config = make_volumetric_config(PROFILES, "tiny", "labels", label_set="lumbar", val_cases=1, epochs=1,
                                    steps_per_epoch=2)
    assert config.val_every == 1
    trainer = UNet3DTrainer(dataset, config, tmp_path / "run", torch.device("cpu"))
    history = trainer.fit()
    held_out = trainer.split["val"]
    assert len(trainer.split["train"]) == 2 and held_out
    scores = json.loads((tmp_path / "run" / "validation.json").read_text(encoding="utf-8"))
    assert set(scores["cases"]) == set(held_out) and "val_dice_wi" in history[-1]


def test_a_patch_may_take_whole_axes(tmp_path):
    # the rib network's patches take the whole axial plane: -1 along an axis, padded to the network's divisor
    from pointseg.predict import load_model
    from pointseg.train.unet3d import PROFILES, UNet3DTrainer
    from pointseg.train.volumetric import make_volumetric_config

    dataset = coded_dataset(tmp_path / "ds", cases=3)  # the oblique third case has another extent
    config = make_volumetric_config(PROFILES, "tiny", "labels", label_set="lumbar", patch=(-1, -1, 16), batch_size=2,
                                    epochs=1, steps_per_epoch=2)
    trainer = UNet3DTrainer(dataset, config, tmp_path / "run", torch.device("cpu"))
    seen = []
    next_batch = trainer.next_batch
    trainer.next_batch = lambda: seen.append(next_batch()) or seen[-1]
    trainer.fit()
    for batch in seen:
        x, y = batch["image"].shape, batch["label"].shape
        assert x[2] % 4 == 0 and x[3] % 4 == 0 and x[4] == 16 and y == (x[0],) + x[2:]
        assert x[2] >= 33 and x[3] >= 32  # the whole plane of a case (33 x 32 voxels of 4 mm), not a patch of it
    ct = read_volume(dataset / "case2" / "ct.nii.gz")
    assert load_model(tmp_path / "run").predict(ct).labels.shape == ct.shape
