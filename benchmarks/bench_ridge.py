"""Ridge alpha search: iqabench's one-decomposition path vs a loop of sklearn fits.

The within_dataset protocol fits 10 splits × 100 alphas. iqabench solves each split once
(eigendecomposition of the Gram matrix) and gets every alpha from it; the naive way fits
``sklearn.linear_model.Ridge(alpha)`` 1,000 times.

Two measurements:

1. **Speed at full size** (default 50,000 crop rows × 4,096 features, 10 splits × 100 alphas):
   iqabench's whole search is timed end to end; the sklearn loop is timed on ``--sample-fits``
   (split, alpha) fits and extrapolated to 1,000 fits (the whole loop takes hours on 2 cores;
   ``--full-sklearn`` runs it anyway).
2. **Identity at reduced size** (default 5,000 rows × 512 features): both searches run
   completely; the selected alpha and every split's test SRCC/PLCC must agree.

Usage: python benchmarks/bench_ridge.py [--rows 50000 --dims 4096 --sample-fits 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from iqabench.evaluation import Labelled
from iqabench.features import FeatureTable
from iqabench.metrics import plcc, srcc
from iqabench.quality_models import Ridge as RidgeModel
from iqabench.quality_models import choose, select
from iqabench.ridge import DEFAULT_ALPHAS
from iqabench.splits import generate_splits


def synthetic(rows: int, dims: int, crops: int = 5, seed: int = 0):
    """ARNIQA-like data: two L2-normalised halves per row, labels linear in a latent quality + noise."""
    rng = np.random.default_rng(seed)
    n_img = rows // crops
    quality = rng.random(n_img)
    basis = rng.normal(size=(8, dims)).astype(np.float32)
    latent = np.stack([quality, *rng.normal(size=(7, n_img))], axis=1).astype(np.float32)
    X = np.repeat(latent @ basis, crops, axis=0) + rng.normal(scale=2.0, size=(n_img * crops, dims)).astype(np.float32)
    half = dims // 2
    for part in (slice(0, half), slice(half, dims)):
        X[:, part] /= np.linalg.norm(X[:, part], axis=1, keepdims=True)
    labels = 1 + 4 * quality + rng.normal(scale=0.3, size=n_img)
    ids = [f"img{i:06d}" for i in range(n_img)]
    table = FeatureTable(ids, X, np.repeat(np.arange(n_img), crops))
    index = pd.DataFrame({"image_id": ids, "ref": [f"ref{i % 81:02d}" for i in range(n_img)], "score": labels})
    return table, index


def sklearn_fit_predict(data: Labelled, train, evals, alpha):
    mask = data.table.rows_of(train)
    model = Ridge(alpha=alpha).fit(data.table.rows[mask].astype(np.float64), data.labels[data.table.row_image[mask]])
    out = []
    for pos in evals:
        m = data.table.rows_of(pos)
        out.append(data.table.image_mean(model.predict(data.table.rows[m].astype(np.float64)), m))
    return out


def sklearn_search(data: Labelled, splits, alphas):
    val = np.full((len(splits), len(alphas)), np.nan)
    tests = {}
    for k in range(len(splits)):
        train, v, t = (data.positions(ids) for ids in splits.parts(k))
        for a, alpha in enumerate(alphas):
            (vpos, vpred), (tpos, tpred) = sklearn_fit_predict(data, train, [v, t], alpha)
            val[k, a] = srcc(vpred, data.labels[vpos])
            tests[(k, a)] = (tpos, tpred)
    best = choose(val)
    return float(alphas[best]), [tests[(k, best)] for k in range(len(splits))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--dims", type=int, default=4096)
    ap.add_argument("--sample-fits", type=int, default=3)
    ap.add_argument("--full-sklearn", action="store_true")
    ap.add_argument("--check-rows", type=int, default=5_000)
    ap.add_argument("--check-dims", type=int, default=512)
    args = ap.parse_args()
    alphas = DEFAULT_ALPHAS

    # 1. identity at reduced size
    table, index = synthetic(args.check_rows, args.check_dims, seed=1)
    data = Labelled.join(table, index, True)
    splits = generate_splits(index)
    t0 = time.perf_counter()
    ours = select(RidgeModel(alphas), data, splits)
    t_ours_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    sk_alpha, sk_tests = sklearn_search(data, splits, alphas)
    t_sk_small = time.perf_counter() - t0
    same_alpha = sk_alpha == ours.params["alpha"]
    max_dev = 0.0
    for (p1, y1), (p2, y2) in zip(ours.test, sk_tests):
        assert np.array_equal(p1, p2)
        for fn in (srcc, plcc):
            max_dev = max(max_dev, abs(fn(y1, data.labels[p1]) - fn(y2, data.labels[p2])))

    # 2. speed at full size
    table, index = synthetic(args.rows, args.dims)
    data = Labelled.join(table, index, True)
    splits = generate_splits(index)
    t0 = time.perf_counter()
    select(RidgeModel(alphas), data, splits)
    t_ours = time.perf_counter() - t0
    train, val, test = (data.positions(ids) for ids in splits.parts(0))
    n_fits = len(splits) * len(alphas) if args.full_sklearn else args.sample_fits
    t0 = time.perf_counter()
    if args.full_sklearn:
        sklearn_search(data, splits, alphas)
    else:
        for alpha in np.geomspace(1e-3, 1e3, n_fits):
            sklearn_fit_predict(data, train, [val, test], alpha)
    per_fit = (time.perf_counter() - t0) / n_fits
    t_sk = per_fit * len(splits) * len(alphas)

    print("| measurement | iqabench path | sklearn loop | speed-up |")
    print("|---|---|---|---|")
    print(
        f"| {args.rows:,} × {args.dims:,}, 10 splits × 100 alphas | {t_ours:.1f} s | "
        f"{t_sk:.0f} s ({'measured' if args.full_sklearn else f'{per_fit:.1f} s/fit × 1,000, from {n_fits} fits'}) | "
        f"{t_sk / t_ours:.0f}× |"
    )
    print(
        f"| {args.check_rows:,} × {args.check_dims:,}, full loops | {t_ours_small:.2f} s | {t_sk_small:.1f} s | "
        f"{t_sk_small / t_ours_small:.0f}× |"
    )
    print(
        f"\nidentity check ({args.check_rows:,} × {args.check_dims:,}): selected alpha "
        f"{'identical' if same_alpha else 'DIFFERENT'} ({ours.params['alpha']:.6g} vs {sk_alpha:.6g}); "
        f"max |Δ| of per-split test SRCC/PLCC = {max_dev:.2e}"
    )


if __name__ == "__main__":
    main()
