"""``gmad``: group maximum differentiation competition (Ma et al., CVPR 2016) on a label-free pool.

Every method scores every pool image, oriented higher = better (features methods through their
quality model trained on ``regressor_dataset``, hyper-parameters by the within_dataset validation
rule on its splits; see :mod:`iqabench.quality`). Then, for every ordered (defender, attacker) pair of methods:

1. the defender's scores are split into ``levels`` bins — ``quantile`` (equal counts, edges
   ``np.quantile``) or ``uniform`` (equal width between the defender's min and max);
2. at the **low** level (first bin) and the **high** level (last bin) the images of the bin are
   ranked by the attacker's score; its ``top_k`` best and worst images form the pairs
   (best i-th with worst i-th): images the defender rates alike and the attacker rates far apart.

With k = 1 this yields 4 pairs per pair of methods (each defends once at each level), the
standard gMAD presentation. Outputs: the pairs with every method's scores (``pairs`` table and
``gmad_pairs.json``), the images of each pair (``gmad/<defender>_<level>_<attacker>_best.png``),
every image's scores (``scores``), and for the Waterloo pool each method's score vector in the
gMAD toolbox's order (``gmad/<method>/gmad_scores.mat``, key ``gmad``, N×1).
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iqabench.errors import IQABenchError
from iqabench.images import load_rgb
from iqabench.pool import POOL_OPTIONS, pool_model_files, pool_quality, regressor_dataset
from iqabench.protocol import Protocol, RunContext
from iqabench.quality_models import MODEL_OPTIONS
from iqabench.registry import register_protocol
from iqabench.results import Result
from iqabench.summary import Summary

log = logging.getLogger("iqabench")

BINNING = ("quantile", "uniform")


@dataclass
class GmadSummary(Summary):
    """The pairs found, how the defender's scores were binned, and how each method was scored."""

    n_pool: int = 0
    n_pairs: int = 0
    levels: int = 0
    binning: str = ""
    top_k: int = 1
    scores: str = ""
    regressors: dict = field(default_factory=dict)  # features method -> Trained.record()
    bins: dict = field(default_factory=dict)  # defender -> bin edges and sizes
    toolbox: dict | None = None  # the gMAD toolbox files (Waterloo pool)


@register_protocol("gmad")
class GMAD(Protocol):
    description = "gMAD: image pairs one method rates alike and another rates far apart, on a label-free pool"
    option_defaults = {
        "levels": 10,  # number of defender quality bins
        "binning": "quantile",  # quantile | uniform
        "top_k": 1,  # pairs per (defender, attacker, level)
        "pristine": True,  # keep the pool's pristine images (level 0)
        "copy_images": True,  # copy the pair images into the run folder
        **POOL_OPTIONS,
        **MODEL_OPTIONS,
    }
    min_methods = 2
    max_datasets = 1
    needs_labels = False
    dataset_roles = ("regressor_dataset",)

    @classmethod
    def report_sections(cls, runs, ctx):
        """Figure 4: for each pair of methods, each defender at its low and high level against the attacker."""
        from ._gmad_report import sections

        return sections(runs, ctx, GmadSummary)

    def check(self, ctx: RunContext) -> None:
        super().check(ctx)
        if self.options["binning"] not in BINNING:
            raise IQABenchError(f"protocol 'gmad' option binning must be one of {', '.join(BINNING)}, not {self.options['binning']!r}")
        if self.options["levels"] < 2:
            raise IQABenchError(f"protocol 'gmad' option levels must be at least 2, not {self.options['levels']}")
        if self.options["top_k"] < 1:
            raise IQABenchError(f"protocol 'gmad' option top_k must be at least 1, not {self.options['top_k']}")
        self._regressor_dataset = regressor_dataset(ctx, self.options)

    def run(self, ctx: RunContext) -> list[Result]:
        pool = ctx.datasets[0]
        index = pool.index()
        pq = pool_quality(ctx, self, pool, getattr(self, "_regressor_dataset", None) or regressor_dataset(ctx, self.options))
        info = index.set_index("image_id").loc[pq.image_ids]
        use = np.ones(len(pq.image_ids), dtype=bool)
        if not self.options["pristine"]:
            use = ~(info["level"].fillna(-1).to_numpy() == 0)
        ids = [i for i, u in zip(pq.image_ids, use) if u]
        scores = pd.DataFrame({name: s[use] for name, s in pq.scores.items()}, index=ids)
        if len(ids) < 2 * self.options["top_k"]:
            raise IQABenchError(f"dataset {pool.name!r}: the pool has only {len(ids)} images")

        pairs, bins = select_pairs(scores, self.options["levels"], self.options["binning"], self.options["top_k"])
        files = {}
        if self.options["copy_images"]:
            paths = info["path"]
            for p in pairs:
                for side in ("best", "worst"):
                    name = pair_file(p, side)
                    p[f"{side}_file"] = name
                    if name not in files:
                        files[name] = png_bytes(paths[p[f"{side}_image"]])
        pairs_df = pd.DataFrame(pairs)
        score_table = scores.rename(columns=lambda c: f"score_{c}").reset_index(names="image_id")
        meta = info.loc[ids, ["ref", "dist_type", "level"]].reset_index(drop=True)
        score_table = pd.concat([score_table[["image_id"]], meta, score_table.drop(columns="image_id")], axis=1)

        summary = {
            "n_pool": len(ids),
            "n_pairs": len(pairs),
            "levels": self.options["levels"],
            "binning": self.options["binning"],
            "top_k": self.options["top_k"],
            "scores": "every method's per-image quality, oriented higher = better",
            "regressors": pq.regressors,
            "bins": bins,
            "headline": f"{len(pairs)} pairs from {len(ctx.methods)} methods on {len(ids)} images",
        }
        if pool.name == "waterloo":
            files.update(toolbox_files(index, pq, summary, pool.type_order()))
        files.update(pool_model_files(ctx, pq, ctx.methods))
        files["gmad_pairs.json"] = (
            json.dumps({"pairs": pairs, "bins": bins, "options": self.config()}, indent=2, default=_num) + "\n"
        ).encode()
        for name in ctx.methods:
            log.info(f"gmad: {name.display_name()} scored {len(ids)} pool images")
        datasets = [pool.card()] + ([pq.regressor_dataset.card()] if pq.regressor_dataset is not None else [])
        tables_images = {  # the pool's images scored by every method, and each method's own record
            "total": int(len(index)),
            "scored": len(pq.image_ids),
            "failed": sum(r["failed"] for r in pq.images.values()),
            "failures": [{**f, "method": name} for name, r in pq.images.items() for f in r["failures"]],
            "by_method": pq.images,
        }
        return [
            Result(
                protocol=self.name,
                config={**self.config(), "pool": pool.name},
                methods=[m.identity() for m in ctx.methods],
                datasets=datasets,
                summary=GmadSummary(**summary),
                tables={"pairs": pairs_df, "scores": score_table},
                files=files,
                images=tables_images,
                seed=ctx.seed,
            )
        ]


def bin_edges(values: np.ndarray, levels: int, binning: str) -> np.ndarray:
    if binning == "quantile":
        return np.quantile(values, np.linspace(0.0, 1.0, levels + 1))
    return np.linspace(values.min(), values.max(), levels + 1)


def assign_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: bin b holds edges[b] <= v < edges[b+1] (the last bin includes its upper edge)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def select_pairs(scores: pd.DataFrame, levels: int, binning: str, top_k: int) -> tuple[list[dict], dict]:
    """gMAD pairs from a per-image score table (index image_id, one column per method, higher = better).

    For each defender, the first and last of ``levels`` bins of its scores; in each, for every
    other method as attacker, the attacker's ``top_k`` highest- and lowest-scored images
    (i-th best with i-th worst; ties broken by image order). Returns (pairs, bin record).
    """
    methods = list(scores.columns)
    ids = np.asarray(scores.index)
    pairs, bins = [], {}
    for defender in methods:
        d = scores[defender].to_numpy(np.float64)
        edges = bin_edges(d, levels, binning)
        which = assign_bins(d, edges)
        counts = np.bincount(which, minlength=levels)
        bins[defender] = {"edges": edges.tolist(), "sizes": counts.tolist()}
        for level_name, b in (("low", 0), ("high", levels - 1)):
            members = np.flatnonzero(which == b)
            k = min(top_k, len(members) // 2)
            if k < 1:
                log.warning(f"gmad: {defender}'s {level_name} level (bin {b + 1}) holds {len(members)} image(s); no pair")
                continue
            for attacker in methods:
                if attacker == defender:
                    continue
                a = scores[attacker].to_numpy(np.float64)[members]
                order = members[np.argsort(-a, kind="stable")]  # best first
                for i in range(k):
                    best, worst = order[i], order[len(order) - 1 - i]
                    pair = {
                        "defender": defender,
                        "attacker": attacker,
                        "level": level_name,
                        "bin": b + 1,
                        "bin_low": float(edges[b]),
                        "bin_high": float(edges[b + 1]),
                        "bin_size": int(len(members)),
                        "rank": i + 1,
                        "best_image": str(ids[best]),
                        "worst_image": str(ids[worst]),
                        "attacker_gap": float(scores[attacker].iloc[best] - scores[attacker].iloc[worst]),
                        "defender_gap": float(scores[defender].iloc[best] - scores[defender].iloc[worst]),
                    }
                    for m in methods:
                        pair[f"best_{m}"] = float(scores[m].iloc[best])
                        pair[f"worst_{m}"] = float(scores[m].iloc[worst])
                    pairs.append(pair)
    return pairs, bins


def pair_file(pair: dict, side: str) -> str:
    stem = f"{_slug(pair['defender'])}_{pair['level']}_{_slug(pair['attacker'])}_{side}"
    if pair["rank"] > 1:
        stem += str(pair["rank"])
    return f"gmad/{stem}.png"


def png_bytes(path: str) -> bytes:
    buf = io.BytesIO()
    load_rgb(path).save(buf, format="PNG")
    return buf.getvalue()


def toolbox_files(index: pd.DataFrame, pq, summary: dict, type_order: tuple[str, ...]) -> dict[str, bytes]:
    """Each method's scores in the gMAD toolbox order: per sorted pristine name, pristine then types 1-4
    (``type_order``: the Waterloo copy's verified or set order) × 5 levels."""
    from scipy.io import savemat

    type_rank = {t: k for k, t in enumerate(type_order)}
    order = index.assign(
        _t=[-1 if lvl == 0 else type_rank.get(t, 99) for t, lvl in zip(index["dist_type"], index["level"].fillna(0))],
        _l=index["level"].fillna(0).astype(int),
    ).sort_values(["ref", "_t", "_l"], kind="stable")
    out, missing = {}, {}
    for name, s in pq.scores.items():
        lookup = dict(zip(pq.image_ids, s))
        vec = np.array([lookup.get(i, np.nan) for i in order["image_id"]], dtype=np.float64).reshape(-1, 1)
        missing[name] = int(np.isnan(vec).sum())
        buf = io.BytesIO()
        savemat(buf, {"gmad": vec})
        out[f"gmad/{_slug(name)}/gmad_scores.mat"] = buf.getvalue()
    summary["toolbox"] = {
        "files": sorted(out),
        "order": f"per pristine image in sorted order: pristine, then {', '.join(type_order)} × levels 1-5",
        "n": int(len(order)),
        "missing_as_nan": missing,
        "direction": "higher = better (oriented scores)",
    }
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _num(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(type(obj).__name__)
