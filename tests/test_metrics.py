import numpy as np

from iqabench.metrics import correlations, orient, plcc_logistic, srcc


def test_orientation_makes_agreeing_scores_positive():
    rng = np.random.default_rng(0)
    quality = rng.random(50)
    dmos = 100 * (1 - quality) + rng.normal(0, 2, 50)  # lower = better label
    niqe = 10 * (1 - quality) + rng.normal(0, 0.2, 50)  # lower = better score
    r = srcc(orient(niqe, False), orient(dmos, False))
    assert r > 0.9  # signed and positive because both were oriented, no abs()
    assert srcc(orient(niqe, True), orient(dmos, False)) < -0.9  # wrong orientation shows as negative


def test_logistic_plcc_at_least_linear_for_sigmoid_relation():
    x = np.linspace(-4, 4, 80)
    y = 1 / (1 + np.exp(-2 * x)) * 4 + 1
    out = correlations(x, y)
    assert out["plcc_logistic"] > out["plcc"] and out["plcc_logistic"] > 0.999
    assert abs(out["srcc"] - 1) < 1e-12 and abs(out["krcc"] - 1) < 1e-12


def test_degenerate_inputs_are_nan_not_errors():
    assert np.isnan(srcc(np.ones(5), np.arange(5)))
    assert np.isnan(plcc_logistic(np.ones(10), np.arange(10)))


def test_vectorised_srcc_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    from iqabench.metrics import srcc_columns

    rng = np.random.default_rng(3)
    preds = np.round(rng.normal(size=(60, 7)), 1)  # rounding creates ties
    preds[:, 3] = 1.0  # a constant column is NaN, as spearmanr
    label = np.round(rng.normal(size=60), 1)
    ours = srcc_columns(preds, label)
    for j in range(7):
        if j == 3:
            assert np.isnan(ours[j])
        else:
            assert abs(ours[j] - spearmanr(preds[:, j], label).statistic) < 1e-12
