"""Colour group: colordiff, colorshift, colorsat1, colorsat2 (KADID #4, #5, #7, #8)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import kernels, rng
from .batching import by_level, cpu_chunked, per_sample
from .colorspace import lab_to_rgb, rgb_to_gray, rgb_to_lab
from .filtering import filter_separable

COLORDIFF = (1.0, 3.0, 6.0, 8.0, 12.0)  # amount: σ = 1.5·amount + 2, a,b gain = amount
COLORSHIFT = (1.0, 3.0, 6.0, 8.0, 12.0)  # shift length (px)
COLORSAT1 = (0.4, 0.2, 0.1, 0.0, -0.4)  # HSV saturation factor
COLORSAT2 = (1.0, 2.0, 3.0, 6.0, 9.0)  # LAB a,b factor

_SHIFT_EDGE_SIGMA = 4.0
_SHIFT_PERCENTILE = 99.0


def _truncate_to_8bit(x: Tensor) -> Tensor:
    """trunc(x·255)/255: the reference quantises these two types' output by truncation."""
    return (x * 255.0).trunc_().div_(255.0)


def color_diffusion(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Blur the LAB chroma with σ = 1.5·amt + 2 (15…81 taps), multiply a,b by amt, back to RGB.

    Quirks kept: LAB of channel-reversed data (BGR read as RGB); a,b *multiplied by the amount*
    after blurring (the reference's ``scaling = amount``), so this is also a strong saturation
    boost; output truncated to 1/255 steps.
    """
    return cpu_chunked(_color_diffusion, x, li)


def _color_diffusion(x: Tensor, li: Tensor) -> Tensor:
    lab = rgb_to_lab(x, swap_rb=True)

    def blur_ab(ab: Tensor, level: int) -> Tensor:
        sigma = 1.5 * COLORDIFF[level] + 2
        return filter_separable(ab, kernels.gaussian_1d(sigma, kernels.gaussian_size(sigma)))

    ab = by_level(lab[:, 1:], li, blur_ab) * per_sample(COLORDIFF, li, x)
    return _truncate_to_8bit(lab_to_rgb(torch.cat((lab[:, :1], ab), 1), swap_rb=True))


EDGE_CLAMPS = ("arniqa", "percentile")


def _edge_map(x: Tensor, clamp: str) -> Tensor:
    """Normalised edge strength in [0, 1] that gates the colour shift (N×1×H×W)."""
    gray = rgb_to_gray(x)
    # kornia spatial_gradient(mode='diff', normalized=True): central difference / 2, replicate pad.
    gp = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    gx = gp[..., 1:-1, 2:] - gp[..., 1:-1, :-2]
    gy = gp[..., 2:, 1:-1] - gp[..., :-2, 1:-1]
    e = (gx * gx + gy * gy).sqrt_().mul_(0.5)
    size = kernels.gaussian_size(_SHIFT_EDGE_SIGMA)  # 17
    e = filter_separable(e, kernels.gaussian_1d(_SHIFT_EDGE_SIGMA, size))
    # Min-max to [0, 1] per image, skipped for a constant map (the reference's `if mine < maxe`).
    lo = e.amin((1, 2, 3), keepdim=True)
    span = e.amax((1, 2, 3), keepdim=True) - lo
    flat_map = span <= 0
    e = (e - torch.where(flat_map, 0.0, lo)) / torch.where(flat_map, 1.0, span)
    if clamp == "arniqa":
        return _edge_clamp_arniqa(e)
    # The MATLAB original's clamp to [p1, p99] (perc: the round(n·p/100)-th smallest value).
    flat = e.flatten(1)
    m = flat.shape[1]
    k = min(max(int(math.floor(m * _SHIFT_PERCENTILE / 100 + 0.5)), 1), m)
    hi = flat.kthvalue(k, dim=1).values.view(-1, 1, 1, 1)
    lo = flat.kthvalue(m - k + 1, dim=1).values.view(-1, 1, 1, 1)  # 1 − perc(1 − e, 99)
    return torch.maximum(torch.minimum(e, hi), lo)


def _edge_clamp_arniqa(e: Tensor) -> Tensor:
    """The reference's "1 %/99 % clamp": its ``perc`` indexes the (values, indices) pair of
    ``torch.sort`` (along each row) and returns the indices, so e = max(min(e, idx↑), 1 − idx↓),
    idx↑/idx↓ the positions of the row sorted ascending / descending. Index 0 sits where column 0
    ranks: in each row the pixel at column 0's ascending rank becomes 0 and the one at its
    descending rank 1; every other pixel keeps its value (the indices are ≥ 1 there). Ranks count
    the strictly smaller (larger) values; the reference's unstable sort orders ties arbitrarily."""
    first = e[..., :1]
    rank_up = (e < first).sum(-1, keepdim=True)
    rank_down = (e > first).sum(-1, keepdim=True)
    e = e.scatter(-1, rank_up, 0.0)
    return e.scatter(-1, rank_down, 1.0)


def color_shift(x: Tensor, li: Tensor, gen: torch.Generator, clamp: str = "percentile") -> Tensor:
    """Shift the green channel by round(amt·a/‖a‖) px, a ~ U[0,1)² per sample (always towards
    +y/+x), blended in proportion to the edge map: G' = shifted·e + G·(1 − e).

    ``clamp`` (:data:`EDGE_CLAMPS`), the edge map's 1 %/99 % clamp: "percentile" is the MATLAB
    original's (the default here, which the Re-IQA bank uses); "arniqa", the ARNIQA model's setting
    unless changed, is what the reference's port does instead (:func:`_edge_clamp_arniqa`).
    """
    n = x.shape[0]
    a = rng.rand((n, 2), gen, torch.device("cpu"), torch.float64)
    amount = torch.tensor(COLORSHIFT, dtype=torch.float64)[li].unsqueeze(1)
    s = torch.round(a / a.norm(dim=1, keepdim=True) * amount).long()  # np.round: half to even
    return shift_green(x, s, clamp)


def shift_green(x: Tensor, s: Tensor, clamp: str) -> Tensor:
    """The blend of :func:`color_shift` given the shifts ``s`` (N×2 CPU int64, the reference's
    ``amount_shift``)."""
    if clamp not in EDGE_CLAMPS:
        raise ValueError(f"colorshift clamp must be one of {EDGE_CLAMPS}, got {clamp!r}")
    n, _, h, w = x.shape
    s0, s1 = s[:, :1], s[:, 1:]
    # The reference pads W by s0 and H by s1 but rolls H by s0 and W by s1, then crops. Result:
    # out[i, j] = G[clamp(((i + s1 − s0) mod (H + 2·s1)) − s1), clamp(((j + s0 − s1) mod (W + 2·s0)) − s0)],
    # i.e. a shift by (dy, dx) = (s0, s1) with replicate borders, except that rows wrap around
    # (content from the bottom appears at the top) when s0 > 2·s1 + 1, and columns likewise. Kept.
    i = torch.arange(h).unsqueeze(0)
    j = torch.arange(w).unsqueeze(0)
    rows = ((torch.remainder(i + s1 - s0, h + 2 * s1)) - s1).clamp_(0, h - 1)
    cols = ((torch.remainder(j + s0 - s1, w + 2 * s0)) - s0).clamp_(0, w - 1)
    index = (rows.unsqueeze(2) * w + cols.unsqueeze(1)).view(n, h * w).to(x.device)
    g = x[:, 1]
    shifted = g.reshape(n, h * w).gather(1, index).view(n, h, w)
    e = _edge_map(x, clamp)[:, 0]
    out = x.clone()
    out[:, 1] = torch.lerp(g, shifted, e)  # g + e·(shifted − g) = shifted·e + g·(1 − e)
    return out


def color_saturation1(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """HSV saturation × factor (negative factors allowed; the result is clipped).

    With V and H fixed, kornia's hsv_to_rgb(S·k) equals max − k·(max − c) per channel c (the
    saturation is Δ/max and every channel sits at a fixed fraction of Δ below max), which is what
    is computed here, without the hue round trip. The reference's BGR swap before HSV is a no-op
    for this (S and V do not depend on channel order) and is omitted.
    """
    k = per_sample(COLORSAT1, li, x)
    vmax = x.amax(1, keepdim=True)
    return vmax - k * (vmax - x)


def color_saturation2(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """LAB a,b × factor, back to RGB, truncated to 1/255 steps (LAB of BGR data: quirk kept).
    L1 (factor 1) is only the round trip plus truncation: mean |Δ| ≈ 0.002."""
    return cpu_chunked(_color_saturation2, x, li)


def _color_saturation2(x: Tensor, li: Tensor) -> Tensor:
    lab = rgb_to_lab(x, swap_rb=True)
    ab = lab[:, 1:] * per_sample(COLORSAT2, li, x)
    return _truncate_to_8bit(lab_to_rgb(torch.cat((lab[:, :1], ab), 1), swap_rb=True))
