"""``waterloo``: the D- and L-tests of the Waterloo Exploration Database (Ma et al., TIP 2017).

Quality of every image, higher = better: a scores method's own oriented scores, or, for a
features method, its quality model trained on ``regressor_dataset`` as in ``gmad`` (chosen by the
within_dataset validation rule on it, refitted on all its images).

* **D-test** (pristine/distorted discriminability): the best balanced accuracy of the rule
  "quality > T ⇒ pristine" over every threshold T,
  ``D = max_T ½ [#{pristine: q > T} / #pristine + #{distorted: q ≤ T} / #distorted]``
  (0.5 = chance; the per-class normalisation matters, distorted images being 20× more).
* **L-test** (listwise ranking consistency): for each reference × distortion type, the SRCC
  between the predicted quality and the negated level over its distorted images (levels 1–5);
  L = mean over all such lists. A list whose predictions are all equal carries no ranking and
  counts as 0 (reported as ``l_constant_lists``).
* **P-test** (pairwise preference on discriminable image pairs) is not computed: the criterion
  that makes a pair "discriminable" (agreement of full-reference models, dipIQ) is not known
  precisely enough to reproduce.

Works on ``waterloo`` and on any dataset with ``ref``, ``dist_type`` and ``level`` and pristine
images at level 0 (``demo`` with ``--dataset-option pristine=true``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iqabench.errors import IQABenchError
from iqabench.metrics import srcc
from iqabench.pool import POOL_OPTIONS, pool_model_files, pool_quality, regressor_dataset
from iqabench.protocol import Protocol, RunContext
from iqabench.quality_models import MODEL_OPTIONS
from iqabench.registry import register_protocol
from iqabench.results import Result
from iqabench.summary import Summary

log = logging.getLogger("iqabench")

P_TEST_NOTE = (
    "P-test not computed: the discriminable-image-pair (DIP) criterion of the Waterloo paper is not known "
    "precisely enough to reproduce"
)


def d_test(quality: np.ndarray, pristine: np.ndarray) -> tuple[float, float]:
    """(D, best threshold): max over thresholds of the balanced accuracy of "q > T ⇒ pristine"."""
    q = np.asarray(quality, dtype=np.float64)
    pristine = np.asarray(pristine, dtype=bool)
    p, d = np.sort(q[pristine]), np.sort(q[~pristine])
    if len(p) == 0 or len(d) == 0:
        raise IQABenchError("D-test needs both pristine and distorted images")
    thresholds = np.concatenate([[-np.inf], np.unique(q)])
    p_above = 1.0 - np.searchsorted(p, thresholds, side="right") / len(p)
    d_at_or_below = np.searchsorted(d, thresholds, side="right") / len(d)
    acc = 0.5 * (p_above + d_at_or_below)
    best = int(np.argmax(acc))
    return float(acc[best]), float(thresholds[best])


def l_test(frame: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """``frame``: ref, dist_type, level (≥ 1), quality. Returns (L, one row per reference × type list)."""
    rows = []
    for (ref, kind), g in frame.groupby(["ref", "dist_type"], sort=True):
        if len(g) < 2 or g["level"].nunique() < 2:
            continue
        q = g["quality"].to_numpy(np.float64)
        constant = bool(np.ptp(q) == 0)
        value = 0.0 if constant else srcc(q, -g["level"].to_numpy(np.float64))
        rows.append({"ref": ref, "dist_type": kind, "n": len(g), "srcc": value, "constant": constant})
    lists = pd.DataFrame(rows, columns=["ref", "dist_type", "n", "srcc", "constant"])
    if lists.empty:
        raise IQABenchError("L-test needs at least one reference × type list with two or more levels")
    return float(lists["srcc"].mean()), lists


@dataclass
class WaterlooSummary(Summary):
    """The D- and L-tests of one method (the P-test is not computed)."""

    d_test: float | None = None
    d_threshold: float | None = None
    l_test: float | None = None
    l_by_type: dict = field(default_factory=dict)
    l_lists: int = 0
    l_constant_lists: int = 0
    n_pristine: int = 0
    n_distorted: int = 0
    p_test: float | None = None
    p_test_note: str = ""
    quality: str = ""
    regressor: dict | None = None


@register_protocol("waterloo")
class Waterloo(Protocol):
    description = "Waterloo Exploration D-test (pristine vs distorted) and L-test (level ranking); no P-test"
    option_defaults = {**POOL_OPTIONS, **MODEL_OPTIONS}
    max_datasets = 1
    needs_labels = False
    dataset_roles = ("regressor_dataset",)

    @classmethod
    def report_sections(cls, runs, ctx):
        """The D- and L-tests per method and pool."""
        from ._waterloo_report import sections

        return sections(runs, ctx, WaterlooSummary)

    def check(self, ctx: RunContext) -> None:
        super().check(ctx)
        pool = ctx.datasets[0]
        index = pool.index()
        if index["ref"].isna().any() or index["level"].isna().any():
            raise IQABenchError(f"protocol 'waterloo': dataset {pool.name!r} lacks ref or level for some images")
        if not (index["level"] == 0).any():
            hint = " (for the demo add --dataset-option pristine=true)" if pool.name.startswith("demo") else ""
            raise IQABenchError(f"protocol 'waterloo': dataset {pool.name!r} has no pristine images (level 0){hint}")
        self._regressor_dataset = regressor_dataset(ctx, self.options)

    def run(self, ctx: RunContext) -> list[Result]:
        pool = ctx.datasets[0]
        index = pool.index()
        pq = pool_quality(ctx, self, pool, getattr(self, "_regressor_dataset", None) or regressor_dataset(ctx, self.options))
        info = index.set_index("image_id").loc[pq.image_ids].reset_index()
        pristine = (info["level"] == 0).to_numpy()
        results = []
        for method in ctx.methods:
            q = pq.scores[method.name]
            d_value, threshold = d_test(q, pristine)
            frame = info.loc[~pristine, ["image_id", "ref", "dist_type", "level"]].assign(quality=q[~pristine])
            l_value, lists = l_test(frame)
            by_type = lists.groupby("dist_type")["srcc"].mean()
            summary = {
                "d_test": d_value,
                "d_threshold": threshold,
                "l_test": l_value,
                "l_by_type": {str(k): float(v) for k, v in by_type.items()},
                "l_lists": int(len(lists)),
                "l_constant_lists": int(lists["constant"].sum()),
                "n_pristine": int(pristine.sum()),
                "n_distorted": int((~pristine).sum()),
                "p_test": None,
                "p_test_note": P_TEST_NOTE,
                "quality": "regressor trained on " + pq.regressors[method.name]["dataset"]
                if method.name in pq.regressors
                else "the method's own scores, oriented higher = better",
                "headline": f"D {d_value:.4f}, L {l_value:.4f}",
            }
            if method.name in pq.regressors:
                summary["regressor"] = pq.regressors[method.name]
            log.info(f"waterloo: {method.display_name()} on {pool.name}: D {d_value:.4f}, L {l_value:.4f}")
            scores = info[["image_id", "ref", "dist_type", "level"]].assign(quality=q)
            datasets = [pool.card()]
            if method.kind == "features" and pq.regressor_dataset is not None:
                datasets.append(pq.regressor_dataset.card())
            results.append(
                Result(
                    protocol=self.name,
                    config=self.config(),
                    methods=[method.identity()],
                    datasets=datasets,
                    summary=WaterlooSummary(**summary),
                    tables={"lists": lists, "scores": scores},
                    files=pool_model_files(ctx, pq, [method]),
                    images=pq.images[method.name],
                    seed=ctx.seed,
                )
            )
        return results
