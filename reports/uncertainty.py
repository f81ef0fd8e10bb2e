"""Uncertainty of the reported numbers (the paper reports medians only).

* :func:`bootstrap_ci` — a 95 % bootstrap confidence interval of the **median-over-splits test
  SRCC**: each replicate resamples, with replacement, the test images of every split, recomputes
  each split's SRCC and takes the median over splits.
* :func:`paired_comparison` — two methods on the same splits: per-split differences of test SRCC,
  how many splits each wins, and an exact two-sided Wilcoxon signed-rank test of the differences.
  The splits share training images, so the test is approximate; it tells whether a difference is
  larger than the split-to-split variation, not a population-level significance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from iqabench.metrics import orient, srcc_columns


def oriented_predictions(predictions: pd.DataFrame, run: dict) -> pd.DataFrame:
    """Predictions and labels of a within_dataset run turned to "higher = better", as the protocol did."""
    method, dataset = run["methods"][0], run["datasets"][0]
    label_hb = bool(dataset["label"]["higher_better"])
    pred_hb = label_hb if method["kind"] == "features" else bool(method["higher_better"])
    out = predictions.copy()
    out["prediction"] = orient(out["prediction"].to_numpy(), pred_hb)
    out["label"] = orient(out["label"].to_numpy(), label_hb)
    return out


def bootstrap_ci(predictions: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """CI of the median over splits of the test SRCC; ``predictions`` must be oriented."""
    rng = np.random.default_rng(seed)
    per_split = []
    for _, part in predictions.groupby("split", sort=True):
        p = part["prediction"].to_numpy(np.float64)
        y = part["label"].to_numpy(np.float64)
        idx = rng.integers(0, len(p), size=(len(p), n_boot))
        per_split.append(_srcc_resampled(p, y, idx))
    if not per_split:
        return float("nan"), float("nan")
    medians = np.nanmedian(np.stack(per_split), axis=0)
    lo, hi = np.nanpercentile(medians, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(lo), float(hi)


def _srcc_resampled(p: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """SRCC for every resample (columns of ``idx``)."""
    out = np.empty(idx.shape[1])
    for start in range(0, idx.shape[1], 200):  # chunks keep memory bounded for large test sets
        cols = idx[:, start : start + 200]
        pp, yy = p[cols], y[cols]
        rp = stats.rankdata(pp, axis=0)
        ry = stats.rankdata(yy, axis=0)
        rp -= rp.mean(axis=0)
        ry -= ry.mean(axis=0)
        denom = np.sqrt((rp**2).sum(axis=0) * (ry**2).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + cols.shape[1]] = np.where(denom > 0, (rp * ry).sum(axis=0) / denom, np.nan)
    return out


@dataclass
class Paired:
    a: str
    b: str
    median_diff: float  # median over splits of SRCC(a) - SRCC(b)
    wins_a: int
    wins_b: int
    n: int
    p_value: float

    @property
    def beyond_noise(self) -> bool:
        return self.p_value == self.p_value and self.p_value < 0.05

    def sentence(self) -> str:
        better = self.a if self.median_diff > 0 else self.b
        verdict = (
            f"{better} is better beyond split-to-split noise"
            if self.beyond_noise
            else "the difference is within split-to-split noise"
        )
        return (
            f"ΔSRCC median {self.median_diff:+.3f}; {self.a} wins {self.wins_a}/{self.n} splits, "
            f"{self.b} {self.wins_b}/{self.n}; Wilcoxon p = {self.p_value:.3g}: {verdict}"
        )


def paired_comparison(a_name: str, a_srcc: np.ndarray, b_name: str, b_srcc: np.ndarray) -> Paired:
    a = np.asarray(a_srcc, dtype=np.float64)
    b = np.asarray(b_srcc, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    if len(d) < 2 or np.all(d == 0):
        p = float("nan") if len(d) < 2 else 1.0
    else:
        p = float(stats.wilcoxon(d, alternative="two-sided").pvalue)
    return Paired(
        a_name,
        b_name,
        float(np.median(d)) if len(d) else float("nan"),
        int((d > 0).sum()),
        int((d < 0).sum()),
        int(len(d)),
        p,
    )


def srcc_by_split(predictions: pd.DataFrame) -> np.ndarray:
    """Per-split SRCC of oriented predictions (for tests and cross-checks)."""
    return np.array(
        [srcc_columns(part[["prediction"]].to_numpy(), part["label"].to_numpy())[0] for _, part in predictions.groupby("split")]
    )
