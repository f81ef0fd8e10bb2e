"""A method's rows joined with a dataset's labels, and the per-split numbers the protocols report.

* Feature rows are **crop-level**: each row carries its image's label when a model is trained
  (:meth:`Labelled.training_rows`), and an image's prediction is the **mean of its rows'
  predictions** (:meth:`Labelled.predict`).
* Correlations are computed on oriented values (higher = better; see :mod:`iqabench.metrics`).

How models are fitted and chosen: :mod:`iqabench.quality_models`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import IQABenchError
from .features import FeatureTable
from .metrics import correlations, orient, srcc


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

    def training_rows(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels) of the images at ``pos``: every feature row with its image's label."""
        mask = self.table.rows_of(pos)
        if mask.sum() < 2:
            raise IQABenchError("training split has fewer than 2 images with features")
        return self.table.rows[mask], self.labels[self.table.row_image[mask]]

    def predict(self, fn: Callable[[np.ndarray], np.ndarray], pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(image positions, per-image predictions) for the images at ``pos``: ``fn`` on their rows,
        averaged over each image's rows (``fn`` may return one column per grid point)."""
        mask = self.table.rows_of(pos)
        return self.table.image_mean(fn(self.table.rows[mask]), mask)

    def oriented_labels(self, pos: np.ndarray) -> np.ndarray:
        return orient(self.labels[pos], self.higher_better)


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
