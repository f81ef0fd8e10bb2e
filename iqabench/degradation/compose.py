"""Applying compositions (ordered chains of (type, level) steps) to batches.

Training applies one sampled composition to all four views of a sample (image A and B, full and
half scale), with fresh internal randomness per view: stack the views and repeat the
compositions, e.g. ``apply_compositions(torch.cat([a_full, a_half, b_full, b_half]), comps * 4, g)``.
Every random draw is per image, so each view gets its own noise field, angle, patches, …
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..errors import IQABenchError
from . import rng
from .catalog import DEFAULT_SETTINGS, DISTORTIONS, NUM_LEVELS, Settings, check_batch, distort, get

if TYPE_CHECKING:
    from .codec_pool import JPEG2000Pool

Composition = tuple[tuple[str, int], ...]
"""(key, level) steps in application order, levels 1-based; ``()`` is pristine."""


def check_composition(composition: Sequence[tuple[str, int]]) -> Composition:
    """Validated copy of a composition as a tuple of (key, int level) pairs."""
    steps = []
    for step in composition:
        try:
            key, level = step
        except (TypeError, ValueError):
            raise IQABenchError(f"composition step must be a (key, level) pair, got {step!r}") from None
        get(key)
        if isinstance(level, bool) or not isinstance(level, numbers.Integral) or not 1 <= level <= NUM_LEVELS:
            raise IQABenchError(f"composition step {step!r}: level must be an int in 1..{NUM_LEVELS}")
        steps.append((key, int(level)))
    return tuple(steps)


def _needs_generator(compositions: Sequence[Composition]) -> bool:
    return any(not DISTORTIONS[k].deterministic for comp in compositions for k, _ in comp)


def apply_composition(x: Tensor, composition: Composition, generator: torch.Generator | None = None,
                      settings: Settings = DEFAULT_SETTINGS) -> Tensor:
    """Apply the same composition to every image of ``x`` (N×3×H×W in [0, 1]); clipped after each
    step, ``x`` untouched."""
    check_batch(x)
    steps = check_composition(composition)
    gen = rng.resolve(generator) if _needs_generator([steps]) else generator
    out = x.clone()
    for key, level in steps:
        out = distort(out, key, level, gen, settings)
    return out


def apply_compositions(
    x: Tensor,
    compositions: Sequence[Composition],
    generator: torch.Generator | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    jpeg2000_pool: JPEG2000Pool | None = None,
) -> Tensor:
    """Apply ``compositions[i]`` to image i, batched.

    Round r applies the r-th step of every sample that has one, grouped by type, so there is one
    batched call per (round, type) with per-sample levels, and each sample's own order is kept.
    Types are visited in a fixed order within a round, so a generator state gives one result.

    ``jpeg2000_pool``: a round's JPEG 2000 samples are submitted to these worker processes first and
    collected after the round's other types have run (on other rows: the result is the same).
    """
    check_batch(x)
    if len(compositions) != x.shape[0]:
        raise IQABenchError(f"got {len(compositions)} compositions for a batch of {x.shape[0]} images")
    comps = [check_composition(c) for c in compositions]
    gen = rng.resolve(generator) if _needs_generator(comps) else generator
    out = x.clone()
    n = x.shape[0]
    for r in range(max((len(c) for c in comps), default=0)):
        by_type: dict[str, tuple[list[int], list[int]]] = {}
        for i, comp in enumerate(comps):
            if r < len(comp):
                key, level = comp[r]
                rows, levels = by_type.setdefault(key, ([], []))
                rows.append(i)
                levels.append(level)
        pending = None
        if jpeg2000_pool is not None and "jpeg2000" in by_type:  # deterministic: draws nothing from `gen`
            rows, levels = by_type.pop("jpeg2000")
            source = out if len(rows) == n else out.index_select(0, _index(rows, x.device))
            pending = rows, jpeg2000_pool.submit(source, torch.tensor(levels, dtype=torch.int64))
        for key in DISTORTIONS:  # fixed visiting order
            if key not in by_type:
                continue
            rows, levels = by_type[key]
            lv = torch.tensor(levels, dtype=torch.int64)
            if len(rows) == n:
                out = distort(out, key, lv, gen, settings)
            else:
                idx = _index(rows, x.device)
                out.index_copy_(0, idx, distort(out.index_select(0, idx), key, lv, gen, settings))
        if pending is not None:
            rows, job = pending
            if len(rows) == n:
                out = job.result()
            else:
                out.index_copy_(0, _index(rows, x.device), job.result())
    return out


def _index(rows: list[int], device: torch.device) -> Tensor:
    return torch.tensor(rows, dtype=torch.int64, device=device)
