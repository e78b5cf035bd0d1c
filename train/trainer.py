"""A training-loop template with hooks, checkpoints and resume.

Subclasses implement :meth:`Trainer.build` (model, optimiser, batches), :meth:`Trainer.next_batch` and
:meth:`Trainer.compute_loss`; they may override :meth:`Trainer.on_epoch_start`, :meth:`Trainer.validate`
and :meth:`Trainer.extra_state`. The loop owns the rest, for 2D and 3D pipelines alike: the progress bar
with each loss term; on CUDA mixed precision (bf16, or fp16 with a gradient scaler) and channels_last for
2D images; gradient accumulation over ``config.accumulate`` batches; several processes under
``torchrun`` (DDP, see :mod:`pointseg.train.distributed`; rank 0 writes); a checkpoint at the end of
every epoch (model, optimiser, scaler, random states, config, seed, version, split), ``log.jsonl``, and
``resume`` from the last checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import replace
from pathlib import Path

import torch

import pointseg
from pointseg.device import amp_dtype
from pointseg.errors import InputError
from pointseg.progress import progress, say
from pointseg.runs import (CHECKPOINT_NAME, environment, load_checkpoint, read_run_file, save_checkpoint, write_log,
                           write_run_files)
from pointseg.train import distributed


class Trainer:
    """The loop. ``config`` is a :class:`pointseg.runs.RunConfig` (``epochs``, ``steps_per_epoch``, ``seed``,
    ``val_every``, ``to_dict()``, ``run_info()``, optionally ``accumulate``); the run folder follows
    :mod:`pointseg.runs`. ``self.model`` is what trains (DDP-wrapped under torchrun), ``self.network`` the
    network itself (what is saved, validated and predicted with)."""

    channels_last = True  # 2D images on CUDA; volumetric trainers turn it off
    validates_on_every_rank = False  # True: validate() runs on every rank (and returns the scores on rank 0)

    def __init__(self, run_dir: str | Path, config, device: torch.device, resume: bool = False):
        self.run_dir = Path(run_dir)
        self.config = config
        self.device = distributed.local_device(device)
        self.dist = distributed.Context()
        self.resume = resume
        self.epoch = 0
        self.step = 0
        self.split: dict = {}
        self.history: list[dict] = []
        self.model: torch.nn.Module
        self.optimizer: torch.optim.Optimizer
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.amp_dtype = amp_dtype(self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    @property
    def network(self) -> torch.nn.Module:
        return distributed.unwrap(self.model)

    @property
    def accumulate(self) -> int:
        return max(1, int(getattr(self.config, "accumulate", 1)))

    # ---------------------------------------------------------------------------------------- hooks
    def build(self) -> None:
        """Create ``self.model``, ``self.optimizer`` (optionally ``self.scheduler``), the batches and ``self.split``."""
        raise NotImplementedError

    def cosine_schedule(self, floor: float = 0.05) -> torch.optim.lr_scheduler.LRScheduler:
        """Cosine decay of the learning rate over the whole run, down to ``floor`` times the start."""
        total = max(1, self.config.epochs * self.config.steps_per_epoch)

        def factor(step: int) -> float:
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def on_epoch_start(self, epoch: int) -> None:
        """Called before the steps of epoch ``epoch`` (0-based), e.g. to start that epoch's data stream."""

    def next_batch(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The total loss of one batch (on ``self.device``) and the terms to show."""
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        """Validation metrics of the current model (none by default)."""
        return {}

    def model_config(self) -> dict:
        """What goes under ``config`` in the checkpoint (enough to rebuild the model and predict)."""
        return self.config.to_dict()

    def main_first(self, work):
        """``work()`` on rank 0 first, then on the other ranks: what rank 0 writes (a cache) the others read,
        and no two processes write or delete the same file."""
        result = work() if self.dist.is_main else None
        self.dist.barrier()
        return result if self.dist.is_main else work()

    def extra_state(self) -> dict:
        """Random states of the subclass' own generators (saved and restored with the checkpoint)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def reseed_rank(self, seed: int) -> None:
        """Under torchrun, on every rank but 0, once the model is built (and the checkpoint, which holds rank
        0's random states alone, loaded): seed this process's own draws, so that no two ranks draw the same
        batches, augmentations or dropout. Subclasses with generators of their own reseed them here too."""
        torch.manual_seed(seed)

    # ------------------------------------------------------------------------------------------ loop
    def _channels_last(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.channels_last and self.device.type == "cuda" and tensor.dim() == 4:
            return tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimiser step over ``batch`` and ``accumulate - 1`` more from :meth:`next_batch` (mixed
        precision on CUDA; under DDP gradients are averaged once, at the last); returns the mean terms."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        totals, sums = 0.0, {}
        for n in range(self.accumulate):
            batch = batch if n == 0 else self.next_batch()
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            batch["image"] = self._channels_last(batch["image"])
            last = n == self.accumulate - 1
            sync = self.model.no_sync() if self.dist.active and not last else contextlib.nullcontext()
            with sync:
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                    total, terms = self.compute_loss(batch)
                self.scaler.scale(total / self.accumulate).backward()
            totals += float(total.detach())
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        return {"loss": totals / self.accumulate, **{k: v / self.accumulate for k, v in sums.items()}}

    def fit(self) -> list[dict]:
        """Train until ``config.epochs``; returns the per-epoch log."""
        self.dist = distributed.context(self.device)
        self._prepare_run_dir()
        torch.manual_seed(self.config.seed)
        self.build()
        self.model.to(self.device)
        if self.channels_last and self.device.type == "cuda":
            self.model.to(memory_format=torch.channels_last)
        if self.resume:
            self._load_checkpoint()
        self.model = self.dist.wrap(self.model, self.device)
        if self.dist.rank:  # rank 0 keeps the run's random states (the checkpoint's); each other rank draws its own
            self.reseed_rank(distributed.rank_seed(self.config.seed, self.dist.rank, self.step))
        if self.dist.is_main:
            self._write_run_info()
        for epoch in range(self.epoch, self.config.epochs):
            start = time.perf_counter()
            sums: dict[str, float] = {}
            self.on_epoch_start(epoch)
            steps = range(self.config.steps_per_epoch)
            bar = progress(steps, f"epoch {epoch + 1}/{self.config.epochs}", unit="step") if self.dist.is_main else steps
            for _ in bar:
                terms = self.train_step(self.next_batch())
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + value
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix({k: f"{v:.3f}" for k, v in terms.items()}, refresh=False)
            self.epoch = epoch + 1
            record = {"epoch": self.epoch, "step": self.step, "seconds": round(time.perf_counter() - start, 2)}
            record.update({k: v / self.config.steps_per_epoch for k, v in sums.items()})
            validate = self.config.val_every and (self.epoch % self.config.val_every == 0
                                                  or self.epoch == self.config.epochs)
            if validate and (self.dist.is_main or self.validates_on_every_rank):
                record.update(self.validate())  # on every rank, a trainer shares the cases out and gathers
            self.history.append(record)
            if self.dist.is_main:
                self._save_checkpoint()
                self._write_log()
                say("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
            self.dist.barrier()
        return self.history

    # ------------------------------------------------------------------------------------- storage
    def _prepare_run_dir(self) -> None:
        has_checkpoint = (self.run_dir / CHECKPOINT_NAME).exists()
        if has_checkpoint and not self.resume:
            raise InputError("already holds a trained run (use --resume to continue it, or another --out)", self.run_dir)
        if self.resume and not has_checkpoint:
            raise InputError("nothing to resume: no checkpoint_last.pt in this run folder", self.run_dir)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.dist.barrier()

    def _write_run_info(self) -> None:
        write_run_files(self.run_dir, self.config.run_info(), self.model_config(), self.config.seed,
                        getattr(self, "dataset", None), self.split, self.device)

    def _write_log(self) -> None:
        write_log(self.run_dir, self.history)

    def _save_checkpoint(self) -> None:
        state = {
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "rng": {"torch": torch.get_rng_state(), **self._cuda_rng_state(), **self.extra_state()},
            "config": self.model_config(),
            "run": self.config.run_info().to_dict(),
            "seed": self.config.seed,
            "version": pointseg.__version__,
            "split": self.split,
            "environment": environment(self.device),
        }
        save_checkpoint(self.run_dir, state)

    def _cuda_rng_state(self) -> dict:
        """The CUDA generator of this process's device (dropout, MONAI's GPU transforms) when it has one."""
        return {"cuda": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {}

    def _load_checkpoint(self) -> None:
        path = self.run_dir / CHECKPOINT_NAME
        state = load_checkpoint(self.run_dir, map_location="cpu")  # random states stay CPU tensors
        if state.get("split") != self.split:
            raise InputError("the cases have changed since this run started; start a new run instead", path)
        self.network.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state.get("history", []))
        torch.set_rng_state(state["rng"]["torch"])
        if self.device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.load_extra_state(state["rng"])
        if self.dist.is_main:
            say(f"resumed {self.run_dir} at epoch {self.epoch}, step {self.step}")


def resumed_config(out: Path, config_class: type, epochs: int | None):
    """The config a run folder was started with (``config.json``, as ``config_class``), with more ``epochs``
    when given."""
    saved = read_run_file(out)["config"]
    saved.pop("model", None)
    config = config_class.from_dict(saved)
    return replace(config, epochs=epochs) if epochs is not None else config
