"""Noise group: whitenoise, whitenoiseCC, impulsenoise, multnoise (KADID #11–#14).

Noise is not rounded to 8 bits (the reference's ``rounds=False``); the result is clipped.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import rng
from .batching import by_level, per_sample
from .colorspace import ycbcr_noise_to_rgb

WHITENOISE = (0.001, 0.002, 0.003, 0.005, 0.01)  # variance
WHITENOISE_CC = (0.0001, 0.0005, 0.001, 0.002, 0.003)  # variance, per YCbCr channel
IMPULSENOISE = (0.001, 0.005, 0.01, 0.02, 0.03)  # density
MULTNOISE = (0.001, 0.005, 0.01, 0.02, 0.05)  # variance


def _std(table: tuple[float, ...], li: Tensor, like: Tensor) -> Tensor:
    return per_sample(table, li, like).sqrt_()


def white_noise(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """x + N(0, var) independently per RGB element."""
    return x + rng.randn(tuple(x.shape), gen, x.device, x.dtype) * _std(WHITENOISE, li, x)


def white_noise_cc(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """N(0, var) added to each of kornia's Y, Cb, Cr channels, back to RGB."""
    noise = rng.randn(tuple(x.shape), gen, x.device, x.dtype) * _std(WHITENOISE_CC, li, x)
    return ycbcr_noise_to_rgb(x, noise)


def multiplicative_noise(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """x + x·N(0, var) (speckle)."""
    return x + x * rng.randn(tuple(x.shape), gen, x.device, x.dtype) * _std(MULTNOISE, li, x)


def impulse_noise(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """Salt and pepper on individual elements: n = int(d·C·H·W) positions (channel, y, x) drawn
    uniformly with replacement; the first ⌊n/2⌋ set to 1, the rest to 0 (pepper written last).

    Per element, hence coloured specks, as the reference behaved under its pinned torch 2.1, where
    indexing with a (3, n) ndarray meant a tuple of index arrays (current torch raises instead).
    """
    n_img, c, h, w = x.shape
    size = c * h * w

    def run(xs: Tensor, level: int) -> Tensor:
        count = int(IMPULSENOISE[level] * size)
        pos = rng.randint(0, size, (xs.shape[0], count), gen, xs.device)
        flat = xs.reshape(xs.shape[0], size).clone()
        salt = count // 2
        flat.scatter_(1, pos[:, :salt], 1.0)
        flat.scatter_(1, pos[:, salt:], 0.0)
        return flat.view_as(xs)

    return by_level(x, li, run)
