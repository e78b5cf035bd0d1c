"""The volumetric engine: 3D networks trained on patches of whole cases (the 3D pipelines share it).

Cases become training patches in two stages:

1. **prepared once and cached** (:func:`prepare_case`): the CT resampled to ``spacing`` mm along its own
   axes and windowed to [0, 1] (:mod:`pointseg.volumetric`, the same functions prediction uses), the
   target label map (``labels.nii.gz`` in the run's label set, or ``pseudo.nii.gz``) resampled by nearest
   neighbour, both padded to at least one patch. Stored as HDF5 under ``DATASET/.pointseg-cache`` (keyed on
   the files and settings) and held in memory, with each class's voxel positions for balanced sampling
   (MONAI ``ClassesToIndicesd``, at most ``max_per_class`` per class);
2. **drawn at random every step** with MONAI dictionary transforms (:func:`patch_transforms`): a patch by
   uniform sampling (``RandSpatialCropd``: every position equally likely) or balanced sampling
   (``RandCropByLabelClassesd``: the patch is centred on a voxel of a class drawn uniformly among the
   case's classes, so every class is equally likely to be in it), optional elastic deformation with a
   random affine (``Rand3DElasticd``), brightness and contrast changes.

A MONAI ``DataLoader`` with ``workers`` processes draws them; its generator and every transform's random
state are seeded from (seed, rank, epoch), so an epoch's patches are the same whether the run was resumed
or not, and each DDP rank draws different ones. :class:`VolumetricTrainer` is the shared
:class:`~pointseg.train.trainer.Trainer` subclass; a pipeline supplies its network and loss through
:meth:`VolumetricTrainer.build_network` and :meth:`VolumetricTrainer.build_loss`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np
import torch

from pointseg.atomic import atomic_path
from pointseg.dataset import Case, discover_cases, held_out_case_ids
from pointseg.errors import InputError
from pointseg.hu import BONE_WINDOW_HU
from pointseg.labels import LabelSet, get_label_set
from pointseg.preprocess import _file_stamp
from pointseg.progress import progress, say
from pointseg.runs import CONFIG_NAME, SUPERVISED_TARGETS, VALIDATION_NAME, RunConfig, RunInfo
from pointseg.train.planar import split_cases
from pointseg.train.trainer import Trainer, resumed_config
from pointseg.volume import read_volume
from pointseg.volumetric import VolumetricModel, check_patch, normalise_ct, resample_ct, resample_labels

SAMPLINGS = ("balanced", "uniform")
CACHE_FORMAT = 1


@dataclass
class VolumetricConfig(RunConfig):
    """A volumetric run: data, patches, augmentation, network size and optimisation."""

    pipeline: str = "unet3d"
    profile: str = "quick"
    label_set: str = "bones"
    target: str = "labels"
    spacing: float = 2.0  # mm, isotropic (the paper resamples to 2 mm)
    window: tuple[float, float] = BONE_WINDOW_HU
    patch: tuple[int, int, int] = (64, 64, 64)
    filters: tuple[int, ...] = (8, 16, 32, 64)
    sampling: str = "balanced"
    max_per_class: int = 20000  # voxel positions kept per class and case for balanced sampling
    elastic: bool = False
    elastic_prob: float = 0.5
    intensity: bool = True
    loss: str = "ce_dice"
    overlap: float = 0.5  # of the sliding windows at prediction
    postprocess: str = "none"
    batch_size: int = 1
    accumulate: int = 1
    epochs: int = 10
    steps_per_epoch: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    workers: int = 0
    val_cases: int = 0
    val_every: int = 0
    seed: int = 0

    def model_spec(self, num_classes: int) -> dict:
        return {"name": "no_new_net", "num_classes": num_classes, "filters": list(self.filters)}

    def run_info(self) -> RunInfo:
        return RunInfo(pipeline=self.pipeline, predictor="volume", label_set=self.label_set, target=self.target)


# ------------------------------------------------------------------------------------------ cases
def _cache_key(case: Case, target: str, config: VolumetricConfig, label_set: LabelSet) -> str:
    source = case.labels_path if target == "labels" else case.pseudo_path
    text = "|".join([_file_stamp(case.ct_path), _file_stamp(source), target, f"{config.spacing:g}",
                     ",".join(f"{w:g}" for w in config.window), ",".join(map(str, config.patch)), label_set.name,
                     str(label_set.version), f"format={CACHE_FORMAT}"])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def prepare_case(case: Case, target: str, config: VolumetricConfig, label_set: LabelSet,
                 cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """``{"image": (1, I, J, K) float16 in [0, 1], "label": (1, I, J, K) uint8}`` on the model grid, padded
    to at least one patch (air, background); from the cache when its inputs have not changed."""
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / case.id / f"volume-{target}-{_cache_key(case, target, config, label_set)}.h5"
        if path.exists():
            with h5py.File(path, "r") as f:
                return {"image": f["image"][()], "label": f["label"][()]}
    ct = case.load_ct()
    labels = case.load_labels(label_set) if target == "labels" else read_volume(case.pseudo_path)
    if labels is None:
        raise InputError("no labels.nii.gz to train on", case.dir)
    if tuple(labels.shape) != tuple(ct.shape):
        raise InputError(f"{target} map of shape {labels.shape} is not on the CT's grid {ct.shape}", labels.path)
    values = np.unique(np.asarray(labels.array))
    if values.min() < 0 or values.max() >= label_set.num_classes:
        raise InputError(f"label ids must lie in 0..{label_set.num_classes - 1} (label set {label_set.name})",
                         labels.path)
    image = normalise_ct(resample_ct(ct, config.spacing).array, config.window)
    label = np.asarray(resample_labels(labels, config.spacing).array).astype(np.uint8)
    pad = [(0, max(0, p - n)) for p, n in zip(config.patch, image.shape)]
    image = np.pad(image, pad, constant_values=0.0).astype(np.float16)[None]
    label = np.pad(label, pad, constant_values=0)[None]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"volume-{target}-*.h5"):
            stale.unlink()
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.create_dataset("image", data=image, compression="lzf", chunks=True)
                f.create_dataset("label", data=label, compression="lzf", chunks=True)
    return {"image": image, "label": label}


def class_indices(item: dict, num_classes: int, max_per_class: int, seed: int) -> dict:
    """``item`` with ``label_cls_indices``: each class's voxel positions (MONAI ``ClassesToIndicesd``),
    at most ``max_per_class`` of them, drawn with ``seed``."""
    from monai.transforms import ClassesToIndicesd

    indexer = ClassesToIndicesd("label", num_classes=num_classes, max_samples_per_class=max_per_class)
    np.random.seed(seed % (2**32))  # ClassesToIndicesd subsamples with NumPy's global generator
    return indexer(item)


def patch_transforms(config: VolumetricConfig, num_classes: int):
    """The random part: crop (balanced or uniform), elastic + affine, intensity; to float32 tensors."""
    from monai.transforms import (Compose, EnsureTyped, Rand3DElasticd, RandCropByLabelClassesd,
                                  RandScaleIntensityd, RandShiftIntensityd, RandSpatialCropd)

    keys = ["image", "label"]
    if config.sampling == "balanced":
        crop = RandCropByLabelClassesd(keys, label_key="label", spatial_size=config.patch, num_classes=num_classes,
                                       num_samples=1, indices_key="label_cls_indices", warn=False)
    elif config.sampling == "uniform":
        crop = RandSpatialCropd(keys, roi_size=config.patch, random_size=False)
    else:
        raise InputError(f"unknown sampling {config.sampling!r} (use {' or '.join(SAMPLINGS)})")
    steps = [crop, EnsureTyped(keys, data_type="tensor", dtype=(torch.float32, torch.int64), track_meta=False)]
    if config.elastic:
        steps.append(Rand3DElasticd(keys, sigma_range=(5.0, 8.0), magnitude_range=(40.0, 120.0),
                                    prob=config.elastic_prob, rotate_range=(0.2, 0.2, 0.2), scale_range=(0.1, 0.1, 0.1),
                                    mode=("bilinear", "nearest"), padding_mode="border"))
    if config.intensity:
        steps += [RandScaleIntensityd("image", factors=0.1, prob=0.5),  # contrast
                  RandShiftIntensityd("image", offsets=0.05, prob=0.5)]  # brightness
    return Compose(steps)


class PatchDataset(torch.utils.data.Dataset):
    """Item ``n`` is a fresh random patch of case ``n`` (cases are picked by the loader's sampler)."""

    def __init__(self, cases: list[dict], transform):
        self.cases = cases
        self.transform = transform

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {k: v for k, v in self.cases[index].items()}
        out = self.transform(item)
        out = out[0] if isinstance(out, list) else out
        return {"image": torch.as_tensor(out["image"]).float(), "target": torch.as_tensor(out["label"])[0].long()}


def epoch_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of one rank's data in one epoch."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(epoch)]).generate_state(1)[0])


def patch_loader(dataset: PatchDataset, samples: int, batch_size: int, seed: int, workers: int = 0):
    """A MONAI ``DataLoader`` drawing ``samples`` patches (cases with replacement), seeded by ``seed``:
    with ``workers`` each worker's transforms are seeded from the generator, without them directly."""
    from monai.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=samples, generator=generator)
    if workers == 0:
        dataset.transform.set_random_state(seed=seed % (2**32))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, generator=generator,
                      persistent_workers=False, pin_memory=False)


# ------------------------------------------------------------------------------------------ trainer
class VolumetricTrainer(Trainer):
    """A :class:`Trainer` of a 3D network on patches; validation is whole-scan sliding-window prediction."""

    channels_last = False

    def __init__(self, dataset: Path, config: VolumetricConfig, run_dir: Path, device: torch.device,
                 resume: bool = False):
        super().__init__(run_dir, config, device, resume)
        self.dataset = Path(dataset)
        self.label_set: LabelSet = get_label_set(config.label_set)
        self.val_cases: list[Case] = []
        self._batches = None

    # hooks for the pipelines
    def build_network(self) -> torch.nn.Module:
        from pointseg.models import build_model

        spec = self.config.model_spec(self.label_set.num_classes)
        return build_model(spec.pop("name"), **spec)

    def build_loss(self) -> torch.nn.Module:
        from pointseg.train.losses.many_class import SparseDiceCELoss

        if self.config.loss not in ("ce_dice", "ce"):
            raise InputError(f"unknown loss {self.config.loss!r} (use ce_dice or ce)")
        return SparseDiceCELoss(ce_only=self.config.loss == "ce")

    def model_config(self) -> dict:
        data = self.config.to_dict()
        data["model"] = self.config.model_spec(self.label_set.num_classes)
        return data

    def build(self) -> None:
        config = self.config
        divisor = 2 ** (len(config.filters) - 1)
        check_patch(config.patch, divisor)
        cases = {c.id: c for c in discover_cases(self.dataset)}
        if config.target == "pseudo":
            has_target, what = (lambda c: c.pseudo_path.exists()), "pseudo.nii.gz (run pointseg fuse first)"
        else:
            has_target, what = (lambda c: c.labels_path is not None), "labels.nii.gz"
        self.split = split_cases(list(cases.values()), config.val_cases, config.seed, trainable=has_target,
                                 held_out_ids=held_out_case_ids(self.dataset), what=what)
        self.val_cases = [cases[i] for i in self.split["val"]] if config.val_every else []
        cache = self.dataset / ".pointseg-cache"
        prepared = []
        for n, case_id in enumerate(progress(self.split["train"], f"prepare cases ({config.target}, {config.spacing:g} mm)")):
            item = prepare_case(cases[case_id], config.target, config, self.label_set, cache)
            if config.sampling == "balanced":
                item = class_indices(item, self.label_set.num_classes, config.max_per_class,
                                     epoch_seed(config.seed, 1 << 20, n))  # not a rank's epoch seed
            prepared.append(item)
        self.patches = PatchDataset(prepared, patch_transforms(config, self.label_set.num_classes))
        self.model = self.build_network()
        self.loss = self.build_loss().to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        if self.dist.is_main:
            say(f"{config.pipeline} on {config.target}: {len(prepared)} training case(s), patches "
                f"{'x'.join(map(str, config.patch))} at {config.spacing:g} mm, {config.sampling} sampling"
                f"{', elastic' if config.elastic else ''}, loss {config.loss}, {self.dist.world_size} process(es)")

    def on_epoch_start(self, epoch: int) -> None:
        samples = self.config.steps_per_epoch * self.config.batch_size * self.accumulate
        loader = patch_loader(self.patches, samples, self.config.batch_size,
                              epoch_seed(self.config.seed, self.dist.rank, epoch), self.config.workers)
        self._batches = iter(loader)

    def next_batch(self) -> dict[str, torch.Tensor]:
        return next(self._batches)

    def compute_loss(self, batch):
        logits = self.model(batch["image"])
        total, terms = self.loss.terms(logits, batch["target"])
        return total, {name: float(value.detach()) for name, value in terms.items()}

    def predictor(self) -> VolumetricModel:
        return VolumetricModel(self.network, self.label_set, self.model_config(), self.config.run_info())

    def validate(self) -> dict[str, float]:
        from pointseg.train.validation import validate_cases, write_validation

        if not self.val_cases:
            return {}
        loaded = self.predictor()
        scores = validate_cases(loaded, self.val_cases, self.device)
        return {"val_dice_wi": write_validation(self.run_dir / VALIDATION_NAME, scores, loaded, self.epoch)}


# ------------------------------------------------------------------------------------------ entry point
def make_volumetric_config(profiles: dict[str, dict], profile: str, target: str, **overrides) -> VolumetricConfig:
    """The config of a pipeline's ``profile`` for ``target`` with ``overrides`` (``None`` = keep)."""
    if profile not in profiles:
        raise InputError(f"unknown profile {profile!r} (use {', '.join(profiles)})")
    if target not in SUPERVISED_TARGETS:
        raise InputError(f"unknown target {target!r} (use pseudo or labels)")
    config = replace(VolumetricConfig(), profile=profile, target=target, **profiles[profile])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "patch" in overrides:
        overrides["patch"] = tuple(overrides["patch"]) * (3 if len(tuple(overrides["patch"])) == 1 else 1)
    known = set(VolumetricConfig.__dataclass_fields__)
    unknown = set(overrides) - known
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(sorted(unknown))}")
    config = replace(config, **overrides)
    if len(config.filters) < 3 or min(config.filters) < 1:
        given = " ".join(map(str, config.filters))
        raise InputError(f"--filters needs three or more levels of at least 1 filter, not {given}")
    if not config.spacing > 0:
        raise InputError(f"--spacing must be a positive number of mm, not {config.spacing:g}")
    for name, option in (("batch_size", "--batch-size"), ("accumulate", "--accumulate"), ("epochs", "--epochs"),
                         ("steps_per_epoch", "--steps")):
        if getattr(config, name) < 1:
            raise InputError(f"{option} must be at least 1, not {getattr(config, name)}")
    return config


def train_volumetric(trainer_class: type[VolumetricTrainer], config: VolumetricConfig, dataset: str | Path,
                     out: str | Path, device: torch.device, resume: bool = False, epochs: int | None = None) -> Path:
    """Train (or resume) a volumetric run. On resume the run's own ``config.json`` wins; ``epochs`` (when
    given) extends it."""
    out = Path(out)
    if resume and (out / CONFIG_NAME).exists():
        config = resumed_config(out, type(config), epochs)
    elif epochs is not None:
        config = replace(config, epochs=epochs)
    trainer_class(Path(dataset), config, out, device, resume).fit()
    return out


__all__ = ["SAMPLINGS", "VolumetricConfig", "VolumetricTrainer", "PatchDataset", "patch_transforms", "patch_loader",
           "prepare_case", "class_indices", "epoch_seed", "make_volumetric_config", "train_volumetric"]
