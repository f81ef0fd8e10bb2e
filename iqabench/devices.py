"""Which device a method or a trainer runs on (``--device auto|cpu|cuda[:N]|mps``, checked in one place),
and the CPU cores that feed it."""

from __future__ import annotations

import os

from .errors import IQABenchError

DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str) -> str:
    """``auto`` → cuda or cpu; anything else must name a device this machine has (one-line errors)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise IQABenchError(f"--device {device!r} is not a device iqabench runs on (use auto, cpu, cuda, cuda:N or mps)")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise IQABenchError(f"--device {device}: CUDA is not available on this machine (use --device cpu or auto)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise IQABenchError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise IQABenchError(f"--device {device}: MPS is not available on this machine (use --device cpu or auto)")
    return device


def host_cores() -> int:
    """The CPU cores this process may use (its affinity mask), shared equally among the processes
    ``torchrun`` started on this host (``LOCAL_WORLD_SIZE``); at least 1. Sizes the worker pools
    that keep a GPU fed (image decoding, JPEG 2000)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    local = int(os.environ.get("LOCAL_WORLD_SIZE") or 1)
    return max(1, cores // max(1, local))
