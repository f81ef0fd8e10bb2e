"""Pillow's resampling and blur filters, batched in torch (the Re-IQA bank runs on PIL images).

* :func:`pil_resize`: ``Image.resize`` with NEAREST, BILINEAR, BICUBIC (PIL's a = −0.5) or LANCZOS
  (a = 3). Pillow resamples separably, horizontal pass first, each output pixel a normalised
  weighted sum over a support widened by the scale factor when reducing (antialiasing); the
  weights here are computed with Pillow's own rule (``precompute_coeffs`` in ``Resample.c``:
  centre ``(i + 0.5)·scale``, window rounded to whole pixels and clipped to the image, weights
  normalised after clipping) and applied as two matrix products. NEAREST picks the source pixel
  at ``(i + 0.5)·scale`` accumulated as Pillow does (:func:`nearest_indices`).
* :func:`pil_box_blur` / :func:`pil_gaussian_blur`: ``ImageFilter.BoxBlur(r)`` and
  ``ImageFilter.GaussianBlur(r)``. A box blur of fractional radius ``R`` averages ``2⌊R⌋ + 1``
  pixels with weight 1 and the next two with weight ``R − ⌊R⌋``, over ``2R + 1``, with replicate
  borders; GaussianBlur(r) is three such passes per axis with the extended-box radius of
  Gwosdek et al. (SSVM 2011) for σ = r (``_gaussian_blur_radius``). All horizontal passes run
  first, then the vertical ones.

Pillow works on 8-bit images in fixed point and stores every pass in 8 bits. With ``quantize=True``
(the default) these functions do the same integer arithmetic on the 8-bit values of their input
(as float64, which holds the sums exactly), so their results equal Pillow's bit for bit (tested
against Pillow itself); ``quantize=False`` keeps float weights and values throughout.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

FILTERS = ("nearest", "bilinear", "bicubic", "lanczos")
_SUPPORT = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}
_BICUBIC_A = -0.5  # Pillow's bicubic (torch's non-antialiased bicubic uses −0.75)


def quantize8(x: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to 1/255 steps (an 8-bit image), new tensor."""
    return x.clamp(0.0, 1.0).mul_(255.0).round_().div_(255.0)


def _kernel(name: str, t: np.ndarray) -> np.ndarray:
    if name == "bilinear":
        return np.clip(1.0 - np.abs(t), 0.0, None)
    if name == "bicubic":
        a, t = _BICUBIC_A, np.abs(t)
        near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
        far = (((t - 5.0) * t + 8.0) * t - 4.0) * a
        return np.where(t < 1.0, near, np.where(t < 2.0, far, 0.0))
    if name == "lanczos":
        return np.where((t >= -3.0) & (t < 3.0), np.sinc(t) * np.sinc(t / 3.0), 0.0)
    raise ValueError(f"unknown filter {name!r} (filters: {', '.join(FILTERS)})")


@lru_cache(maxsize=256)
def nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Source pixel of each output pixel of Pillow's NEAREST resize: ``(i + 0.5)·scale`` accumulated
    in float64 one step at a time, as Pillow's ``ImagingScaleAffine`` does, then truncated (which
    sends some exact boundaries to the lower pixel, unlike ``floor`` of the product)."""
    scale = in_size / out_size
    positions = np.cumsum(np.concatenate([[0.5 * scale], np.full(out_size - 1, scale)]))
    idx = np.minimum(positions.astype(np.int64), in_size - 1)
    idx.flags.writeable = False
    return idx


@lru_cache(maxsize=256)
def resample_matrix(in_size: int, out_size: int, name: str) -> np.ndarray:
    """``out_size × in_size`` weights of Pillow's resampling of one axis (float64, rows sum to 1)."""
    if name == "nearest":
        m = np.zeros((out_size, in_size))
        m[np.arange(out_size), nearest_indices(in_size, out_size)] = 1.0
        m.flags.writeable = False
        return m
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _SUPPORT[name] * filterscale
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)  # C's (int) cast; negative values are clamped anyway
        hi = min(int(centre + support + 0.5), in_size)
        xs = np.arange(lo, hi, dtype=np.float64)
        w = _kernel(name, (xs - centre + 0.5) / filterscale)
        total = w.sum()
        m[i, lo:hi] = w / total if total != 0.0 else w
    m.flags.writeable = False
    return m


_RESAMPLE_BITS = 22  # Pillow's 8-bit resampling precision (32 − 8 − 2)


def fixed_point(m: np.ndarray) -> np.ndarray:
    """Pillow's 8-bit coefficients: each weight × 2²², rounded half away from zero."""
    scaled = m * (1 << _RESAMPLE_BITS)
    return np.where(scaled < 0, np.ceil(scaled - 0.5), np.floor(scaled + 0.5))


def _resample_pass(y: Tensor, m: np.ndarray, quantize: bool, along_w: bool) -> Tensor:
    if not quantize:
        mt = torch.tensor(m, dtype=y.dtype, device=y.device)
        return torch.matmul(y, mt.T) if along_w else torch.matmul(mt, y)
    # Pillow's integer arithmetic on 8-bit values, exactly: clip((Σ v·k + 2²¹) >> 22, 0, 255).
    k = torch.tensor(fixed_point(m), dtype=torch.float64, device=y.device)
    acc = torch.matmul(y, k.T) if along_w else torch.matmul(k, y)
    half = float(1 << (_RESAMPLE_BITS - 1))
    return torch.floor((acc + half) / float(1 << _RESAMPLE_BITS)).clamp_(0.0, 255.0)


def pil_resize(x: Tensor, size: tuple[int, int], name: str, *, quantize: bool = True) -> Tensor:
    """``Image.resize((width, height), filter)`` of every image of an N×3×H×W batch in [0, 1].

    ``quantize=True`` (the default) works on the 8-bit values of ``x`` with Pillow's fixed-point
    weights and 8-bit intermediate, so the result equals Pillow's; ``False`` keeps floats."""
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r} (filters: {', '.join(FILTERS)})")
    width, height = int(size[0]), int(size[1])
    h, w = x.shape[-2:]
    if name == "nearest":  # a gather: exact at any precision
        rows = torch.as_tensor(np.array(nearest_indices(h, height)), device=x.device)
        cols = torch.as_tensor(np.array(nearest_indices(w, width)), device=x.device)
        return x.index_select(-2, rows).index_select(-1, cols)
    y = x.double().clamp(0.0, 1.0).mul(255.0).round_() if quantize else x
    if width != w:  # Pillow: the horizontal pass first
        y = _resample_pass(y, resample_matrix(w, width, name), quantize, along_w=True)
    if height != h:
        y = _resample_pass(y, resample_matrix(h, height, name), quantize, along_w=False)
    if quantize:
        return y.div_(255.0).to(x.dtype)
    return y if y is not x else x.clone()


def gaussian_box_radius(radius: float, passes: int = 3) -> float:
    """The fractional box radius whose ``passes``-fold box blur has variance ``radius²``; computed in
    float32 as Pillow's ``_gaussian_blur_radius`` does."""
    f = np.float32
    sigma2 = f(radius) * f(radius) / f(passes)
    length = np.sqrt(f(12.0) * sigma2 + f(1.0), dtype=np.float32)
    whole = np.floor((length - f(1.0)) / f(2.0))
    frac = (f(2) * whole + f(1)) * (whole * (whole + f(1)) - f(3) * sigma2)
    frac = frac / (f(6) * (sigma2 - (whole + f(1)) * (whole + f(1))))
    return float(f(whole + frac))


_ONE = 1 << 24  # Pillow's fixed point: weights in units of 2⁻²⁴


def box_weights(radius: float) -> tuple[int, int, int]:
    """(whole radius r, inner weight, far weight) of Pillow's box blur in 2⁻²⁴ units: the inner
    ``2r + 1`` pixels weigh ``(2²⁴ / (2R + 1))`` (a float32 quotient, truncated), the two far ones
    split the rest."""
    whole = int(radius)
    inner = int(np.float32(_ONE) / (np.float32(radius) * np.float32(2) + np.float32(1)))
    far = (_ONE - (2 * whole + 1) * inner) // 2
    return whole, inner, far


def _box_passes_along_w(x: Tensor, radius: float, passes: int, quantize: bool) -> Tensor:
    n, c, h, w = x.shape
    whole, inner, far = box_weights(radius)
    k = torch.full((2 * whole + 3,), float(inner), dtype=torch.float64, device=x.device)
    k[0] = k[-1] = float(far)
    k = k.view(1, 1, 1, -1)
    pad = whole + 1
    if quantize:  # Pillow's integer arithmetic on 8-bit values, exactly: (Σ v·w + 2²³) >> 24
        y = x.reshape(n * c, 1, h, w).double().clamp(0.0, 1.0).mul(255.0).round_()
        for _ in range(passes):
            y = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode="replicate"), k)
            y = torch.floor((y + float(_ONE // 2)) / float(_ONE)).clamp_(0.0, 255.0)
        return y.div_(255.0).to(x.dtype).view(n, c, h, w)
    y = x.reshape(n * c, 1, h, w)
    kf = (k / _ONE).to(x.dtype)
    for _ in range(passes):
        y = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode="replicate"), kf)
    return y.view(n, c, h, w)


def pil_box_blur(x: Tensor, radius: float, passes: int = 1, *, quantize: bool = True) -> Tensor:
    """``passes`` box blurs of (fractional) ``radius`` along W, then along H, replicate borders."""
    if radius <= 0:
        return x.clone()
    y = _box_passes_along_w(x, radius, passes, quantize)
    return _box_passes_along_w(y.transpose(2, 3), radius, passes, quantize).transpose(2, 3).contiguous()


def pil_gaussian_blur(x: Tensor, radius: float, *, quantize: bool = True) -> Tensor:
    """``ImageFilter.GaussianBlur(radius)``: three extended box blurs per axis (σ = radius)."""
    return pil_box_blur(x, gaussian_box_radius(radius, 3), 3, quantize=quantize)
