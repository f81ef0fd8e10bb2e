"""``cross_dataset``: train on one whole dataset, test on another (ARNIQA Table 2).

For every ordered pair (source, target) of the given datasets, a features method's quality model
(ridge for learned features, SVR for BRISQUE; :mod:`iqabench.quality_models`) is trained on **all**
source images — hyper-parameters chosen by the within_dataset validation rule on the source's
splits (the run's split set), then refitted on every source image — and tested on **all** target
images (crop-averaged predictions). Both the source label and the target label are turned to
"higher = better" before correlating, so LIVE DMOS → KADID MOS gives a positive SRCC when the
orders agree. Score methods (e.g. NIQE) are not trained: their scores are correlated directly
with each target's labels, the same value whatever the source.

One result per method: ``cross_srcc`` and ``cross_plcc`` (rows = training dataset, columns = test
dataset; the diagonal is left empty: that is ``within_dataset``), a long ``pairs`` table with all
four correlations, and the ``predictions``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iqabench.metrics import correlations
from iqabench.protocol import Protocol, RunContext
from iqabench.quality_models import MODEL_OPTIONS, predict_images
from iqabench.registry import register_protocol
from iqabench.results import Result, image_record
from iqabench.saved_models import model_files
from iqabench.summary import Summary

log = logging.getLogger("iqabench")


@dataclass
class CrossSummary(Summary):
    """SRCC/PLCC of every (training, test) pair, and how each training dataset's model was chosen."""

    srcc_matrix: dict = field(default_factory=dict)  # training dataset -> test dataset -> SRCC (diagonal: null)
    plcc_matrix: dict = field(default_factory=dict)
    mean_srcc_off_diagonal: float | None = None
    orientation: str = ""
    training: str = ""
    params: dict | None = None  # training dataset -> chosen hyper-parameters
    alpha: dict | None = None  # ridge's, for convenience
    regressors: dict | None = None  # training dataset -> Trained.record()
    models: list = field(default_factory=list)


@register_protocol("cross_dataset")
class CrossDataset(Protocol):
    description = "Cross-dataset: regressor trained on a whole dataset (alpha on its val splits), tested on another"
    option_defaults = dict(MODEL_OPTIONS)
    min_datasets = 2

    @classmethod
    def report_sections(cls, runs, ctx):
        """Table 2: SRCC per (training, test) pair, one column per method."""
        from ._cross_report import sections

        return sections(runs, ctx, CrossSummary)

    def run(self, ctx: RunContext) -> list[Result]:
        return [self.evaluate(ctx, method) for method in ctx.methods]

    def evaluate(self, ctx: RunContext, method) -> Result:
        names = [d.name for d in ctx.datasets]
        data = {ds.name: ctx.labelled(method, ds) for ds in ctx.datasets}
        tables = {name: d.table for name, d in data.items()}
        models = {ds.name: ctx.train(self, method, ds) for ds in ctx.datasets}  # scores methods: the identity

        srcc = pd.DataFrame(np.nan, index=names, columns=names)
        plcc = srcc.copy()
        pairs, predictions = [], []
        for source in names:
            for target in names:
                if source == target:
                    continue
                tgt = data[target]
                pred = predict_images(models[source].fitted, tgt.table)  # higher = better
                label = tgt.oriented_labels(np.arange(tgt.table.n_images))
                ok = np.isfinite(pred)
                m = correlations(pred[ok], label[ok])
                srcc.loc[source, target] = m["srcc"]
                plcc.loc[source, target] = m["plcc"]
                pairs.append({"train": source, "test": target, "n_test": int(ok.sum()), **m})
                predictions.append(
                    pd.DataFrame(
                        {
                            "train": source,
                            "test": target,
                            "image_id": tgt.table.image_ids,
                            "prediction": pred,
                            "label": tgt.labels,
                            "label_oriented": label,
                        }
                    )
                )
                log.info(f"{method.display_name()}: {source} -> {target}: SRCC {m['srcc']:.4f}, PLCC {m['plcc']:.4f}")

        summary = {
            "srcc_matrix": _matrix(srcc),
            "plcc_matrix": _matrix(plcc),
            "mean_srcc_off_diagonal": float(np.nanmean(srcc.to_numpy())),
            "orientation": "source and target labels both turned to higher = better; predictions oriented by "
            "the source label's direction (score methods: by the method's direction)",
            "headline": " ".join(f"{p['train']}->{p['test']} {p['srcc']:.3f}" for p in pairs),
        }
        model = next(iter(models.values())).selection.model
        files = {}
        if model.trains:
            for ds in ctx.datasets:
                t = models[ds.name]
                files.update(model_files(method, ds, {ds.name: t.fitted}, feature_dim=tables[ds.name].rows.shape[1],
                                         splits=ctx.splits(ds),
                                         trained_on={ds.name: {"images": "every image of the dataset",
                                                               "n_images": t.n_images}}))
            summary["models"] = sorted(files)
            summary["training"] = (
                f"{model.name} on every source image; hyper-parameters by the within_dataset validation rule on the source"
            )
            summary["params"] = {name: t.selection.params for name, t in models.items()}
            if model.name == "ridge":
                summary["alpha"] = {name: t.selection.params["alpha"] for name, t in models.items()}
            summary["regressors"] = {name: t.record() for name, t in models.items()}
        else:
            summary["training"] = (
                "none: a score method; its scores are correlated directly with each target's labels, "
                "so every row of the matrix holds the same values"
            )
        return Result(
            protocol=self.name,
            config={**self.config(), **model.config()},
            methods=[method.identity()],
            datasets=[ds.card() for ds in ctx.datasets],
            summary=CrossSummary(**summary),
            tables={
                "cross_srcc": _labelled(srcc),
                "cross_plcc": _labelled(plcc),
                "pairs": pd.DataFrame(pairs),
                "predictions": pd.concat(predictions, ignore_index=True),
            },
            files=files,
            images=image_record([(ds.name, len(ds.index()), tables[ds.name]) for ds in ctx.datasets]),
            seed=ctx.seed,
        )


def _matrix(df: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    return {r: {c: (None if not np.isfinite(v) else float(v)) for c, v in row.items()} for r, row in df.iterrows()}


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.insert(0, "train", out.index)
    return out.reset_index(drop=True)
