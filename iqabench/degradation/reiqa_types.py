"""The 26 distortion types of Re-IQA's bank, as the released quality encoder saw them.

Each type mirrors its function in ``datasets/iqa_distortions.py`` (``avinabsaha/ReIQA``), working on
8-bit values held as float64 (0..255): ``apply(u, level_indices, draws, fixes)`` returns such
values; a random type's ``draw(u, level_indices, generator)`` makes all its random draws first
(in the reference's shapes and orders), so tests can pass the draws they want. The numerical steps
(scikit-image colour, scipy filters, truncation) are in :mod:`.reiqa_ops`; the table and the entry
points in :mod:`.reiqa_bank`. :data:`FIXES` are the intended-behaviour fixes, off by default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import IQABenchError
from . import kernels, rng
from .batching import by_level, per_sample
from .pil_ops import pil_box_blur, pil_gaussian_blur, pil_resize
from .reiqa_ops import (
    bspline_warp,
    convolve_taps,
    float32_unit,
    ndi_gaussian,
    ndimage_convolve_u8,
    np_gradient,
    rgb_from_ycbcr,
    sk_hsv2rgb,
    sk_lab2rgb,
    sk_rgb2hsv,
    sk_rgb2lab,
    sk_unit,
    spline_eval,
    to_8bit,
    ycbcr_from_rgb,
)

ApplyFn = Callable[[Tensor, Tensor, Any, frozenset], Tensor]

# Level tables, the reference's index 0..4 = level 1..5 here.
GAUBLUR = (0.1, 0.5, 1.0, 2.0, 5.0)  # Pillow GaussianBlur radius
LENSBLUR = (1, 2, 4, 6, 8)  # disc radius (px)
COLORDIFF = (1, 3, 6, 8, 12)  # amount: a,b blurred with σ = 1.5·amount + 2, then × amount
COLORSHIFT = (1, 3, 6, 8, 12)  # shift length (px)
COLORSAT_HSV = (0.4, 0.2, 0.1, 0.0, -0.4)  # HSV saturation factor
COLORSAT_LAB = (1, 2, 3, 6, 9)  # LAB a,b factor
JPEG = (70, 43, 36, 24, 7)  # quality
WHITENOISE = (0.001, 0.002, 0.003, 0.005, 0.01)  # variance (of [0, 1] values)
WHITENOISE_YCBCR = (0.0001, 0.0005, 0.001, 0.002, 0.003)  # variance (of YCbCr / 255)
IMPULSENOISE = (0.001, 0.005, 0.01, 0.02, 0.03)  # fraction of pixels set to black or white
MULTNOISE = (0.001, 0.005, 0.01, 0.02, 0.05)  # variance
DENOISE = (0.001, 0.002, 0.003, 0.005, 0.01)  # white-noise variance before the smoothing
BRIGHTEN = (0.1, 0.2, 0.4, 0.7, 1.1)  # curve through (0.5, 0.5 + amount/2)
DARKEN = (0.05, 0.1, 0.2, 0.4, 0.8)  # curve through (0.5, 0.5 − amount/2)
MEANSHIFT = (0.15, 0.08, 0.0, -0.08, -0.15)  # added; level 3 is the identity
RESIZE = (2, 3, 4, 8, 16)  # down-scaling factor (bicubic, bilinear, Lanczos)
RESIZE_NEAREST = (2, 3, 4, 5, 6)
HIGHSHARPEN = (1, 2, 3, 6, 12)  # k in L − k·∇²L
CONTRAST = (0.3, 0.15, 0.0, -0.4, -0.6)  # a: curve through (.3, .25 − a/4), (.5, .5), (.7, .75 + a/4)
COLORBLOCK = (2, 4, 6, 8, 10)  # number of 32×32 blocks
PIXELATE = (0.01, 0.05, 0.1, 0.2, 0.5)  # strength s: scale z = 0.95 − s^0.6
NONECCPATCH = (20, 40, 60, 80, 100)  # number of 16×16 patch copies
JITTER = (0.05, 0.1, 0.2, 0.5, 1.0)  # std of the per-pixel shift (px), 5 rounds
MOTION_LINE = (12, 16, 20, 24, 28)  # line length (px)

DENOISE_GAUSSIAN_RADIUS = 3  # Pillow GaussianBlur(3) ...
DENOISE_BOX_RADIUS = 2  # ... or BoxBlur(2), one of the two per image
_BLOCK = 32
_PATCH, _PATCH_RADIUS = 16, 16
_JITTER_ROUNDS = 5

FIXES: dict[str, str] = {
    "round8": "round to the nearest 8-bit value where the reference truncates (astype(uint8))",
    "colorshift_2d": "colour shift moves green by (s0, s1) rows and columns; the reference's np.roll without "
                     "an axis rolls the flattened image by s0 + s1, a horizontal shift that wraps rows",
    "highsharpen_unit_rgb": "high sharpen converts RGB in [0, 1] to LAB; the reference feeds 0–255, which "
                            "saturates L and turns the type into a colour posterisation",
    "motionblur_centred": "motion blur's line on the kernel's centre row/column; the reference puts it at "
                          "int((k − 1)/2) while scipy centres at k//2, shifting the blur by one pixel",
}


def _rounding(fixes: frozenset) -> bool:
    return "round8" in fixes


def _unit_op(fn: Callable[..., Tensor], u: Tensor, *args: Any) -> Tensor:
    """A :mod:`.pil_ops` function (images in [0, 1]) on 8-bit values."""
    return fn(u / 255.0, *args).mul(255.0).round_()


# -- blur ------------------------------------------------------------------------------------------
def gaussian_blur(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """Pillow ``GaussianBlur(radius)``: three extended box blurs per axis, bit for bit."""
    return by_level(u, li, lambda us, lv: _unit_op(pil_gaussian_blur, us, GAUBLUR[lv]))


@lru_cache(maxsize=8)
def _disc_taps(radius: int) -> tuple:
    return convolve_taps(kernels.disk(float(radius)))


def lens_blur(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """``scipy.ndimage.convolve`` of each uint8 channel with ``fspecial('disk', r)`` into uint8."""
    return by_level(u, li, lambda us, lv: ndimage_convolve_u8(us, _disc_taps(LENSBLUR[lv]), _rounding(fixes)))


@lru_cache(maxsize=32)
def line_taps(length: int, vertical: bool, centred: bool) -> tuple:
    """Taps of the reference's motion kernel: a k×k zero kernel with a line of 1/k at row or column
    ``int((k − 1)/2)`` (``k // 2`` when ``centred``), column for ``vertical``."""
    kernel = np.zeros((length, length))
    index = length // 2 if centred else int((length - 1) / 2)
    if vertical:
        kernel[:, index] = 1.0
    else:
        kernel[index, :] = 1.0
    return convolve_taps(kernel / length)


def draw_motion(u: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """Per image: vertical line (``random.choice([0, 90])`` = 0) with probability ½."""
    return rng.rand((u.shape[0],), gen, torch.device("cpu"), torch.float64) < 0.5


def motion_blur(u: Tensor, li: Tensor, vertical: Tensor, fixes: frozenset) -> Tensor:
    """A box of ``length`` pixels along a column (``vertical``) or a row, via ``scipy.ndimage.convolve``
    into uint8: rows i − k/2 + 1 … i + k/2 of column j + 1 (row i + 1 for a horizontal line) by
    default, the same rows of column j with ``motionblur_centred``."""
    key = li * 2 + vertical.long().cpu()
    centred = "motionblur_centred" in fixes

    def run(us: Tensor, code: int) -> Tensor:
        taps = line_taps(MOTION_LINE[code // 2], bool(code % 2), centred)
        return ndimage_convolve_u8(us, taps, _rounding(fixes))

    return by_level(u, key, run)


# -- colour ----------------------------------------------------------------------------------------
def color_diffusion(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """scikit-image LAB; a,b through ``filters.gaussian`` (σ = 1.5·amount + 2, truncated at 4σ, replicate
    borders) and × amount; L unchanged; back to RGB (clipped), truncated."""
    lab = sk_rgb2lab(sk_unit(u))
    ab = by_level(lab[:, 1:], li, lambda t, lv: ndi_gaussian(t, 1.5 * COLORDIFF[lv] + 2))
    ab = ab * per_sample(COLORDIFF, li, ab)
    return to_8bit(255.0 * sk_lab2rgb(torch.cat((lab[:, :1], ab), 1)), _rounding(fixes))


def _mapmm(e: Tensor) -> Tensor:
    """Min-max to [0, 1] per image, left alone when constant (the reference's ``mapmm``)."""
    lo = e.amin((1, 2, 3), keepdim=True)
    hi = e.amax((1, 2, 3), keepdim=True)
    flat = lo >= hi
    return torch.where(flat, e, (e - lo) / torch.where(flat, torch.ones_like(hi), hi - lo))


def _percentile(e: Tensor, q: float) -> Tensor:
    """``numpy.percentile(e, 100·q)`` of a float32 map per image (method 'linear', numpy's arithmetic:
    float32 neighbours and difference, float64 interpolation), float64 N×1×1×1."""
    flat = e.flatten(1).sort(dim=1).values
    n = flat.shape[1]
    virtual = n * q + (1 + q * -1) - 1  # numpy's virtual index for method 'linear'
    below = min(max(math.floor(virtual), 0), n - 1)
    above = min(below + 1, n - 1)
    gamma = virtual - below
    a, b = flat[:, below].double(), flat[:, above].double()
    diff = (flat[:, above] - flat[:, below]).double()
    value = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return value.view(-1, 1, 1, 1)


def _edge_map(im: Tensor) -> Tensor:
    """The reference's edge gate (float32 N×1×H×W): gradient magnitude of grey, Gaussian σ = 4,
    min-max, clip to [0.1, 1], min-max, clip to the 1st–99th percentiles, min-max."""
    gray = (0.2989 * im[:, 0] + 0.5870 * im[:, 1] + 0.1140 * im[:, 2]).unsqueeze(1)
    e = torch.hypot(np_gradient(gray, 2), np_gradient(gray, 3))
    e = _mapmm(ndi_gaussian(e, 4.0))
    e = _mapmm(e.clamp(0.1, 1.0))
    hi = _percentile(e, 0.99).float()  # numpy 1.x clips a float32 array at float32 bounds
    lo = (1 - _percentile(1 - e, 0.99)).float()
    return _mapmm(torch.minimum(torch.maximum(e, lo), hi))  # np.clip(e, lo, hi)


def _symmetric_index(i: Tensor, n: int) -> Tensor:
    """numpy's 'symmetric' padding: index −1 reads 0, n reads n − 1 (one reflection)."""
    return torch.where(i < 0, -i - 1, torch.where(i >= n, 2 * n - 1 - i, i))


def draw_color_shift(u: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """``np.random.random([1, 2])`` per image (N×2 float64)."""
    return rng.rand((u.shape[0], 2), gen, torch.device("cpu"), torch.float64)


def color_shift_amounts(a: Tensor, li: Tensor) -> Tensor:
    """``uint8(round(normalize(a, 'l2') · amount))``: N×2 (rows, columns), half to even."""
    amount = torch.tensor(COLORSHIFT, dtype=torch.float64)[li].unsqueeze(1)
    norm = torch.sqrt(a[:, :1] * a[:, :1] + a[:, 1:] * a[:, 1:])
    return torch.round(a / norm * amount).long()


def color_shift(u: Tensor, li: Tensor, a: Tensor, fixes: frozenset) -> Tensor:
    """Green replaced by ``shifted·e + G·(1 − e)`` (float32), e the edge gate. ``shifted``: G padded by
    p = max(s) (numpy 'symmetric'), then ``np.roll`` *without an axis*, which rolls the flattened
    padded image by s0 + s1: a rightward shift by s0 + s1 whose first columns wrap to the previous
    row's right border when both are non-zero; cropped. ``colorshift_2d``: down s0, right s1."""
    _require_size(u, max(COLORSHIFT), "colorshift")  # numpy's one-reflection padding
    n, _, h, w = u.shape
    s = color_shift_amounts(a, li)
    p = s.max(dim=1).values.view(n, 1, 1)
    s0, s1 = s[:, :1].view(n, 1, 1), s[:, 1:].view(n, 1, 1)
    i = torch.arange(h).view(1, h, 1)
    j = torch.arange(w).view(1, 1, w)
    if "colorshift_2d" in fixes:
        rows, cols = i - s0, j - s1
    else:
        width = w + 2 * p
        flat = (i + p) * width + (j + p) - (s0 + s1)  # index into the padded image, row-major
        rows, cols = torch.div(flat, width, rounding_mode="floor") - p, torch.remainder(flat, width) - p
    index = (_symmetric_index(rows, h) * w + _symmetric_index(cols, w)).view(n, h * w).to(u.device)
    im = float32_unit(u)
    g = im[:, 1]
    shifted = g.reshape(n, h * w).gather(1, index).view(n, h, w)
    e = _edge_map(im)[:, 0]
    out = im.clone()
    out[:, 1] = shifted * e + g * (1 - e)
    return to_8bit(out * 255.0, _rounding(fixes))


def color_saturation_hsv(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """scikit-image HSV, S × factor, back (no clipping before the 0–255 clip), truncated."""
    hsv = sk_rgb2hsv(sk_unit(u))
    s = hsv[:, 1:2] * per_sample(COLORSAT_HSV, li, hsv)
    return to_8bit(sk_hsv2rgb(torch.cat((hsv[:, :1], s, hsv[:, 2:]), 1)) * 255.0, _rounding(fixes))


def color_saturation_lab(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """scikit-image LAB, a,b × factor, back to RGB (Z < 0 set to 0, clipped), truncated."""
    lab = sk_rgb2lab(sk_unit(u))
    ab = lab[:, 1:] * per_sample(COLORSAT_LAB, li, lab)
    return to_8bit(sk_lab2rgb(torch.cat((lab[:, :1], ab), 1)) * 255.0, _rounding(fixes))


# -- compression -----------------------------------------------------------------------------------
def jpeg(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """Pillow's ``save(format='JPEG', quality=q)`` round trip (libjpeg, 4:2:0): torchvision's encoder,
    bit-identical to Pillow's on the same 8-bit image (tested)."""
    from torchvision.io import decode_jpeg, encode_jpeg

    def run(us: Tensor, level: int) -> Tensor:
        u8 = us.to(torch.uint8)
        encoded = encode_jpeg(list(u8.contiguous().unbind(0)), quality=JPEG[level])
        if u8.is_cuda:
            encoded = [e.cpu() for e in encoded]
        return torch.stack(decode_jpeg(encoded, device=u8.device)).to(torch.float64)

    return by_level(u, li, run)


# -- noise -----------------------------------------------------------------------------------------
def draw_normal(u: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """One standard normal per element (``np.random.normal`` of the image's shape), float64."""
    return rng.randn(tuple(u.shape), gen, u.device, torch.float64)


def _sigma(table: Sequence[float], li: Tensor, like: Tensor) -> Tensor:
    return per_sample([v**0.5 for v in table], li, like)


def white_noise(u: Tensor, li: Tensor, z: Tensor, fixes: frozenset) -> Tensor:
    """``(float32(u / 255) + σ·z) · 255``, clipped, truncated."""
    noisy = float32_unit(u).double() + _sigma(WHITENOISE, li, z) * z
    return to_8bit(noisy * 255.0, _rounding(fixes))


def white_noise_ycbcr(u: Tensor, li: Tensor, z: Tensor, fixes: frozenset) -> Tensor:
    """scikit-image's studio-swing YCbCr / 255, + σ·z per channel, back to RGB, clipped, truncated
    (a unit of Y noise is 255/219 units of RGB noise)."""
    ycc = ycbcr_from_rgb(sk_unit(u)) / 255.0 + _sigma(WHITENOISE_YCBCR, li, z) * z
    return to_8bit(rgb_from_ycbcr(ycc * 255.0) * 255.0, _rounding(fixes))


def draw_pixel_uniform(u: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """One U[0, 1) per pixel (N×1×H×W float64)."""
    n, _, h, w = u.shape
    return rng.rand((n, 1, h, w), gen, u.device, torch.float64)


def impulse_noise(u: Tensor, li: Tensor, probs: Tensor, fixes: frozenset) -> Tensor:
    """Whole pixels (all channels) black where U < d/2, white where U > 1 − d/2."""
    half = per_sample([d / 2 for d in IMPULSENOISE], li, probs)
    out = torch.where(probs < half, torch.zeros_like(u), u)
    return torch.where(probs > 1 - half, torch.full_like(u, 255.0), out)


def multiplicative_noise(u: Tensor, li: Tensor, z: Tensor, fixes: frozenset) -> Tensor:
    """``(x + x·σ·z) · 255`` with x = float32(u / 255), clipped, truncated."""
    x = float32_unit(u).double()
    return to_8bit((x + x * (_sigma(MULTNOISE, li, z) * z)) * 255.0, _rounding(fixes))


def draw_denoise(u: Tensor, li: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """The noise field, then per image Gaussian (``np.random.randint(0, 2) == 0``) with probability ½."""
    z = draw_normal(u, li, gen)
    return z, rng.rand((u.shape[0],), gen, torch.device("cpu"), torch.float64) < 0.5


def denoise(u: Tensor, li: Tensor, draws: tuple[Tensor, Tensor], fixes: frozenset) -> Tensor:
    """White noise truncated to 8 bits, then Pillow's GaussianBlur(3) or BoxBlur(2)."""
    z, use_gaussian = draws
    noisy = to_8bit((float32_unit(u).double() + _sigma(DENOISE, li, z) * z) * 255.0, _rounding(fixes))
    out = torch.empty_like(noisy)
    for flag, smooth in ((True, lambda t: _unit_op(pil_gaussian_blur, t, DENOISE_GAUSSIAN_RADIUS)),
                         (False, lambda t: _unit_op(pil_box_blur, t, DENOISE_BOX_RADIUS, 1))):
        idx = (use_gaussian.cpu() == flag).nonzero().squeeze(1)
        if len(idx):
            idx = idx.to(u.device)
            out.index_copy_(0, idx, smooth(noisy.index_select(0, idx)))
    return out


# -- brightness ------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _spline(xs: tuple[float, ...], ys: tuple[float, ...], k: int) -> tuple[float, ...]:
    """B-spline coefficients of ``scipy.interpolate.UnivariateSpline(xs, ys, k=k)`` (default smoothing):
    with these points FITPACK returns a single polynomial through them, without interior knots."""
    from scipy.interpolate import UnivariateSpline

    spline = UnivariateSpline(np.array(xs), np.array(ys), k=k)
    if len(spline.get_knots()) != 2:
        raise IQABenchError(f"Re-IQA tone curve through {ys}: expected no interior knots, got {spline.get_knots()}")
    return tuple(float(c) for c in spline.get_coeffs())


def _curve(midpoint: float) -> tuple[float, ...]:
    """The reference's ``curvefit``: a quadratic through (0, 0), (0.5, c), (1, 1)."""
    return _spline((0.0, 0.5, 1.0), (0.0, midpoint, 1.0), 2)


def brighten(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """(2·curve(RGB) + clip(RGB of LAB with curve(L/100)·100)) / 3 on float32 RGB (the LAB conversions in
    float32, the curves in float64 and clipped), truncated."""
    def run(us: Tensor, level: int) -> Tensor:
        c = _curve(0.5 + 0.5 * BRIGHTEN[level])
        im = float32_unit(us)
        lab = sk_rgb2lab(im)
        lightness = (spline_eval((lab[:, :1] / 100.0).double(), c).clamp(0.0, 1.0) * 100.0).float()
        via_lab = sk_lab2rgb(torch.cat((lightness, lab[:, 1:]), 1)).double()
        rgb = spline_eval(im.double(), c).clamp(0.0, 1.0)
        return to_8bit((2 * rgb + via_lab) / 3.0 * 255.0, _rounding(fixes))

    return by_level(u, li, run)


@lru_cache(maxsize=64)
def tone_table(kind: str, level: int, rounding: bool) -> np.ndarray:
    """The 8-bit result of a pointwise type for each input value 0..255, computed as the reference
    does (float32 input, scipy's spline or float32 arithmetic, clip, truncation)."""
    v = np.arange(256)
    if kind == "meanshift":  # np.float32(v/255.0) + amount, · 255, all in float32
        out = (np.float32(v / 255.0) + np.float32(MEANSHIFT[level])) * np.float32(255.0)
    else:
        from scipy.interpolate import UnivariateSpline

        x32 = v.astype(np.float32) / np.float32(255.0)
        if kind == "darken":
            spline = UnivariateSpline([0, 0.5, 1], [0, 0.5 - DARKEN[level] / 2, 1], k=2)
        else:
            a = CONTRAST[level]
            spline = UnivariateSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.25 - a / 4, 0.5, 0.75 + a / 4, 1])
        out = np.clip(spline(x32), 0, 1) * 255
    out = np.clip(out.astype(np.float64), 0, 255)
    table = np.round(out) if rounding else np.floor(out)
    table.flags.writeable = False
    return table


def _tone(kind: str) -> ApplyFn:
    def fn(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
        tables = torch.tensor(np.stack([tone_table(kind, lv, _rounding(fixes)) for lv in range(5)]),
                              dtype=torch.float64, device=u.device)
        per_image = tables[li.to(u.device)]  # N×256
        n = u.shape[0]
        return per_image.gather(1, u.long().reshape(n, -1)).view_as(u)

    fn.__doc__ = f"The reference's {kind} as a per-level table of the 256 input values."
    return fn


darken, mean_shift, contrast = _tone("darken"), _tone("meanshift"), _tone("contrast")


# -- sharpness -------------------------------------------------------------------------------------
def high_sharpen(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """L − k·∇²L in scikit-image LAB (float32), ∇² as ``np.gradient`` applied twice per axis, L clipped
    to [0, 100], back to RGB, truncated. The reference converts the 0–255 values themselves (L in
    the thousands, so nearly all of it clips to 100 and a,b explode): a strong posterisation that
    barely depends on k. ``highsharpen_unit_rgb``: RGB in [0, 1], the intended sharpening."""
    im = u.float() / 255.0 if "highsharpen_unit_rgb" in fixes else u.float()
    lab = sk_rgb2lab(im)
    lightness = lab[:, :1]
    laplacian = np_gradient(np_gradient(lightness, 3), 3) + np_gradient(np_gradient(lightness, 2), 2)
    sharpened = (lightness - per_sample(HIGHSHARPEN, li, lightness) * laplacian).clamp(0.0, 100.0)
    return to_8bit(255.0 * sk_lab2rgb(torch.cat((sharpened, lab[:, 1:]), 1)), _rounding(fixes))


# -- spatial ---------------------------------------------------------------------------------------
def resize(filter_name: str, table: Sequence[int]) -> ApplyFn:
    def fn(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
        h, w = u.shape[-2:]

        def run(us: Tensor, level: int) -> Tensor:
            small = (max(1, int(w / table[level])), max(1, int(h / table[level])))
            return _unit_op(lambda t: pil_resize(pil_resize(t, small, filter_name), (w, h), filter_name), us)

        return by_level(u, li, run)

    fn.__doc__ = f"Pillow resize to (int(W/f), int(H/f)) and back to (W, H), both {filter_name.upper()}."
    return fn


def pixelate(u: Tensor, li: Tensor, draws: None, fixes: frozenset) -> Tensor:
    """Pillow NEAREST to (int(z·W), int(z·H)) and back, z = 0.95 − s^0.6."""
    h, w = u.shape[-2:]

    def run(us: Tensor, level: int) -> Tensor:
        z = 0.95 - PIXELATE[level] ** 0.6
        small = (max(1, int(z * w)), max(1, int(z * h)))
        return pil_resize(pil_resize(us, small, "nearest"), (w, h), "nearest")

    return by_level(u, li, run)


def _require_size(u: Tensor, minimum: int, key: str) -> None:
    h, w = u.shape[-2:]
    if h < minimum or w < minimum:
        raise IQABenchError(f"Re-IQA distortion {key!r} needs images of at least {minimum}×{minimum} pixels, "
                            f"got {h}×{w}")


def draw_color_block(u: Tensor, li: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Per block (up to 10): a colour of three ``random.randint(0, 255)``, then x and y fractions."""
    n = u.shape[0]
    most = max(COLORBLOCK)
    colours = rng.randint(0, 256, (n, most, 3), gen, torch.device("cpu"))
    where = rng.rand((n, most, 2), gen, torch.device("cpu"), torch.float64)
    return colours, where


def color_block(u: Tensor, li: Tensor, draws: tuple[Tensor, Tensor], fixes: frozenset) -> Tensor:
    """Blocks of 32×32 painted in order at (int(fy·(H − 32)), int(fx·(W − 32)))."""
    _require_size(u, _BLOCK, "colorblock")
    colours, where = draws
    h, w = u.shape[-2:]
    out = u.clone()
    for i, count in enumerate(torch.tensor(COLORBLOCK)[li].tolist()):
        for b in range(count):
            x = int(float(where[i, b, 0]) * (w - _BLOCK))
            y = int(float(where[i, b, 1]) * (h - _BLOCK))
            colour = colours[i, b].to(device=u.device, dtype=u.dtype).view(3, 1, 1)
            out[i, :, y : y + _BLOCK, x : x + _BLOCK] = colour
    return out


def draw_noneccentricity(u: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """Per copy (up to 100): four ``random.uniform(0, 1)``: source x, source y, target x, target y."""
    return rng.rand((u.shape[0], max(NONECCPATCH), 4), gen, torch.device("cpu"), torch.float64)


def non_eccentricity_patch(u: Tensor, li: Tensor, draws: Tensor, fixes: frozenset) -> Tensor:
    """``count`` times in order: the 16×16 patch at (int(U·(H − 48)) + 16, int(U·(W − 48)) + 16) copied
    to an offset of int(U·16 − 8) px per axis, reading the image as earlier copies left it."""
    _require_size(u, 2 * _PATCH_RADIUS + _PATCH, "noneccpatch")
    h, w = u.shape[-2:]
    lo = _PATCH_RADIUS
    w_span, h_span = w - _PATCH - _PATCH_RADIUS - lo, h - _PATCH - _PATCH_RADIUS - lo
    out = u.clone()
    for i, count in enumerate(torch.tensor(NONECCPATCH)[li].tolist()):
        for uw, uh, urw, urh in draws[i, :count].tolist():
            ws, hs = int(uw * w_span) + lo, int(uh * h_span) + lo
            wd, hd = int((urw - 0.5) * _PATCH_RADIUS + ws), int((urh - 0.5) * _PATCH_RADIUS + hs)
            out[i, :, hd : hd + _PATCH, wd : wd + _PATCH] = out[i, :, hs : hs + _PATCH, ws : ws + _PATCH].clone()
    return out


def draw_jitter(u: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """Five rounds of ``np.random.randn(H, W, 2)`` per image: N×5×H×W×2 float64 (dy, dx)."""
    n, _, h, w = u.shape
    return rng.randn((n, _JITTER_ROUNDS, h, w, 2), gen, u.device, torch.float64)


def jitter(u: Tensor, li: Tensor, z: Tensor, fixes: frozenset) -> Tensor:
    """Five rounds of a per-pixel shift by σ·z px, resampled with ``map_coordinates(order=3,
    mode='reflect')`` (cubic B-spline), stored as float32 and clipped to 0..255; truncated."""
    sigma = per_sample(JITTER, li, z).view(-1, 1, 1)
    out = u.float()
    for r in range(_JITTER_ROUNDS):
        shift = z[:, r]
        out = bspline_warp(out.double(), shift[..., 0] * sigma, shift[..., 1] * sigma).float().clamp(0.0, 255.0)
    return to_8bit(out, _rounding(fixes))


