"""Brightness group: brighten, darken, meanshift (KADID #16–#18)."""

from __future__ import annotations

import torch
from torch import Tensor

from .batching import cpu_chunked, per_sample
from .colorspace import lab_to_rgb, rgb_to_lab
from .curves import parabola, parabola_coefficients

BRIGHTEN = (0.1, 0.2, 0.4, 0.7, 1.1)  # curve midpoint c = 0.5 + amount/2
DARKEN = (0.05, 0.1, 0.2, 0.4, 0.8)  # curve midpoint c = 0.5 − amount/2
MEANSHIFT = (0.0, 0.08, -0.08, 0.15, -0.15)  # added to every channel


def _parabola_params(midpoints: list[float], like: Tensor) -> tuple[Tensor, Tensor]:
    ab = torch.tensor([parabola_coefficients(c) for c in midpoints], dtype=like.dtype, device=like.device)
    return ab[:, 0].view(-1, 1, 1, 1), ab[:, 1].view(-1, 1, 1, 1)


def brighten(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """(2·curve(RGB) + RGB-of-curve(LAB L))/3 with the 3-point curve through (0.5, 0.5 + amt/2).

    The LAB half runs on channel-reversed data (quirk kept). At L5 (c = 1.05) the curve saturates
    to 1 from x ≈ 0.45 on.
    """
    return cpu_chunked(_brighten, x, li)


def _brighten(x: Tensor, li: Tensor) -> Tensor:
    a, b = _parabola_params([0.5 + BRIGHTEN[i] / 2 for i in li.tolist()], x)
    lab = rgb_to_lab(x, swap_rb=True)
    lightness = parabola(lab[:, :1] / 100.0, a, b).mul_(100.0)
    via_lab = lab_to_rgb(torch.cat((lightness, lab[:, 1:]), 1), swap_rb=True)  # clipped, as kornia
    return (parabola(x, a, b).mul_(2.0) + via_lab).div_(3.0)


def darken(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """The 3-point curve through (0.5, 0.5 − amt/2) on RGB only (``dolab=False``: the reference
    computes a LAB conversion here and never uses it, so it is skipped). L5 (c = 0.1) maps x ≤ 0.375 to 0."""
    a, b = _parabola_params([0.5 - DARKEN[i] / 2 for i in li.tolist()], x)
    return parabola(x, a, b)


def mean_shift(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """x + amount, clipped. L1 (amount 0) is the identity. (The reference's BGR swap does not
    matter here and is omitted.)"""
    return x + per_sample(MEANSHIFT, li, x)
