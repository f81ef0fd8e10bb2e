"""Re-IQA's distortion bank: 26 types × 5 levels, batched in torch (baselines.md §1.2).

Re-IQA trains its quality-aware encoder on versions of each pristine image distorted by
``datasets/iqa_distortions.py``: 26 Python ports of KADID-style distortions (no JPEG 2000, no
quantisation) working on 8-bit PIL images. This module is that bank as data
(:data:`REIQA_BANK`, :data:`REIQA_IDS`) and one batched entry point, :func:`distort_reiqa`, with
the same contract as :func:`iqabench.degradation.distort`: N×3×H×W float in [0, 1] on any device,
1-based levels (level k = the reference's index k − 1), randomness from a ``torch.Generator``,
input never modified, output clipped. Unlike the ARNIQA model, every output is **rounded to 8
bits** (the reference's functions return PIL images).

Where a type is the same operation as one of iqabench's ARNIQA degradation model with the same
level table, that implementation is reused (``BankEntry.reuses`` names it); where the operation is
the same but Re-IQA's parameters differ, the ARNIQA primitives are reused with Re-IQA's values
(JPEG quality 70…7 through libjpeg, which is bit-identical to Pillow's; mean shift and contrast
tables in Re-IQA's order; colour diffusion, LAB chroma and brighten on the LAB of RGB, without the
channel-reversal quirk of ARNIQA's reference). New operations: Pillow's Gaussian blur (a radius,
three extended box blurs: :mod:`.pil_ops`), "denoise", down/up resizing with Pillow's bicubic,
bilinear, nearest and Lanczos filters, a Laplacian sharpening of LAB L and a horizontal or
vertical line motion blur. The decisions where the reference is not documented are listed in
``docs/reiqa.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import IQABenchError, unknown_name
from . import blur, brightness, color, kernels, noise, rng, spatial
from .batching import by_level, per_sample
from .catalog import apply_type
from .colorspace import lab_to_rgb, rgb_to_lab
from .curves import parabola, parabola_coefficients, spline5, spline5_coefficients
from .filtering import filter2d, filter_separable
from .pil_ops import pil_box_blur, pil_gaussian_blur, pil_resize, quantize8

NUM_TYPES = 26

GAUBLUR_PIL = (0.1, 0.5, 1.0, 2.0, 5.0)  # Pillow GaussianBlur radius (= σ, as three box blurs)
JPEG_PIL = (70, 43, 36, 24, 7)  # quality
DENOISE = (0.001, 0.002, 0.003, 0.005, 0.01)  # white-noise variance before the smoothing
MEANSHIFT = (0.15, 0.08, 0.0, -0.08, -0.15)  # added; level 3 is the identity
RESIZE = (2, 3, 4, 8, 16)  # down-scaling factor (bicubic, bilinear, Lanczos)
RESIZE_NEAREST = (2, 3, 4, 5, 6)
HIGHSHARPEN = (1.0, 2.0, 3.0, 6.0, 12.0)  # k in L − k·∇²L
CONTRAST = (0.3, 0.15, 0.0, -0.4, -0.6)  # a: spline through (.3, .25 − a/4), (.7, .75 + a/4)
MOTION_LINE = (12, 16, 20, 24, 28)  # line length (px)

DENOISE_GAUSSIAN_RADIUS = 3.0  # Pillow GaussianBlur(3) ...
DENOISE_BOX_RADIUS = 2.0  # ... or BoxBlur(2), one of the two per image

# 3×3 Laplacian (4-neighbour), as cv2.Laplacian(ksize=1).
_LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))

BankFn = Callable[[Tensor, Tensor, "torch.Generator | None"], Tensor]


@dataclass(frozen=True)
class BankEntry:
    """One type of the bank: ``id`` is the reference's number (1..26), ``levels`` its level values
    (index 0..4 in the reference = level 1..5 here), ``reuses`` the ARNIQA degradation type whose
    implementation (and level table) it shares, if any."""

    id: int
    key: str
    group: str  # iqabench.dataset.DIST_GROUPS, for figures
    levels: tuple[float, ...]
    description: str
    deterministic: bool
    fn: BankFn = field(repr=False, compare=False)
    reuses: str | None = None


# -- new operations --------------------------------------------------------------------------------
def gaussian_blur_pil(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Pillow ``GaussianBlur(radius)`` (three extended box blurs per axis, replicate borders)."""
    return by_level(x, li, lambda xs, level: pil_gaussian_blur(quantize8(xs), GAUBLUR_PIL[level]))


def jpeg_pil(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Pillow's ``save(format='JPEG', quality=q)`` round trip (libjpeg, 4:2:0): torchvision's encoder,
    bit-identical to Pillow's on the same 8-bit image (tested), rounded (not truncated) to 8 bits."""
    from torchvision.io import decode_jpeg, encode_jpeg

    def run(u8: Tensor, level: int) -> Tensor:
        encoded = encode_jpeg(list(u8.contiguous().unbind(0)), quality=JPEG_PIL[level])
        if u8.is_cuda:
            encoded = [e.cpu() for e in encoded]
        return torch.stack(decode_jpeg(encoded, device=u8.device))

    u8 = x.clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8)
    return by_level(u8, li, run).to(x.dtype).div_(255.0)


def denoise(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """White Gaussian noise of the level's variance (8-bit result), then per image either Pillow's
    GaussianBlur(3) or BoxBlur(2), each with probability ½ (the "denoiser" the reference applies)."""
    noisy = quantize8(x + rng.randn(tuple(x.shape), gen, x.device, x.dtype) * per_sample(DENOISE, li, x).sqrt_())
    use_gaussian = rng.rand((x.shape[0],), gen, torch.device("cpu"), torch.float64) < 0.5
    out = torch.empty_like(noisy)
    for flag, smooth in ((True, lambda t: pil_gaussian_blur(t, DENOISE_GAUSSIAN_RADIUS)),
                         (False, lambda t: pil_box_blur(t, DENOISE_BOX_RADIUS, 1))):
        idx = (use_gaussian == flag).nonzero().squeeze(1)
        if len(idx):
            idx = idx.to(x.device)
            out.index_copy_(0, idx, smooth(noisy.index_select(0, idx)))
    return out


def color_diffusion_rgb(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """LAB (of RGB) a,b blurred with σ = 1.5·amt + 2 and multiplied by amt (ARNIQA's colordiff
    without its channel-reversal quirk and 1/255 truncation)."""
    lab = rgb_to_lab(x)

    def blur_ab(ab: Tensor, level: int) -> Tensor:
        sigma = 1.5 * color.COLORDIFF[level] + 2
        return filter_separable(ab, kernels.gaussian_1d(sigma, kernels.gaussian_size(sigma)))

    ab = by_level(lab[:, 1:], li, blur_ab) * per_sample(color.COLORDIFF, li, x)
    return lab_to_rgb(torch.cat((lab[:, :1], ab), 1))


def color_saturation_lab(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """LAB (of RGB) a,b × factor."""
    lab = rgb_to_lab(x)
    ab = lab[:, 1:] * per_sample(color.COLORSAT2, li, x)
    return lab_to_rgb(torch.cat((lab[:, :1], ab), 1))


def brighten_rgb(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """(2·curve(RGB) + RGB-of-curve(LAB L))/3, curve through (0.5, 0.5 + amt/2) (ARNIQA's brighten
    on the LAB of RGB)."""
    ab = torch.tensor([parabola_coefficients(0.5 + brightness.BRIGHTEN[i] / 2) for i in li.tolist()],
                      dtype=x.dtype, device=x.device)
    a, b = ab[:, 0].view(-1, 1, 1, 1), ab[:, 1].view(-1, 1, 1, 1)
    lab = rgb_to_lab(x)
    lightness = parabola(lab[:, :1] / 100.0, a, b).mul_(100.0)
    via_lab = lab_to_rgb(torch.cat((lightness, lab[:, 1:]), 1))
    return (parabola(x, a, b).mul_(2.0) + via_lab).div_(3.0)


def mean_shift(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """x + amount (Re-IQA's order: +0.15, +0.08, 0, −0.08, −0.15)."""
    return x + per_sample(MEANSHIFT, li, x)


def contrast_change(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """ARNIQA's lincontrchange spline with Re-IQA's table (0.3, 0.15, 0, −0.4, −0.6)."""
    coefficients = torch.tensor(
        [spline5_coefficients(0.25 - a / 4, 0.75 + a / 4) for a in (CONTRAST[i] for i in li.tolist())],
        dtype=torch.float64,
    )
    return spline5(x, coefficients)


def high_sharpen_laplacian(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """LAB (of RGB) L − k·∇²L with the 3×3 four-neighbour Laplacian, replicate borders."""
    lab = rgb_to_lab(x)
    lightness = lab[:, :1]
    sharpened = lightness - per_sample(HIGHSHARPEN, li, x) * filter2d(lightness, _LAPLACIAN)
    return lab_to_rgb(torch.cat((sharpened, lab[:, 1:]), 1))


def _down_up(name: str, table: Sequence[int]) -> BankFn:
    def fn(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
        h, w = x.shape[-2:]

        def run(xs: Tensor, level: int) -> Tensor:
            small = (max(1, w // table[level]), max(1, h // table[level]))
            return pil_resize(pil_resize(quantize8(xs), small, name), (w, h), name)

        return by_level(x, li, run)

    fn.__doc__ = f"Pillow resize to (W // f, H // f) and back to (W, H), both with {name.upper()}."
    return fn


def motion_blur_line(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """Average of ``length`` pixels along a row or a column (direction uniform per image), kernel
    anchored at ``length // 2`` (offsets −length//2 … length − 1 − length//2), replicate borders."""
    vertical = (rng.rand((x.shape[0],), gen, torch.device("cpu"), torch.float64) < 0.5).tolist()
    levels = li.tolist()
    key = torch.tensor([2 * lv + int(v) for lv, v in zip(levels, vertical)])

    def run(xs: Tensor, code: int) -> Tensor:
        length, is_vertical = MOTION_LINE[code // 2], bool(code % 2)
        before, after = length // 2, length - 1 - length // 2
        n, c, h, w = xs.shape
        k = torch.full((1, 1, 1, length), 1.0 / length, dtype=xs.dtype, device=xs.device)
        planes = xs.transpose(2, 3) if is_vertical else xs
        hh, ww = planes.shape[-2:]
        out = F.conv2d(F.pad(planes.reshape(n * c, 1, hh, ww), (before, after, 0, 0), mode="replicate"), k)
        out = out.view(n, c, hh, ww)
        return out.transpose(2, 3) if is_vertical else out

    return by_level(x, key, run)


# -- the bank --------------------------------------------------------------------------------------
_BANK: tuple[BankEntry, ...] = (
    BankEntry(1, "gaublur_pil", "blur", GAUBLUR_PIL, "Pillow Gaussian blur, radius", True, gaussian_blur_pil),
    BankEntry(2, "lensblur", "blur", blur.LENSBLUR, "lens (disc) blur, radius in px", True, blur.lens_blur,
              reuses="lensblur"),
    BankEntry(3, "colordiff", "color_distortion", color.COLORDIFF,
              "colour diffusion: LAB a,b blurred (σ = 1.5·amt + 2) and × amt", True, color_diffusion_rgb),
    BankEntry(4, "colorshift", "color_distortion", color.COLORSHIFT, "edge-gated shift of the green channel, px",
              False, color.color_shift, reuses="colorshift"),
    BankEntry(5, "colorsat_hsv", "color_distortion", color.COLORSAT1, "HSV saturation factor", True,
              color.color_saturation1, reuses="colorsat1"),
    BankEntry(6, "colorsat_lab", "color_distortion", color.COLORSAT2, "LAB chroma factor", True,
              color_saturation_lab),
    BankEntry(7, "jpeg_pil", "jpeg", JPEG_PIL, "JPEG (Pillow/libjpeg), quality", True, jpeg_pil),
    BankEntry(8, "whitenoise", "noise", noise.WHITENOISE, "white Gaussian noise in RGB, variance", False,
              noise.white_noise, reuses="whitenoise"),
    BankEntry(9, "whitenoise_ycbcr", "noise", noise.WHITENOISE_CC, "white Gaussian noise in YCbCr, variance",
              False, noise.white_noise_cc, reuses="whitenoiseCC"),
    BankEntry(10, "impulsenoise", "noise", noise.IMPULSENOISE, "salt-and-pepper noise, density", False,
              noise.impulse_noise, reuses="impulsenoise"),
    BankEntry(11, "multnoise", "noise", noise.MULTNOISE, "multiplicative (speckle) noise, variance", False,
              noise.multiplicative_noise, reuses="multnoise"),
    BankEntry(12, "denoise", "noise", DENOISE, "white noise (variance) then Gaussian r=3 or box r=2 smoothing",
              False, denoise),
    BankEntry(13, "brighten", "brightness_change", brightness.BRIGHTEN, "brightening tone curve, amount", True,
              brighten_rgb),
    BankEntry(14, "darken", "brightness_change", brightness.DARKEN, "darkening tone curve, amount", True,
              brightness.darken, reuses="darken"),
    BankEntry(15, "meanshift", "brightness_change", MEANSHIFT, "mean shift, added value", True, mean_shift),
    BankEntry(16, "resize_bicubic", "spatial_distortion", RESIZE, "down/up resize, Pillow default (bicubic), factor",
              True, _down_up("bicubic", RESIZE)),
    BankEntry(17, "highsharpen_laplacian", "sharpness_contrast", HIGHSHARPEN, "LAB L − k·Laplacian, k", True,
              high_sharpen_laplacian),
    BankEntry(18, "contrast", "sharpness_contrast", CONTRAST, "contrast change by a spline tone curve, a", True,
              contrast_change),
    BankEntry(19, "colorblock", "spatial_distortion", spatial.COLORBLOCK, "colour blocks 32×32, count", False,
              spatial.color_block, reuses="colorblock"),
    BankEntry(20, "pixelate", "spatial_distortion", spatial.PIXELATE, "pixelation, strength", True, spatial.pixelate,
              reuses="pixelate"),
    BankEntry(21, "noneccpatch", "spatial_distortion", spatial.NONECCPATCH, "non-eccentricity patches, count", False,
              spatial.non_eccentricity_patch, reuses="noneccpatch"),
    BankEntry(22, "jitter", "spatial_distortion", spatial.JITTER, "pixel jitter, shift std in px (5 rounds)", False,
              spatial.jitter, reuses="jitter"),
    BankEntry(23, "resize_bilinear", "spatial_distortion", RESIZE, "down/up resize, bilinear, factor", True,
              _down_up("bilinear", RESIZE)),
    BankEntry(24, "resize_nearest", "spatial_distortion", RESIZE_NEAREST, "down/up resize, nearest, factor", True,
              _down_up("nearest", RESIZE_NEAREST)),
    BankEntry(25, "resize_lanczos", "spatial_distortion", RESIZE, "down/up resize, Lanczos, factor", True,
              _down_up("lanczos", RESIZE)),
    BankEntry(26, "motionblur_line", "blur", MOTION_LINE, "motion blur, horizontal or vertical line, length", False,
              motion_blur_line),
)

REIQA_BANK: dict[str, BankEntry] = {e.key: e for e in _BANK}
REIQA_IDS: dict[int, str] = {e.id: e.key for e in _BANK}


def get(key: str | int) -> BankEntry:
    """An entry by key or by the reference's id (1..26)."""
    if isinstance(key, int) and not isinstance(key, bool):
        if key not in REIQA_IDS:
            raise IQABenchError(f"Re-IQA distortion id {key} out of range: ids are 1..{NUM_TYPES}")
        return REIQA_BANK[REIQA_IDS[key]]
    try:
        return REIQA_BANK[key]
    except KeyError:
        raise unknown_name("Re-IQA distortion", str(key), list(REIQA_BANK)) from None


def distort_reiqa(
    x: Tensor, key: str | int, level: int | Sequence[int] | Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Apply bank type ``key`` (a key or an id 1..26) at ``level`` (1..5, or one per sample).

    Same contract as :func:`iqabench.degradation.distort`; the result is an 8-bit image (values on
    1/255 steps) in the input's dtype, shape and device.
    """
    entry = get(key)
    return quantize8(apply_type(entry.fn, entry.deterministic, x, level, generator).to(x.dtype))


def distorted_versions(
    image: Tensor, keys: Sequence[str | int], levels: Sequence[int], generator: torch.Generator | None = None
) -> Tensor:
    """``[image, d_1(image), …, d_n(image)]`` (n+1)×3×H×W: one image (1×3×H×W or 3×H×W) distorted by
    each (type, level) in turn, independently (the versions of one Re-IQA training image)."""
    x = image.unsqueeze(0) if image.dim() == 3 else image
    if x.shape[0] != 1:
        raise IQABenchError(f"distorted_versions takes one image, got a batch of {x.shape[0]}")
    if len(keys) != len(levels):
        raise IQABenchError(f"got {len(keys)} distortion types and {len(levels)} levels")
    out = [x] + [distort_reiqa(x, k, int(lv), generator) for k, lv in zip(keys, levels)]
    return torch.cat(out)
