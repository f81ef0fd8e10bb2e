"""Per-image quality on a label-free pool (gMAD, Waterloo), and the images record of a result.

Every method's quality is oriented "higher = better": a **scores** method (e.g. NIQE) gives its
own score through the identity model; a **features** method is given its quality model trained
on a whole labelled dataset (``regressor_dataset``) by :meth:`iqabench.protocol.RunContext.train`:
hyper-parameters by the ``within_dataset`` validation rule on that dataset's splits, then refitted
on all its images.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import registry
from .dataset import Dataset
from .errors import IQABenchError
from .features import FeatureTable
from .protocol import Protocol, RunContext, Trained
from .quality_models import predict_images

log = logging.getLogger("iqabench")


def parse_dataset_options(text: str, what: str) -> dict[str, str]:
    """``"key=value;key=value"`` (values may hold commas, e.g. ``types=jpeg,gaublur``) → dict."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in str(text).split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise IQABenchError(f"{what}: expected KEY=VALUE pairs separated by ';', got {item!r}")
        out[key.strip()] = value.strip()
    return out


def make_dataset(ctx: RunContext, name: str, label: str | None, options: dict[str, str]) -> Dataset:
    """A dataset named by a protocol option, built from the registry with the run's data root."""
    cls = registry.datasets.get(name)
    return cls(root=ctx.data_root, label=label or None, **options)


@dataclass
class PoolQuality:
    """Every method's quality on a pool: images scored by all methods, in pool index order."""

    image_ids: list[str]
    scores: dict[str, np.ndarray]  # method name -> per image, higher = better
    regressors: dict[str, dict[str, Any]]  # method name -> Trained.record() (features methods)
    regressor_dataset: Dataset | None
    trained: dict[str, Trained]  # method name -> its quality model (features methods)
    from_cache: dict[str, int]
    failures: list[dict[str, str]]


REGRESSOR_OPTIONS = {"regressor_dataset": "kadid10k", "regressor_label": "", "regressor_options": ""}


def regressor_dataset(ctx: RunContext, options: dict[str, Any]) -> Dataset | None:
    """The labelled dataset features methods are trained on (None when every method gives scores).

    Built and indexed up front, so a missing or unlabelled dataset fails before any extraction."""
    if not any(m.kind == "features" for m in ctx.methods):
        return None
    ds = make_dataset(
        ctx,
        options["regressor_dataset"],
        options["regressor_label"],
        parse_dataset_options(options["regressor_options"], "option regressor_options"),
    )
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
    per_method, regressors, trained_by, from_cache, failures = {}, {}, {}, {}, []
    for method in ctx.methods:
        table = ctx.features(method, pool)
        if method.kind == "features":
            trained = ctx.train(protocol, method, reg_ds)
            regressors[method.name] = trained.record()
            trained_by[method.name] = trained
            fitted = trained.fitted
        else:  # the identity: a scores method's own score
            fitted = protocol.quality_model(method, method.higher_better).fit(table.rows, np.zeros(0), {})
        q = predict_images(fitted, table)
        per_method[method.name] = dict(zip(table.image_ids, q))
        keep &= set(table.image_ids)
        from_cache[method.name] = int(table.from_cache)
        failures += [{"method": method.name, "image_id": i, "reason": r} for i, r in table.failures]
    common = [i for i in ids if i in keep]
    if len(common) < 2:
        raise IQABenchError(f"dataset {pool.name!r}: fewer than 2 images were scored by every method")
    scores = {name: np.array([s[i] for i in common]) for name, s in per_method.items()}
    return PoolQuality(common, scores, regressors, reg_ds, trained_by, from_cache, failures)


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


def table_record(total: int, table: FeatureTable) -> dict[str, Any]:
    """Result.images for one dataset of ``total`` images read into ``table``."""
    return {
        "total": int(total),
        "scored": int(table.n_images),
        "failed": len(table.failures),
        "failures": [{"image_id": i, "reason": r} for i, r in table.failures],
        "from_cache": int(table.from_cache),
        "conversions": dict(table.conversions),  # original mode -> images converted to 8-bit RGB
    }


def image_record(parts: list[tuple[str, int, FeatureTable]]) -> dict[str, Any]:
    """Result.images for several (dataset, index size, table) parts: flat totals plus a breakdown."""
    records = {name: table_record(total, t) for name, total, t in parts}
    by = {name: {k: v for k, v in r.items() if k != "failures"} for name, r in records.items()}
    return {
        "total": sum(v["total"] for v in by.values()),
        "scored": sum(v["scored"] for v in by.values()),
        "failed": sum(v["failed"] for v in by.values()),
        "failures": [{**f, "image_id": f"{name}:{f['image_id']}"} for name, r in records.items() for f in r["failures"]],
        "from_cache": sum(v["from_cache"] for v in by.values()),
        "conversions": dict(sum((Counter(v["conversions"]) for v in by.values()), Counter())),
        "by_dataset": by,
    }
