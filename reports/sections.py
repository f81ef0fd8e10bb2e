"""What a protocol gives the report: sections of tables, figures and text, in the paper's order.

Every protocol owns its part of the report: ``Protocol.report_sections(runs, ctx)`` returns
:class:`Section` objects built from the runs of that protocol (the built-in protocols keep their
renderers in ``protocols/_*_report.py``). A protocol that defines none — a plugin file, say — gets
:func:`generic_section`: one table of every run's headline. Nothing in ``reports/`` names a
protocol; a new protocol appears in the report without a change here.

The helpers below are what the built-in renderers share: the cell marks for deviations and
superseded runs, the "missing cell" command, comparability with the paper, figure files.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqabench.errors import IQABenchError
from iqabench.results import RunRecord

from .collect import RunCell, deviation_text, deviations, latest_by, row_key
from .tables import Cell, Table


@dataclass
class Figure:
    key: str
    title: str
    caption: str
    data_uri: str
    files: list[str]  # PNG/PDF written beside the HTML


@dataclass
class TextBlock:
    title: str
    caption: str
    items: list[tuple[str, list[str]]]  # (heading, sentences)


@dataclass
class Section:
    key: str  # anchor in the HTML
    title: str
    order: int  # position in the report: the paper's Table 1 = 10, Table 2 = 20, Table 3 = 30, Fig. 1 = 40, Fig. 4 = 50
    blocks: list[Table | Figure | TextBlock] = field(default_factory=list)
    empty: str = ""  # shown when the section has no block (e.g. the command that would fill Table 1)

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


@dataclass
class ReportContext:
    """What renderers share: where figures go, the bootstrap size, and which runs the report uses."""

    figures_dir: Path | None = None  # None: no figures (CSV/LaTeX export)
    bootstrap: int = 1000
    used_runs: set[str] = field(default_factory=set)
    superseded: dict[str, list[RunRecord]] = field(default_factory=dict)  # run id -> older runs it replaced

    def use(self, cell: RunCell) -> None:
        """Record that a number of the report comes from ``cell.run`` (and which runs it superseded)."""
        self.used_runs.add(cell.run.run_id)
        if cell.superseded:
            self.superseded[cell.run.run_id] = list(cell.superseded)


# Mark of a number whose run is not comparable with published numbers (skipped images, labels out of range).
DEVIATION_MARK = "†"
DEVIATION_NOTE = (
    "† The run behind the number left images out (--on-error skip) or read labels outside the dataset's range: "
    "not comparable with published numbers (hover for details; listed in its provenance)."
)


def cell_notes(cell: RunCell) -> tuple[str, str]:
    """(mark, tooltip sentences) of a table cell backed by ``cell``: deviations, superseded runs."""
    devs = deviations(cell.run)
    notes = [deviation_text(devs)] if devs else []
    if cell.superseded:
        n = len(cell.superseded) + 1
        notes.append(f"latest of {n} runs of this cell; the {n - 1} superseded are listed in its provenance")
    return (DEVIATION_MARK if devs else ""), "; ".join(notes)


def with_notes(title: str, extra: str) -> str:
    return "; ".join(t for t in (title, extra) if t)


def note_marks(table: Table) -> None:
    if any(c.mark for _, cells in table.rows for c in cells):
        table.notes.append(DEVIATION_NOTE)


def fill_command(method: dict, protocol: str, datasets: list[dict], extra: list[str] | None = None) -> str:
    """The command that would produce a missing result."""
    parts = ["iqabench", "run", "--method", method["name"]]
    if method.get("weights"):
        parts += ["--weights", method["weights"]]
    for key, value in (method.get("options") or {}).items():
        if value is not None:  # None: an option left unset
            parts += ["--method-option", f"{key}={value}"]
    parts += ["--protocol", protocol]
    for d in datasets:
        parts += ["--dataset", d["name"]]
        label = (d.get("label") or {}).get("label")
        if label and len(datasets) == 1:
            parts += ["--label", label]
    return shlex.join(parts + (extra or []))


def comparability(run: RunRecord) -> tuple[bool, list[str]]:
    """(comparable with the paper's number, reasons if not), as the run recorded it."""
    record = run.data.get("comparability")
    if not record:
        return False, ["this run was recorded before iqabench assessed comparability with the paper"]
    return bool(record.get("comparable")), list(record.get("reasons") or [])


def name_of(method: dict) -> str:
    return method.get("display_name") or method["name"]


def run_file(run: RunRecord, name: str) -> Path:
    """A file a run names (e.g. a gMAD pair image), which must lie inside the run's folder."""
    folder = run.path.resolve()
    path = (run.path / str(name)).resolve()
    if not path.is_relative_to(folder):
        raise IQABenchError(
            f"run file {str(run.path / 'result.json')!r} names the file {str(name)!r}, outside its folder"
        )
    return path


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40]


def generic_section(protocol: str, runs: list[RunRecord], ctx: ReportContext, *, known: bool) -> Section:
    """A protocol without a renderer of its own: every run's headline, latest per method and datasets."""
    latest = latest_by(runs, protocol, lambda r: (tuple(row_key(m) for m in r.data["methods"]),
                                                  tuple(d["name"] for d in r.data["datasets"])))
    table = Table(
        key=f"protocol-{slug(protocol)}",
        title=f"Protocol {protocol}",
        caption=f"The headline of each {protocol} run (latest run per methods and datasets).",
        label_headers=["Methods", "Datasets"],
        groups=[("Result", [""])],
    )
    for cell in latest.values():
        ctx.use(cell)
        data = cell.run.data
        mark, notes = cell_notes(cell)
        table.rows.append((
            [", ".join(name_of(m) for m in data["methods"]), ", ".join(d["name"] for d in data["datasets"])],
            [Cell(value=0.0, text=str((data.get("summary") or {}).get("headline") or "see the run's files"),
                  run_id=cell.run.run_id, title=notes, mark=mark)],
        ))
    note_marks(table)
    if not known:
        table.notes.append(f"Protocol {protocol!r} is not installed here: its own section would need its plugin "
                           f"(iqabench report --plugin FILE.py); its runs are listed as they are.")
    return Section(table.key, table.title, order=100, blocks=[table])


def summary_of(run: RunRecord, summary_type) -> Any:
    """The run's summary read as the protocol's typed summary (a one-line error names a damaged file)."""
    return summary_type.read(run.data.get("summary"), f"run file {str(run.path / 'result.json')!r}")
