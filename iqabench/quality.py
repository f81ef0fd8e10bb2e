"""Per-image quality on any dataset, oriented "higher = better", for the protocols beyond one dataset.

* A **scores** method (e.g. NIQE) gives its own score, averaged over its rows and oriented by the
  method's ``higher_better``.
* A **features** method is given a ridge regressor trained on a whole labelled dataset: alpha is
  chosen by the ``within_dataset`` validation rule on that dataset's splits
  (:func:`iqabench.evaluation.ridge_over_splits`: argmax of the median validation SRCC), then the
  regressor is refitted on **all** its images with that alpha. Predictions are crop-averaged and
  oriented by the training label's direction, so a regressor trained on DMOS still yields
  "higher = better" quality.
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
from .evaluation import Labelled, ridge_over_splits
from .features import FeatureTable
from .method import Method
from .metrics import orient
from .protocol import RunContext
from .ridge import DEFAULT_ALPHAS, RidgePath
from .splits import Splits

log = logging.getLogger("iqabench")

ALPHA_OPTIONS = {"n_alphas": 100, "alpha_min": 1e-3, "alpha_max": 1e3}


def alpha_grid(options: dict[str, Any]) -> np.ndarray:
    """The ridge alpha grid of a protocol's options (ARNIQA's ``geomspace(1e-3, 1e3, 100)`` by default)."""
    n, lo, hi = options["n_alphas"], options["alpha_min"], options["alpha_max"]
    if (n, lo, hi) == (100, 1e-3, 1e3):
        return DEFAULT_ALPHAS
    if n < 1 or not 0 < lo <= hi:
        raise IQABenchError(f"alpha grid: need n_alphas >= 1 and 0 < alpha_min <= alpha_max (got {n}, {lo}, {hi})")
    return np.geomspace(lo, hi, n)


def describe_grid(alphas: np.ndarray) -> str:
    return f"geomspace({alphas[0]:g}, {alphas[-1]:g}, {len(alphas)})"


@dataclass
class Regressor:
    """A ridge regressor trained on every image of a labelled dataset."""

    dataset: str
    label: str
    higher_better: bool  # direction of the training label, hence of the raw predictions
    alpha: float
    val_srcc_median: float  # median validation SRCC at the chosen alpha (the selection criterion)
    n_images: int
    path: RidgePath

    def predict(self, table: FeatureTable) -> np.ndarray:
        """Crop-averaged predictions for every image of ``table``, oriented higher = better."""
        mask = np.ones(len(table.rows), dtype=bool)
        pos, pred = table.image_mean(self.path.predict(table.rows, np.array([self.alpha]))[:, 0], mask)
        out = np.full(table.n_images, np.nan)
        out[pos] = pred
        return orient(out, self.higher_better)

    def record(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "label": self.label,
            "label_higher_better": self.higher_better,
            "alpha": self.alpha,
            "val_srcc_median": self.val_srcc_median,
            "n_train_images": self.n_images,
            "rule": "alpha = argmax of the median validation SRCC over the dataset's splits; refit on all images",
        }


def fit_regressor(data: Labelled, splits: Splits, alphas: np.ndarray, dataset: str, label: str) -> Regressor:
    """Alpha by the within_dataset validation rule on ``splits``, then one fit on every image of ``data``."""
    fit = ridge_over_splits(data, splits, alphas)
    med = np.nanmedian(np.where(np.isfinite(fit["val_srcc"]), fit["val_srcc"], np.nan), axis=0)
    everything = np.arange(data.table.n_images)
    return Regressor(
        dataset=dataset,
        label=label,
        higher_better=data.higher_better,
        alpha=fit["alpha"],
        val_srcc_median=float(med[fit["alpha_index"]]),
        n_images=len(everything),
        path=data.fit(everything),
    )


def train_on(ctx: RunContext, method: Method, dataset: Dataset, alphas: np.ndarray, splits: Splits | None = None) -> Regressor:
    """A regressor for ``method``'s features trained on the whole labelled ``dataset``."""
    if not dataset.labelled:
        raise IQABenchError(f"dataset {dataset.name!r} has no labels to train a regressor on")
    table = ctx.features(method, dataset)
    data = Labelled.join(table, dataset.index(), dataset.score_spec.higher_better)
    reg = fit_regressor(data, splits if splits is not None else dataset.splits(seed=ctx.seed), alphas, dataset.name, dataset.label)
    log.info(
        f"{method.display_name()}: regressor trained on {dataset.name} ({reg.n_images} images, "
        f"alpha {reg.alpha:.4g} chosen on validation, median val SRCC {reg.val_srcc_median:.4f})"
    )
    return reg


def method_scores(method: Method, table: FeatureTable) -> np.ndarray:
    """A scores method's per-image score (mean over its rows), oriented higher = better."""
    if method.kind != "scores":
        raise IQABenchError(f"internal error: method {method.name!r} gives features, not scores")
    mask = np.ones(len(table.rows), dtype=bool)
    pos, mean = table.image_mean(table.rows[:, 0], mask)
    out = np.full(table.n_images, np.nan)
    out[pos] = mean
    return orient(out, method.higher_better)


def quality(method: Method, table: FeatureTable, regressor: Regressor | None) -> np.ndarray:
    """Per-image quality (aligned with ``table.image_ids``), higher = better."""
    if method.kind == "scores":
        return method_scores(method, table)
    if regressor is None:
        raise IQABenchError(f"internal error: features method {method.name!r} needs a regressor")
    return regressor.predict(table)


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
    regressors: dict[str, dict[str, Any]]  # method name -> Regressor.record() (features methods)
    regressor_dataset: Dataset | None
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


def pool_quality(ctx: RunContext, pool: Dataset, reg_ds: Dataset | None, alphas: np.ndarray) -> PoolQuality:
    """Quality of every image of ``pool`` by every method (features methods through a regressor on ``reg_ds``)."""
    if reg_ds is None and any(m.kind == "features" for m in ctx.methods):
        raise IQABenchError("internal error: features methods need a regressor dataset")
    ids = pool.index()["image_id"].tolist()
    keep = set(ids)
    per_method, regressors, from_cache, failures = {}, {}, {}, []
    for method in ctx.methods:
        reg = train_on(ctx, method, reg_ds, alphas) if method.kind == "features" else None
        table = ctx.features(method, pool)
        if reg is not None:
            regressors[method.name] = reg.record()
        q = quality(method, table, reg)
        per_method[method.name] = dict(zip(table.image_ids, q))
        keep &= set(table.image_ids)
        from_cache[method.name] = int(table.from_cache)
        failures += [{"method": method.name, "image_id": i, "reason": r} for i, r in table.failures]
    common = [i for i in ids if i in keep]
    if len(common) < 2:
        raise IQABenchError(f"dataset {pool.name!r}: fewer than 2 images were scored by every method")
    scores = {name: np.array([s[i] for i in common]) for name, s in per_method.items()}
    return PoolQuality(common, scores, regressors, reg_ds, from_cache, failures)


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
