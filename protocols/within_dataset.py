"""``within_dataset``: 10 reference-disjoint 70/10/20 splits, ridge alpha on validation, median of 10.

Feature methods: a ridge regressor on the crop-level rows of the train split, for every alpha of
``geomspace(1e-3, 1e3, 100)`` at once; alpha = argmax of the median validation SRCC over splits;
per split, test SRCC/PLCC/KRCC (and PLCC after a 4-parameter logistic) of the crop-averaged
prediction; reported numbers are medians over splits, with the IQR and per-split values kept.
Score methods (e.g. NIQE): the scores are correlated directly on each test split.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from iqabench.evaluation import Labelled, per_type_srcc, ridge_over_splits, split_metrics
from iqabench.metrics import median_and_iqr
from iqabench.protocol import Protocol, RunContext
from iqabench.quality import table_record
from iqabench.registry import register_protocol
from iqabench.results import Result

log = logging.getLogger("iqabench")

METRICS = ("srcc", "plcc", "krcc", "plcc_logistic")


@register_protocol("within_dataset")
class WithinDataset(Protocol):
    description = "Per-dataset performance: 10 reference-disjoint 70/10/20 splits, ridge alpha on val, median of 10"
    option_defaults = {"n_alphas": 100, "alpha_min": 1e-3, "alpha_max": 1e3}

    def alphas(self) -> np.ndarray:
        return np.geomspace(self.options["alpha_min"], self.options["alpha_max"], self.options["n_alphas"])

    def run(self, ctx: RunContext) -> list[Result]:
        results = []
        for dataset in ctx.datasets:
            splits = ctx.splits(dataset)
            for method in ctx.methods:
                results.append(self.evaluate(ctx, method, dataset, splits))
        return results

    def evaluate(self, ctx: RunContext, method, dataset, splits) -> Result:
        table = ctx.features(method, dataset)
        spec = dataset.score_spec
        data = Labelled.join(table, dataset.index(), spec.higher_better)
        alphas = self.alphas()
        summary: dict = {}
        if method.kind == "features":
            fit = ridge_over_splits(data, splits, alphas)
            tests = fit["test"]
            pred_hb = spec.higher_better  # the ridge predicts the label itself
            summary["alpha"] = fit["alpha"]
            val_curve = pd.DataFrame(
                {"alpha": alphas, "val_srcc_median": np.nanmedian(fit["val_srcc"], axis=0)}
                | {f"val_srcc_split_{k + 1:02d}": fit["val_srcc"][k] for k in range(len(splits))}
            )
        else:
            scores = table.rows[:, 0]
            tests = []
            for k in range(len(splits)):
                mask = table.rows_of(data.positions(splits.part(k, "test")))
                tests.append(table.image_mean(scores[mask], mask))
            pred_hb = method.higher_better
            val_curve = None

        per_split, predictions, per_type = [], [], []
        for k, (pos, pred) in enumerate(tests):
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
            summary[name] = med
            summary[f"{name}_q1"] = q1
            summary[f"{name}_q3"] = q3
        summary["n_splits"] = len(splits)
        types = sorted({t for d in per_type for t in d})
        if types:
            summary["srcc_by_type"] = {t: float(np.nanmedian([d.get(t, np.nan) for d in per_type])) for t in types}
        log.info(
            f"{method.display_name()} on {dataset.name}: median SRCC {summary['srcc']:.4f}, "
            f"PLCC {summary['plcc']:.4f} over {len(splits)} splits"
            + (f" (alpha {summary['alpha']:.4g})" if "alpha" in summary else "")
        )
        tables = {"per_split": per_split_df, "predictions": pd.concat(predictions, ignore_index=True)}
        if val_curve is not None:
            tables["alpha_curve"] = val_curve
        return Result(
            protocol=self.name,
            config={**self.config(), "alphas": f"geomspace({alphas[0]:g}, {alphas[-1]:g}, {len(alphas)})"},
            methods=[method.identity()],
            datasets=[dataset.card()],
            summary=summary,
            tables=tables,
            images=table_record(len(dataset.index()), table),
            splits=splits,
            seed=ctx.seed,
        )
