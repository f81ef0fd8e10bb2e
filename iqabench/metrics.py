"""Correlation metrics with explicit orientation.

Rules of the numbers:

* predictions and labels are both turned to "higher = better quality" before correlating
  (:func:`orient`); correlations are signed, never ``abs()``-ed;
* SRCC, KRCC and raw PLCC are computed on the oriented values, as the ARNIQA paper reports them;
* ``plcc_logistic`` is PLCC after fitting the 4-parameter logistic
  ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` (init ``[max y, min y, mean x, std x / 4]``);
  when the fit fails the value is NaN and the failure is reported, never replaced by the raw PLCC.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats


def orient(values: np.ndarray, higher_better: bool) -> np.ndarray:
    """Turn scores into "higher = better quality"."""
    v = np.asarray(values, dtype=np.float64)
    return v if higher_better else -v


def srcc(pred: np.ndarray, label: np.ndarray) -> float:
    return _nan_if_constant(pred, label, lambda a, b: stats.spearmanr(a, b).statistic)


def srcc_columns(preds: np.ndarray, label: np.ndarray) -> np.ndarray:
    """SRCC of every column of ``preds`` (m × k) with ``label``, vectorised (ties get average ranks)."""
    p = np.asarray(preds, dtype=np.float64)
    if p.ndim != 2 or len(p) < 2:
        return np.full(p.shape[-1] if p.ndim == 2 else 1, np.nan)
    rp = stats.rankdata(p, axis=0)
    ry = stats.rankdata(np.asarray(label, dtype=np.float64))
    rp -= rp.mean(axis=0)
    ry -= ry.mean()
    denom = np.sqrt((rp**2).sum(axis=0) * (ry**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rp * ry[:, None]).sum(axis=0) / denom, np.nan)


def krcc(pred: np.ndarray, label: np.ndarray) -> float:
    return _nan_if_constant(pred, label, lambda a, b: stats.kendalltau(a, b).statistic)


def plcc(pred: np.ndarray, label: np.ndarray) -> float:
    return _nan_if_constant(pred, label, lambda a, b: stats.pearsonr(a, b).statistic)


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    z = np.clip(-(x - b3) / (np.abs(b4) + 1e-12), -500, 500)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def plcc_logistic(pred: np.ndarray, label: np.ndarray) -> float:
    """PLCC after a 4-parameter logistic fit of label on prediction; NaN if the fit fails."""
    x = np.asarray(pred, dtype=np.float64)
    y = np.asarray(label, dtype=np.float64)
    if len(x) < 5 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    p0 = [y.max(), y.min(), x.mean(), x.std() / 4 or 1.0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(logistic4, x, y, p0=p0, maxfev=20000)
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return float("nan")
    fitted = logistic4(x, *params)
    if not np.all(np.isfinite(fitted)) or np.ptp(fitted) == 0:
        return float("nan")
    return plcc(fitted, y)


def correlations(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """All four numbers on already-oriented predictions and labels."""
    return {
        "srcc": srcc(pred, label),
        "plcc": plcc(pred, label),
        "krcc": krcc(pred, label),
        "plcc_logistic": plcc_logistic(pred, label),
    }


def _nan_if_constant(a, b, fn) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(fn(a, b))


def median_and_iqr(values: np.ndarray) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return float(med), float(q1), float(q3)
