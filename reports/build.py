"""Assemble the report from the run folders: each protocol's sections, in the paper's order, and provenance.

``reports/`` knows no protocol by name: for the runs of each protocol it asks the protocol class
(``Protocol.report_sections``; the built-in ones: Tables 1–3 and Figures 1 and 4, the Waterloo
tests) and falls back on a generic section for a protocol without a renderer, or not installed
here. Reports read only ``runs/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from iqabench import registry
from iqabench.results import RunRecord, load_runs

from .collect import check_record
from .sections import Figure, ReportContext, Section, generic_section
from .tables import Table

log = logging.getLogger("iqabench")

TABLE1_MISSING = (
    "No within_dataset runs yet. Fill this table with, e.g., "
    "iqabench run --method brisque --protocol within_dataset --dataset demo"
)


@dataclass
class Report:
    runs_dir: str
    runs: list[RunRecord]
    sections: list[Section] = field(default_factory=list)
    synthetic: list[str] = field(default_factory=list)
    used_runs: set[str] = field(default_factory=set)
    superseded: dict[str, list[RunRecord]] = field(default_factory=dict)  # run id -> older runs it replaced

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    @property
    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures]

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


def build(runs_dir: str | Path, *, figures_dir: Path | None = None, bootstrap: int = 1000) -> Report:
    runs = load_runs(runs_dir)
    for run in runs:
        check_record(run)
    ctx = ReportContext(figures_dir=figures_dir, bootstrap=bootstrap)
    sections: list[Section] = []
    for protocol in dict.fromkeys(r.data["protocol"] for r in runs):
        of_protocol = [r for r in runs if r.data["protocol"] == protocol]
        cls = registry.protocols.get(protocol) if protocol in registry.protocols else None
        made = cls.report_sections(of_protocol, ctx) if cls is not None else None
        sections += made if made is not None else [generic_section(protocol, of_protocol, ctx, known=cls is not None)]
    if not any(s.key == "table1" for s in sections):
        sections.append(Section("table1", "Table 1 — performance within each dataset", 10, empty=TABLE1_MISSING))
    sections.sort(key=lambda s: s.order)  # stable: within an order, the protocols' own order
    report = Report(str(runs_dir), runs, sections, used_runs=ctx.used_runs, superseded=ctx.superseded)
    report.synthetic = sorted(
        {d["name"] for r in runs for d in r.data["datasets"] if d.get("synthetic") and r.run_id in report.used_runs}
    )
    return report
