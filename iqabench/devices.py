"""Which device a method or a trainer runs on: ``--device auto|cpu|cuda[:N]|mps``, checked in one place."""

from __future__ import annotations

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
