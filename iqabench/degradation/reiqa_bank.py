"""Re-IQA's distortion bank: 26 types × 5 levels, batched in torch (baselines.md §1.2).

Re-IQA trains its quality-aware encoder on versions of each pristine image distorted by
``datasets/iqa_distortions.py`` (``avinabsaha/ReIQA``): 26 KADID-style distortions written for
8-bit PIL images with numpy, scikit-image, scipy and Pillow. This module is that bank as data
(:data:`REIQA_BANK`, :data:`REIQA_IDS`) and one batched entry point, :func:`distort_reiqa`, with
the contract of :func:`iqabench.degradation.distort` (N×3×H×W float in [0, 1] on any device,
1-based levels, randomness from a ``torch.Generator``, input never modified) and an 8-bit result.

By default every type is **what the released encoder was trained on**, quirks included: most
types truncate to 8 bits (``astype(uint8)``) instead of rounding, the colour types use
scikit-image's conversions, blurs that go through ``scipy.ndimage.convolve`` sum their taps in
scipy's order before truncating (:mod:`.reiqa_ops`), and the random draws follow the reference's
shapes and orders. Four intended-behaviour fixes are options (:data:`FIXES`, ``fixes=``); they
change what the encoder sees, so a model trained with them is not the released one's twin.
Measured parity and the method: ``docs/reiqa.md``.

The 26 implementations are in :mod:`.reiqa_types`: each ``BankEntry.apply(u, level_indices, draws,
fixes)`` works on 8-bit values held as float64 (0..255), and a random type's ``BankEntry.draw`` makes
all its random draws first, so tests can pass the draws they want.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..errors import IQABenchError, unknown_name
from .catalog import apply_type
from .reiqa_types import (
    BRIGHTEN,
    COLORBLOCK,
    COLORDIFF,
    COLORSAT_HSV,
    COLORSAT_LAB,
    COLORSHIFT,
    CONTRAST,
    DARKEN,
    DENOISE,
    FIXES,
    GAUBLUR,
    HIGHSHARPEN,
    IMPULSENOISE,
    JITTER,
    JPEG,
    LENSBLUR,
    MEANSHIFT,
    MOTION_LINE,
    MULTNOISE,
    NONECCPATCH,
    PIXELATE,
    RESIZE,
    RESIZE_NEAREST,
    WHITENOISE,
    WHITENOISE_YCBCR,
    ApplyFn,
    brighten,
    color_block,
    color_diffusion,
    color_saturation_hsv,
    color_saturation_lab,
    color_shift,
    contrast,
    darken,
    denoise,
    draw_color_block,
    draw_color_shift,
    draw_denoise,
    draw_jitter,
    draw_motion,
    draw_noneccentricity,
    draw_normal,
    draw_pixel_uniform,
    gaussian_blur,
    high_sharpen,
    impulse_noise,
    jitter,
    jpeg,
    lens_blur,
    mean_shift,
    motion_blur,
    multiplicative_noise,
    non_eccentricity_patch,
    pixelate,
    resize,
    white_noise,
    white_noise_ycbcr,
)

NUM_TYPES = 26

Draws = Any
DrawFn = Callable[[Tensor, Tensor, torch.Generator], Draws]


@dataclass(frozen=True)
class BankEntry:
    """One type of the bank: ``id`` is the reference's number (1..26), ``levels`` its level values
    (index 0..4 in the reference = level 1..5 here). ``apply(u, li, draws, fixes)`` works on 8-bit
    values (float64, 0..255); ``draw`` (random types only) makes its random draws."""

    id: int
    key: str
    group: str  # iqabench.dataset.DIST_GROUPS, for figures
    levels: tuple[float, ...]
    description: str
    apply: ApplyFn = field(repr=False, compare=False)
    draw: DrawFn | None = field(default=None, repr=False, compare=False)

    @property
    def deterministic(self) -> bool:
        return self.draw is None


def check_fixes(fixes: Sequence[str] | frozenset | None, option: str = "fixes") -> frozenset:
    """The fixes as a frozenset; an unknown name fails in one line naming ``option``."""
    if fixes is None:
        return frozenset()
    if isinstance(fixes, str):
        fixes = [fixes]
    for name in fixes:
        if name not in FIXES:
            raise IQABenchError(f"{option}: {unknown_name('Re-IQA bank fix', str(name), list(FIXES))}")
    return frozenset(fixes)


# -- the bank --------------------------------------------------------------------------------------
_BANK: tuple[BankEntry, ...] = (
    BankEntry(1, "gaublur_pil", "blur", GAUBLUR, "Pillow Gaussian blur, radius", gaussian_blur),
    BankEntry(2, "lensblur", "blur", LENSBLUR, "lens (disc) blur, radius in px", lens_blur),
    BankEntry(3, "colordiff", "color_distortion", COLORDIFF,
              "colour diffusion: LAB a,b blurred (σ = 1.5·amt + 2) and × amt", color_diffusion),
    BankEntry(4, "colorshift", "color_distortion", COLORSHIFT, "edge-gated shift of the green channel, px",
              color_shift, draw_color_shift),
    BankEntry(5, "colorsat_hsv", "color_distortion", COLORSAT_HSV, "HSV saturation factor", color_saturation_hsv),
    BankEntry(6, "colorsat_lab", "color_distortion", COLORSAT_LAB, "LAB chroma factor", color_saturation_lab),
    BankEntry(7, "jpeg_pil", "jpeg", JPEG, "JPEG (Pillow/libjpeg), quality", jpeg),
    BankEntry(8, "whitenoise", "noise", WHITENOISE, "white Gaussian noise in RGB, variance", white_noise,
              draw_normal),
    BankEntry(9, "whitenoise_ycbcr", "noise", WHITENOISE_YCBCR, "white Gaussian noise in YCbCr, variance",
              white_noise_ycbcr, draw_normal),
    BankEntry(10, "impulsenoise", "noise", IMPULSENOISE, "salt-and-pepper pixels, density", impulse_noise,
              draw_pixel_uniform),
    BankEntry(11, "multnoise", "noise", MULTNOISE, "multiplicative (speckle) noise, variance", multiplicative_noise,
              draw_normal),
    BankEntry(12, "denoise", "noise", DENOISE, "white noise (variance) then Gaussian r=3 or box r=2 smoothing",
              denoise, draw_denoise),
    BankEntry(13, "brighten", "brightness_change", BRIGHTEN, "brightening tone curve, amount", brighten),
    BankEntry(14, "darken", "brightness_change", DARKEN, "darkening tone curve, amount", darken),
    BankEntry(15, "meanshift", "brightness_change", MEANSHIFT, "mean shift, added value", mean_shift),
    BankEntry(16, "resize_bicubic", "spatial_distortion", RESIZE, "down/up resize, Pillow default (bicubic), factor",
              resize("bicubic", RESIZE)),
    BankEntry(17, "highsharpen_laplacian", "sharpness_contrast", HIGHSHARPEN, "LAB L − k·Laplacian, k",
              high_sharpen),
    BankEntry(18, "contrast", "sharpness_contrast", CONTRAST, "contrast change by a cubic tone curve, a", contrast),
    BankEntry(19, "colorblock", "spatial_distortion", COLORBLOCK, "colour blocks 32×32, count", color_block,
              draw_color_block),
    BankEntry(20, "pixelate", "spatial_distortion", PIXELATE, "pixelation, strength", pixelate),
    BankEntry(21, "noneccpatch", "spatial_distortion", NONECCPATCH, "non-eccentricity patches, count",
              non_eccentricity_patch, draw_noneccentricity),
    BankEntry(22, "jitter", "spatial_distortion", JITTER, "pixel jitter, shift std in px (5 rounds)", jitter,
              draw_jitter),
    BankEntry(23, "resize_bilinear", "spatial_distortion", RESIZE, "down/up resize, bilinear, factor",
              resize("bilinear", RESIZE)),
    BankEntry(24, "resize_nearest", "spatial_distortion", RESIZE_NEAREST, "down/up resize, nearest, factor",
              resize("nearest", RESIZE_NEAREST)),
    BankEntry(25, "resize_lanczos", "spatial_distortion", RESIZE, "down/up resize, Lanczos, factor",
              resize("lanczos", RESIZE)),
    BankEntry(26, "motionblur_line", "blur", MOTION_LINE, "motion blur, horizontal or vertical line, length",
              motion_blur, draw_motion),
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


def to_8bit_values(x: Tensor) -> Tensor:
    """Images in [0, 1] as the 8-bit values the reference's PIL images hold (float64, 0..255)."""
    return x.to(torch.float64).clamp(0.0, 1.0).mul(255.0).round_()


def distort_reiqa(x: Tensor, key: str | int, level: int | Sequence[int] | Tensor,
                  generator: torch.Generator | None = None, *, fixes: Sequence[str] = ()) -> Tensor:
    """Apply bank type ``key`` (a key or an id 1..26) at ``level`` (1..5, or one per sample).

    Same contract as :func:`iqabench.degradation.distort`; the input is read as an 8-bit image (it
    is rounded to 1/255 steps first, as the reference's PIL images are) and the result is one (values
    on 1/255 steps) in the input's dtype, shape and device. ``fixes``: names from :data:`FIXES`.
    """
    entry = get(key)
    chosen = check_fixes(fixes)

    def run(xs: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
        u = to_8bit_values(xs)
        draws = entry.draw(u, li, gen) if entry.draw is not None else None
        return entry.apply(u, li, draws, chosen)

    out = apply_type(run, entry.deterministic, x, level, generator)
    return out if x.shape[0] == 0 else out.to(x.dtype).div_(255.0)


def distorted_versions(image: Tensor, keys: Sequence[str | int], levels: Sequence[int],
                       generator: torch.Generator | None = None, *, fixes: Sequence[str] = ()) -> Tensor:
    """``[image, d_1(image), …, d_n(image)]`` (n+1)×3×H×W: one image (1×3×H×W or 3×H×W) distorted by
    each (type, level) in turn, independently (the versions of one Re-IQA training image)."""
    x = image.unsqueeze(0) if image.dim() == 3 else image
    if x.shape[0] != 1:
        raise IQABenchError(f"distorted_versions takes one image, got a batch of {x.shape[0]}")
    if len(keys) != len(levels):
        raise IQABenchError(f"got {len(keys)} distortion types and {len(levels)} levels")
    out = [x] + [distort_reiqa(x, k, int(lv), generator, fixes=fixes) for k, lv in zip(keys, levels)]
    return torch.cat(out)
