"""Per-image quality on a label-free pool (gMAD, Waterloo).

Every method's quality is oriented "higher = better": a **scores** method (e.g. NIQE) gives its
own score through the identity model; a **features** method is given its quality model trained
on a whole labelled dataset (the protocol option ``regressor_dataset``) by
:meth:`iqabench.protocol.RunContext.train`: hyper-parameters by the ``within_dataset`` validation
rule on that dataset's splits, then refitted on all its images. The regressor dataset takes the
run's ``--label regressor_dataset=LABEL`` and ``--dataset-option regressor_dataset:KEY=VALUE``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dataset import Dataset
from .errors import IQABenchError
from .protocol import Protocol, RunContext, Trained
from .quality_models import predict_images
from .results import image_record

log = logging.getLogger("iqabench")

POOL_OPTIONS = {"regressor_dataset": "kadid10k"}


@dataclass
class PoolQuality:
    """Every method's quality on a pool: images scored by all methods, in pool index order."""

    image_ids: list[str]
    scores: dict[str, np.ndarray]  # method name -> per image, higher = better
    regressors: dict[str, dict[str, Any]]  # method name -> Trained.record() (features methods)
    regressor_dataset: Dataset | None
    trained: dict[str, Trained]  # method name -> its quality model (features methods)
    images: dict[str, dict[str, Any]]  # method name -> the images record of the pool for that method


def regressor_dataset(ctx: RunContext, options: dict[str, Any]) -> Dataset | None:
    """The labelled dataset features methods are trained on (None when every method gives scores).

    Built and indexed up front, so a missing or unlabelled dataset fails before any extraction."""
    if not any(m.kind == "features" for m in ctx.methods):
        return None
    ds = ctx.dataset("regressor_dataset", options["regressor_dataset"])
    if not ds.labelled:
        raise IQABenchError(f"option regressor_dataset: dataset {ds.name!r} has no labels to train on")
    ds.index()
    return ds


def pool_quality(ctx: RunContext, protocol: Protocol, pool: Dataset, reg_ds: Dataset | None) -> PoolQuality:
    """Quality of every image of ``pool`` by every method (features methods through a model trained on ``reg_ds``)."""
    if reg_ds is None and any(m.kind == "features" for m in ctx.methods):
        raise IQABenchError("internal error: features methods need a regressor dataset")
    ids = pool.index()["image_id"].tolist()
    keep = set(ids)
    per_method, regressors, trained_by, images = {}, {}, {}, {}
    for method in ctx.methods:
        table = ctx.features(method, pool)
        parts = [(pool.name, len(ids), table)]
        if method.kind == "features":
            trained = ctx.train(protocol, method, reg_ds)
            regressors[method.name] = trained.record()
            trained_by[method.name] = trained
            fitted = trained.fitted
            parts.append((reg_ds.name, len(reg_ds.index()), ctx.features(method, reg_ds)))
        else:  # the identity: a scores method's own score
            fitted = protocol.quality_model(method, method.higher_better).fit(table.rows, np.zeros(0), {})
        per_method[method.name] = dict(zip(table.image_ids, predict_images(fitted, table)))
        keep &= set(table.image_ids)
        images[method.name] = image_record(parts)
    common = [i for i in ids if i in keep]
    if len(common) < 2:
        raise IQABenchError(f"dataset {pool.name!r}: fewer than 2 images were scored by every method")
    scores = {name: np.array([s[i] for i in common]) for name, s in per_method.items()}
    return PoolQuality(common, scores, regressors, reg_ds, trained_by, images)


def pool_model_files(ctx: RunContext, pq: PoolQuality, methods: list) -> dict[str, bytes]:
    """``models/<method>.npz``: each features method's quality model, trained on the regressor dataset."""
    from .saved_models import model_files

    out: dict[str, bytes] = {}
    for method in methods:
        t = pq.trained.get(method.name)
        if t is None:
            continue
        dim = ctx.features(method, t.dataset).rows.shape[1]
        out.update(model_files(method, t.dataset, {method.name: t.fitted}, feature_dim=dim, splits=ctx.splits(t.dataset),
                               trained_on={method.name: {"images": f"every image of {t.dataset.name}",
                                                         "n_images": t.n_images}}))
    return out
