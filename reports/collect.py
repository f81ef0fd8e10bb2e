"""Turn the run folders into the report's tables. Reports read only ``runs/``.

A *row* of Table 1 is a method with its weights and options (ARNIQA trained on the demo is a
different row from untrained ARNIQA); a *column* is a dataset with its label choice. When
several runs fill the same cell, the latest is shown and the others are counted as superseded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from iqabench.results import RunRecord


def row_key(method: dict[str, Any]) -> str:
    """What makes two runs the same row: name, weights and options."""
    return json.dumps(
        [method["name"], method.get("weights_identity"), method.get("options", {}), method.get("views")], sort_keys=True
    )


def column_key(dataset: dict[str, Any]) -> str:
    label = (dataset.get("label") or {}).get("label")
    return json.dumps([dataset["name"], label, dataset.get("options", {})], sort_keys=True)


@dataclass
class Cell:
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
    cells: dict[tuple[str, str], Cell]

    def cell(self, row: Row, col: Column) -> Cell | None:
        return self.cells.get((row.key, col.key))


def within_dataset_matrix(runs: list[RunRecord]) -> Matrix:
    """Table 1: one cell per (method row, dataset column) from ``within_dataset`` runs, latest wins."""
    rows: dict[str, Row] = {}
    cols: dict[str, Column] = {}
    cells: dict[tuple[str, str], Cell] = {}
    for run in runs:  # oldest first, so later runs replace earlier ones
        if run.data["protocol"] != "within_dataset":
            continue
        method, dataset = run.data["methods"][0], run.data["datasets"][0]
        r, c = row_key(method), column_key(dataset)
        rows.setdefault(r, Row(r, method))
        cols.setdefault(c, Column(c, dataset))
        previous = cells.get((r, c))
        cells[(r, c)] = Cell(run, ([previous.run, *previous.superseded] if previous else []))
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


def latest_by(runs: list[RunRecord], protocol: str, key) -> dict:
    """The latest run of ``protocol`` for each ``key(run)`` (runs are oldest first)."""
    out: dict = {}
    for run in runs:
        if run.data["protocol"] == protocol:
            out[key(run)] = run
    return out
