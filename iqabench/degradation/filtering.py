"""Replicate-padded 2-D filtering of batches, as kornia's ``filter2d(border_type='replicate')``.

Like kornia (and MATLAB's ``imfilter``) these correlate: the kernel is not flipped. Every image
plane is filtered as one depthwise convolution over the whole batch (``groups = N·C``), which is
also how per-sample kernels (motion blur) come for free. Depthwise convolution beats FFT on CPU up
to the largest kernels used here (81 taps, separable).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def as_kernel(k: np.ndarray | Tensor, like: Tensor) -> Tensor:
    """A kernel as a tensor with the dtype and device of ``like``."""
    return torch.as_tensor(np.array(k) if isinstance(k, np.ndarray) else k, dtype=like.dtype, device=like.device)


def _depthwise(x: Tensor, weight: Tensor) -> Tensor:
    """Valid correlation of every plane of ``x`` (N×C×H×W) with its kernel.

    ``weight`` is (kh, kw) for all planes or (N, kh, kw) per sample.
    """
    n, c, h, w = x.shape
    if weight.dim() == 2:
        weight = weight.expand(n * c, weight.shape[0], weight.shape[1])
    else:
        weight = weight.repeat_interleave(c, dim=0)
    out = F.conv2d(x.reshape(1, n * c, h, w), weight.unsqueeze(1).contiguous(), groups=n * c)
    return out.view(n, c, out.shape[-2], out.shape[-1])


def filter2d(x: Tensor, kernel: np.ndarray | Tensor) -> Tensor:
    """Same-size correlation of every plane of ``x`` with an odd-sized ``kernel``, replicate borders.

    ``kernel``: (kh, kw) shared by the batch, or (N, kh, kw) one per sample.
    """
    k = as_kernel(kernel, x)
    kh, kw = k.shape[-2:]
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel size must be odd, got {kh}×{kw}")
    ph, pw = kh // 2, kw // 2
    xp = F.pad(x, (pw, pw, ph, ph), mode="replicate") if ph or pw else x
    return _depthwise(xp, k)


# Below this length a 1-D pass costs more than the dense 2-D kernel (oneDNN's depthwise paths).
_DENSE_BELOW = 7


def filter_separable(x: Tensor, kernel_1d: np.ndarray | Tensor) -> Tensor:
    """Same-size correlation with ``outer(k, k)``, replicate borders, as two 1-D passes.

    Padding each pass only along its own axis is exact: a vertical pass over replicate-padded
    columns equals the replicate padding of the vertical pass.
    """
    k = as_kernel(kernel_1d, x)
    size = k.shape[-1]
    if size < _DENSE_BELOW:
        return filter2d(x, k.unsqueeze(-1) * k.unsqueeze(-2))
    p = size // 2
    v = _depthwise(F.pad(x, (0, 0, p, p), mode="replicate"), k.unsqueeze(-1))
    return _depthwise(F.pad(v, (p, p, 0, 0), mode="replicate"), k.unsqueeze(-2))
