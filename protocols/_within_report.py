"""within_dataset's part of the report: Table 1, the published values beside it, paired comparisons, and
Table 3 (the variants of methods whose weights record how they were trained, e.g. ARNIQA's ablations)."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np
from iqabench.reports import published
from iqabench.reports.collect import Matrix, within_dataset_matrix
from iqabench.reports.sections import (
    ReportContext,
    Section,
    TextBlock,
    cell_notes,
    comparability,
    fill_command,
    note_marks,
    summary_of,
    with_notes,
)
from iqabench.reports.tables import Cell, Table, fmt, rank_columns
from iqabench.reports.uncertainty import bootstrap_ci, oriented_predictions, paired_comparison

from iqabench.results import RunRecord

log = logging.getLogger("iqabench")


def sections(runs: list[RunRecord], ctx: ReportContext, summary_type: type) -> list[Section]:
    """``summary_type``: the protocol's typed summary (WithinSummary), read back from each run."""
    matrix = within_dataset_matrix(runs)
    if not matrix.rows:
        return []

    def read(run: RunRecord):
        return summary_of(run, summary_type)

    blocks: list = [table1(matrix, ctx, read)]
    pub = published_table(matrix, read)
    if pub is not None:
        blocks.append(pub)
    paired = paired_comparisons(matrix)
    if paired.items:
        blocks.append(paired)
    out = [Section("table1", "Table 1 — performance within each dataset", 10, blocks)]
    out += [Section(t.key, t.title, 30, [t]) for t in variant_tables(matrix, ctx, read)]
    return out


def table1(matrix: Matrix, ctx: ReportContext, read) -> Table:
    groups = [(c.label, ["SRCC", "PLCC"]) for c in matrix.columns] + [("Average", ["SRCC", "PLCC"])]
    table = Table(
        key="table1",
        title="Table 1 — performance within each dataset",
        caption=(
            "Median SRCC and PLCC over the test sets of the splits (10 × 70/10/20, reference-disjoint where the "
            "dataset has references). Feature methods: their quality model (ridge for learned features, BRISQUE's "
            "SVR) fitted on crop-level features, hyper-parameters chosen on validation; score methods: scores used "
            "directly. Predictions and labels are both oriented higher = better before correlating. Under each SRCC: "
            "the 95 % bootstrap confidence interval of the median; hover for the inter-quartile range over splits. "
            "Best per column in bold, second underlined."
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
            ctx.use(cell)
            s = read(cell.run)
            present.append(s)
            ci = _cell_ci(cell.run, ctx.bootstrap)
            mark, notes = cell_notes(cell)
            for metric in ("srcc", "plcc"):
                value = getattr(s, metric)
                iqr = f"IQR {fmt(getattr(s, metric + '_q1'))}–{fmt(getattr(s, metric + '_q3'))} over {s.n_splits} splits"
                cells.append(
                    Cell(
                        value=value,
                        text=fmt(value),
                        title=with_notes(
                            iqr + (f"; 95 % CI of the median SRCC {fmt(ci[0])}–{fmt(ci[1])}" if metric == "srcc" else ""),
                            notes,
                        ),
                        run_id=cell.run.run_id,
                        extra=f"[{fmt(ci[0])}, {fmt(ci[1])}]" if metric == "srcc" and ci[0] == ci[0] else "",
                        mark=mark,
                    )
                )
        for metric in ("srcc", "plcc"):
            vals = [getattr(s, metric) for s in present]
            avg = float(np.mean(vals)) if vals and all(v is not None for v in vals) else None
            cells.append(Cell(value=avg, text=fmt(avg), title=f"mean over the {len(vals)} dataset(s) this method has"))
        table.rows.append(([row.label, row.method_type], cells))
    rank_columns(table)
    table.notes.append("Averages are over the datasets a method has; a method with missing cells is averaged over fewer.")
    for row in matrix.rows:  # what a row's training recipe is, in its config's own words (e.g. the demo's)
        if row.method.get("note"):
            table.notes.append(f"{row.label}: {row.method['note']}")
    note_marks(table)
    return table


def _cell_ci(run: RunRecord, n_boot: int) -> tuple[float, float]:
    try:
        preds = oriented_predictions(run.table("predictions"), run.data)
    except (OSError, KeyError, ValueError) as exc:
        log.warning(f"run {run.run_id}: no bootstrap interval ({exc})")
        return float("nan"), float("nan")
    return bootstrap_ci(preds, n_boot=n_boot)


def published_table(matrix: Matrix, read) -> Table | None:
    """Measured beside published (the paper's Table 1, else another source's value from ``extra``, marked
    ``*`` with its source) for the methods and datasets they have.

    Δ only where the run is comparable (same weights, splits, baseline definition, complete data, no
    skipped image) and the source documents how its value was made; otherwise the published value is
    greyed and the reasons are given."""
    table = Table(
        key="table1-published",
        title="Published values beside the measured ones",
        caption=(
            f"Published: {published.source()}, Table 1 (median of 10 splits). Shown for comparison only; measured cells "
            "above never contain published values. Δ is given only where the run is comparable with the paper (its "
            "weights are the released ones, the paper's splits, the baseline as the paper defines it, the complete "
            "dataset, no skipped image); otherwise the published value is greyed and the reasons are given on hover "
            "and below."
        ),
        label_headers=["Method", "Dataset (label)"],
        groups=[("SRCC", ["measured", "published", "Δ"]), ("PLCC", ["measured", "published", "Δ"])],
    )
    others: dict[str, str] = {}
    for row in matrix.rows:
        for col in matrix.columns:
            cell = matrix.cell(row, col)
            if cell is None:
                continue
            pub, extra = published.table1_value(row.method["name"], col.dataset["name"]), None
            if pub is None:
                found = published.extra_value(row.method["name"], col.dataset["name"])
                if found is None:
                    continue
                pub, extra = found
                others[extra["short"]] = " ".join(extra["source"].split())
            s = read(cell.run)
            ok, reasons = comparability(cell.run)
            if extra is not None and extra.get("not_comparable"):
                ok, reasons = False, [*reasons, f"{extra['short']}: {' '.join(extra['not_comparable'].split())}"]
            why = "" if ok else "not comparable with the paper: " + "; ".join(reasons)
            mark = cell_notes(cell)[0]
            cells = []
            for metric, value in (("srcc", pub[0]), ("plcc", pub[1])):
                measured = getattr(s, metric)
                star = "*" if extra is not None and value is not None else ""
                cells += [
                    Cell(value=measured, text=fmt(measured), run_id=cell.run.run_id, mark=mark),
                    Cell(value=value, text=fmt(value) + star, style="published" + ("" if ok else " not-comparable"),
                         title=with_notes(extra["short"] if extra else "", why)),
                    Cell(value=None if not ok or measured is None or value is None else measured - value, title=why,
                         text=_delta(measured, value, ok)),
                ]
            table.rows.append(([row.label, f"{col.label} ({col.score_label})"], cells))
            if not ok:
                table.notes.append(f"{row.label} on {col.label}: {why}")
    if others:
        table.notes.append("* Not from the ARNIQA paper, which does not report these datasets: "
                           + "; ".join(others.values()) + ". The same rule gives Δ or the reasons there is none.")
    return table if table.rows else None


def _delta(measured: float | None, published_value: float | None, comparable: bool) -> str:
    if not comparable or published_value is None:
        return "—"
    return f"{measured - published_value:+.3f}" if measured is not None else "n/a"


def paired_comparisons(matrix: Matrix) -> TextBlock:
    """For each dataset column, every pair of methods evaluated on the same splits."""
    items = []
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
            items.append((col.label, sentences))
    return TextBlock(
        "Paired comparisons on the same splits",
        "Per dataset, every pair of methods evaluated on identical splits: the median over splits of the difference "
        "in test SRCC, how many splits each wins, and an exact two-sided Wilcoxon signed-rank test of the 10 "
        "differences. The splits share training images, so this tells whether a difference exceeds the split-to-split "
        "variation; it is not a population-level significance test.",
        items,
    )


def variant_tables(matrix: Matrix, ctx: ReportContext, read) -> list[Table]:
    """One table per method with rows whose weights record their training (ARNIQA's ablations: Table 3)."""
    trained: dict[str, list] = {}
    for row in matrix.rows:
        if isinstance(row.method.get("training"), dict):
            trained.setdefault(row.method["name"], []).append(row)
    return [_variant_table(name, rows, matrix, ctx, read) for name, rows in sorted(trained.items())]


def _variant_table(name: str, rows: list, matrix: Matrix, ctx: ReportContext, read) -> Table:
    cols = [c for c in matrix.columns if any(matrix.cell(r, c) is not None for r in rows)]
    title_name = "ARNIQA" if name == "arniqa" else name
    table = Table(
        key="table3" if name == "arniqa" else f"table3-{name}",
        title=f"Table 3 — ablations: {title_name} variants",
        caption=(
            f"Median test SRCC of each {title_name} variant under the within_dataset protocol. Each row is labelled by "
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
            ctx.use(cell)
            v = read(cell.run).srcc
            vals.append(v)
            mark, notes = cell_notes(cell)
            cells.append(Cell(value=v, text=fmt(v), run_id=cell.run.run_id, title=notes, mark=mark))
            pub = published_variant(row.method, col.dataset["name"])
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
    note_marks(table)
    if published_rows:
        table.notes.append("Published (" + published.source() + ", Table 3): " + "; ".join(published_rows) + ".")
    if name == "arniqa":
        table.notes.append(
            "Train a variant with e.g. `iqabench train arniqa --degradation ndist1`, `--positives same_image`, "
            "`--no-hard-negatives` or `--backbone se_resnet50`, then evaluate its checkpoint with within_dataset."
        )
    return table


def published_variant(method: dict[str, Any], dataset: str) -> float | None:
    """The paper's Table 3 value for the ablation this checkpoint was trained with (the paper's config and
    backbone only): its recorded variant must equal the published row's, switch for switch."""
    training = method.get("training") or {}
    if method.get("name") != "arniqa" or training.get("config") != "arniqa":
        return None
    if method.get("backbone", "resnet50") != "resnet50" or method.get("crop_size", 224) != 224:
        return None
    cols = published.published()["table3"]["datasets"]
    if dataset not in cols or "variant" not in training:
        return None
    for row in published.table3_rows():
        if row["variant"] == training["variant"]:
            return row["srcc"][cols.index(dataset)]
    return None
