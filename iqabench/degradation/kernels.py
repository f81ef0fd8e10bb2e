"""Ports of MATLAB's ``fspecial`` kernels used by the reference (float64 numpy arrays).

Each function follows MATLAB's definition line by line (including its ``eps`` tweaks) because the
reference's kernels are ports of the same code; results are cached since the parameters come from
the fixed level tables.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_EPS = float(np.finfo(np.float64).eps)


@lru_cache(maxsize=64)
def gaussian_1d(sigma: float, size: int) -> np.ndarray:
    """Normalised 1-D Gaussian of odd ``size``: ``fspecial('gaussian', [size size], sigma)`` is its outer
    product with itself up to the entries MATLAB zeroes below ``eps · max`` (< 1e-16 relative)."""
    r = (size - 1) / 2
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(t * t) / (2 * sigma * sigma))
    g /= g.sum()
    g.flags.writeable = False
    return g


@lru_cache(maxsize=64)
def gaussian_2d(sigma: float, size: int) -> np.ndarray:
    """``fspecial('gaussian', [size size], sigma)``."""
    r = (size - 1) / 2
    x, y = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1))
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < _EPS * h.max()] = 0
    h /= h.sum()
    h.flags.writeable = False
    return h


def gaussian_size(sigma: float) -> int:
    """Kernel size the reference uses for a Gaussian of ``sigma``: ``2·ceil(2σ) + 1``."""
    return 2 * math.ceil(2 * sigma) + 1


def _disk_grid(rad: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(max(|x|, |y|), min(|x|, |y|), crad) over fspecial's (2·crad + 1)² grid, crad = ceil(rad − 0.5)."""
    crad = math.ceil(rad - 0.5)
    t = np.arange(-crad, crad + 1, dtype=np.float64)
    x, y = np.meshgrid(t, t)
    return np.maximum(np.abs(x), np.abs(y)), np.minimum(np.abs(x), np.abs(y)), crad


def _disk_coverage(rad: float, maxxy: np.ndarray, minxy: np.ndarray, m1_else, m2_else) -> np.ndarray:
    """fspecial('disk')'s per-pixel coverage before the centre and edge fix-ups, given the values its m1
    and m2 take where their first branch does not apply (MATLAB: the arc's end points)."""
    m1 = np.where(rad**2 < (maxxy + 0.5) ** 2 + (minxy - 0.5) ** 2, minxy - 0.5, m1_else)
    m2 = np.where(rad**2 > (maxxy - 0.5) ** 2 + (minxy + 0.5) ** 2, minxy + 0.5, m2_else)
    a1 = np.arcsin(np.clip(m1 / rad, -1, 1))
    a2 = np.arcsin(np.clip(m2 / rad, -1, 1))
    edge = ((rad**2 < (maxxy + 0.5) ** 2 + (minxy + 0.5) ** 2) & (rad**2 > (maxxy - 0.5) ** 2 + (minxy - 0.5) ** 2)) | (
        (minxy == 0) & (maxxy - 0.5 < rad) & (maxxy + 0.5 >= rad)
    )
    # Area under the arc between m1 and m2, less the part below the pixel, plus the full-height strip.
    arc = rad**2 * (0.5 * (a2 - a1) + 0.25 * (np.sin(2 * a2) - np.sin(2 * a1)))
    sgrid = (arc - (maxxy - 0.5) * (m2 - m1) + (m1 - minxy + 0.5)) * edge
    return sgrid + ((maxxy + 0.5) ** 2 + (minxy + 0.5) ** 2 < rad**2)


def _disk_finish(sgrid: np.ndarray, rad: float, crad: int) -> np.ndarray:
    """fspecial('disk')'s centre pixel, its fix-up for small discs, and the normalisation."""
    c = crad  # 0-based index of the centre
    sgrid[c, c] = min(math.pi * rad**2, math.pi / 2)
    if crad > 0 and rad > crad - 0.5 and rad**2 < (crad - 0.5) ** 2 + 0.25:
        m1 = math.sqrt(rad**2 - (crad - 0.5) ** 2)
        m1n = m1 / rad
        sg0 = 2 * (rad**2 * (0.5 * math.asin(m1n) + 0.25 * math.sin(2 * math.asin(m1n))) - m1 * (crad - 0.5))
        last = 2 * crad
        sgrid[last, c] = sg0
        sgrid[c, last] = sg0
        sgrid[c, 0] = sg0
        sgrid[0, c] = sg0
        sgrid[last - 1, c] -= sg0
        sgrid[c, last - 1] -= sg0
        sgrid[c, 1] -= sg0
        sgrid[1, c] -= sg0
    sgrid[c, c] = min(sgrid[c, c], 1.0)
    h = sgrid / sgrid.sum()
    h.flags.writeable = False
    return h


@lru_cache(maxsize=64)
def disk(radius: float) -> np.ndarray:
    """``fspecial('disk', radius)``: the fraction of each pixel covered by a disc of ``radius``,
    normalised to sum 1; size ``2·ceil(radius − 0.5) + 1``."""
    rad = float(radius)
    maxxy, minxy, crad = _disk_grid(rad)

    def _sqrt(v: np.ndarray) -> np.ndarray:  # MATLAB multiplies the complex roots by 0; numpy would give nan
        return np.sqrt(np.maximum(v, 0.0))

    sgrid = _disk_coverage(rad, maxxy, minxy, _sqrt(rad**2 - (maxxy + 0.5) ** 2), _sqrt(rad**2 - (maxxy - 0.5) ** 2))
    return _disk_finish(sgrid, rad, crad)


@lru_cache(maxsize=64)
def disk_arniqa(radius: int) -> np.ndarray:
    """The ARNIQA reference's port of ``fspecial('disk', radius)`` (``utils_distortions.fspecial``),
    which the released ARNIQA weights were trained with. Two terms differ from MATLAB's:

    * m1's second branch, √(r² − (max + ½)²), is used only if r² − (max + ½)² > 0 on the *whole*
      grid (an ``all()`` test), otherwise 0 everywhere; at the corners max + ½ = r + ½ > r, so it
      is always 0;
    * m2's second branch is √(r² − (min − ½)²) (min, not MATLAB's max) under the same ``all()``
      test, which always passes.

    Radius 1 gives MATLAB's kernel; from radius 2 on the arcs come out wrong and the kernel has
    negative weights at the rim (2: 8 taps of −0.0019, 8: 16 taps down to −0.050). Defined for
    whole radii only (the reference builds its grid from −r..r, which for a whole r is MATLAB's).
    """
    if float(radius) != int(radius) or radius < 1:
        raise ValueError(f"the ARNIQA disc kernel is defined for whole radii ≥ 1, got {radius}")
    rad = float(radius)
    maxxy, minxy, crad = _disk_grid(rad)
    r1 = rad**2 - (maxxy + 0.5) ** 2
    r2 = rad**2 - (minxy - 0.5) ** 2
    m1_else = np.sqrt(r1) if (r1 > 0).all() else 0.0
    m2_else = np.sqrt(r2) if (r2 > 0).all() else 0.0
    return _disk_finish(_disk_coverage(rad, maxxy, minxy, m1_else, m2_else), rad, crad)


@lru_cache(maxsize=2048)
def motion(length: float, angle: float) -> np.ndarray:
    """``fspecial('motion', length, angle)``: a line of ``length`` pixels at ``angle`` degrees
    (counter-clockwise), anti-aliased, normalised to sum 1. Odd height and width."""
    length = max(1.0, float(length))
    half = (length - 1) / 2
    phi = (angle % 180) / 180 * math.pi
    cosphi, sinphi = math.cos(phi), math.sin(phi)
    xsign = int(np.sign(cosphi))
    linewdt = 1.0
    # MATLAB: the eps terms get the size right at 0° and 90°.
    sx = math.trunc(half * cosphi + linewdt * xsign - length * _EPS)
    sy = math.trunc(half * sinphi + linewdt - length * _EPS)
    x, y = np.meshgrid(np.arange(0, sx + xsign, xsign, dtype=np.float64), np.arange(0, sy + 1, dtype=np.float64))
    dist2line = y * cosphi - x * sinphi  # perpendicular distance to the line
    rad = np.sqrt(x * x + y * y)
    last = (rad >= half) & (np.abs(dist2line) <= linewdt)  # beyond the end point, within the width
    x2lastpix = half - np.abs((x[last] + dist2line[last] * sinphi) / cosphi)
    dist2line[last] = np.sqrt(dist2line[last] ** 2 + x2lastpix**2)
    dist2line = linewdt + _EPS - np.abs(dist2line)
    dist2line[dist2line < 0] = 0
    rows, cols = dist2line.shape
    h = np.zeros((2 * rows - 1, 2 * cols - 1))
    h[:rows, :cols] = np.rot90(dist2line, 2)
    h[rows - 1 :, cols - 1 :] = dist2line
    h = h / (h.sum() + _EPS * length * length)
    if cosphi > 0:
        h = np.flipud(h)
    h = np.ascontiguousarray(h)
    h.flags.writeable = False
    return h
