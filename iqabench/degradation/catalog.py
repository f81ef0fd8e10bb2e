"""The 24 distortion types, their groups and level tables, and :func:`distort`, the one entry point."""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..dataset import DIST_GROUPS
from ..errors import IQABenchError, unknown_name
from . import blur, brightness, color, compression, noise, rng, sharpness, spatial

NUM_LEVELS = 5

DistortionFn = Callable[[Tensor, Tensor, "torch.Generator | None"], Tensor]


@dataclass(frozen=True)
class Settings:
    """How the model reproduces four behaviours of the reference implementation that are not what
    its code meant to do (docs/degradation.md, *Settings*). "arniqa", the default of each, is the
    reference's behaviour, which the released ARNIQA weights were trained on; the other value is
    the intended operation. Training records these with its results.

    * ``lens_kernel``: lensblur's disc, "arniqa" (the reference's port of ``fspecial('disk')``,
      negative rim weights from radius 2) or "matlab" (MATLAB's exact disc);
    * ``patch_copy``: noneccpatch copies each patch "arniqa" (row by row from the image being
      written) or "atomic" (as a whole);
    * ``jitter_crop``: jitter's rounds "arniqa" (pads and crops with swapped sizes: random ±1 px
      translations, samples beyond the pad black) or "centred";
    * ``colorshift_clamp``: colorshift's edge-map clamp, "arniqa" (the port's index-tensor clamp:
      two pixels per row forced to 0 and 1) or "percentile" (the MATLAB original's 1 %/99 % clamp).
    """

    lens_kernel: str = "arniqa"
    patch_copy: str = "arniqa"
    jitter_crop: str = "arniqa"
    colorshift_clamp: str = "arniqa"

    def __post_init__(self) -> None:
        _check_settings(vars(self), "degradation setting")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "degradation settings") -> Settings:
        """Settings from a mapping of setting names (e.g. a config section); unknown names are an error."""
        values = {k: str(v) for k, v in values.items()}
        _check_settings(values, where)
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


_SETTING_VALUES = {
    "lens_kernel": tuple(blur.DISKS),
    "patch_copy": spatial.PATCH_COPIES,
    "jitter_crop": spatial.JITTER_CROPS,
    "colorshift_clamp": color.EDGE_CLAMPS,
}


def _check_settings(values: Mapping[str, str], where: str) -> None:
    for name, value in values.items():
        if name not in _SETTING_VALUES:
            raise IQABenchError(f"{where}: unknown setting {name!r} (known: {', '.join(_SETTING_VALUES)})")
        if value not in _SETTING_VALUES[name]:
            raise IQABenchError(f"{where} {name}: {value!r} is not one of {', '.join(_SETTING_VALUES[name])}")


DEFAULT_SETTINGS = Settings()
INTENDED_SETTINGS = Settings(lens_kernel="matlab", patch_copy="atomic", jitter_crop="centred", colorshift_clamp="percentile")
"""The operations as their MATLAB originals define them: what the type functions do when called
without these keywords (as the Re-IQA bank calls them)."""


@dataclass(frozen=True)
class Distortion:
    """One distortion type of the ARNIQA model.

    ``levels`` are the parameter values of levels 1..5 (weakest to strongest, in the reference's
    order); ``deterministic`` is False for types with internal randomness (noise fields, random
    positions, angles, directions). ``fn(x, level_index, generator)`` is the batched
    implementation (0-based CPU level indices); call it through :func:`distort`. ``settings``
    pairs keyword arguments of ``fn`` with the :class:`Settings` field that supplies them.
    """

    key: str
    group: str
    kadid_id: int | None
    levels: tuple[float, ...]
    description: str
    deterministic: bool
    fn: DistortionFn = field(repr=False, compare=False)
    settings: tuple[tuple[str, str], ...] = ()

    def bound(self, settings: Settings) -> DistortionFn:
        """``fn`` with the keyword arguments ``settings`` gives it."""
        if not self.settings:
            return self.fn
        return functools.partial(self.fn, **{arg: getattr(settings, name) for arg, name in self.settings})


_TABLE: tuple[Distortion, ...] = (
    Distortion("gaublur", "blur", 1, blur.GAUBLUR, "Gaussian blur, σ in px", True, blur.gaussian_blur),
    Distortion("lensblur", "blur", 2, blur.LENSBLUR, "lens (disc) blur, radius in px", True, blur.lens_blur,
               (("disk", "lens_kernel"),)),
    Distortion("motionblur", "blur", 3, blur.MOTIONBLUR, "motion blur, length in px, random angle", False,
               blur.motion_blur),
    Distortion("colordiff", "color_distortion", 4, color.COLORDIFF, "colour diffusion (blurred, amplified LAB chroma)",
               True, color.color_diffusion),
    Distortion("colorshift", "color_distortion", 5, color.COLORSHIFT, "edge-gated shift of the green channel, px",
               False, color.color_shift, (("clamp", "colorshift_clamp"),)),
    Distortion("colorsat1", "color_distortion", 7, color.COLORSAT1, "HSV saturation factor", True,
               color.color_saturation1),
    Distortion("colorsat2", "color_distortion", 8, color.COLORSAT2, "LAB chroma factor", True, color.color_saturation2),
    Distortion("jpeg2000", "jpeg", 9, compression.JPEG2000, "JPEG 2000, compression ratio", True,
               compression.jpeg2000),
    Distortion("jpeg", "jpeg", 10, compression.JPEG, "JPEG, quality", True, compression.jpeg),
    Distortion("whitenoise", "noise", 11, noise.WHITENOISE, "white Gaussian noise in RGB, variance", False,
               noise.white_noise),
    Distortion("whitenoiseCC", "noise", 12, noise.WHITENOISE_CC, "white Gaussian noise in YCbCr, variance", False,
               noise.white_noise_cc),
    Distortion("impulsenoise", "noise", 13, noise.IMPULSENOISE, "salt-and-pepper noise per element, density", False,
               noise.impulse_noise),
    Distortion("multnoise", "noise", 14, noise.MULTNOISE, "multiplicative (speckle) noise, variance", False,
               noise.multiplicative_noise),
    Distortion("brighten", "brightness_change", 16, brightness.BRIGHTEN, "brightening tone curve, amount", True,
               brightness.brighten),
    Distortion("darken", "brightness_change", 17, brightness.DARKEN, "darkening tone curve, amount", True,
               brightness.darken),
    Distortion("meanshift", "brightness_change", 18, brightness.MEANSHIFT, "mean shift, added value", True,
               brightness.mean_shift),
    Distortion("jitter", "spatial_distortion", 19, spatial.JITTER, "pixel jitter, shift std in px (5 rounds)", False,
               spatial.jitter, (("crop", "jitter_crop"),)),
    Distortion("noneccpatch", "spatial_distortion", 20, spatial.NONECCPATCH, "non-eccentricity patches, count",
               False, spatial.non_eccentricity_patch, (("copy", "patch_copy"),)),
    Distortion("pixelate", "spatial_distortion", 21, spatial.PIXELATE, "pixelation, strength", True, spatial.pixelate),
    Distortion("quantization", "spatial_distortion", 22, spatial.QUANTIZATION, "uniform quantisation, levels", True,
               spatial.quantization),
    Distortion("colorblock", "spatial_distortion", 23, spatial.COLORBLOCK, "colour blocks 32×32, count", False,
               spatial.color_block),
    Distortion("highsharpen", "sharpness_contrast", 24, sharpness.HIGHSHARPEN, "unsharp mask on LAB L, amount", True,
               sharpness.high_sharpen),
    Distortion("lincontrchange", "sharpness_contrast", 25, sharpness.LINCONTRCHANGE,
               "contrast change by a spline tone curve, a", True, sharpness.linear_contrast_change),
    Distortion("nonlincontrchange", "sharpness_contrast", None, sharpness.NONLINCONTRCHANGE,
               "contrast compression to [0.5 − v, 0.5 + v], v", True, sharpness.non_linear_contrast_change),
)

DISTORTIONS: dict[str, Distortion] = {d.key: d for d in _TABLE}

# group -> type keys, groups in iqabench.dataset.DIST_GROUPS order, types in the reference's order.
GROUPS: dict[str, tuple[str, ...]] = {g: tuple(d.key for d in _TABLE if d.group == g) for g in DIST_GROUPS}


def get(key: str) -> Distortion:
    try:
        return DISTORTIONS[key]
    except KeyError:
        raise unknown_name("distortion", str(key), list(DISTORTIONS)) from None


def level_indices(level: int | Sequence[int] | Tensor, n: int) -> Tensor:
    """1-based level(s) → CPU LongTensor[n] of 0-based indices; one-line error when out of range."""
    if isinstance(level, Tensor):
        if level.dtype.is_floating_point or level.dtype == torch.bool or level.dim() > 1:
            raise IQABenchError(f"level must be an int or a 1-D integer tensor, got {level.dtype} of shape "
                                f"{tuple(level.shape)}")
        levels = level.detach().to("cpu", torch.int64).reshape(-1)
        if level.dim() == 0:
            levels = levels.expand(n)
    elif isinstance(level, bool):
        raise IQABenchError(f"level must be an int in 1..{NUM_LEVELS}, got {level!r}")
    elif isinstance(level, numbers.Integral):
        levels = torch.full((n,), int(level), dtype=torch.int64)
    else:
        try:
            levels = torch.as_tensor([int(v) for v in level], dtype=torch.int64)
        except (TypeError, ValueError):
            raise IQABenchError(f"level must be an int in 1..{NUM_LEVELS} or a sequence of them, got {level!r}") from None
    if levels.numel() != n:
        raise IQABenchError(f"got {levels.numel()} levels for a batch of {n} images")
    if n and (int(levels.min()) < 1 or int(levels.max()) > NUM_LEVELS):
        bad = levels[(levels < 1) | (levels > NUM_LEVELS)][0]
        raise IQABenchError(f"level {int(bad)} out of range: levels are 1..{NUM_LEVELS} (1 = weakest)")
    return levels - 1


def check_batch(x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise IQABenchError(f"expected a tensor of images, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise IQABenchError(f"expected an N×3×H×W batch of RGB images, got shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise IQABenchError(f"expected float32 or float64 images in [0, 1], got {x.dtype}")
    return x


def distort(
    x: Tensor,
    key: str,
    level: int | Sequence[int] | Tensor,
    generator: torch.Generator | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> Tensor:
    """Apply distortion ``key`` at ``level`` (1..5, one int or one per sample) to a batch.

    ``x``: N×3×H×W float32/float64 in [0, 1] on any device; the result has the same shape, dtype
    and device, clipped to [0, 1]; ``x`` is never modified. Random types draw everything from
    ``generator`` (on its own device, then moved; see :mod:`iqabench.degradation.rng`); ``None``
    uses a fresh generator seeded from torch's global RNG. ``settings``: :class:`Settings`.
    """
    dist = get(key)
    out = apply_type(dist.bound(settings), dist.deterministic, x, level, generator)
    if out.data_ptr() == x.data_ptr():
        out = out.clone()
    # The reference casts to float32 and clips after every step.
    return out.to(x.dtype).clamp_(0.0, 1.0)


def apply_type(fn, deterministic: bool, x: Tensor, level: int | Sequence[int] | Tensor,
               generator: torch.Generator | None) -> Tensor:
    """The checks and plumbing every type's function shares: validate the batch and the levels,
    resolve the generator (random types only) and call ``fn(x, level_indices, generator)`` without
    autograd. An empty batch returns a copy. The result may alias ``x``; callers finish it."""
    check_batch(x)
    li = level_indices(level, x.shape[0])
    if x.shape[0] == 0:
        return x.clone()
    gen = None if deterministic else rng.resolve(generator)
    with torch.no_grad():
        return fn(x, li, gen)
