"""Per-sample levels inside a batch.

Every distortion receives ``li``: a CPU LongTensor[N] of 0-based level indices. Types whose
parameter only scales values broadcast a per-sample value (:func:`per_sample`); types whose
parameter changes shapes (kernel sizes, JPEG quality, resize sizes, patch counts) run once per
distinct level present (:func:`by_level`), at most five batched calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def per_sample(table: Sequence[float], li: Tensor, like: Tensor) -> Tensor:
    """The level values of each sample as an N×1×1×1 tensor matching ``like``."""
    values = torch.tensor(table, dtype=torch.float64)[li]
    return values.to(dtype=like.dtype, device=like.device).view(-1, 1, 1, 1)


def by_level(x: Tensor, li: Tensor, fn: Callable[[Tensor, int], Tensor]) -> Tensor:
    """``fn(x_sub, level_index)`` on the samples of each level present, reassembled in order."""
    levels = torch.unique(li).tolist()
    if len(levels) == 1:
        return fn(x, levels[0])
    out = torch.empty_like(x)
    for level in levels:
        idx = (li == level).nonzero().squeeze(1).to(x.device)
        out.index_copy_(0, idx, fn(x.index_select(0, idx), level))
    return out


# Samples per call for the pointwise-heavy colour-space types on CPU: their chains of ~30
# full-size temporaries run ~1.6× faster on one or two images at a time than on a whole batch
# (allocation and cache effects). On CUDA the batch stays whole.
CPU_CHUNK = 2


def cpu_chunked(fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, li: Tensor) -> Tensor:
    """``fn(x, li)`` on CPU chunks of :data:`CPU_CHUNK` samples (deterministic ``fn`` only, so the
    result does not depend on the chunking); one call on other devices."""
    if x.device.type != "cpu" or x.shape[0] <= CPU_CHUNK:
        return fn(x, li)
    return torch.cat([fn(xc, lc) for xc, lc in zip(x.split(CPU_CHUNK), li.split(CPU_CHUNK))])
