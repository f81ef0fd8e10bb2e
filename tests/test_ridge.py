import numpy as np
import pytest
from sklearn.linear_model import Ridge

from iqabench.ridge import DEFAULT_ALPHAS, RidgePath


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.1 + rng.normal(size=d)
    y = X @ rng.normal(size=d) + rng.normal(scale=0.5, size=n) + 3.0
    return X, y, rng.normal(size=(40, d)) + X.mean(0)


@pytest.mark.parametrize("n,d", [(300, 40), (30, 120)])  # primal (n ≥ d) and dual (n < d) forms
def test_predictions_match_sklearn(n, d):
    X, y, Xt = _data(n, d)
    path = RidgePath(X, y)
    alphas = np.array([1e-3, 0.1, 3.7, 100.0, 1e3])
    ours = path.predict(Xt, alphas)
    for j, alpha in enumerate(alphas):
        ref = Ridge(alpha=alpha).fit(X, y)
        expected = ref.predict(Xt)
        rel = np.abs(ours[:, j] - expected) / np.maximum(np.abs(expected), 1e-12)
        assert rel.max() < 1e-6, (alpha, rel.max())
        np.testing.assert_allclose(path.coef(alpha), ref.coef_, rtol=1e-6, atol=1e-9)
        assert abs(path.intercept(alpha) - ref.intercept_) < 1e-6 * max(1.0, abs(ref.intercept_))


def test_default_grid_is_the_papers():
    np.testing.assert_array_equal(DEFAULT_ALPHAS, np.geomspace(1e-3, 1e3, 100))


def test_rank_deficient_features():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 5))
    X = np.hstack([base, base])  # duplicated columns: singular Gram matrix
    y = base @ rng.normal(size=5)
    ours = RidgePath(X, y).predict(X[:7], [0.5])[:, 0]
    np.testing.assert_allclose(ours, Ridge(alpha=0.5).fit(X, y).predict(X[:7]), rtol=1e-6)
