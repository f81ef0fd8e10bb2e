"""Turn the run folders into the report's tables. Reports read only ``runs/``.

A *row* of Table 1 is a method with its weights and options (ARNIQA trained on the demo is a
different row from untrained ARNIQA); a *column* is a dataset with its label choice. When
several runs fill the same cell, the latest is shown; the others are superseded, and the report
says how many in the cell's tooltip and lists them in the provenance of the run that replaced them.

Every run record is checked for the fields every section reads (:func:`check_record`); each
protocol's typed summary (:mod:`iqabench.summary`) checks its own fields when its section reads it,
so a damaged result.json is named in a one-line error instead of failing inside the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from iqabench.errors import IQABenchError
from iqabench.results import RunRecord


def check_record(run: RunRecord) -> None:
    """One-line error naming the result.json when a field the report reads is missing or of the wrong type."""
    where = f"run file {str(run.path / 'result.json')!r}"
    data = run.data
    if not isinstance(data.get("protocol"), str):
        raise IQABenchError(f"{where} has no 'protocol'")
    for part in ("methods", "datasets"):
        items = data.get(part)
        if not isinstance(items, list) or not items or not all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in items):
            raise IQABenchError(f"{where}: '{part}' must be a non-empty list of records with a 'name'")
    if not isinstance(data.get("summary"), dict):  # its fields: the protocol's Summary type (iqabench.summary)
        raise IQABenchError(f"{where} has no 'summary' (a damaged or hand-edited result?)")
    if not isinstance(data.get("images", {}), dict):
        raise IQABenchError(f"{where}: 'images' must be a record")


def deviations(run: RunRecord) -> list[dict[str, Any]]:
    """The run's recorded deviations (runs written before they were recorded: from the skipped images)."""
    if "deviations" in run.data:
        return list(run.data["deviations"] or [])
    failed = int((run.data.get("images") or {}).get("failed") or 0)
    return [{"kind": "skipped_images", "count": failed, "total": run.data["images"].get("total")}] if failed else []


def deviation_text(devs: list[dict[str, Any]]) -> str:
    """One sentence for a cell's tooltip."""
    parts = []
    for d in devs:
        if d.get("kind") == "skipped_images":
            of = f" of {d['total']}" if d.get("total") else ""
            parts.append(f"{d.get('count')}{of} images skipped (--on-error skip)")
        elif d.get("kind") == "labels_out_of_range":
            parts.append(f"{d.get('count')} labels of {d.get('dataset')} outside {d.get('bounds')}")
        else:
            parts.append(str(d.get("note") or d.get("kind")))
    return "not comparable with published numbers: " + "; ".join(parts)


def row_key(method: dict[str, Any]) -> str:
    """What makes two runs the same row: name, weights and options."""
    return json.dumps(
        [method["name"], method.get("weights_identity"), method.get("options", {}), method.get("views")], sort_keys=True
    )


def column_key(dataset: dict[str, Any]) -> str:
    label = (dataset.get("label") or {}).get("label")
    return json.dumps([dataset["name"], label, dataset.get("options", {})], sort_keys=True)


@dataclass
class RunCell:
    run: RunRecord
    superseded: list[RunRecord] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return self.run.data["summary"]


@dataclass
class Row:
    key: str
    method: dict[str, Any]

    @property
    def label(self) -> str:
        return self.method.get("display_name") or self.method["name"]

    @property
    def method_type(self) -> str:
        return self.method.get("method_type", "other")


@dataclass
class Column:
    key: str
    dataset: dict[str, Any]

    @property
    def label(self) -> str:
        return self.dataset["name"]

    @property
    def synthetic(self) -> bool:
        return bool(self.dataset.get("synthetic"))

    @property
    def score_label(self) -> str | None:
        return (self.dataset.get("label") or {}).get("label")


@dataclass
class Matrix:
    rows: list[Row]
    columns: list[Column]
    cells: dict[tuple[str, str], RunCell]

    def cell(self, row: Row, col: Column) -> RunCell | None:
        return self.cells.get((row.key, col.key))


def within_dataset_matrix(runs: list[RunRecord]) -> Matrix:
    """Table 1: one cell per (method row, dataset column) from ``within_dataset`` runs, latest wins."""
    rows: dict[str, Row] = {}
    cols: dict[str, Column] = {}
    cells: dict[tuple[str, str], RunCell] = {}
    for run in runs:  # oldest first, so later runs replace earlier ones
        if run.data["protocol"] != "within_dataset":
            continue
        method, dataset = run.data["methods"][0], run.data["datasets"][0]
        r, c = row_key(method), column_key(dataset)
        rows.setdefault(r, Row(r, method))
        cols.setdefault(c, Column(c, dataset))
        previous = cells.get((r, c))
        cells[(r, c)] = RunCell(run, ([previous.run, *previous.superseded] if previous else []))
    ordered_rows = sorted(rows.values(), key=lambda x: (_TYPE_ORDER.get(x.method_type, 99), x.label))
    ordered_cols = sorted(cols.values(), key=lambda x: (x.synthetic, x.label))
    return Matrix(ordered_rows, ordered_cols, cells)


# Row order of the paper's Table 1: handcrafted first, learned methods last.
_TYPE_ORDER = {"Handcrafted": 0, "Codebook": 1, "Supervised learning": 2, "SSL + LR": 3, "other": 4}


def ranks(values: dict[str, float]) -> dict[str, int]:
    """1 for the best, 2 for the second best (higher is better); ties share the rank."""
    finite = sorted({v for v in values.values() if v == v}, reverse=True)
    out = {}
    for key, v in values.items():
        if v == v and finite:
            out[key] = 1 if v == finite[0] else 2 if len(finite) > 1 and v == finite[1] else 0
    return out


def latest_by(runs: list[RunRecord], protocol: str, key) -> dict[Any, RunCell]:
    """For each ``key(run)``: the latest run of ``protocol`` and the ones it supersedes (runs are oldest first)."""
    out: dict[Any, RunCell] = {}
    for run in runs:
        if run.data["protocol"] == protocol:
            k = key(run)
            previous = out.get(k)
            out[k] = RunCell(run, [previous.run, *previous.superseded] if previous else [])
    return out
