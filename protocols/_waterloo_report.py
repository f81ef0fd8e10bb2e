"""waterloo's part of the report: the D- and L-tests of each method on each pool."""

from __future__ import annotations

from iqabench.reports.collect import latest_by, row_key
from iqabench.reports.sections import ReportContext, Section, cell_notes, name_of, note_marks, summary_of
from iqabench.reports.tables import Cell, Table, fmt, rank_columns

from iqabench.results import RunRecord


def sections(runs: list[RunRecord], ctx: ReportContext, summary_type: type) -> list[Section]:
    """``summary_type``: the protocol's typed summary (WaterlooSummary), read back from each run."""
    latest = latest_by(runs, "waterloo", lambda r: (r.data["datasets"][0]["name"], row_key(r.data["methods"][0])))
    pools = sorted({pool for pool, _ in latest})
    out = []
    for pool in pools:
        table = Table(
            key=f"waterloo-{pool}",
            title=f"Waterloo Exploration tests on {pool}",
            caption=(
                "D-test: the best balanced accuracy of separating pristine from distorted images by a quality threshold "
                "(0.5 = chance). L-test: the mean SRCC between quality and distortion level over every reference × type "
                "list (1 = every list in order). The P-test is not computed (its pair criterion is not specified "
                "precisely enough). Best per column in bold."
            ),
            label_headers=["Method", "Quality from"],
            groups=[("D-test", [""]), ("L-test", [""])],
        )
        for (p, _), cell in latest.items():
            if p != pool:
                continue
            ctx.use(cell)
            s = summary_of(cell.run, summary_type)
            mark, notes = cell_notes(cell)
            table.rows.append((
                [name_of(cell.run.data["methods"][0]), s.quality],
                [Cell(value=v, text=fmt(v), run_id=cell.run.run_id, title=notes, mark=mark) for v in (s.d_test, s.l_test)],
            ))
        rank_columns(table)
        note_marks(table)
        synthetic = any(d.get("synthetic") for (p, _), c in latest.items() if p == pool for d in c.run.data["datasets"])
        if synthetic:
            table.group_badges = {"D-test": "SYNTHETIC", "L-test": "SYNTHETIC"}
        out.append(Section(table.key, table.title, 60, [table]))
    return out
