"""Random draws for the degradation model: every draw goes through an explicit torch.Generator.

Draws happen on the *generator's* device and are then moved to the data's device, so a CPU
generator drives CUDA inputs too (the same seed then gives the same draws on CPU and CUDA). That
costs a host-to-device copy of each noise field: on CUDA pass a CUDA generator for speed.
"""

from __future__ import annotations

import torch


def resolve(generator: torch.Generator | None) -> torch.Generator:
    """The generator to use: the one given, or a fresh CPU generator seeded from torch's global RNG.

    Seeding from the global RNG keeps ``generator=None`` reproducible under ``torch.manual_seed``
    while giving different draws on every call (a bare ``torch.Generator()`` would always start
    from the same default seed).
    """
    if generator is not None:
        return generator
    seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
    return torch.Generator().manual_seed(seed)


def rand(shape: tuple[int, ...], gen: torch.Generator, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """U[0, 1) of ``shape``."""
    return torch.rand(shape, generator=gen, device=gen.device, dtype=dtype).to(device)


def randn(shape: tuple[int, ...], gen: torch.Generator, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """N(0, 1) of ``shape``."""
    return torch.randn(shape, generator=gen, device=gen.device, dtype=dtype).to(device)


def randint(low: int, high: int, shape: tuple[int, ...], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Integers uniform in [low, high) (int64)."""
    return torch.randint(low, high, shape, generator=gen, device=gen.device).to(device)
