"""The numerical steps of Re-IQA's distortion bank as its libraries compute them, batched in torch.

Re-IQA's ``datasets/iqa_distortions.py`` runs on 8-bit PIL images through numpy, scikit-image
0.19, scipy 1.10 and Pillow 9.4. Most of its types end in ``astype(uint8)``, a *truncation*, so
values a rounding error below an integer lose a whole level; to give what the released encoder saw,
these steps follow the libraries' arithmetic, in their precision (float32 where the reference
computes in float32) and, where it decides the truncation, in their order of operations:

* images are 8-bit values held as float64 (0..255); :func:`to_8bit` finishes a type the way the
  reference does (clip, then truncate; or round, with the ``round8`` fix);
* :func:`ndimage_convolve_u8`: ``scipy.ndimage.convolve`` of a uint8 plane into a uint8 output
  (``mode='nearest'``): the float64 sum over the kernel's non-zero taps *in scipy's order*, truncated;
* :func:`sk_rgb2lab` / :func:`sk_lab2rgb`, :func:`sk_rgb2hsv` / :func:`sk_hsv2rgb`, the YCbCr
  matrices: scikit-image's formulas (LAB: D65/2°, ``Z < 0`` set to 0 and the result clipped to
  [0, 1] on the way back; HSV with hue in [0, 1), exact to the last bit);
* :func:`ndi_gaussian`: ``scipy.ndimage.gaussian_filter`` (truncated at 4σ, replicate borders);
* :func:`np_gradient`: ``numpy.gradient`` (central differences, one-sided at the ends);
* :func:`spline_eval`: a ``scipy.interpolate.UnivariateSpline`` evaluated as FITPACK's ``splev``;
* :func:`bspline_warp`: ``scipy.ndimage.map_coordinates(order=3, mode='reflect')``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

_DBL_EPSILON = float(np.finfo(np.float64).eps)


# -- 8-bit values ----------------------------------------------------------------------------------
def to_8bit(v: Tensor, rounding: bool = False) -> Tensor:
    """``np.clip(v, 0, 255).astype(uint8)`` (C truncation) as float64, or rounded to nearest."""
    v = v.to(torch.float64).clamp(0.0, 255.0)
    return v.round_() if rounding else v.floor_()


def float32_unit(u: Tensor) -> Tensor:
    """``np.float32(u / 255.0)``: the reference's float32 image in [0, 1] (float32 tensor)."""
    return (u / 255.0).to(torch.float32)


def sk_unit(u: Tensor) -> Tensor:
    """scikit-image's ``img_as_float`` of a uint8 image: ``u * (1 / 255)`` in float64."""
    return u * (1.0 / 255.0)


# -- scipy.ndimage.convolve into uint8 -------------------------------------------------------------
def convolve_taps(kernel: np.ndarray) -> tuple[tuple[int, int, float], ...]:
    """``(dy, dx, w)`` of ``scipy.ndimage.convolve(·, kernel)`` in the order scipy sums them.

    scipy flips the kernel, moves the origin of even sizes back by one (so the centre is at ``k // 2``
    of the unflipped kernel) and correlates, visiting the flipped kernel's entries with
    ``|w| > DBL_EPSILON`` in raster order: ``out[i, j] = Σ w · in[i + dy, j + dx]``.
    """
    flipped = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]
    centre = [s // 2 - (0 if s % 2 else 1) for s in flipped.shape]
    return tuple((r - centre[0], c - centre[1], float(flipped[r, c]))
                 for r in range(flipped.shape[0]) for c in range(flipped.shape[1])
                 if abs(flipped[r, c]) > _DBL_EPSILON)


def ndimage_convolve_u8(u: Tensor, taps: Sequence[tuple[int, int, float]], rounding: bool = False) -> Tensor:
    """``scipy.ndimage.convolve(plane, kernel, output=<uint8 plane>, mode='nearest')`` on every plane
    of ``u`` (8-bit values as float64): ``tmp += w · v`` tap by tap in float64, as scipy's C loop does
    (one product and one sum each, rounded), then truncated. A flat region whose weights sum to
    1 − ε comes out one level darker, as in the reference."""
    r = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    h, w = u.shape[-2:]
    padded = F.pad(u.to(torch.float64), (r, r, r, r), mode="replicate")
    acc = torch.zeros_like(u, dtype=torch.float64)
    for dy, dx, weight in taps:
        acc = acc + padded[..., r + dy : r + dy + h, r + dx : r + dx + w] * weight
    return to_8bit(acc, rounding)


# -- scikit-image colour conversions (N×3×H×W, computed in the input's dtype) -------------------------
_XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
_YCBCR_FROM_RGB = np.array([[65.481, 128.553, 24.966],
                            [-37.797, -74.203, 112.0],
                            [112.0, -93.786, -18.214]])
_D65 = (0.95047, 1.0, 1.08883)
YCBCR_OFFSET = (16.0, 128.0, 128.0)


@lru_cache(maxsize=1)
def _inverses() -> tuple[np.ndarray, np.ndarray]:
    from scipy import linalg  # scikit-image inverts its matrices with scipy

    return linalg.inv(_XYZ_FROM_RGB), linalg.inv(_YCBCR_FROM_RGB)


def mix(x: Tensor, matrix: np.ndarray) -> Tensor:
    """``arr @ matrix.T.astype(arr.dtype)`` per pixel: out_i = Σ_j m_ij · x_j, summed j = 0, 1, 2."""
    m = np.asarray(matrix, dtype=np.float64)
    c = x.unbind(1)
    return torch.stack([c[0] * float(m[i, 0]) + c[1] * float(m[i, 1]) + c[2] * float(m[i, 2]) for i in range(3)], 1)


def ycbcr_from_rgb(rgb: Tensor) -> Tensor:
    """``skimage.color.rgb2ycbcr`` of RGB in [0, 1]: studio-swing Y in [16, 235], Cb, Cr around 128."""
    out = mix(rgb, _YCBCR_FROM_RGB)
    return out + torch.tensor(YCBCR_OFFSET, dtype=out.dtype, device=out.device).view(1, 3, 1, 1)


def rgb_from_ycbcr(ycc: Tensor) -> Tensor:
    """``skimage.color.ycbcr2rgb`` (no clipping)."""
    centred = ycc - torch.tensor(YCBCR_OFFSET, dtype=ycc.dtype, device=ycc.device).view(1, 3, 1, 1)
    return mix(centred, _inverses()[1])


def _white(like: Tensor) -> Tensor:
    return torch.tensor(_D65, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def sk_rgb2lab(rgb: Tensor) -> Tensor:
    """``skimage.color.rgb2lab`` (sRGB, D65, 2°). Values above 1 are not clipped: the reference's
    high sharpen feeds 0–255 and gets L in the thousands."""
    linear = torch.where(rgb > 0.04045, torch.pow((rgb + 0.055) / 1.055, 2.4), rgb / 12.92)
    xyz = mix(linear, _XYZ_FROM_RGB) / _white(rgb)
    f = torch.where(xyz > 0.008856, torch.pow(xyz.clamp(min=0.008856), 1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), 1)


def sk_lab2rgb(lab: Tensor) -> Tensor:
    """``skimage.color.lab2rgb``: fz < 0 set to 0 (scikit-image warns "Z < 0" and does that), then
    sRGB clipped to [0, 1]."""
    lightness, a, b = lab.unbind(1)
    fy = (lightness + 16.0) / 116.0
    f = torch.stack((a / 500.0 + fy, fy, (fy - b / 200.0).clamp(min=0.0)), 1)
    xyz = torch.where(f > 0.2068966, torch.pow(f, 3.0), (f - 16.0 / 116.0) / 7.787) * _white(lab)
    linear = mix(xyz, _inverses()[0])
    rgb = torch.where(linear > 0.0031308, 1.055 * torch.pow(linear.clamp(min=0.0031308), 1 / 2.4) - 0.055,
                      linear * 12.92)
    return rgb.clamp(0.0, 1.0)


def sk_rgb2hsv(rgb: Tensor) -> Tensor:
    """``skimage.color.rgb2hsv``, operation for operation (exact in IEEE arithmetic): hue in [0, 1),
    the last of red, green, blue that equals the maximum decides it."""
    r, g, b = rgb.unbind(1)
    v = rgb.amax(1)
    delta = v - rgb.amin(1)
    flat = delta == 0
    safe = torch.where(flat, torch.ones_like(delta), delta)
    s = torch.where(flat, torch.zeros_like(v), delta / torch.where(flat, torch.ones_like(v), v))
    h = torch.zeros_like(v)
    h = torch.where(r == v, (g - b) / safe, h)
    h = torch.where(g == v, 2.0 + (b - r) / safe, h)
    h = torch.where(b == v, 4.0 + (r - g) / safe, h)
    h = torch.remainder(h / 6.0, 1.0)
    return torch.stack((torch.where(flat, torch.zeros_like(h), h), s, v), 1)


def sk_hsv2rgb(hsv: Tensor) -> Tensor:
    """``skimage.color.hsv2rgb`` (no clipping; a negative saturation gives values above V)."""
    h, s, v = hsv.unbind(1)
    hi = torch.floor(h * 6)
    f = h * 6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    sector = torch.remainder(hi, 6).long().unsqueeze(1)  # astype(uint8) % 6 for hue in [0, 1)
    table = torch.stack((v, t, p, q, v, p, p, v, t, p, q, v, t, p, v, v, p, q), 1)  # (r, g, b) per sector
    index = torch.cat((sector * 3, sector * 3 + 1, sector * 3 + 2), 1)
    return torch.gather(table, 1, index)


# -- scipy / numpy filters ---------------------------------------------------------------------------
@lru_cache(maxsize=64)
def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """``scipy.ndimage``'s 1-D Gaussian: radius ``int(truncate·σ + 0.5)``, normalised."""
    radius = int(truncate * float(sigma) + 0.5)
    t = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * t**2)
    phi = phi / phi.sum()
    phi.flags.writeable = False
    return phi


@lru_cache(maxsize=32)
def _gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """The n×n matrix of a 1-D :func:`gaussian_kernel` pass with replicate borders (taps beyond an
    end fold onto the end pixel)."""
    k = gaussian_kernel(sigma)
    radius = len(k) // 2
    rows = np.arange(n)[:, None]
    cols = np.clip(rows + np.arange(-radius, radius + 1), 0, n - 1)
    m = np.bincount((rows * n + cols).ravel(), weights=np.tile(k, n), minlength=n * n).reshape(n, n)
    m.flags.writeable = False
    return m


def ndi_gaussian(x: Tensor, sigma: float) -> Tensor:
    """``scipy.ndimage.gaussian_filter`` over H then W of every plane (``mode='nearest'``, 4σ), as
    ``skimage.filters.gaussian`` calls it: each pass in float64, stored in ``x``'s dtype. Two matrix
    products (the kernels reach 161 taps, where a float64 convolution is slow on CPU)."""
    h, w = x.shape[-2:]
    mh = torch.as_tensor(np.array(_gaussian_matrix(h, float(sigma))), device=x.device)
    mw = torch.as_tensor(np.array(_gaussian_matrix(w, float(sigma))), device=x.device)
    y = torch.matmul(mh, x.to(torch.float64)).to(x.dtype)
    return torch.matmul(y.to(torch.float64), mw.T).to(x.dtype)


def np_gradient(x: Tensor, dim: int) -> Tensor:
    """``numpy.gradient(x, axis=dim)``: (x[i+1] − x[i−1]) / 2 inside, x[1] − x[0] and x[n−1] − x[n−2]
    at the ends."""
    n = x.shape[dim]
    inner = (x.narrow(dim, 2, n - 2) - x.narrow(dim, 0, n - 2)) / 2.0
    first = x.narrow(dim, 1, 1) - x.narrow(dim, 0, 1)
    last = x.narrow(dim, n - 1, 1) - x.narrow(dim, n - 2, 1)
    return torch.cat((first, inner, last), dim)


# -- scipy.interpolate.UnivariateSpline --------------------------------------------------------------
def spline_eval(x: Tensor, coefficients: Sequence[float]) -> Tensor:
    """A spline with no interior knots on [0, 1] (knots 0 and 1, each k + 1 times; k = len(coefficients)
    − 1) at ``x``, as FITPACK's ``splev`` computes it: the B-spline values by the Cox–de Boor
    recursion of ``fpbspl``, then Σ c_j·h_j in order. ``x`` in [0, 1]."""
    k = len(coefficients) - 1
    h = [torch.ones_like(x)]
    for j in range(1, k + 1):
        hh = h
        h = [torch.zeros_like(x)] + [None] * j
        for i in range(j):
            f = hh[i]  # knot span t(li) − t(lj) = 1 − 0
            h[i] = h[i] + f * (1.0 - x)
            h[i + 1] = f * x
    out = torch.zeros_like(x)
    for c, basis in zip(coefficients, h):
        out = out + float(c) * basis
    return out


# -- scipy.ndimage.map_coordinates(order=3, mode='reflect') ------------------------------------------
@lru_cache(maxsize=16)
def _bspline_prefilter(n: int) -> np.ndarray:
    """The n×n matrix taking samples to cubic B-spline coefficients with half-sample symmetric
    ('reflect') boundaries: the inverse of (c[i−1] + 4·c[i] + c[i+1]) / 6 with c[−1] = c[0],
    c[n] = c[n−1] (scipy's ``spline_filter1d(mode='reflect')`` solves the same system)."""
    a = np.zeros((n, n))
    idx = np.arange(n)
    a[idx, idx] = 4.0 / 6.0
    a[idx[1:], idx[:-1]] = 1.0 / 6.0
    a[idx[:-1], idx[1:]] = 1.0 / 6.0
    a[0, 0] += 1.0 / 6.0
    a[n - 1, n - 1] += 1.0 / 6.0
    inv = np.linalg.inv(a)
    inv.flags.writeable = False
    return inv


def _reflect_index(i: Tensor, n: int) -> Tensor:
    """Half-sample symmetric folding of integer indices into 0..n−1."""
    i = torch.remainder(i, 2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def _reflect_coordinate(c: Tensor, n: int) -> Tensor:
    """A coordinate outside [0, n − 1] mirrored about the outer pixel edges (−0.5 and n − 0.5), as
    scipy's ``mode='reflect'`` does; inside, unchanged (to the bit)."""
    period = 2 * n
    folded = torch.remainder(c + 0.5, period) - 0.5
    folded = torch.where(folded > n - 0.5, period - 1 - folded, folded)
    return torch.where((c < 0) | (c > n - 1), folded, c)


def _cubic_weights(t: Tensor) -> list[Tensor]:
    """Cubic B-spline weights of the four samples floor(c) − 1 … floor(c) + 2, t = c − floor(c)."""
    u = 1.0 - t
    t2, t3 = t * t, t * t * t
    return [u * u * u / 6.0, (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0, (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0, t3 / 6.0]


def bspline_warp(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """``out[i, j] = spline(i − dy[i, j], j − dx[i, j])`` for every plane of ``x`` (N×C×H×W, float64):
    ``scipy.ndimage.map_coordinates(plane, [yy − sy, xx − sx], order=3, mode='reflect')``.
    ``dy``, ``dx``: N×H×W displacements (float64)."""
    n, c, h, w = x.shape
    ph = torch.as_tensor(np.array(_bspline_prefilter(h)), dtype=torch.float64, device=x.device)
    pw = torch.as_tensor(np.array(_bspline_prefilter(w)), dtype=torch.float64, device=x.device)
    coeff = torch.matmul(torch.matmul(ph, x.to(torch.float64)), pw.T).reshape(n, c, h * w)
    rows = torch.arange(h, dtype=torch.float64, device=x.device).view(1, h, 1)
    cols = torch.arange(w, dtype=torch.float64, device=x.device).view(1, 1, w)
    cy, cx = _reflect_coordinate(rows - dy, h), _reflect_coordinate(cols - dx, w)
    fy, fx = torch.floor(cy), torch.floor(cx)
    wy, wx = _cubic_weights(cy - fy), _cubic_weights(cx - fx)
    iy = [_reflect_index(fy.long() + k - 1, h) * w for k in range(4)]
    ix = [_reflect_index(fx.long() + k - 1, w) for k in range(4)]
    out = None
    for a in range(4):  # Σ_a wy_a · Σ_b wx_b · c[iy_a, ix_b]
        inner = None
        for b in range(4):
            index = (iy[a] + ix[b]).view(n, 1, h * w).expand(n, c, h * w)
            term = torch.gather(coeff, 2, index).mul_(wx[b].view(n, 1, h * w))
            inner = term if inner is None else inner.add_(term)
        inner.mul_(wy[a].view(n, 1, h * w))
        out = inner if out is None else out.add_(inner)
    return out.view(n, c, h, w)
