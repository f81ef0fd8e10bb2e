"""Blur group: gaublur, lensblur, motionblur (KADID #1–#3)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from . import kernels, rng
from .batching import by_level
from .filtering import filter2d, filter_separable

GAUBLUR = (0.1, 0.5, 1.0, 2.0, 5.0)  # σ (px)
LENSBLUR = (1.0, 2.0, 4.0, 6.0, 8.0)  # disc radius (px)
MOTIONBLUR = (1.0, 2.0, 4.0, 6.0, 10.0)  # line length (px)


def gaussian_blur(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """``fspecial('gaussian', 2·ceil(2σ)+1, σ)`` (3, 3, 5, 9, 21 taps), replicate borders."""

    def run(xs: Tensor, level: int) -> Tensor:
        sigma = GAUBLUR[level]
        return filter_separable(xs, kernels.gaussian_1d(sigma, kernels.gaussian_size(sigma)))

    return by_level(x, li, run)


DISKS = {"arniqa": kernels.disk_arniqa, "matlab": kernels.disk}
"""Lens-blur kernels: the ARNIQA reference's port of ``fspecial('disk')`` (:func:`kernels.disk_arniqa`,
what the released ARNIQA weights were trained with) and MATLAB's exact disc (:func:`kernels.disk`)."""


def lens_blur(x: Tensor, li: Tensor, gen: torch.Generator | None, disk: str = "matlab") -> Tensor:
    """Correlation with a disc of the level's radius (3×3 … 17×17), replicate borders.

    ``disk`` (:data:`DISKS`): "matlab" is ``fspecial('disk', r)`` (the default here, which the
    Re-IQA bank uses); the ARNIQA model passes its setting, "arniqa" unless changed.
    """
    kernel = DISKS[disk]
    return by_level(x, li, lambda xs, level: filter2d(xs, kernel(LENSBLUR[level])))


def motion_blur(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """``fspecial('motion', len, θ)`` with θ a uniform integer in 0..180 drawn per sample and call
    (the reference's ``random.randint(0, 180)``, inclusive; 0 and 180 give the same kernel).
    Length 1 (L1) is the identity kernel."""
    angles = rng.randint(0, 181, (x.shape[0],), gen, torch.device("cpu")).tolist()
    levels = li.tolist()

    def run(xs: Tensor, level: int) -> Tensor:
        rows = [i for i, lv in enumerate(levels) if lv == level]
        ks = [kernels.motion(MOTIONBLUR[level], float(angles[i])) for i in rows]
        kh = max(k.shape[0] for k in ks)
        kw = max(k.shape[1] for k in ks)
        stacked = np.zeros((len(ks), kh, kw))
        for j, k in enumerate(ks):  # centre each odd-sized kernel in the common odd-sized box
            t, left = (kh - k.shape[0]) // 2, (kw - k.shape[1]) // 2
            stacked[j, t : t + k.shape[0], left : left + k.shape[1]] = k
        return filter2d(xs, stacked)

    return by_level(x, li, run)
