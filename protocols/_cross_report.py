"""cross_dataset's part of the report: Table 2, SRCC per (training, test) pair, one column per method."""

from __future__ import annotations

from iqabench.reports import published
from iqabench.reports.collect import latest_by, row_key
from iqabench.reports.sections import (
    ReportContext,
    Section,
    cell_notes,
    comparability,
    fill_command,
    name_of,
    note_marks,
    summary_of,
    with_notes,
)
from iqabench.reports.tables import Cell, Table, fmt, rank_rows

from iqabench.results import RunRecord


def sections(runs: list[RunRecord], ctx: ReportContext, summary_type: type) -> list[Section]:
    """``summary_type``: the protocol's typed summary (CrossSummary), read back from each run."""
    latest = latest_by(runs, "cross_dataset", lambda r: row_key(r.data["methods"][0]))
    if not latest:
        return []
    latest_cells = list(latest.values())
    summaries = {c.run.run_id: summary_of(c.run, summary_type) for c in latest_cells}
    pairs: list[tuple[str, str]] = []
    for c in latest_cells:
        for train, row in summaries[c.run.run_id].srcc_matrix.items():
            for test in row:
                if train != test and (train, test) not in pairs:
                    pairs.append((train, test))
    synthetic = {d["name"] for c in latest_cells for d in c.run.data["datasets"] if d.get("synthetic")}
    table = Table(
        key="table2",
        title="Table 2 — cross-dataset evaluation",
        caption=(
            "SRCC on the whole test dataset of the method's quality model trained on the whole training dataset "
            "(hyper-parameters chosen on the training dataset's validation splits). Training and test labels are both "
            "oriented higher = better, so agreement is positive whatever the label direction. Score methods (e.g. "
            "NIQE) are not trained: their row values do not depend on the training dataset. Best per row in bold, "
            "second underlined."
        ),
        label_headers=["Training", "Testing"],
        groups=[(name_of(c.run.data["methods"][0]), ["SRCC"]) for c in latest_cells],
    )
    for train, test in pairs:
        cells = []
        for latest_cell in latest_cells:
            run = latest_cell.run
            value = summaries[run.run_id].srcc_matrix.get(train, {}).get(test)
            if value is None:
                cmd = fill_command(run.data["methods"][0], "cross_dataset", [{"name": train}, {"name": test}])
                cells.append(Cell(command=cmd))
                continue
            ctx.use(latest_cell)
            mark, notes = cell_notes(latest_cell)
            cells.append(Cell(value=value, text=fmt(value), run_id=run.run_id, title=with_notes(f"{train} → {test}", notes),
                              mark=mark))
        labels = [train + (" (synthetic)" if train in synthetic else ""), test + (" (synthetic)" if test in synthetic else "")]
        table.rows.append((labels, cells))
    rank_rows(table)
    note_marks(table)
    pub = []
    for train, test in pairs:
        for c in latest_cells:
            m = c.run.data["methods"][0]
            value = published.table2_value(m["name"], train, test)
            measured = summaries[c.run.run_id].srcc_matrix.get(train, {}).get(test)
            if value is not None and measured is not None:
                ok, reasons = comparability(c.run)
                pub.append(
                    f"{name_of(m)}, {train} → {test}: measured {measured:.3f}, published {value:.3f} "
                    + (f"({measured - value:+.3f})" if ok else f"(not comparable: {'; '.join(reasons)})")
                )
    if pub:
        table.notes.append("Published (" + published.source() + ", Table 2): " + "; ".join(pub) + ".")
    return [Section("table2", table.title, 20, [table])]
