"""Several processes, one model: PyTorch DDP as ``torchrun`` launches it, on GPUs or on CPUs.

``torchrun --nproc_per_node N -m pointseg train ...`` (and ``--nnodes``/``--rdzv-endpoint`` for several
machines) starts N copies of the command with ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set.
:func:`context` reads them and joins the process group (NCCL on CUDA, gloo on CPUs); the trainer then
wraps its model in ``DistributedDataParallel``, so gradients are averaged across processes at every step
and all copies keep the same weights. Rank 0 alone writes the run folder; each rank draws its own
patches (its data seeds include the rank: :func:`rank_seed`). Without those variables everything runs in
one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``model`` in ``DistributedDataParallel`` when several processes train, else as it is."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def context(device: torch.device) -> Context:
    """The process group of this process (joined on first call) and where it stands in it."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Context()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Context(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size())


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of the random draws of rank ``rank`` from step ``step`` on (for the ranks other than 0, whose
    random states no checkpoint holds: rank 0 keeps the run's own seed and saved states)."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(step)]).generate_state(1)[0])


def local_device(device: torch.device) -> torch.device:
    """Under torchrun on CUDA each process takes the GPU of its ``LOCAL_RANK``."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ and device.index is None:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    return device


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DDP wrapper (what is saved and predicted with)."""
    return model.module if hasattr(model, "module") and isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
