"""Assemble the report from the run folders: tables, figures, comparisons and provenance."""

from __future__ import annotations

import itertools
import logging
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqabench.results import RunRecord, load_runs

from . import published
from .collect import Matrix, latest_by, row_key, within_dataset_matrix
from .figures import GmadPanel, TsnePanel, gmad_figure, save, tsne_figure
from .tables import Cell, Table, fmt, rank_columns
from .uncertainty import bootstrap_ci, oriented_predictions, paired_comparison

log = logging.getLogger("iqabench")


@dataclass
class Figure:
    key: str
    title: str
    caption: str
    data_uri: str
    files: list[str]  # PNG/PDF written beside the HTML


@dataclass
class Report:
    runs_dir: str
    runs: list[RunRecord]
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    published_rows: list[dict[str, Any]] = field(default_factory=list)  # measured vs published, Table 1
    paired: dict[str, list[str]] = field(default_factory=dict)  # dataset column -> sentences
    synthetic: list[str] = field(default_factory=list)
    used_runs: set[str] = field(default_factory=set)

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


def fill_command(method: dict, protocol: str, datasets: list[dict], extra: list[str] | None = None) -> str:
    """The command that would produce a missing result."""
    parts = ["iqabench", "run", "--method", method["name"]]
    if method.get("weights"):
        parts += ["--weights", method["weights"]]
    for key, value in (method.get("options") or {}).items():
        parts += ["--method-option", f"{key}={value}"]
    parts += ["--protocol", protocol]
    for d in datasets:
        parts += ["--dataset", d["name"]]
        label = (d.get("label") or {}).get("label")
        if label and len(datasets) == 1:
            parts += ["--label", label]
    return shlex.join(parts + (extra or []))


def build(runs_dir: str | Path, *, figures_dir: Path | None = None, bootstrap: int = 1000) -> Report:
    runs = load_runs(runs_dir)
    report = Report(str(runs_dir), runs)
    matrix = within_dataset_matrix(runs)
    if matrix.rows:
        report.tables.append(table1(matrix, report, bootstrap))
        report.published_rows = published_comparison(matrix)
        report.paired = paired_comparisons(matrix)
    t2 = table2(runs, report)
    if t2 is not None:
        report.tables.append(t2)
    t3 = table3(matrix, report)
    if t3 is not None:
        report.tables.append(t3)
    if figures_dir is not None:
        report.figures += figure1(runs, report, figures_dir)
        report.figures += figure4(runs, report, figures_dir)
    report.synthetic = sorted(
        {d["name"] for r in runs for d in r.data["datasets"] if d.get("synthetic") and r.run_id in report.used_runs}
    )
    return report


def table1(matrix: Matrix, report: Report, n_boot: int) -> Table:
    groups = [(c.label, ["SRCC", "PLCC"]) for c in matrix.columns] + [("Average", ["SRCC", "PLCC"])]
    table = Table(
        key="table1",
        title="Table 1 — performance within each dataset",
        caption=(
            "Median SRCC and PLCC over the test sets of the splits (10 × 70/10/20, reference-disjoint where the "
            "dataset has references). Feature methods: ridge regression on crop-level features, alpha chosen on "
            "validation from geomspace(1e-3, 1e3, 100); score methods: scores used directly. Predictions and "
            "labels are both oriented higher = better before correlating. Under each SRCC: the 95 % bootstrap "
            "confidence interval of the median; hover for the inter-quartile range over splits. Best per column in "
            "bold, second underlined."
        ),
        label_headers=["Method", "Type"],
        groups=groups,
        group_badges={c.label: "SYNTHETIC" for c in matrix.columns if c.synthetic},
    )
    for row in matrix.rows:
        cells: list[Cell] = []
        present = []
        for col in matrix.columns:
            cell = matrix.cell(row, col)
            if cell is None:
                cmd = fill_command(row.method, "within_dataset", [col.dataset])
                cells += [Cell(command=cmd), Cell(command=cmd)]
                continue
            report.used_runs.add(cell.run.run_id)
            s = cell.summary
            present.append(s)
            ci = _cell_ci(cell.run, n_boot)
            for metric in ("srcc", "plcc"):
                iqr = f"IQR {fmt(s.get(metric + '_q1'))}–{fmt(s.get(metric + '_q3'))} over {s.get('n_splits')} splits"
                cells.append(
                    Cell(
                        value=s.get(metric),
                        text=fmt(s.get(metric)),
                        title=iqr + (f"; 95 % CI of the median SRCC {fmt(ci[0])}–{fmt(ci[1])}" if metric == "srcc" else ""),
                        run_id=cell.run.run_id,
                        extra=f"[{fmt(ci[0])}, {fmt(ci[1])}]" if metric == "srcc" and ci[0] == ci[0] else "",
                    )
                )
        for metric in ("srcc", "plcc"):
            vals = [s.get(metric) for s in present]
            avg = float(np.mean(vals)) if vals and all(v is not None for v in vals) else None
            cells.append(
                Cell(value=avg, text=fmt(avg), title=f"mean over the {len(vals)} dataset(s) this method has")
            )
        table.rows.append(([row.label, row.method_type], cells))
    rank_columns(table)
    table.notes.append("Averages are over the datasets a method has; a method with missing cells is averaged over fewer.")
    return table


def _cell_ci(run: RunRecord, n_boot: int) -> tuple[float, float]:
    try:
        preds = oriented_predictions(run.table("predictions"), run.data)
    except (OSError, KeyError, ValueError) as exc:
        log.warning(f"run {run.run_id}: no bootstrap interval ({exc})")
        return float("nan"), float("nan")
    return bootstrap_ci(preds, n_boot=n_boot)


def comparability(run: RunRecord) -> tuple[bool, list[str]]:
    """(comparable with the paper's number, reasons if not), as the run recorded it."""
    record = run.data.get("comparability")
    if not record:
        return False, ["this run was recorded before iqabench assessed comparability with the paper"]
    return bool(record.get("comparable")), list(record.get("reasons") or [])


def published_comparison(matrix: Matrix) -> list[dict[str, Any]]:
    """Measured vs published (paper Table 1, else another source's value from ``extra``) for the
    methods and datasets they have.

    "Δ vs paper" only where the run is comparable (same weights, splits, baseline definition, complete
    data, no skipped image) and the source documents how its value was made; otherwise the published
    value is shown greyed with the reasons."""
    rows = []
    for row in matrix.rows:
        for col in matrix.columns:
            cell = matrix.cell(row, col)
            if cell is None:
                continue
            pub = published.table1_value(row.method["name"], col.dataset["name"])
            source, extra = "", None
            if pub is None:
                found = published.extra_value(row.method["name"], col.dataset["name"])
                if found is None:
                    continue
                pub, extra = found
                source = extra["short"]
            s = cell.summary
            ok, reasons = comparability(cell.run)
            if extra is not None and extra.get("not_comparable"):
                ok, reasons = False, [*reasons, f"{extra['short']}: {extra['not_comparable']}"]
            rows.append(
                {
                    "method": row.label,
                    "dataset": col.label,
                    "label": col.score_label,
                    "srcc": fmt(s.get("srcc")),
                    "srcc_pub": fmt(pub[0]),
                    "srcc_delta": _delta(s.get("srcc"), pub[0], ok),
                    "plcc": fmt(s.get("plcc")),
                    "plcc_pub": fmt(pub[1]),
                    "plcc_delta": _delta(s.get("plcc"), pub[1], ok),
                    "source": source,  # "" for the ARNIQA paper's Table 1
                    "run_id": cell.run.run_id,
                    "comparable": ok,
                    "reasons": "; ".join(reasons),
                }
            )
    return rows


def _delta(measured: float | None, published_value: float | None, comparable: bool) -> str:
    if not comparable or published_value is None:
        return "—"
    return f"{measured - published_value:+.3f}" if measured is not None else "n/a"


def paired_comparisons(matrix: Matrix) -> dict[str, list[str]]:
    """For each dataset column, every pair of methods evaluated on the same splits."""
    out: dict[str, list[str]] = {}
    for col in matrix.columns:
        entries = []
        for row in matrix.rows:
            cell = matrix.cell(row, col)
            if cell is None:
                continue
            try:
                splits = cell.run.table("splits").to_csv()
                srcc = cell.run.table("per_split")["srcc"].to_numpy()
            except (OSError, KeyError):
                continue
            entries.append((row.label, splits, srcc))
        sentences = []
        for (a, sa, ra), (b, sb, rb) in itertools.combinations(entries, 2):
            if sa != sb:
                sentences.append(f"{a} vs {b}: evaluated on different splits, not compared")
                continue
            sentences.append(f"{a} vs {b}: " + paired_comparison(a, ra, b, rb).sentence())
        if sentences:
            out[col.label] = sentences
    return out


def _name(method: dict) -> str:
    return method.get("display_name") or method["name"]


def table2(runs: list[RunRecord], report: Report) -> Table | None:
    """Cross-dataset SRCC: rows train → test, one column per method row (latest run wins)."""
    latest = latest_by(runs, "cross_dataset", lambda r: row_key(r.data["methods"][0]))
    if not latest:
        return None
    methods = list(latest.values())
    pairs: list[tuple[str, str]] = []
    for run in methods:
        for train, row in run.data["summary"]["srcc_matrix"].items():
            for test in row:
                if train != test and (train, test) not in pairs:
                    pairs.append((train, test))
    synthetic = {d["name"] for run in methods for d in run.data["datasets"] if d.get("synthetic")}
    table = Table(
        key="table2",
        title="Table 2 — cross-dataset evaluation",
        caption=(
            "SRCC on the whole test dataset of a ridge regressor trained on the whole training dataset (alpha "
            "chosen on the training dataset's validation splits). Training and test labels are both oriented "
            "higher = better, so agreement is positive whatever the label direction. Score methods (e.g. NIQE) "
            "are not trained: their row values do not depend on the training dataset. Best per row in bold, "
            "second underlined."
        ),
        label_headers=["Training", "Testing"],
        groups=[(_name(run.data["methods"][0]), ["SRCC"]) for run in methods],
    )
    for train, test in pairs:
        cells = []
        for run in methods:
            value = run.data["summary"]["srcc_matrix"].get(train, {}).get(test)
            if value is None:
                cmd = fill_command(run.data["methods"][0], "cross_dataset", [{"name": train}, {"name": test}])
                cells.append(Cell(command=cmd))
                continue
            report.used_runs.add(run.run_id)
            cells.append(Cell(value=value, text=fmt(value), run_id=run.run_id, title=f"{train} → {test}"))
        labels = [train + (" (synthetic)" if train in synthetic else ""), test + (" (synthetic)" if test in synthetic else "")]
        table.rows.append((labels, cells))
    rank_rows(table)
    pub = []
    for train, test in pairs:
        for run in methods:
            m = run.data["methods"][0]
            value = published.table2_value(m["name"], train, test)
            measured = run.data["summary"]["srcc_matrix"].get(train, {}).get(test)
            if value is not None and measured is not None:
                ok, reasons = comparability(run)
                pub.append(
                    f"{_name(m)}, {train} → {test}: measured {measured:.3f}, published {value:.3f} "
                    + (f"({measured - value:+.3f})" if ok else f"(not comparable: {'; '.join(reasons)})")
                )
    if pub:
        table.notes.append("Published (" + published.source() + ", Table 2): " + "; ".join(pub) + ".")
    return table


def rank_rows(table: Table) -> None:
    """Bold the best (and underline the second best) value of each row."""
    for _, cells in table.rows:
        values = sorted({c.value for c in cells if c.value is not None and c.value == c.value}, reverse=True)
        for c in cells:
            if c.value is not None and c.value == c.value and values:
                c.rank = 1 if c.value == values[0] else 2 if len(values) > 1 and c.value == values[1] else 0


def table3(matrix: Matrix, report: Report) -> Table | None:
    """ARNIQA variants (training configs, ablation switches, backbones): SRCC per dataset and average."""
    rows = [r for r in matrix.rows if r.method["name"] == "arniqa"]
    if not rows:
        return None
    cols = [c for c in matrix.columns if any(matrix.cell(r, c) is not None for r in rows)]
    table = Table(
        key="table3",
        title="Table 3 — ablations: ARNIQA variants",
        caption=(
            "Median test SRCC of each ARNIQA variant under the within_dataset protocol. Each row is labelled by "
            "the training configuration that produced its weights (degradation-model variant, training-strategy "
            "switch, backbone), read from the checkpoint. Best per column in bold, second underlined."
        ),
        label_headers=["Variant", "Weights"],
        groups=[(c.label, ["SRCC"]) for c in cols] + [("Average", ["SRCC"])],
        group_badges={c.label: "SYNTHETIC" for c in cols if c.synthetic},
    )
    published_rows = []
    for row in rows:
        cells, vals = [], []
        for col in cols:
            cell = matrix.cell(row, col)
            if cell is None:
                cells.append(Cell(command=fill_command(row.method, "within_dataset", [col.dataset])))
                continue
            report.used_runs.add(cell.run.run_id)
            v = cell.summary.get("srcc")
            vals.append(v)
            cells.append(Cell(value=v, text=fmt(v), run_id=cell.run.run_id))
            pub = _published_variant(row.method, col.dataset["name"])
            if pub is not None and v is not None:
                ok, reasons = comparability(cell.run)
                published_rows.append(
                    f"{row.label} on {col.label}: measured {v:.3f}, published {pub:.3f} "
                    + (f"({v - pub:+.3f})" if ok else f"(not comparable: {'; '.join(reasons)})")
                )
        avg = float(np.mean(vals)) if vals and all(v is not None for v in vals) else None
        cells.append(Cell(value=avg, text=fmt(avg), title=f"mean over {len(vals)} dataset(s)"))
        weights = (row.method.get("training") or {}).get("label") or row.method.get("weights_format") or "—"
        table.rows.append(([row.label, weights], cells))
    rank_columns(table)
    if published_rows:
        table.notes.append("Published (" + published.source() + ", Table 3): " + "; ".join(published_rows) + ".")
    table.notes.append(
        "Train a variant with e.g. `iqabench train arniqa --degradation ndist1`, `--positives same_image`, "
        "`--no-hard-negatives` or `--backbone se_resnet50`, then evaluate its checkpoint with within_dataset."
    )
    return table


def _published_variant(method: dict, dataset: str) -> float | None:
    """The paper's Table 3 value for the ablation this checkpoint was trained with (paper config only)."""
    training = method.get("training") or {}
    label = training.get("label") or ""
    if training.get("config") != "arniqa" or method.get("backbone", "resnet50") != "resnet50":
        return None
    cols = published.published()["table3"]["datasets"]
    if dataset not in cols:
        return None
    for row in published.table3_rows():
        variant = row["variant"]
        wanted = []
        if "degradation" in variant:
            wanted.append(f"degradation={variant['degradation']}")
        if "positives" in variant:
            wanted.append(f"positives={variant['positives']}")
        if variant.get("hard_negatives") is False:
            wanted.append("no hard negatives")
        switches = [p for p in label.split(", ")[1:] if p != "from random init"]
        if sorted(switches) == sorted(wanted):
            return row["srcc"][cols.index(dataset)]
    return None


def figure1(runs: list[RunRecord], report: Report, out_dir: Path) -> list[Figure]:
    """t-SNE panels side by side per method, one figure per dataset/subset."""
    latest = latest_by(runs, "tsne", lambda r: (r.data["datasets"][0]["name"], r.data["summary"].get("subset"), row_key(r.data["methods"][0])))
    by_data: dict[tuple, list[RunRecord]] = {}
    for (ds, subset, _), run in latest.items():
        by_data.setdefault((ds, subset), []).append(run)
    figures = []
    for k, ((ds, subset), group) in enumerate(sorted(by_data.items(), key=lambda x: str(x[0]))):
        panels = []
        for run in group:
            s = run.data["summary"]
            report.used_runs.add(run.run_id)
            panels.append(
                TsnePanel(
                    title=_name(run.data["methods"][0]),
                    embedding=run.table("embedding"),
                    caption=(
                        f"silhouette {fmt(s.get('silhouette_input'))} (input) / {fmt(s.get('silhouette_tsne'))} (2-D); "
                        f"k-NN group acc. {fmt(s.get('knn_group_acc_input'))}, level acc. {fmt(s.get('knn_level_acc_input'))}"
                    ),
                    kind=s.get("map", "tsne"),
                )
            )
        stem = f"figure1_{k + 1}"
        synthetic = any(d.get("synthetic") for r in group for d in r.data["datasets"])
        t = group[0].data["summary"].get("tsne", {})
        figures.append(
            Figure(
                key=f"figure1-{k + 1}",
                title=f"Figure 1 — t-SNE of the embeddings of {ds}" + (" (SYNTHETIC demo data)" if synthetic else ""),
                caption=(
                    f"{group[0].data['summary'].get('n_images')} images ({subset}); colour = distortion group, "
                    f"alpha = level (stronger = more opaque); perplexity {t.get('perplexity')}, seed {t.get('random_state')}. "
                    "Numbers under each panel: silhouette of the groups and k-NN accuracy of predicting group and level "
                    "from the embedding (cross-validated). A score method (one number per image) is drawn as a strip: "
                    "its score per distortion group, since a t-SNE of a single number is only a curve."
                ),
                data_uri=save(tsne_figure(panels), out_dir, stem),
                files=[f"{out_dir.name}/{stem}.png", f"{out_dir.name}/{stem}.pdf"],
            )
        )
    return figures


def figure4(runs: list[RunRecord], report: Report, out_dir: Path) -> list[Figure]:
    """gMAD: for each model pair, the defender fixed at the low and high level with the attacker's best and worst."""
    latest = latest_by(runs, "gmad", lambda r: (r.data["config"].get("pool"), tuple(sorted(row_key(m) for m in r.data["methods"]))))
    figures = []
    for k, run in enumerate(latest.values()):
        pairs = run.table("pairs")
        if pairs.empty or "best_file" not in pairs.columns:
            continue
        report.used_runs.add(run.run_id)
        names = [c[len("best_"):] for c in pairs.columns if c.startswith("best_") and c not in ("best_image", "best_file")]
        methods = sorted(set(pairs["defender"]))
        for a, b in itertools.combinations(methods, 2):
            panels = []
            letters = iter("abcd")
            for defender, attacker in ((a, b), (b, a)):
                for level in ("low", "high"):
                    sel = pairs[(pairs.defender == defender) & (pairs.attacker == attacker) & (pairs.level == level) & (pairs["rank"] == 1)]
                    if sel.empty:
                        continue
                    p = sel.iloc[0]
                    panels.append(
                        GmadPanel(
                            caption=f"({next(letters)}) Fixed {defender} at the {level}-quality level",
                            best=(run.path / p["best_file"], _scores_text(p, "best", names)),
                            worst=(run.path / p["worst_file"], _scores_text(p, "worst", names)),
                            attacker=attacker,
                        )
                    )
            if not panels:
                continue
            stem = f"figure4_{k + 1}_{_slug(a)}_vs_{_slug(b)}"
            pool = run.data["config"].get("pool")
            synthetic = any(d.get("synthetic") for d in run.data["datasets"])
            figures.append(
                Figure(
                    key=f"figure4-{k + 1}-{_slug(a)}-{_slug(b)}",
                    title=f"Figure 4 — gMAD competition between {a} and {b} on {pool}" + (" (SYNTHETIC demo data)" if synthetic else ""),
                    caption=(
                        f"The defender's scores are split into {run.data['summary'].get('levels')} "
                        f"{run.data['summary'].get('binning')} levels; within its lowest and highest level the attacker picks "
                        "the images it rates best (top) and worst (bottom). A robust defender keeps such pairs similar in "
                        "quality; a strong attacker finds pairs that clearly differ. Scores are oriented higher = better; "
                        "feature methods are scored by a ridge regressor trained on "
                        f"{run.data['config'].get('regressor_dataset') or 'a labelled dataset'} (see the run's provenance)."
                    ),
                    data_uri=save(gmad_figure(f"gMAD: {a} vs {b}", panels), out_dir, stem),
                    files=[f"{out_dir.name}/{stem}.png", f"{out_dir.name}/{stem}.pdf"],
                )
            )
    return figures


def _scores_text(pair, side: str, names: list[str]) -> str:
    return ", ".join(f"{n}: {pair[f'{side}_{n}']:.3g}" for n in names)


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40]
