"""The reference's tone curves (``utils_distortions.curves``), evaluated in torch.

* one control value c: MATLAB ``spline`` through (0, 0), (0.5, c), (1, 1). With three points the
  not-a-knot spline is a single parabola, y = (2 − 4c)·x² + (4c − 1)·x.
* two control values (lo, hi): not-a-knot cubic spline through x = [0, .3, .5, .7, 1],
  y = [0, lo, .5, hi, 1] (equal to scipy ``CubicSpline(bc_type='not-a-knot')``). Not-a-knot at .3
  and .7 makes the first two and the last two pieces one cubic each, and C² continuity at .5
  leaves them sharing all but the cubic coefficient: y = c0 + c1·t + c2·t² + c3±·t³ with
  t = x − .5, c3− for t < 0 and c3+ for t ≥ 0. That is what :func:`spline5` evaluates.

The output is clamped to [0, 1] like the reference's ``curves``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

SPLINE_X = (0.0, 0.3, 0.5, 0.7, 1.0)


def parabola_coefficients(c: float) -> tuple[float, float]:
    """(a, b) of y = a·x² + b·x through (0, 0), (0.5, c), (1, 1)."""
    return 2.0 - 4.0 * c, 4.0 * c - 1.0


@lru_cache(maxsize=64)
def spline5_pieces(lo: float, hi: float) -> np.ndarray:
    """Coefficients (4 pieces × 4, local form Σ c_k·(x − x_i)^k) of the not-a-knot cubic spline through
    x = [0, .3, .5, .7, 1], y = [0, lo, .5, hi, 1], from its 16 defining equations."""
    xs = np.array(SPLINE_X)
    ys = np.array([0.0, lo, 0.5, hi, 1.0])
    n = len(xs) - 1
    a = np.zeros((4 * n, 4 * n))
    rhs = np.zeros(4 * n)
    row = 0

    def poly_row(piece: int, t: float, deriv: int) -> np.ndarray:
        r = np.zeros(4 * n)
        for k in range(deriv, 4):
            coef = float(np.prod(np.arange(k - deriv + 1, k + 1))) if deriv else 1.0
            r[4 * piece + k] = coef * t ** (k - deriv)
        return r

    for i in range(n):  # interpolation at both ends of each piece
        h = xs[i + 1] - xs[i]
        a[row], rhs[row] = poly_row(i, 0.0, 0), ys[i]
        a[row + 1], rhs[row + 1] = poly_row(i, h, 0), ys[i + 1]
        row += 2
    for i in range(n - 1):  # C1 and C2 at the interior knots
        h = xs[i + 1] - xs[i]
        for d in (1, 2):
            a[row] = poly_row(i, h, d) - poly_row(i + 1, 0.0, d)
            row += 1
    for i in (0, n - 2):  # not-a-knot: C3 at the second and the second-to-last knot
        h = xs[i + 1] - xs[i]
        a[row] = poly_row(i, h, 3) - poly_row(i + 1, 0.0, 3)
        row += 1
    return np.linalg.solve(a, rhs).reshape(n, 4)


def spline5_coefficients(lo: float, hi: float) -> tuple[float, float, float, float, float]:
    """(c0, c1, c2, c3−, c3+) of the spline around x = 0.5 (see the module docstring)."""
    pieces = spline5_pieces(lo, hi)
    c0, c1, c2, c3_hi = pieces[2]  # the piece starting at 0.5
    c3_lo = pieces[1][3]  # the piece ending at 0.5 (same c0..c2 by C² continuity)
    return float(c0), float(c1), float(c2), float(c3_lo), float(c3_hi)


def parabola(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Clamped a·x² + b·x; ``a``, ``b`` broadcast against ``x`` (per-sample N×1×1×1)."""
    return (a * x + b).mul_(x).clamp_(0.0, 1.0)


def spline5(x: Tensor, coefficients: Tensor) -> Tensor:
    """Clamped two-cubic spline; ``coefficients`` is N×5 (c0, c1, c2, c3−, c3+) per sample."""
    c = coefficients.to(dtype=x.dtype, device=x.device).view(-1, 5, 1, 1, 1).unbind(1)
    t = x - 0.5
    above = (t * 1e30).clamp_(0.0, 1.0)  # exactly 1 for t > 0, 0 otherwise (finite inputs)
    c3 = torch.addcmul(c[3], above, c[4] - c[3])  # t = 0 takes c3−: the t³ term is 0 there anyway
    y = ((c3.mul_(t).add_(c[2])).mul_(t).add_(c[1])).mul_(t).add_(c[0])
    return y.clamp_(0.0, 1.0)
