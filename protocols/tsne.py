"""``tsne``: 2-D t-SNE of a method's image embeddings, coloured by distortion group (ARNIQA Figure 1).

Embedding of an image (``embedding``):

* ``crop_mean`` (default): the mean of the method's feature rows over its crops;
* ``centre_full``: the centre crop's full-scale feature alone, as ARNIQA's Figure 1 and its
  released visualisation code (for ARNIQA: the first 2048 dims of the centre-crop row, row 0 of
  the 5 crops). Needs views with a centre crop at full and half scale; other methods fail.

``figure1=true`` is the preset "as in Figure 1": ``subset=val`` (the validation images of the
first split; for KADID-10k ARNIQA's split 0), ``embedding=centre_full``, ``pca_dims=0`` (no PCA),
``scaling=none``; giving one of these with another value as well is an error.

Optionally standardised per dimension (``scaling``), reduced by PCA to ``pca_dims`` when
it has more dimensions, then embedded in 2-D by scikit-learn's t-SNE (``perplexity``,
``max_iter``, ``init="pca"`` (``"random"`` for a 1-D embedding), ``learning_rate="auto"``,
``random_state`` = the run's ``--seed``). Images without a
distortion group (e.g. pristine references) are left out; ``sample`` > 0 draws that many images.

Numbers, not only a picture, per method:

* silhouette score of the 7 groups (Euclidean), on the **t-SNE input** (after scaling and PCA) and
  on the **2-D map**;
* k-NN accuracy of predicting the group and the level from the t-SNE input and from the 2-D map,
  ``knn_k`` neighbours, ``cv_folds`` folds grouped by reference content (an image's own content at
  other levels never helps predict it) or, without references, stratified folds.

Tables: ``embedding`` (image_id, dist_group, dist_type, level, x, y) and ``knn``; files: a PNG of
the scatter (group colours of the paper's teaser, alpha 0.2 … 1.0 by level).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from iqabench.errors import IQABenchError
from iqabench.metrics import orient
from iqabench.protocol import Protocol, RunContext
from iqabench.registry import register_protocol
from iqabench.results import Result, table_record
from iqabench.summary import Summary

log = logging.getLogger("iqabench")

SUBSETS = ("all", "val")
SCALINGS = ("none", "standard")
EMBEDDINGS = ("crop_mean", "centre_full")
# "As in Figure 1": ARNIQA's released visualisation (utils/visualization.py) embeds KADID-10k's
# split-0 validation images by the centre crop's full-scale 2048-d feature, without PCA.
FIGURE1 = {"subset": "val", "embedding": "centre_full", "pca_dims": 0, "scaling": "none"}


@dataclass
class TsneSummary(Summary):
    """Cluster numbers of the embedding (input) and of the 2-D map, and how both were made."""

    silhouette_input: float | None = None
    silhouette_tsne: float | None = None
    knn_group_acc_input: float | None = None
    knn_level_acc_input: float | None = None
    knn_group_acc_tsne: float | None = None
    knn_level_acc_tsne: float | None = None
    knn: dict = field(default_factory=dict)
    silhouette_spaces: str = ""
    n_images: int = 0
    n_groups: int = 0
    subset: str = ""
    embedding: str = ""
    figure1: bool = False
    crop_policy: str = ""
    embedding_dim: int = 0
    preprocessing: dict = field(default_factory=dict)
    map: str = "tsne"  # tsne | strip (a score method: one number per image)
    tsne: dict = field(default_factory=dict)


@register_protocol("tsne")
class TSNE(Protocol):
    description = "t-SNE of image embeddings coloured by distortion group, with silhouette and k-NN numbers"
    option_defaults = {
        "subset": "all",  # all | val (validation part of split 1)
        "embedding": "crop_mean",  # crop_mean | centre_full (the centre crop's full-scale feature)
        "figure1": False,  # preset: subset=val, embedding=centre_full, pca_dims=0, scaling=none
        "perplexity": 30.0,
        "max_iter": 1000,
        "pca_dims": 50,  # PCA to this many dimensions first when the embedding has more (0: never)
        "scaling": "none",  # none | standard (z-score each dimension before PCA)
        "sample": 0,  # number of images drawn at random (0: all)
        "knn_k": 5,
        "cv_folds": 5,
    }
    max_datasets = 1
    needs_labels = False

    @classmethod
    def report_sections(cls, runs, ctx):
        """Figure 1: each method's map per dataset and subset, side by side."""
        from ._tsne_report import sections

        return sections(runs, ctx, TsneSummary)

    def __init__(self, **options):
        super().__init__(**options)
        if self.options["figure1"]:
            for key, value in FIGURE1.items():
                if key in options and self.options[key] != value:
                    raise IQABenchError(
                        f"protocol 'tsne': figure1=true sets {key}={value}; drop --protocol-option {key}={options[key]}"
                    )
                self.options[key] = value

    def check(self, ctx: RunContext) -> None:
        super().check(ctx)
        o = self.options
        if o["embedding"] not in EMBEDDINGS:
            raise IQABenchError(
                f"protocol 'tsne' option embedding must be one of {', '.join(EMBEDDINGS)}, not {o['embedding']!r}"
            )
        if o["embedding"] == "centre_full":
            for method in ctx.methods:
                v = method.views
                if v.crops < 1 or sorted(v.scales) != [0.5, 1.0]:
                    raise IQABenchError(
                        f"protocol 'tsne' option embedding=centre_full needs a centre crop at full and half scale "
                        f"(as ARNIQA's views); method {method.name!r} looks at the {v.describe()} "
                        "(use embedding=crop_mean)"
                    )
        if o["subset"] not in SUBSETS:
            raise IQABenchError(f"protocol 'tsne' option subset must be one of {', '.join(SUBSETS)}, not {o['subset']!r}")
        if o["scaling"] not in SCALINGS:
            raise IQABenchError(f"protocol 'tsne' option scaling must be one of {', '.join(SCALINGS)}, not {o['scaling']!r}")
        if o["perplexity"] <= 0 or o["knn_k"] < 1 or o["cv_folds"] < 2 or o["max_iter"] < 250:
            raise IQABenchError("protocol 'tsne': need perplexity > 0, knn_k >= 1, cv_folds >= 2 and max_iter >= 250")

    def run(self, ctx: RunContext) -> list[Result]:
        dataset = ctx.datasets[0]
        index = dataset.index()
        chosen = index[index["dist_group"].notna() & index["level"].notna()]
        if chosen.empty:
            raise IQABenchError(f"dataset {dataset.name!r} has no images with a distortion group and level (needed by tsne)")
        subset_note = "all images with a distortion group"
        splits = None
        if self.options["subset"] == "val":
            splits = ctx.splits(dataset)
            val = set(splits.part(0, "val"))
            chosen = chosen[chosen["image_id"].isin(val)]
            subset_note = "validation part of split 1"
        if self.options["sample"] and self.options["sample"] < len(chosen):
            rng = np.random.default_rng(ctx.seed)
            keep = np.sort(rng.choice(len(chosen), size=self.options["sample"], replace=False))
            chosen = chosen.iloc[keep]
            subset_note += f", random sample of {self.options['sample']} (seed {ctx.seed})"
        n = len(chosen)
        if n <= max(self.options["perplexity"], self.options["cv_folds"]) or n < 4:
            raise IQABenchError(
                f"protocol 'tsne': {n} images selected from {dataset.name!r}; need more than the perplexity "
                f"({self.options['perplexity']:g}) and the number of folds"
            )
        return [self.evaluate(ctx, method, dataset, chosen.reset_index(drop=True), subset_note, splits) for method in ctx.methods]

    def evaluate(self, ctx, method, dataset, chosen: pd.DataFrame, subset_note: str, splits) -> Result:
        from sklearn.manifold import TSNE as SKTSNE

        table = ctx.features(method, dataset)
        where = {i: k for k, i in enumerate(table.image_ids)}
        chosen = chosen[chosen["image_id"].isin(where)].reset_index(drop=True)
        pos = np.array([where[i] for i in chosen["image_id"]], dtype=np.int64)
        per_image, crop_policy = image_embeddings(table, method.views, self.options["embedding"])
        emb = per_image[pos]
        x, prep = prepare(emb, self.options)
        groups = chosen["dist_group"].astype(str).to_numpy()
        levels = chosen["level"].astype(int).to_numpy()
        refs = chosen["ref"].to_numpy() if chosen["ref"].notna().all() else None
        perplexity = float(self.options["perplexity"])
        if x.shape[1] == 1:
            # A score method's embedding is one number: a t-SNE of it would only be a curve. The map is
            # the score itself, drawn as a strip per distortion group (y is for drawing only).
            kind, tsne_record = "strip", {"note": "1-D embedding (a score): no t-SNE; the map is the score"}
            xy = np.c_[x[:, 0], np.zeros(len(x))]
            order = {g: k for k, g in enumerate(sorted(set(groups)))}
            jitter = np.random.default_rng(ctx.seed).uniform(-0.3, 0.3, len(x))
            shown = np.c_[orient(emb[:, 0], method.higher_better), [order[g] for g in groups] + jitter]
        else:
            kind = "tsne"
            tsne = SKTSNE(
                n_components=2,
                perplexity=perplexity,
                max_iter=int(self.options["max_iter"]),
                init="pca",
                learning_rate="auto",
                random_state=ctx.seed,
            )
            # Small maps run faster on one OpenMP thread (no spinning at every gradient step on a busy
            # machine); the result does not depend on the thread count.
            with threadpool_limits(limits=1 if len(x) < 5000 else None, user_api="openmp"):
                xy = shown = tsne.fit_transform(x)
            tsne_record = {
                "n_components": 2,
                "perplexity": perplexity,
                "max_iter": int(self.options["max_iter"]),
                "init": "pca",
                "learning_rate": "auto",
                "random_state": ctx.seed,
                "kl_divergence": float(tsne.kl_divergence_),
            }
        numbers, knn_rows = cluster_numbers(x, xy, groups, levels, refs, self.options["knn_k"], self.options["cv_folds"], ctx.seed)
        embedding = pd.DataFrame(
            {
                "image_id": chosen["image_id"],
                "ref": chosen["ref"],
                "dist_group": groups,
                "dist_type": chosen["dist_type"],
                "level": levels,
                "x": shown[:, 0],
                "y": shown[:, 1],
            }
        )
        png = scatter_png(embedding, f"{'t-SNE' if kind == 'tsne' else 'scores'}: {method.display_name()} on {dataset.name}",
                          kind)
        if self.options["figure1"] and dataset.name != "kadid10k":
            log.warning(f"tsne: figure1=true on {dataset.name!r}: ARNIQA's Figure 1 embeds KADID-10k (--dataset kadid10k)")
        summary = {
            **numbers,
            "n_images": len(embedding),
            "n_groups": int(len(set(groups))),
            "subset": subset_note,
            "embedding": self.options["embedding"],
            "figure1": bool(self.options["figure1"]),
            "crop_policy": crop_policy,
            "embedding_dim": int(emb.shape[1]),
            "preprocessing": prep,
            "map": kind,
            "tsne": tsne_record,
            "headline": f"silhouette (2-D) {numbers['silhouette_tsne']:.3f}, "
            f"k-NN group accuracy (input) {numbers['knn_group_acc_input']:.3f}",
        }
        log.info(f"tsne: {method.display_name()} on {dataset.name}: {summary['headline']}")
        return Result(
            protocol=self.name,
            config=self.config(),
            methods=[method.identity()],
            datasets=[dataset.card()],
            summary=TsneSummary(**summary),
            tables={"embedding": embedding, "knn": pd.DataFrame(knn_rows)},
            files={f"tsne_{re.sub(r'[^A-Za-z0-9_.-]+', '-', method.name)}.png": png},
            images={**table_record(len(dataset.index()), table), "embedded": int(len(embedding))},
            splits=splits,
            seed=ctx.seed,
        )


def image_embeddings(table, views, embedding: str) -> tuple[np.ndarray, str]:
    """Per image of ``table`` (in ``table.image_ids`` order) its embedding, and a record of the crop policy.

    An image's rows are contiguous, in crop order (the centre first) and each row concatenates
    the scales in ``views.scales`` order with equal widths (:mod:`iqabench.features`)."""
    rows_per_image = table.rows.shape[0] // max(table.n_images, 1)
    if embedding == "crop_mean":
        upos, means = table.image_mean(table.rows, np.ones(len(table.rows), dtype=bool))
        per_image = np.full((table.n_images, table.rows.shape[1]), np.nan)
        per_image[upos] = means
        return per_image, f"mean of the method's {rows_per_image} row(s) per image"
    counts = np.bincount(table.row_image, minlength=table.n_images)
    n_scales = len(views.scales)
    if not (counts == views.rows_per_image).all() or table.rows.shape[1] % n_scales:
        raise IQABenchError(
            f"protocol 'tsne' embedding=centre_full: the feature rows do not have the layout of the views "
            f"({views.describe()}): {int(counts.min())}–{int(counts.max())} rows per image, {table.rows.shape[1]} columns"
        )
    first_rows = np.flatnonzero(np.r_[True, table.row_image[1:] != table.row_image[:-1]])  # the centre crop's
    width = table.rows.shape[1] // n_scales
    start = views.scales.index(1.0) * width
    per_image = np.asarray(table.rows[first_rows, start : start + width], dtype=np.float64)
    policy = (f"centre crop at full scale: columns {start}–{start + width - 1} of row 0 of {views.rows_per_image} "
              f"per image ({width} of {table.rows.shape[1]} dims)")
    return per_image, policy


def prepare(emb: np.ndarray, options: dict) -> tuple[np.ndarray, dict]:
    """Scaling and PCA before t-SNE; returns (t-SNE input, record of what was done)."""
    x = np.asarray(emb, dtype=np.float64)
    prep: dict = {"scaling": options["scaling"]}
    if options["scaling"] == "standard":
        sd = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    dims = int(options["pca_dims"])
    if dims and x.shape[1] > dims:
        from sklearn.decomposition import PCA

        n_comp = min(dims, x.shape[0])
        pca = PCA(n_components=n_comp, random_state=0)
        x = pca.fit_transform(x)
        prep["pca"] = {"from": int(emb.shape[1]), "to": n_comp, "explained_variance": float(pca.explained_variance_ratio_.sum())}
    else:
        prep["pca"] = None
    return x, prep


def cluster_numbers(x, xy, groups, levels, refs, k: int, folds: int, seed: int) -> tuple[dict, list[dict]]:
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    out: dict = {}
    multi = len(set(groups)) > 1
    out["silhouette_input"] = float(silhouette_score(x, groups)) if multi else float("nan")
    out["silhouette_tsne"] = float(silhouette_score(xy, groups)) if multi else float("nan")
    if refs is not None and len(set(refs)) >= folds:
        cv = GroupKFold(n_splits=folds)
        cv_note = f"GroupKFold({folds}) by reference content"
    else:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        cv_note = f"StratifiedKFold({folds}, shuffled, seed {seed})"
    rows = []
    for space, data in (("input", x), ("tsne", xy)):
        for target, y in (("group", groups), ("level", levels)):
            kk = min(k, len(y) - len(y) // folds - 1)
            clf = KNeighborsClassifier(n_neighbors=max(kk, 1))
            if isinstance(cv, GroupKFold):
                acc = cross_val_score(clf, data, y, cv=cv, groups=refs)
            else:
                try:
                    acc = cross_val_score(clf, data, y, cv=cv)
                except ValueError:  # a class with fewer members than folds
                    acc = cross_val_score(clf, data, y, cv=folds)
            out[f"knn_{target}_acc_{space}"] = float(acc.mean())
            rows.append({"space": space, "target": target, "k": max(kk, 1), "accuracy": float(acc.mean()),
                         "accuracy_std": float(acc.std()), "folds": cv_note})
    out["knn"] = {"k": k, "cv": cv_note, "chance_group": float(1 / max(len(set(groups)), 1))}
    out["silhouette_spaces"] = "input = the t-SNE input (after scaling and PCA); tsne = the 2-D map"
    return out, rows


def scatter_png(embedding: pd.DataFrame, title: str, kind: str = "tsne") -> bytes:
    """The run's own picture: one panel of the report's Figure 1 (same colours and legend)."""
    import matplotlib.pyplot as plt
    from iqabench.reports.figures import TsnePanel, tsne_figure

    fig = tsne_figure([TsnePanel(title, embedding, "", kind)])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
