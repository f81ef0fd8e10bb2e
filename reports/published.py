"""Published numbers (reports/data/published.yaml), shown beside measured ones: the ARNIQA paper's
Tables 1-3, and values from other sources (``extra``, each with its source)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=1)
def published() -> dict[str, Any]:
    text = resources.files("iqabench.reports").joinpath("data/published.yaml").read_text()
    return yaml.safe_load(text)


def table1_value(method: str, dataset: str) -> tuple[float, float] | None:
    """Published (SRCC, PLCC) of an iqabench method on an iqabench dataset, if the paper has it."""
    for row in published()["table1"]:
        if row["method"] == method:
            value = row.get(dataset)
            return tuple(value) if value else None
    return None


def extra_value(method: str, dataset: str) -> tuple[tuple[float | None, float | None], dict[str, Any]] | None:
    """Published (SRCC, PLCC) of a method on a dataset from another source than the ARNIQA paper,
    with that source's entry (``source``, ``short``, ``not_comparable``); None if no source gives it."""
    for entry in published().get("extra") or []:
        for row in entry["rows"]:
            if row["method"] == method and row.get(dataset):
                return tuple(row[dataset]), entry
    return None


def extra_sources() -> dict[str, str]:
    """{short name: full source} of every ``extra`` entry."""
    return {entry["short"]: " ".join(entry["source"].split()) for entry in published().get("extra") or []}


def table1_rows() -> list[dict[str, Any]]:
    return published()["table1"]


def table2_value(method: str, train: str, test: str) -> float | None:
    t2 = published()["table2"]
    columns = [c["method"] for c in t2["columns"]]
    if method not in columns:
        return None
    j = columns.index(method)
    for row in t2["rows"]:
        if row["train"] == train and row["test"] == test:
            return row["srcc"][j]
    return None


def table3_rows() -> list[dict[str, Any]]:
    return published()["table3"]["rows"]


def source() -> str:
    return published()["source"]
