"""Sharpness & contrast group: highsharpen, lincontrchange, nonlincontrchange (KADID #24, #25, new)."""

from __future__ import annotations

import torch
from torch import Tensor

from . import kernels
from .batching import cpu_chunked, per_sample
from .colorspace import lab_to_rgb, rgb_to_lab
from .curves import spline5, spline5_coefficients
from .filtering import filter_separable

HIGHSHARPEN = (1.0, 2.0, 3.0, 6.0, 12.0)  # unsharp-mask amount
LINCONTRCHANGE = (0.0, 0.15, -0.4, 0.3, -0.6)  # a: curve through (.3, .25 − a/4), (.7, .75 + a/4)
NONLINCONTRCHANGE = (0.4, 0.3, 0.2, 0.1, 0.05)  # v: output range [0.5 − v, 0.5 + v]

# The reference's high_sharpen(radius=3) builds filt_radius = ceil(2·3) = 6 and then passes it as
# the Gaussian's σ as well as its radius: a 13×13 kernel with σ = 6 (quirk kept; MATLAB's
# original uses σ = radius = 3).
_SHARPEN_RADIUS = 6
_SHARPEN_SIGMA = 6.0


def high_sharpen(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Unsharp mask on LAB L (of channel-reversed data: quirk kept): the reference's kernel
    δ + amt·(δ − G) applied as L + amt·(L − G∗L), with G = fspecial('gaussian', 13, 6)."""
    return cpu_chunked(_high_sharpen, x, li)


def _high_sharpen(x: Tensor, li: Tensor) -> Tensor:
    lab = rgb_to_lab(x, swap_rb=True)
    lightness = lab[:, :1]
    blurred = filter_separable(lightness, kernels.gaussian_1d(_SHARPEN_SIGMA, 2 * _SHARPEN_RADIUS + 1))
    sharpened = lightness + per_sample(HIGHSHARPEN, li, x) * (lightness - blurred)
    return lab_to_rgb(torch.cat((sharpened, lab[:, 1:]), 1), swap_rb=True)


def linear_contrast_change(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Not-a-knot cubic spline through x = [0, .3, .5, .7, 1], y = [0, .25 − a/4, .5, .75 + a/4, 1]
    on RGB, clamped. L1 (a = 0) is *not* the identity: the knots (.3, .25) and (.7, .75) make an
    S-curve that raises contrast."""
    coefficients = torch.tensor(
        [spline5_coefficients(0.25 - a / 4, 0.75 + a / 4) for a in (LINCONTRCHANGE[i] for i in li.tolist())],
        dtype=torch.float64,
    )
    return spline5(x, coefficients)


def non_linear_contrast_change(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Despite its name linear: 0.5 + 2v·(x − 0.5) maps [0, 1] onto [0.5 − v, 0.5 + v]
    (L1: [0.1, 0.9], L5: [0.45, 0.55])."""
    v = per_sample(NONLINCONTRCHANGE, li, x)
    return (x - 0.5).mul_(2.0 * v).add_(0.5)
