"""within_dataset on controlled features: orientation, crop averaging, alpha on validation, score methods."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from iqabench.protocols.within_dataset import WithinDataset

from iqabench import Dataset, Method, ScoreSpec, Views
from iqabench.evaluation import Labelled
from iqabench.features import FeatureTable
from iqabench.protocol import RunContext
from iqabench.quality_models import Ridge, select
from iqabench.splits import Splits, generate_splits


class _Tiny(Dataset):
    name = "tiny"
    labels = {"dmos": ScoreSpec("dmos", higher_better=False, range=(0, 100))}
    needs_root = False

    def __init__(self, frame, **kw):
        super().__init__(**kw)
        self.frame = frame

    def locate_root(self, root):
        return None

    def load_index(self):
        return self.frame


def _frame(tmp_path, n_refs=12, per_ref=5, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_refs):
        for k in range(per_ref):
            q = rng.random()
            path = tmp_path / f"r{r}_{k}.png"
            # the image's brightness encodes its quality; DMOS is lower = better
            Image.fromarray(np.full((40, 40, 3), int(40 + 180 * q), dtype=np.uint8)).save(path)
            rows.append({"image_id": path.name, "path": str(path), "ref": f"r{r}", "score": 100 * (1 - q)})
    return pd.DataFrame(rows)


class _Brightness(Method):
    name = "brightness"
    kind = "scores"
    higher_better = True
    views = Views(crops=5, crop_size=16, scales=(1.0,))

    def extract(self, batch):
        return batch.mean(dim=(1, 2, 3))


class _BrightnessFeatures(_Brightness):
    kind = "features"

    def extract(self, batch):
        m = batch.mean(dim=(1, 2, 3), keepdim=False)
        return torch.stack([m, m**2], dim=1)


@pytest.mark.parametrize("method_cls", [_Brightness, _BrightnessFeatures])
def test_lower_better_labels_give_positive_correlations(tmp_path, method_cls):
    ds = _Tiny(_frame(tmp_path))
    ctx = RunContext(methods=[method_cls()], datasets=[ds])
    (result,) = WithinDataset().run(ctx)
    assert result.summary["srcc"] > 0.99 and result.summary["plcc"] > 0.95  # signed, oriented, no abs()
    assert result.summary["n_splits"] == 10
    per_split = result.tables["per_split"]
    assert len(per_split) == 10 and (per_split["srcc"] > 0.95).all()
    preds = result.tables["predictions"]
    # every test image once per split, with its raw label
    splits = ds.splits()
    for k in range(10):
        assert sorted(preds[preds.split == k + 1].image_id) == sorted(splits.part(k, "test"))
    json.dumps(result.summary.to_dict(), default=float)


def test_reference_disjoint_splits_in_the_result(tmp_path):
    ds = _Tiny(_frame(tmp_path))
    (result,) = WithinDataset().run(RunContext(methods=[_Brightness()], datasets=[ds]))
    ref = dict(zip(ds.index().image_id, ds.index().ref))
    for col in result.splits.columns:
        parts = {p: {ref[i] for i in result.splits.table.loc[result.splits.table[col] == p, "image_id"]} for p in ("train", "val", "test")}
        assert not parts["train"] & parts["test"] and not parts["train"] & parts["val"] and not parts["val"] & parts["test"]


def test_alpha_is_chosen_on_validation_not_test():
    """The choice is the validation rule computed independently (sklearn), and scrambling the test
    labels changes the test numbers but never the chosen alpha: no test data leaks into the choice."""
    from sklearn.linear_model import Ridge as SkRidge

    from iqabench.metrics import srcc

    rng = np.random.default_rng(0)
    n_img, crops = 300, 2
    X = rng.normal(size=(n_img * crops, 30))
    w = rng.normal(size=30)
    y_img = X[::crops] @ w + rng.normal(scale=3.0, size=n_img)
    ids = [f"i{k}" for k in range(n_img)]
    table = FeatureTable(ids, X.astype(np.float32), np.repeat(np.arange(n_img), crops))
    index = pd.DataFrame({"image_id": ids, "ref": [f"r{k % 30}" for k in range(n_img)], "score": y_img})
    splits = generate_splits(index)
    alphas = np.geomspace(1e-2, 1e4, 12)
    chosen = select(Ridge(alphas), Labelled.join(table, index, True), splits)

    expected = np.zeros((10, len(alphas)))
    pos = {i: k for k, i in enumerate(ids)}
    for k in range(10):
        train, val, _ = ([pos[i] for i in part] for part in splits.parts(k))
        rows_of = lambda images: np.concatenate([np.arange(p * crops, (p + 1) * crops) for p in images])  # noqa: E731
        for a, alpha in enumerate(alphas):
            sk = SkRidge(alpha=alpha).fit(X[rows_of(train)].astype(np.float32).astype(np.float64), np.repeat(y_img[train], crops))
            pred = sk.predict(X[rows_of(val)].astype(np.float32).astype(np.float64)).reshape(-1, crops).mean(1)
            expected[k, a] = srcc(pred, y_img[val])
    assert np.allclose(chosen.val_srcc, expected, atol=1e-9)
    assert chosen.index == int(np.argmax(np.median(expected, axis=0)))

    # A split set whose test part is the same references in every split: scrambling their labels
    # cannot touch any training or validation label, so the choice must not move.
    refs = index["ref"].to_numpy()
    fixed = {
        f"split_{k + 1:02d}": np.where(np.isin(refs, [f"r{j}" for j in range(6)]), "test",
                                       np.where(np.isin(refs, [f"r{6 + (3 * k + j) % 24}" for j in range(3)]), "val", "train"))
        for k in range(5)
    }
    fixed_splits = Splits(pd.DataFrame({"image_id": ids, **fixed}), "test-fixed")
    base = select(Ridge(alphas), Labelled.join(table, index, True), fixed_splits)
    scrambled = index.copy()
    test = np.isin(refs, [f"r{j}" for j in range(6)])
    scrambled.loc[test, "score"] = rng.permutation(scrambled.loc[test, "score"].to_numpy())
    leak = select(Ridge(alphas), Labelled.join(table, scrambled, True), fixed_splits)
    assert np.array_equal(leak.val_srcc, base.val_srcc) and leak.index == base.index  # the choice ignores test labels
    pos0, pred0 = base.test[0]
    data0, data1 = Labelled.join(table, index, True), Labelled.join(table, scrambled, True)
    assert srcc(pred0, data0.labels[pos0]) != pytest.approx(srcc(pred0, data1.labels[pos0]))  # the test numbers do move
