"""``within_dataset``: 10 reference-disjoint 70/10/20 splits, hyper-parameters on validation, median of 10.

Per split, the method's quality model (:mod:`iqabench.quality_models`: a ridge regressor for
learned features — every alpha of ``geomspace(1e-3, 1e3, 100)`` at once —, BRISQUE's RBF SVR,
or a scores method's own score) is fitted on the crop-level rows of the train part; the grid
point with the largest median validation SRCC over splits is chosen; per split, test
SRCC/PLCC/KRCC (and PLCC after a 4-parameter logistic) of the crop-averaged prediction; the
reported numbers are medians over splits, with the IQR and per-split values kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iqabench.evaluation import per_type_srcc, split_metrics
from iqabench.metrics import median_and_iqr
from iqabench.protocol import Protocol, RunContext
from iqabench.quality_models import MODEL_OPTIONS, refit, select
from iqabench.registry import register_protocol
from iqabench.results import Result, table_record
from iqabench.saved_models import model_files
from iqabench.summary import Summary, finite

log = logging.getLogger("iqabench")

METRICS = ("srcc", "plcc", "krcc", "plcc_logistic")


@dataclass
class WithinSummary(Summary):
    """Medians over the splits of the test correlations, their inter-quartile ranges, and the model chosen."""

    srcc: float | None = None
    srcc_q1: float | None = None
    srcc_q3: float | None = None
    plcc: float | None = None
    plcc_q1: float | None = None
    plcc_q3: float | None = None
    krcc: float | None = None
    krcc_q1: float | None = None
    krcc_q3: float | None = None
    plcc_logistic: float | None = None
    plcc_logistic_q1: float | None = None
    plcc_logistic_q3: float | None = None
    n_splits: int = 0
    regressor: str = ""  # the quality model: ridge | svr | identity
    params: dict = field(default_factory=dict)  # its chosen hyper-parameters
    alpha: float | None = None  # ridge's, for convenience
    srcc_by_type: dict | None = None  # distortion type -> median test SRCC
    models: list = field(default_factory=list)  # saved models (models/*.npz)


@register_protocol("within_dataset")
class WithinDataset(Protocol):
    description = "Per-dataset performance: 10 reference-disjoint 70/10/20 splits, regressor on val, median of 10"
    option_defaults = dict(MODEL_OPTIONS)

    @classmethod
    def report_sections(cls, runs, ctx):
        """Table 1 (with the published values and paired comparisons) and the variants of trained methods (Table 3)."""
        from ._within_report import sections

        return sections(runs, ctx, WithinSummary)

    def run(self, ctx: RunContext) -> list[Result]:
        results = []
        for dataset in ctx.datasets:
            splits = ctx.splits(dataset)
            for method in ctx.methods:
                results.append(self.evaluate(ctx, method, dataset, splits))
        return results

    def evaluate(self, ctx: RunContext, method, dataset, splits) -> Result:
        table = ctx.features(method, dataset)
        data = ctx.labelled(method, dataset)
        model = self.quality_model(method, dataset.score_spec.higher_better)
        chosen = select(model, data, splits)
        pred_hb = model.higher_better  # regressors predict the label itself; the identity gives the method's scores
        summary = WithinSummary(regressor=model.name, n_splits=len(splits))
        if model.trains:
            summary.params = chosen.params
            if model.name == "ridge":
                summary.alpha = chosen.params["alpha"]

        per_split, predictions, per_type = [], [], []
        for k, (pos, pred) in enumerate(chosen.test):
            m = split_metrics(data, pos, pred, pred_hb)
            per_split.append({"split": k + 1, "n_test": len(pos), **m})
            per_type.append(per_type_srcc(data, pos, pred, pred_hb))
            predictions.append(
                pd.DataFrame(
                    {
                        "split": k + 1,
                        "image_id": [table.image_ids[p] for p in pos],
                        "prediction": pred,
                        "label": data.labels[pos],
                    }
                )
            )
        per_split_df = pd.DataFrame(per_split)
        for name in METRICS:
            med, q1, q3 = median_and_iqr(per_split_df[name].to_numpy())
            setattr(summary, name, finite(med))
            setattr(summary, f"{name}_q1", finite(q1))
            setattr(summary, f"{name}_q3", finite(q3))
        types = sorted({t for d in per_type for t in d})
        if types:
            summary.srcc_by_type = {t: finite(float(np.nanmedian([d.get(t, np.nan) for d in per_type]))) for t in types}
        summary.headline = f"SRCC {_num(summary.srcc)} PLCC {_num(summary.plcc)}"
        chosen_text = ", ".join(f"{k} {v:.4g}" for k, v in chosen.params.items())
        log.info(
            f"{method.display_name()} on {dataset.name}: median {summary.headline} over {len(splits)} splits"
            + (f" ({chosen_text})" if chosen_text else "")
        )
        tables = {"per_split": per_split_df, "predictions": pd.concat(predictions, ignore_index=True)}
        files = {}
        if model.trains:
            tables["alpha_curve" if model.name == "ridge" else "grid_curve"] = chosen.curve()
            # Saved models: each split's (fitted on its train part) and one refitted on every image.
            fitted = {f"split_{k + 1:02d}": m for k, m in enumerate(chosen.split_models)}
            fitted["all"] = refit(model, data, chosen.params)
            trained_on = {f"split_{k + 1:02d}": {"images": f"train part of split {k + 1}",
                                                  "n_images": len(splits.part(k, "train"))} for k in range(len(splits))}
            trained_on["all"] = {"images": "every image of the dataset", "n_images": table.n_images}
            files = model_files(method, dataset, fitted, feature_dim=table.rows.shape[1], splits=splits,
                                trained_on=trained_on)
            summary.models = sorted(files)
        return Result(
            protocol=self.name,
            config={**self.config(), **model.config()},
            methods=[method.identity()],
            datasets=[dataset.card()],
            summary=summary,
            tables=tables,
            files=files,
            images=table_record(len(dataset.index()), table),
            splits=splits,
            seed=ctx.seed,
        )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
