"""Which distortion a folder of Waterloo Exploration images holds, read from the images themselves.

Each distorted image is compared with its pristine image (luminance, a central crop of at most
256×256 pixels whose corner sits on the 8×8 JPEG grid) by three measures:

* **8×8 blockiness**: mean absolute luminance step across 8×8 block boundaries over the mean step
  inside blocks, distorted over pristine. JPEG raises it; the other types leave it near 1.
* **high-frequency energy**: mean absolute Laplacian, distorted over pristine. Noise raises it;
  blur, JPEG 2000 and (less) JPEG lower it.
* **left after a Gaussian blur**: the fraction of the distortion's energy (distorted − pristine)
  that remains after the best Gaussian blur of the pristine image is fitted to the distorted one
  (σ searched on a grid; a margin of 3σ excluded, so borders do not count). A Gaussian blur is
  explained almost entirely; JPEG 2000, which smooths as much, is not: its ringing around edges
  and its spatially varying detail loss leave a large part. This separates the two smoothers.

A folder is classified from the medians over a few references and the middle levels (2-4):
noise (energy ×1.2 or more), JPEG (blockiness ×1.15 or more), and, among the folders that smooth
without block edges, Gaussian blur (the smaller part left, under 25%) and JPEG 2000 (clearly more
left: at least 1.5 times as much plus 2 points; a lone smoother is blur under 10%, JPEG 2000 from
25%). Anything else is "unclear": the evidence is reported, never guessed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter

from iqabench.images import ImageError, load_rgb

TYPES = ("jpeg", "jp2k", "wn", "gblur")
LEVELS = (2, 3, 4)  # strong enough to show the type, not so strong that JPEG 2000 wipes the image out
CROP = 256
NOISE_HF, BLOCKY, SMOOTH_HF = 1.2, 1.15, 0.9
BLUR_MAX_LEFT, JP2K_MIN_LEFT = 0.25, 0.25
SIGMAS = np.geomspace(0.3, 50.0, 24)
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Evidence:
    blockiness: float  # median ratio, distorted over pristine
    hf: float  # median ratio of high-frequency energy, distorted over pristine
    left: float  # median fraction of the distortion left after the best-fitting Gaussian blur
    n: int  # image pairs measured

    def describe(self) -> str:
        return (
            f"8x8 blockiness x{self.blockiness:.2f}, high-frequency energy x{self.hf:.2f}, "
            f"{100 * self.left:.0f}% left after the best Gaussian blur ({self.n} pairs)"
        )


def measure_pair(pristine: np.ndarray, distorted: np.ndarray, blurs=None) -> tuple[float, float, float]:
    """(blockiness ratio, high-frequency energy ratio, part left after a Gaussian blur) of two luminance
    crops; ``blurs`` (see :func:`_blurs`) may be given when the pristine crop's are already computed."""
    block = _blockiness(distorted) / max(_blockiness(pristine), 1e-9)
    hf = _hf_energy(distorted) / max(_hf_energy(pristine), 1e-9)
    return block, hf, _left_after_blur(pristine, distorted, blurs if blurs is not None else _blurs(pristine))


def folder_evidence(pairs: Iterable[tuple[str, str]]) -> Evidence | None:
    """Median measures over (pristine path, distorted path) pairs; None when no pair can be measured."""
    measures = []
    for pristine_path, distorted_path in pairs:
        try:
            shape, p, blurs = _pristine(pristine_path, *_stamp(pristine_path))
            d = _luma(distorted_path)
        except (ImageError, OSError):
            continue  # reported by the image check; the evidence uses the pairs that can be read
        if shape != d.shape or min(shape) < 16:
            continue
        measures.append(measure_pair(p, _crop(d), blurs))
    if not measures:
        return None
    block, hf, left = (float(np.median(col)) for col in zip(*measures))
    return Evidence(block, hf, left, len(measures))


def classify(evidence: dict[str, Evidence | None]) -> dict[str, str | None]:
    """{folder: type or None (unclear)} for the folders of one copy, each type given at most once."""
    kinds: dict[str, str | None] = {}
    smoothers = []
    for folder, ev in evidence.items():
        if ev is None:
            kinds[folder] = None
        elif ev.hf >= NOISE_HF:
            kinds[folder] = "wn"
        elif ev.blockiness >= BLOCKY:
            kinds[folder] = "jpeg"
        elif ev.hf <= SMOOTH_HF:
            kinds[folder] = None
            smoothers.append(folder)
        else:
            kinds[folder] = None
    by_left = sorted(smoothers, key=lambda f: evidence[f].left)
    if len(by_left) == 2:
        blur, jp2k = by_left
        lb, lj = evidence[blur].left, evidence[jp2k].left
        if lb < BLUR_MAX_LEFT and lj >= 1.5 * lb + 0.02:
            kinds[blur], kinds[jp2k] = "gblur", "jp2k"
    elif len(by_left) == 1:
        only = evidence[by_left[0]].left
        kinds[by_left[0]] = "gblur" if only < 0.1 else ("jp2k" if only >= JP2K_MIN_LEFT else None)
    found = [k for k in kinds.values() if k]
    for kind in {k for k in found if found.count(k) > 1}:  # a type seen twice: neither is trusted
        for folder in kinds:
            if kinds[folder] == kind:
                kinds[folder] = None
    return kinds


# -- measures ----------------------------------------------------------------------------------
def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=8)  # a pristine image serves every type and level of its reference
def _pristine(path: str, size: int, mtime_ns: int) -> tuple[tuple[int, ...], np.ndarray, tuple]:
    y = _luma(path)
    crop = _crop(y)
    return y.shape, crop, _blurs(crop)


def _blurs(pristine: np.ndarray) -> tuple[tuple[float, np.ndarray], ...]:
    """(sigma, blurred crop) for every sigma of the grid that leaves something to compare."""
    return tuple(
        (float(s), gaussian_filter(pristine, s, mode="nearest")) for s in SIGMAS[SIGMAS <= min(pristine.shape) / 3]
    )


def _luma(path: str) -> np.ndarray:
    return np.asarray(load_rgb(path), dtype=np.float64) @ _LUMA


def _crop(y: np.ndarray) -> np.ndarray:
    """A central crop of at most CROP×CROP whose top-left corner lies on the 8×8 grid."""
    h, w = y.shape
    ch, cw = min(h, CROP), min(w, CROP)
    top, left = ((h - ch) // 2) // 8 * 8, ((w - cw) // 2) // 8 * 8
    return y[top : top + ch, left : left + cw]


def _blockiness(y: np.ndarray) -> float:
    ratios = []
    for a in (y, y.T):
        steps = np.abs(np.diff(a, axis=1))
        boundary = (np.arange(steps.shape[1]) + 1) % 8 == 0
        ratios.append(steps[:, boundary].mean() / max(steps[:, ~boundary].mean(), 1e-9))
    return float(np.mean(ratios))


def _hf_energy(y: np.ndarray) -> float:
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.abs(lap).mean())


def _left_after_blur(pristine: np.ndarray, distorted: np.ndarray, blurs) -> float:
    best = 1.0
    for sigma, blurred in blurs:
        m = int(min(3 * sigma, min(pristine.shape) // 4))  # the margin a blur's border handling reaches
        inner = (slice(m, pristine.shape[0] - m), slice(m, pristine.shape[1] - m))
        energy = np.mean((distorted[inner] - pristine[inner]) ** 2)
        if energy > 1e-9:
            best = min(best, float(np.mean((distorted[inner] - blurred[inner]) ** 2) / energy))
    return best
