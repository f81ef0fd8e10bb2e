"""The restricted unpickler: a real scikit-learn Ridge reads as plain arrays; anything else is refused unrun."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from iqabench.errors import IQABenchError
from iqabench.models.contrique import RIDGE_CLASSES, ReleasedRidge
from iqabench.safe_pickle import Record, load_restricted


@pytest.fixture(scope="module")
def ridge() -> tuple[Ridge, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((40, 16), dtype=np.float32)  # float32 features, as the release's demo_feat.py writes them
    y = (x @ rng.random(16) + rng.normal(0, 0.1, 40)).astype(np.float32)
    return Ridge(alpha=0.1).fit(x, y), x


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_pickled_ridge_reads_as_arrays_and_predicts_identically(ridge, protocol, tmp_path):
    model, x = ridge
    path = tmp_path / "LIVE.save"
    path.write_bytes(pickle.dumps(model, protocol=protocol))
    record = load_restricted(path, RIDGE_CLASSES, "regressor")
    assert isinstance(record, Record) and record.cls == "sklearn.linear_model._ridge.Ridge"
    assert record.state["alpha"] == 0.1 and record.state["coef_"].dtype == np.float32
    assert not any(type(v).__module__.startswith("sklearn") for v in record.state.values())
    released = ReleasedRidge(path)
    assert released.n_features == 16 and released.describe()["alpha"] == 0.1
    np.testing.assert_array_equal(released.predict(x), model.predict(x))  # bit for bit


class _System:
    def __reduce__(self):
        return (os.system, ("touch SIDE_EFFECT",))


class _Eval:
    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path('SIDE_EFFECT').touch()",))


def _refused(path) -> str:
    with pytest.raises(IQABenchError) as err:
        load_restricted(path, RIDGE_CLASSES, "regressor")
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("payload", [_System(), _Eval(), {"coef_": _System()}])
def test_globals_that_run_code_are_refused_and_nothing_runs(payload, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.save"
    path.write_bytes(pickle.dumps(payload))
    message = _refused(path)
    assert "is refused" in message and ("system" in message or "eval" in message)
    assert not (tmp_path / "SIDE_EFFECT").exists()


def test_other_classes_objects_and_old_protocols_are_refused(ridge, tmp_path):
    model, x = ridge
    other = tmp_path / "linear.save"
    other.write_bytes(pickle.dumps(LinearRegression().fit(x, x[:, 0])))
    assert "sklearn.linear_model._base.LinearRegression" in _refused(other)
    old = tmp_path / "protocol1.save"
    old.write_bytes(pickle.dumps(model, protocol=1))  # objects go through copyreg._reconstructor
    assert "copy_reg._reconstructor" in _refused(old)  # protocol < 3 writes Python 2's module name
    objects = tmp_path / "objects.save"
    objects.write_bytes(pickle.dumps(np.array(["a", "b"], dtype=object)))
    assert "only numeric dtypes" in _refused(objects)
    truncated = tmp_path / "truncated.save"
    truncated.write_bytes(pickle.dumps(model)[:200])
    assert "not a readable pickle" in _refused(truncated)


def test_a_ridge_of_the_wrong_shape_is_a_one_line_error(tmp_path):
    rng = np.random.default_rng(1)
    two_targets = Ridge().fit(rng.random((10, 4)), rng.random((10, 2)))
    path = tmp_path / "two.save"
    path.write_bytes(pickle.dumps(two_targets))
    with pytest.raises(IQABenchError, match="1×D array"):
        ReleasedRidge(path)
    arrays = tmp_path / "array.save"
    arrays.write_bytes(pickle.dumps(np.zeros(3, dtype=np.float32)))
    with pytest.raises(IQABenchError, match="not a pickled scikit-learn Ridge"):
        ReleasedRidge(arrays)
