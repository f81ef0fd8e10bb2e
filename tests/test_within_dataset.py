"""within_dataset on controlled features: orientation, crop averaging, alpha on validation, score methods."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from iqabench.protocols.within_dataset import WithinDataset

from iqabench import Dataset, Method, ScoreSpec, Views
from iqabench.evaluation import Labelled, ridge_over_splits
from iqabench.features import FeatureTable
from iqabench.protocol import RunContext
from iqabench.splits import generate_splits


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
    json.dumps(result.summary, default=float)


def test_reference_disjoint_splits_in_the_result(tmp_path):
    ds = _Tiny(_frame(tmp_path))
    (result,) = WithinDataset().run(RunContext(methods=[_Brightness()], datasets=[ds]))
    ref = dict(zip(ds.index().image_id, ds.index().ref))
    for col in result.splits.columns:
        parts = {p: {ref[i] for i in result.splits.table.loc[result.splits.table[col] == p, "image_id"]} for p in ("train", "val", "test")}
        assert not parts["train"] & parts["test"] and not parts["train"] & parts["val"] and not parts["val"] & parts["test"]


def test_alpha_is_chosen_on_validation_not_test():
    rng = np.random.default_rng(0)
    n_img, crops = 300, 2
    X = rng.normal(size=(n_img * crops, 30))
    w = rng.normal(size=30)
    y_img = X[::crops] @ w + rng.normal(scale=3.0, size=n_img)
    ids = [f"i{k}" for k in range(n_img)]
    table = FeatureTable(ids, X.astype(np.float32), np.repeat(np.arange(n_img), crops))
    index = pd.DataFrame({"image_id": ids, "ref": [f"r{k % 30}" for k in range(n_img)], "score": y_img})
    data = Labelled.join(table, index, True)
    splits = generate_splits(index)
    fit = ridge_over_splits(data, splits, np.geomspace(1e-3, 1e3, 100))
    med = np.nanmedian(fit["val_srcc"], axis=0)
    assert fit["alpha_index"] == int(np.nanargmax(med))
    assert fit["val_srcc"].shape == (10, 100)
