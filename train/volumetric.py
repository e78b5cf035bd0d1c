"""The volumetric engine: 3D networks trained on patches of whole cases (every 3D pipeline runs on it).

**The contract** (what a pipeline supplies and what the engine guarantees):

- **Cases** are reoriented to one canonical orientation (:data:`pointseg.predict.volume.CANONICAL`, RAS+: array axes run toward
  the patient's right, anterior and superior), resampled to ``spacing`` mm and windowed to [0, 1] once
  (:func:`pointseg.train.cases.prepare_case`, the same functions prediction uses), and cached under ``DATASET/.pointseg-cache``.
  A case is a dict of channel-first arrays on the model grid: ``image`` ``(1, X, Y, Z)`` float16, ``label``
  ``(1, X, Y, Z)`` uint8/int16 (``labels.nii.gz`` in the run's label set, or ``pseudo.nii.gz``), and
  ``image@F`` ``(1, X/F, Y/F, Z/F)``, the image at F times the voxel size, for each coarser view asked for.
- **A batch** is a dict of named tensors, one per :class:`~pointseg.train.patches.View` of the pipeline
  (:meth:`VolumetricTrainer.views`): ``image`` ``(B, 1, x, y, z)`` float32 and ``label`` ``(B, x, y, z)``
  int64 always; SneakyNet adds ``context_1`` … (coarser views around the same centre), instance pipelines
  ``instances`` ``(B, x, y, z)``. Every view is cut around one centre chosen by the sampler (``balanced`` or
  ``uniform``, :data:`~pointseg.train.patches.CENTRES`), then augmented (elastic deformation of ``image`` and
  the label maps together, brightness and contrast of ``image``).
- **A network** takes the batch keys of its ``inputs`` and returns its named heads (``outputs``; see
  :mod:`pointseg.models`): ``logits`` for ``unet3d``; the rib network ``binary`` and ``number``; the
  transformers ``semantic`` and ``embedding``. The patch sizes must be multiples of its ``divisor``.
- **A loss** is ``loss(outputs, batch) -> (total, terms)``, picked by name from
  :data:`~pointseg.train.losses.volumetric.VOLUMETRIC_LOSSES` (the pipeline lists the names it offers).
- **A prediction** is a set of named maps on the CT's own grid (``labels``; ``instances`` where the
  pipeline has them), made by the predictor the config names (``predictor``, ``volume`` by default: see
  :mod:`pointseg.predict.volume` for its hooks).
- **A pipeline** brings its config class (a :class:`VolumetricConfig` subclass: network name and options in
  :meth:`VolumetricConfig.model_spec`, predictor, loss, profiles) and may override the trainer's hooks
  :meth:`VolumetricTrainer.views`, :meth:`~VolumetricTrainer.build_network`,
  :meth:`~VolumetricTrainer.build_loss`, :meth:`~VolumetricTrainer.build_optimizer` and
  :meth:`~VolumetricTrainer.compute_loss`.

Under ``torchrun`` rank 0 alone writes the cache, every rank then holds only its share of the training
cases (all of them when there are fewer cases than ranks), draws its own patches (seeded from seed, rank
and epoch, so an epoch's patches are the same whether the run was resumed or not), and validates its share
of the validation cases; the scores are gathered on rank 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pointseg.errors import InputError
from pointseg.imaging.hu import BONE_WINDOW_HU
from pointseg.io.dataset import Case, discover_cases, held_out_case_ids
from pointseg.labels import LabelSet, get_label_set
from pointseg.predict.volume import VolumetricPredictor, check_patch
from pointseg.progress import progress, say
from pointseg.runs import CONFIG_NAME, SUPERVISED_TARGETS, VALIDATION_NAME, RunConfig, RunInfo
from pointseg.train.cases import cache_path, class_indices, prepare_case
from pointseg.train.patches import CENTRES, CutViews, View, pad_collate, to_tensors
from pointseg.train.pipelines import Pipeline
from pointseg.train.planar import split_cases
from pointseg.train.trainer import Trainer, resumed_config

SAMPLINGS = tuple(CENTRES)


@dataclass
class VolumetricConfig(RunConfig):
    """A volumetric run: data, patches, augmentation, network and optimisation."""

    pipeline: str = "unet3d"
    profile: str = "quick"
    label_set: str = "bones"
    target: str = "labels"
    network: str = "no_new_net"  # a name in pointseg.models.MODELS
    predictor: str = "volume"  # a name in pointseg.predict.base.PREDICTORS
    spacing: float = 2.0  # mm, isotropic (the paper resamples to 2 mm)
    window: tuple[float, float] = BONE_WINDOW_HU
    patch: tuple[int, int, int] = (64, 64, 64)  # -1 along an axis: the whole axis
    filters: tuple[int, ...] = (8, 16, 32, 64)
    sampling: str = "balanced"
    max_per_class: int = 20000  # voxel positions kept per class and case for balanced sampling
    elastic: bool = False
    elastic_prob: float = 0.5
    intensity: bool = True
    loss: str = "ce_dice"
    overlap: float | tuple[float, float, float] = 0.5  # of the sliding windows at prediction, one or per axis
    slab_axis: int | None = None  # the axis a tall scan is predicted in slabs along (None: its longest)
    postprocess: str = "none"
    batch_size: int = 1
    accumulate: int = 1
    epochs: int = 10
    steps_per_epoch: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    workers: int = 0
    val_cases: int = 0
    val_every: int = 0  # epochs between validations (0 with val_cases: every epoch)
    seed: int = 0

    def model_spec(self, num_classes: int) -> dict:
        """What :func:`pointseg.models.build_model` needs: the network's registry name and options."""
        return {"name": self.network, "num_classes": num_classes, "filters": list(self.filters)}

    def run_info(self) -> RunInfo:
        return RunInfo(pipeline=self.pipeline, predictor=self.predictor, label_set=self.label_set, target=self.target)


def default_views(config: VolumetricConfig) -> tuple[View, ...]:
    """The views of a plain segmentation pipeline: the image and its label map, one patch each."""
    return (View("image", "image", tuple(config.patch), 0.0), View("label", "label", tuple(config.patch), 0))


def patch_transforms(config: VolumetricConfig, views: tuple[View, ...]):
    """The random part: a centre and the views cut around it, elastic + affine, intensity."""
    from monai.transforms import Compose, EnsureTyped, Rand3DElasticd, RandScaleIntensityd, RandShiftIntensityd

    if config.sampling not in CENTRES:
        raise InputError(f"unknown sampling {config.sampling!r} (use {' or '.join(CENTRES)})")
    names = [v.name for v in views]
    maps = [v.name for v in views if v.source in ("label", "instances")]
    steps = [CutViews(config.sampling, tuple(config.patch), views),
             EnsureTyped(names, data_type="tensor", dtype=[torch.int64 if n in maps else torch.float32 for n in names],
                         track_meta=False)]
    if config.elastic:  # the same deformation for the image and its label maps (context views stay as they are)
        keys = ["image"] + maps
        steps.append(Rand3DElasticd(keys, sigma_range=(5.0, 8.0), magnitude_range=(40.0, 120.0),
                                    prob=config.elastic_prob, rotate_range=(0.2, 0.2, 0.2), scale_range=(0.1, 0.1, 0.1),
                                    mode=["bilinear"] + ["nearest"] * len(maps), padding_mode="border"))
    if config.intensity:
        steps += [RandScaleIntensityd("image", factors=0.1, prob=0.5),  # contrast
                  RandShiftIntensityd("image", offsets=0.05, prob=0.5)]  # brightness
    return Compose(steps)


class PatchDataset(torch.utils.data.Dataset):
    """Item ``n`` is a fresh random patch of case ``n`` (cases are picked by the loader's sampler): a dict of
    the named views as tensors (the batch contract)."""

    def __init__(self, cases: list[dict], transform, views: tuple[View, ...]):
        self.cases = cases
        self.transform = transform
        self.views = views

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return to_tensors(self.transform(dict(self.cases[index])), self.views)


def epoch_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of one rank's data in one epoch."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(epoch)]).generate_state(1)[0])


def patch_loader(dataset: PatchDataset, samples: int, batch_size: int, seed: int, workers: int = 0):
    """A MONAI ``DataLoader`` drawing ``samples`` patches (cases with replacement), seeded by ``seed``:
    with ``workers`` each worker's transforms are seeded from the generator, without them directly. Views
    of whole axes differ between cases; they are padded to the largest of the batch."""
    from monai.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=samples, generator=generator)
    if workers == 0:
        dataset.transform.set_random_state(seed=seed % (2**32))
    whole = any(-1 in tuple(v.size) for v in dataset.views)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, generator=generator,
                      persistent_workers=False, pin_memory=False,
                      **({"collate_fn": pad_collate} if whole and batch_size > 1 else {}))


# ------------------------------------------------------------------------------------------ trainer
class VolumetricTrainer(Trainer):
    """A :class:`Trainer` of a 3D network on patches; validation is whole-scan prediction (see the module)."""

    channels_last = False
    validates_on_every_rank = True

    def __init__(self, dataset: Path, config: VolumetricConfig, run_dir: Path, device: torch.device,
                 resume: bool = False):
        super().__init__(run_dir, config, device, resume)
        self.dataset = Path(dataset)
        self.label_set: LabelSet = get_label_set(config.label_set)
        self.val_cases: list[Case] = []
        self._batches = None

    # ---------------------------------------------------------------------------- pipeline hooks
    def views(self) -> tuple[View, ...]:
        """The named views of a batch (see the module notes)."""
        return default_views(self.config)

    def build_network(self) -> torch.nn.Module:
        from pointseg.models import build_model

        spec = self.config.model_spec(self.label_set.num_classes)
        return build_model(spec.pop("name"), **spec)

    def build_loss(self) -> torch.nn.Module:
        from pointseg.train.losses.volumetric import VOLUMETRIC_LOSSES

        return VOLUMETRIC_LOSSES.build(self.config.loss)

    def build_optimizer(self, parameters) -> torch.optim.Optimizer:
        return torch.optim.Adam(parameters, lr=self.config.lr, weight_decay=self.config.weight_decay)

    def compute_loss(self, batch):
        from pointseg.models import call_named

        total, terms = self.loss(call_named(self.model, batch), batch)
        return total, {name: float(value.detach()) for name, value in terms.items()}

    # ------------------------------------------------------------------------------------- engine
    def model_config(self) -> dict:
        data = self.config.to_dict()
        data["model"] = self.config.model_spec(self.label_set.num_classes)
        return data

    def _prepare(self, cases: dict[str, Case], factors: tuple[int, ...], multiple: int = 1) -> list[dict]:
        """Rank 0 writes the cache of every training case; then each rank loads its share."""
        config, cache = self.config, self.dataset / ".pointseg-cache"
        ids = self.split["train"]
        if self.dist.is_main:
            for case_id in progress(ids, f"prepare cases ({config.target}, {config.spacing:g} mm)"):
                if not cache_path(cases[case_id], config.target, config, self.label_set, cache, factors,
                                  multiple).exists():
                    prepare_case(cases[case_id], config.target, config, self.label_set, cache, factors,
                                 multiple=multiple)
        self.dist.barrier()
        world, rank = self.dist.world_size, self.dist.rank
        mine = [(n, i) for n, i in enumerate(ids) if len(ids) < world or n % world == rank]
        prepared = []
        for n, case_id in mine:
            item = prepare_case(cases[case_id], config.target, config, self.label_set, cache, factors, write=False,
                                multiple=multiple)
            if CENTRES.lookup(config.sampling).needs_indices:
                item = class_indices(item, self.label_set.num_classes, config.max_per_class,
                                     epoch_seed(config.seed, 1 << 20, n))  # not a rank's epoch seed
            prepared.append(item)
        return prepared

    def build(self) -> None:
        config = self.config
        cases = {c.id: c for c in discover_cases(self.dataset)}
        if config.target == "pseudo":
            has_target, what = (lambda c: c.pseudo_path.exists()), "pseudo.nii.gz (run pointseg fuse first)"
        else:
            has_target, what = (lambda c: c.labels_path is not None), "labels.nii.gz"
        self.split = split_cases(list(cases.values()), config.val_cases, config.seed, trainable=has_target,
                                 held_out_ids=held_out_case_ids(self.dataset), what=what)
        validating = config.val_every or config.val_cases
        self.val_cases = [cases[i] for i in self.split["val"]] if validating else []
        self.model = self.build_network()
        divisor = int(getattr(self.model, "divisor", 1))
        check_patch(tuple(n if n != -1 else divisor for n in config.patch), divisor)
        views = self.views()
        factors = tuple(sorted({v.factor for v in views if v.factor > 1}))
        prepared = self._prepare(cases, factors, divisor)
        self.patches = PatchDataset(prepared, patch_transforms(config, views), views)
        self.loss = self.build_loss().to(self.device)
        self.optimizer = self.build_optimizer(self.model.parameters())
        if self.dist.is_main:
            say(f"{config.pipeline} on {config.target}: {len(self.split['train'])} training case(s), patches "
                f"{'x'.join(map(str, config.patch))} at {config.spacing:g} mm, {config.sampling} sampling"
                f"{', elastic' if config.elastic else ''}, loss {config.loss}, {self.dist.world_size} process(es)")

    def on_epoch_start(self, epoch: int) -> None:
        samples = self.config.steps_per_epoch * self.config.batch_size * self.accumulate
        loader = patch_loader(self.patches, samples, self.config.batch_size,
                              epoch_seed(self.config.seed, self.dist.rank, epoch), self.config.workers)
        self._batches = iter(loader)

    def next_batch(self) -> dict[str, torch.Tensor]:
        return next(self._batches)

    def predictor(self) -> VolumetricPredictor:
        from pointseg.predict.base import PREDICTORS

        cls = PREDICTORS.lookup(self.config.predictor)
        return cls(self.network, self.label_set, self.model_config(), self.config.run_info())

    def validate(self) -> dict[str, float]:
        """Every rank predicts its share of the validation cases; rank 0 gathers and writes the scores."""
        from pointseg.train.validation import validate_cases, write_validation

        if not self.val_cases:
            return {}
        loaded = self.predictor()
        mine = self.val_cases[self.dist.rank::self.dist.world_size]
        scores = validate_cases(loaded, mine, self.device)
        if self.dist.active:
            import torch.distributed as dist

            shares = [None] * self.dist.world_size
            dist.all_gather_object(shares, scores)
            scores = {k: v for share in shares for k, v in share.items()}
        if not self.dist.is_main:
            return {}
        return {"val_dice_wi": write_validation(self.run_dir / VALIDATION_NAME, scores, loaded, self.epoch)}


# ------------------------------------------------------------------------------------------ entry point
def make_volumetric_config(profiles: dict[str, dict], profile: str, target: str,
                           config_class: type[VolumetricConfig] = VolumetricConfig, **overrides) -> VolumetricConfig:
    """The config of a pipeline's ``profile`` for ``target`` with ``overrides`` (``None`` = keep)."""
    if profile not in profiles:
        raise InputError(f"unknown profile {profile!r} (use {', '.join(profiles)})")
    if target not in SUPERVISED_TARGETS:
        raise InputError(f"unknown target {target!r} (use pseudo or labels)")
    config = replace(config_class(), profile=profile, target=target, **profiles[profile])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "patch" in overrides:
        overrides["patch"] = tuple(overrides["patch"]) * (3 if len(tuple(overrides["patch"])) == 1 else 1)
    unknown = set(overrides) - set(config_class.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(sorted(unknown))}")
    config = replace(config, **overrides)
    if config.val_cases and not config.val_every:
        config = replace(config, val_every=1)  # cases held out for validation are validated on, every epoch
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


class VolumetricPipeline(Pipeline):
    """A pipeline of the volumetric engine: its config class, trainer and profile settings are class
    attributes; :meth:`train` makes the config and runs the trainer. A 3D pipeline subclasses this, sets them,
    adds its options (:meth:`add_arguments`, :meth:`settings`) and registers itself with one line in
    :data:`pointseg.train.pipelines.PIPELINES`."""

    dims = 3
    predictor = "volume"
    config_class: type[VolumetricConfig] = VolumetricConfig
    trainer_class: type[VolumetricTrainer] = VolumetricTrainer
    profile_settings: dict[str, dict] = {}  # profile name -> config fields

    def train(self, dataset, target, out, profile="quick", seed=0, resume=False, device="auto", epochs=None,
              **settings):
        from pointseg.device import resolve_device

        config = make_volumetric_config(self.profile_settings, profile, target, self.config_class, pipeline=self.name,
                                        predictor=self.predictor, seed=seed, epochs=epochs, **settings)
        return train_volumetric(self.trainer_class, config, dataset, out, resolve_device(device), resume, epochs)


__all__ = ["VolumetricPipeline", "SAMPLINGS", "VolumetricConfig", "VolumetricTrainer", "PatchDataset", "patch_transforms",
           "patch_loader", "default_views", "epoch_seed", "make_volumetric_config",
           "train_volumetric"]
