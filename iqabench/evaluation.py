"""The ARNIQA evaluation protocol's building blocks, shared by the protocols.

* A ridge regressor is fitted on the **crop-level rows** of the training images (each row
  carries its image's label), for every alpha of the grid at once (:class:`RidgePath`).
* An image's prediction is the **mean of its rows' predictions**.
* Alpha is chosen as the argmax over the grid of the **median over splits of the validation
  SRCC** (ties: the smaller alpha); the test numbers of every split use that alpha.
* Correlations are computed on oriented values (higher = better; see :mod:`iqabench.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import IQABenchError
from .features import FeatureTable
from .metrics import correlations, orient, srcc, srcc_columns
from .ridge import DEFAULT_ALPHAS, RidgePath
from .splits import Splits


@dataclass
class Labelled:
    """A feature table joined with its dataset's labels, by image position."""

    table: FeatureTable
    labels: np.ndarray  # per image of table.image_ids, raw label
    higher_better: bool
    index: pd.DataFrame  # dataset index rows aligned with table.image_ids

    @classmethod
    def join(cls, table: FeatureTable, index: pd.DataFrame, higher_better: bool) -> Labelled:
        aligned = index.set_index("image_id").loc[table.image_ids].reset_index()
        return cls(table, aligned["score"].to_numpy(np.float64), higher_better, aligned)

    def positions(self, image_ids: list[str]) -> np.ndarray:
        """Positions of ``image_ids`` among the images that have features (failed images drop out)."""
        where = {image_id: i for i, image_id in enumerate(self.table.image_ids)}
        return np.array([where[i] for i in image_ids if i in where], dtype=np.int64)

    def fit(self, train_pos: np.ndarray) -> RidgePath:
        mask = self.table.rows_of(train_pos)
        if mask.sum() < 2:
            raise IQABenchError("training split has fewer than 2 images with features")
        return RidgePath(self.table.rows[mask], self.labels[self.table.row_image[mask]])

    def predict(self, path: RidgePath, pos: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(image positions, image × alpha predictions) for the images at ``pos``, crop-averaged."""
        mask = self.table.rows_of(pos)
        return self.table.image_mean(path.predict(self.table.rows[mask], alphas), mask)

    def oriented_labels(self, pos: np.ndarray) -> np.ndarray:
        return orient(self.labels[pos], self.higher_better)


def select_alpha(val_srcc: np.ndarray, alphas: np.ndarray) -> tuple[int, float]:
    """``val_srcc``: splits × alphas. Argmax of the median over splits; ties go to the smaller alpha."""
    med = np.nanmedian(np.where(np.isfinite(val_srcc), val_srcc, np.nan), axis=0)
    if not np.isfinite(med).any():
        raise IQABenchError("validation SRCC is undefined for every alpha (constant predictions or labels)")
    best = int(np.nanargmax(med))
    return best, float(alphas[best])


def ridge_over_splits(data: Labelled, splits: Splits, alphas: np.ndarray = DEFAULT_ALPHAS) -> dict:
    """Fit every split once, choose alpha on validation, return test predictions at that alpha."""
    val_srcc = np.full((len(splits), len(alphas)), np.nan)
    test_preds = []
    for k in range(len(splits)):
        train, val, test = (data.positions(ids) for ids in splits.parts(k))
        if len(train) < 2 or len(val) < 2 or len(test) < 2:
            raise IQABenchError(
                f"split {k + 1}: too few images with features (train {len(train)}, val {len(val)}, test {len(test)})"
            )
        path = data.fit(train)
        vpos, vpred = data.predict(path, val, alphas)
        val_srcc[k] = srcc_columns(orient(vpred, data.higher_better), data.oriented_labels(vpos))
        test_preds.append(data.predict(path, test, alphas))
    best, alpha = select_alpha(val_srcc, alphas)
    return {
        "alpha_index": best,
        "alpha": alpha,
        "val_srcc": val_srcc,
        "test": [(pos, pred[:, best]) for pos, pred in test_preds],
    }


def split_metrics(data: Labelled, pos: np.ndarray, pred: np.ndarray, pred_higher_better: bool) -> dict[str, float]:
    """Correlations of (oriented) predictions with (oriented) labels for the images at ``pos``."""
    return correlations(orient(pred, pred_higher_better), data.oriented_labels(pos))


def per_type_srcc(data: Labelled, pos: np.ndarray, pred: np.ndarray, pred_higher_better: bool) -> dict[str, float]:
    """Test SRCC per distortion type (synthetic datasets), as the ARNIQA evaluation also reports."""
    types = data.index["dist_type"].to_numpy()[pos]
    out = {}
    for t in sorted({t for t in types if isinstance(t, str)}):
        m = types == t
        if m.sum() >= 3:
            out[t] = srcc(orient(pred[m], pred_higher_better), data.oriented_labels(pos[m]))
    return out
