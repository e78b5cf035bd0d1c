"""Where the networks run: the device a ``--device`` name asks for, and the mixed precision used on it.

Training and prediction take their autocast type from :func:`amp_dtype`, so a network trained in bfloat16
is also run in bfloat16 (float16 only where the GPU lacks bfloat16; none on the CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pointseg.errors import InputError

if TYPE_CHECKING:  # PyTorch is imported where a device is resolved, so the command line stays light
    import torch

DEVICES = ("auto", "cpu", "cuda")  # what ``--device`` offers (``cuda:N`` is accepted too)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; an unavailable CUDA request is an InputError."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"unknown device {name!r} (use {', '.join(DEVICES)} or cuda:N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available")
    return device


def amp_dtype(device: torch.device | str) -> torch.dtype | None:
    """The autocast type on ``device``: bfloat16 on CUDA (float16 where unsupported), ``None`` (off) elsewhere."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device | str):
    """The autocast context of :func:`amp_dtype` (a disabled one where it is ``None``)."""
    import torch

    device = torch.device(device)
    dtype = amp_dtype(device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
