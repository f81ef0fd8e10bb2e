"""Quality models: SVR as BRISQUE defines it, the identity, saved arrays, and option validation."""

import numpy as np
import pandas as pd
import pytest

from iqabench.errors import IQABenchError
from iqabench.evaluation import Labelled
from iqabench.features import FeatureTable
from iqabench.metrics import srcc
from iqabench.quality_models import (
    SVR,
    Identity,
    IdentityFitted,
    LinearFitted,
    Ridge,
    SVRFitted,
    log2_grid,
    refit,
    scale_features,
    select,
)
from iqabench.splits import generate_splits


def _data(n_img=120, dims=6, seed=0, higher_better=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_img, dims)) * rng.uniform(0.5, 20, size=dims) + rng.uniform(-50, 50, size=dims)
    y = np.tanh((X - X.mean(0)) / X.std(0) @ rng.normal(size=dims) / 2) * 2 + 3 + rng.normal(0, 0.1, n_img)
    ids = [f"i{k:03d}" for k in range(n_img)]
    table = FeatureTable(ids, X.astype(np.float32), np.arange(n_img))
    index = pd.DataFrame({"image_id": ids, "ref": [f"r{k % 20}" for k in range(n_img)], "score": y})
    return Labelled.join(table, index, higher_better), index


def test_svr_is_libsvm_epsilon_svr_on_scaled_features_and_0_100_labels():
    from sklearn.svm import SVR as SkSVR

    data, _ = _data()
    X, y = data.table.rows.astype(np.float64), data.labels
    fitted = SVR([3.0], [-3.0]).fit(X, y, {"C": 8.0, "gamma": 0.125})
    # the same model written out by hand: svm-scale to [-1, 1], labels to 0-100, epsilon 0.1
    lo, hi = X.min(0), X.max(0)
    xs = -1 + 2 * (X - lo) / (hi - lo)
    ys = (y - y.min()) * 100 / (y.max() - y.min())
    sk = SkSVR(kernel="rbf", C=8.0, gamma=0.125, epsilon=0.1).fit(xs, ys)
    expected = y.min() + sk.predict(xs) * (y.max() - y.min()) / 100
    assert np.allclose(fitted.predict_rows(X), expected, atol=1e-8)
    assert isinstance(fitted, SVRFitted) and fitted.params == {"C": 8.0, "gamma": 0.125}


def test_svr_selection_chooses_the_best_median_validation_point():
    data, index = _data()
    splits = generate_splits(index, n_splits=4)
    model = SVR([-1.0, 3.0, 7.0], [-5.0, -1.0])
    chosen = select(model, data, splits)
    assert chosen.val_srcc.shape == (4, 6)
    assert chosen.index == int(np.argmax(np.median(chosen.val_srcc, axis=0)))
    # per split, the kept model is the one fitted on that split's training images at the chosen point
    train = data.positions(splits.part(0, "train"))
    again = model.fit(*data.training_rows(train), chosen.params)
    assert np.allclose(chosen.split_models[0].predict_rows(data.table.rows), again.predict_rows(data.table.rows))
    pos, pred = chosen.test[0]
    assert srcc(pred, data.labels[pos]) > 0.8


def test_constant_feature_scales_to_zero():
    rows = np.array([[1.0, 5.0], [3.0, 5.0]])
    assert np.array_equal(scale_features(rows, rows.min(0), rows.max(0)), [[-1.0, 0.0], [1.0, 0.0]])


def test_identity_uses_the_scores_and_their_direction():
    data, index = _data(dims=1)
    chosen = select(Identity(higher_better=False), data, generate_splits(index, n_splits=2))
    assert not chosen.model.trains and chosen.index == 0
    pos, pred = chosen.test[1]
    assert np.allclose(pred, data.table.rows[pos, 0])
    fitted = refit(Identity(False), data)
    assert isinstance(fitted, IdentityFitted) and fitted.higher_better is False


def test_fitted_models_are_plain_arrays():
    data, _ = _data()
    rows = data.table.rows
    lin = refit(Ridge(np.array([0.1, 1.0])), data, {"alpha": 1.0})
    arr = lin.arrays()
    assert set(arr) == {"coef", "intercept"} and all(isinstance(v, np.ndarray) for v in arr.values())
    again = LinearFitted(arr["coef"], float(arr["intercept"]), lin.params, lin.higher_better)
    assert np.array_equal(again.predict_rows(rows), lin.predict_rows(rows))
    svr = SVR([1.0], [-2.0]).fit(rows, data.labels, {"C": 2.0, "gamma": 0.25})
    a = svr.arrays()
    back = SVRFitted(a["support"], a["dual"], float(a["intercept"]), a["x_min"], a["x_max"], *a["y_range"],
                     svr.params, svr.higher_better)
    assert np.array_equal(back.predict_rows(rows), svr.predict_rows(rows))


def test_log2_grid_notation():
    assert log2_grid("-3:13:2", "x") == [-3, -1, 1, 3, 5, 7, 9, 11, 13]
    assert log2_grid("1, 2,5", "x") == [1, 2, 5]
    assert log2_grid("3:-1:-2", "x") == [3, 1, -1]
    for bad in ("1:5:0", "5:1:1", "a,b", "", "nan", "1:inf:1"):
        with pytest.raises(IQABenchError, match="svr_log2c"):
            log2_grid(bad, "svr_log2c")


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("n_alphas", "0", "n_alphas"),
        ("n_alphas", "-3", "n_alphas"),
        ("alpha_min", "0", "alpha_min"),
        ("alpha_min", "-1", "alpha_min"),
        ("alpha_max", "nan", "alpha_max"),
        ("alpha_max", "inf", "alpha_max"),
        ("alpha_min", "1e4", "must not exceed alpha_max"),
        ("regressor", "lasso", "regressor"),
        ("svr_log2gamma", "1:2:0", "svr_log2gamma"),
    ],
)
@pytest.mark.parametrize("protocol", ["within_dataset", "cross_dataset", "gmad", "waterloo"])
def test_every_model_option_is_checked_when_the_protocol_is_built(protocol, option, value, message):
    from iqabench import registry

    cls = registry.protocols.get(protocol)
    with pytest.raises(IQABenchError, match=message) as err:
        cls(**{option: value})
    assert "\n" not in str(err.value)


def test_bad_protocol_option_fails_before_any_extraction(cli, tmp_path, monkeypatch):
    import iqabench.protocol as protocol

    def boom(*a, **k):
        raise AssertionError("extraction started")

    monkeypatch.setattr(protocol, "extract_features", boom)
    for option in ("alpha_max=nan", "alpha_min=-1", "alpha_min=0", "n_alphas=0", "n_alphas=-3"):
        r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--protocol-option", option,
                "--runs", str(tmp_path / "runs"))
        assert r.code == 1 and option.split("=")[0] in r.err and "Traceback" not in r.err, (option, r)
        assert len(r.err.strip().splitlines()) == 1
