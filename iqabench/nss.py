"""Natural-scene-statistics (NSS) primitives shared by BRISQUE and NIQE.

Definitions follow the LIVE MATLAB releases (``brisque_feature.m``, NIQE's ``computefeature.m``
and ``computequality.m``); pyiqa's ``brisque``/``niqe`` (version ``'original'``) implement the
same definitions and serve as the test oracle. Everything works on float64 tensors shaped
``(..., H, W)`` on any device, as MATLAB computes in double.

* :func:`luminance_255`: the 8-bit grey image the releases start from;
* :func:`imresize`: MATLAB ``imresize`` (bicubic, antialiasing when shrinking, symmetric borders);
* :func:`mscn`: mean-subtracted contrast-normalised coefficients (7×7 Gaussian, σ = 7/6, C = 1);
* :func:`fit_ggd` / :func:`fit_aggd`: moment-matching fits on the grid 0.2:0.001:10;
* :func:`paired_products`: products of neighbouring coefficients (MATLAB ``circshift``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import gamma as gamma_fn

from .errors import IQABenchError

# The releases search the shape parameter on 0.2:0.001:10; the grid points are exact thousandths.
SHAPE_GRID = (200 + np.arange(9801)) / 1000.0

_Dims = tuple[int, ...]


# -- grey level -------------------------------------------------------------------------------
def luminance_255(batch: torch.Tensor) -> torch.Tensor:
    """``N×3×H×W`` RGB in [0, 1] → ``N×H×W`` float64 grey levels 0–255, integral.

    As LIVE's ``brisquescore.m`` (``uint8`` then ``rgb2gray``): the RGB values are first brought
    back to 8 bits, then Y = 0.299 R + 0.587 G + 0.114 B (Y of YIQ, the coefficients pyiqa uses)
    is rounded half up. The sum is evaluated exactly on integers, so pixels whose Y lies exactly
    halfway (about one colour pixel in a thousand) round the same way on every device.
    """
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise IQABenchError(f"expected a batch of RGB images shaped N×3×H×W, got {tuple(batch.shape)}")
    # x·255 of an 8-bit value stored as float32 is within 1e-4 of the integer: rounding is exact.
    rgb = torch.round(batch * 255.0).clamp_(0.0, 255.0).to(torch.int32)
    weighted = 299 * rgb[:, 0] + 587 * rgb[:, 1] + 114 * rgb[:, 2]
    return torch.div(weighted + 500, 1000, rounding_mode="floor").to(torch.float64)


def batch_items(rows: list[int], n: int) -> str:
    """Suffix for an error about some items of a batch of ``n`` (empty for a single image)."""
    return "" if n == 1 else f" (batch item{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))})"


# -- MATLAB imresize --------------------------------------------------------------------------
def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=64)
def _resize_taps(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """First source index (0-based, may lie outside the input) and weights (``out_len × taps``)
    of MATLAB's ``contributions()``; taps that are zero for every output are dropped, as there."""
    antialias = scale < 1
    width = 4.0 / scale if antialias else 4.0
    u = np.arange(1, out_len + 1, dtype=np.float64)
    x = u / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based position in the input
    left = np.floor(x - width / 2.0)
    taps = int(math.ceil(width)) + 2
    dist = x[:, None] - (left[:, None] + np.arange(taps)[None, :])
    w = scale * _cubic(scale * dist) if antialias else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    used = np.flatnonzero(np.any(w != 0, axis=0))
    first = left.astype(np.int64) - 1 + used[0]
    return first, np.ascontiguousarray(w[:, used[0] : used[-1] + 1])


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Symmetric extension that repeats the edge sample: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ..."""
    period = np.mod(index, 2 * n)
    return np.where(period < n, period, 2 * n - 1 - period)


def _resize_dim(x: torch.Tensor, dim: int, out_len: int, scale: float) -> torch.Tensor:
    in_len = x.shape[dim]
    first, w_np = _resize_taps(in_len, out_len, scale)
    taps = w_np.shape[1]
    lo = min(0, int(first.min()))
    hi = max(in_len, int(first.max()) + taps)
    # Extend the input once by mirroring, then add one weighted (strided) slice per tap.
    ext = torch.from_numpy(_mirror(np.arange(lo, hi), in_len)).to(x.device)
    xe = x.index_select(dim, ext)
    w = torch.from_numpy(w_np).to(device=x.device, dtype=x.dtype)
    wshape = [1] * x.ndim
    wshape[dim] = out_len
    steps = np.diff(first)
    stride = int(steps[0]) if len(steps) and np.all(steps == steps[0]) and steps[0] > 0 else None
    # With an integer 1/scale (the half-scale image) every output has the same weights.
    uniform = bool(np.all(w_np == w_np[:1]))
    out = None
    for k in range(taps):
        if stride is not None or out_len == 1:
            start = int(first[0]) - lo + k
            part = xe.narrow(dim, start, (out_len - 1) * (stride or 1) + 1)
            if stride and stride > 1:
                part = part.unfold(dim, 1, stride).squeeze(-1)
        else:
            part = xe.index_select(dim, torch.from_numpy(first - lo + k).to(x.device))
        if uniform:
            weight = float(w_np[0, k])
            out = part * weight if out is None else out.add_(part, alpha=weight)
        else:
            term = part * w[:, k].reshape(wshape)
            out = term if out is None else out.add_(term)
    return out


def imresize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """MATLAB ``imresize(x, scale)`` (bicubic, antialiased when shrinking) over the last two dims.

    Output size ``ceil(scale × size)``; rows are resized first, then columns, as MATLAB does
    for equal scales.
    """
    if scale <= 0:
        raise IQABenchError(f"imresize: scale must be positive, not {scale}")
    h, w = x.shape[-2:]
    nd = x.ndim
    out = _resize_dim(x, nd - 2, math.ceil(h * scale), scale)
    return _resize_dim(out, nd - 1, math.ceil(w * scale), scale)


# -- MSCN coefficients ------------------------------------------------------------------------
def _gaussian_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    # fspecial('gaussian', 7, 7/6) is the outer product of this normalised 1-D window.
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r * r) / (2.0 * sigma * sigma))
    return g / g.sum()


_GAUSS_7 = _gaussian_1d()


def _pad(x: torch.Tensor, r: int, padding: str) -> torch.Tensor:
    """``(..., H, W)`` → ``(B, 1, H + 2r, W + 2r)`` with zero or edge-replicating borders."""
    flat = x.reshape(-1, 1, *x.shape[-2:])
    if padding == "zero":
        return F.pad(flat, (r, r, r, r))
    if padding == "replicate":
        return F.pad(flat, (r, r, r, r), mode="replicate")
    raise ValueError(f"unknown padding {padding!r}")


def gaussian_filter(x: torch.Tensor, padding: str) -> torch.Tensor:
    """7×7 Gaussian (σ = 7/6) correlation over the last two dims, output the size of the input.

    ``padding``: ``"zero"`` (MATLAB ``filter2(..., 'same')``, used by BRISQUE) or ``"replicate"``
    (``imfilter(..., 'replicate')``, used by NIQE).
    """
    k = _GAUSS_7
    r = len(k) // 2
    h, w = x.shape[-2:]
    padded = _pad(x, r, padding)[:, 0]
    # Separable: rows then columns, as sums of shifted copies (fast for a 7-tap float64 kernel).
    cols = padded[:, 0:h, :] * float(k[0])
    for i in range(1, len(k)):
        cols.add_(padded[:, i : i + h, :], alpha=float(k[i]))
    out = cols[:, :, 0:w] * float(k[0])
    for j in range(1, len(k)):
        out.add_(cols[:, :, j : j + w], alpha=float(k[j]))
    return out.reshape(x.shape)


# |y − μ| below this (grey levels) is a zero of exact arithmetic: float64 filtering leaves ≲ 1e-12
# where the window is constant or symmetric about its centre (a ramp), while true nonzero values
# on 16 bundled photographs are ≥ 1.5e-7 at full scale and ≥ 4.7e-9 after the half-scale resize.
EXACT_ZERO_TOL = 1e-10


def mscn(y: torch.Tensor, padding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """MSCN coefficients ``(y − μ) / (σ + 1)`` and the local deviation σ (the releases' ``sigma``).

    Coefficients that are exactly 0 in exact arithmetic (flat or ramp-like windows) are set to 0,
    so that the AGGD fits, which split values into < 0 and > 0, leave them out as the definition
    does. Floating-point filtering leaves a residue of either sign there instead (in double, a
    sequential sum of the 49 weights times a grey level is exact for only 61 of 255 levels;
    pyiqa's float32 kernel leaves ±1e-6), which would put those pixels on one side or the other
    by the accident of rounding.
    """
    mu = gaussian_filter(y, padding)
    sigma = gaussian_filter(y * y, padding).sub_(mu * mu).abs_().sqrt_()
    centred = y - mu
    centred.masked_fill_(centred.abs() <= EXACT_ZERO_TOL, 0.0)
    return centred.div_(sigma + 1.0), sigma


def _wrap_spans(n: int, shift: int) -> list[tuple[slice, slice]]:
    """(output, source) slices of a circular shift by ``shift`` along a length-``n`` axis."""
    d = shift % n
    if d == 0:
        return [(slice(0, n), slice(0, n))]
    return [(slice(d, n), slice(0, n - d)), (slice(0, d), slice(n - d, n))]


def paired_products(m: torch.Tensor, shifts: tuple[tuple[int, int], ...]) -> Iterator[torch.Tensor]:
    """``m · circshift(m, shift)`` over the last two dims, for each (row, column) shift in turn.

    ``circshift(m, [r c])(i, j) = m(i − r, j − c)`` (indices modulo the size), as ``torch.roll``;
    computed piecewise from views, without materialising the shifted copy. Yielded one at a time:
    fitting each product while it is in cache is faster on CPU than stacking them.
    """
    h, w = m.shape[-2:]
    for dr, dc in shifts:
        prod = torch.empty_like(m)
        for oi, si in _wrap_spans(h, dr):
            for oj, sj in _wrap_spans(w, dc):
                torch.mul(m[..., oi, oj], m[..., si, sj], out=prod[..., oi, oj])
        yield prod


# -- distribution fits ------------------------------------------------------------------------
# Moment ratios on the shape grid. ρ(γ) = Γ(1/γ)Γ(3/γ)/Γ(2/γ)² (GGD) decreases strictly and
# r(γ) = 1/ρ(γ) (AGGD) increases strictly, so the nearest grid point is found by bisection.
_RHO_GGD = gamma_fn(1.0 / SHAPE_GRID) * gamma_fn(3.0 / SHAPE_GRID) / gamma_fn(2.0 / SHAPE_GRID) ** 2
_R_AGGD = gamma_fn(2.0 / SHAPE_GRID) ** 2 / (gamma_fn(1.0 / SHAPE_GRID) * gamma_fn(3.0 / SHAPE_GRID))
assert np.all(np.diff(_RHO_GGD) < 0) and np.all(np.diff(_R_AGGD) > 0)


@lru_cache(maxsize=8)
def _tables(device: torch.device) -> dict[str, torch.Tensor]:
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    return {"grid": as_t(SHAPE_GRID), "neg_rho_ggd": as_t(-_RHO_GGD), "r_aggd": as_t(_R_AGGD)}


def nearest_on_grid(table: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Index of the entry of the increasing ``table`` nearest to each value.

    Equals ``argmin(|table − v|)`` including its first-index tie rule; a NaN or infinite value
    gives index 0, as MATLAB's ``min`` and torch's ``argmin`` do on an all-NaN/all-inf difference.
    """
    v = values.contiguous()
    n = table.numel()
    i = torch.searchsorted(table, torch.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)).clamp_(1, n - 1)
    lo, hi = table[i - 1], table[i]
    pick = torch.where((v - lo).abs() <= (hi - v).abs(), i - 1, i)
    return torch.where(torch.isfinite(v), pick, torch.zeros_like(pick))


class GGDFit(NamedTuple):
    alpha: torch.Tensor  # shape
    sigma_sq: torch.Tensor  # mean of squares (the variance of a zero-mean GGD)


class AGGDFit(NamedTuple):
    alpha: torch.Tensor  # shape
    left_std: torch.Tensor  # sqrt(mean(x² | x < 0)); NaN without negative values, as mean([]) in MATLAB
    right_std: torch.Tensor  # sqrt(mean(x² | x > 0))

    def betas(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale parameters β = std · sqrt(Γ(1/α)/Γ(3/α)) (NIQE's features)."""
        c = torch.exp(0.5 * (torch.lgamma(1.0 / self.alpha) - torch.lgamma(3.0 / self.alpha)))
        return self.left_std * c, self.right_std * c


def _dot(v: torch.Tensor) -> torch.Tensor:
    """Sum of squares over the last dim (a BLAS dot product per row)."""
    return torch.matmul(v.unsqueeze(-2), v.unsqueeze(-1))[..., 0, 0]


def _flat(x: torch.Tensor, dims: _Dims) -> torch.Tensor:
    """Merge the reduced dims (trailing) into one last dim."""
    if tuple(sorted(d % x.ndim for d in dims)) != tuple(range(x.ndim - len(dims), x.ndim)):
        raise ValueError(f"dims {dims} must be the trailing dims")
    return x.reshape(*x.shape[: x.ndim - len(dims)], -1)


def fit_ggd(x: torch.Tensor, dims: _Dims = (-2, -1)) -> GGDFit:
    """Zero-mean generalised Gaussian by moment matching (LIVE ``estimateggdparam.m``)."""
    t = _tables(x.device)
    v = _flat(x, dims)
    sigma_sq = _dot(v) / v.shape[-1]
    rho = sigma_sq / (v.abs().sum(-1) / v.shape[-1]) ** 2
    return GGDFit(t["grid"][nearest_on_grid(t["neg_rho_ggd"], -rho)], sigma_sq)


def fit_aggd(x: torch.Tensor, dims: _Dims = (-2, -1)) -> AGGDFit:
    """Asymmetric generalised Gaussian by moment matching (LIVE ``estimateaggdparam.m``)."""
    t = _tables(x.device)
    v = _flat(x, dims)
    n = v.shape[-1]
    neg, pos = v.clamp(max=0.0), v.clamp(min=0.0)  # the negative (positive) values, zeros elsewhere
    left_sq, right_sq = _dot(neg), _dot(pos)
    # Counts from sums of signs: exact, and cheaper than boolean masks. With no negative (positive)
    # value the mean of squares is 0/0 = NaN, as MATLAB's mean([]).
    n_left, n_right = -torch.sign(neg).sum(-1), torch.sign(pos).sum(-1)
    left_std = torch.sqrt(left_sq / n_left)
    right_std = torch.sqrt(right_sq / n_right)
    abs_mean = (pos.sum(-1) - neg.sum(-1)) / n
    sum_sq = left_sq + right_sq
    g = left_std / right_std
    rhat = abs_mean**2 / (sum_sq / n)
    rhat_norm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    return AGGDFit(t["grid"][nearest_on_grid(t["r_aggd"], rhat_norm)], left_std, right_std)
