"""Render the report: one self-contained HTML file (no network, figures embedded, autoescaped)."""

from __future__ import annotations

import html
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from iqabench import __version__
from iqabench.fileio import atomic_write_text
from iqabench.results import RunRecord, load_runs

from .collect import Matrix, ranks, within_dataset_matrix


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("iqabench.reports", "templates"),
        autoescape=True,  # dataset and method names are user data: always shown as text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return f"{value:.{digits}f}"


def fill_command(method: dict, dataset: dict) -> str:
    """The command that would fill a missing cell."""
    parts = ["iqabench", "run", "--method", method["name"]]
    if method.get("weights"):
        parts += ["--weights", method["weights"]]
    for key, value in (method.get("options") or {}).items():
        parts += ["--method-option", f"{key}={value}"]
    parts += ["--protocol", "within_dataset", "--dataset", dataset["name"]]
    label = (dataset.get("label") or {}).get("label")
    if label:
        parts += ["--label", label]
    return shlex.join(parts)


def table1_context(matrix: Matrix) -> dict[str, Any]:
    cols = matrix.columns
    body = []
    best = {}
    for col in cols:
        for metric in ("srcc", "plcc"):
            vals = {}
            for row in matrix.rows:
                cell = matrix.cell(row, col)
                if cell is not None:
                    vals[row.key] = cell.summary.get(metric, float("nan"))
            best[(col.key, metric)] = ranks({k: (v if v is not None else float("nan")) for k, v in vals.items()})
    averages = {}
    for row in matrix.rows:
        present = [matrix.cell(row, c) for c in cols if matrix.cell(row, c) is not None]
        averages[row.key] = {
            m: (sum(c.summary[m] for c in present) / len(present) if present and all(c.summary.get(m) is not None for c in present) else None)
            for m in ("srcc", "plcc")
        }
    avg_rank = {m: ranks({k: (v[m] if v[m] is not None else float("nan")) for k, v in averages.items()}) for m in ("srcc", "plcc")}
    for row in matrix.rows:
        cells = []
        for col in cols:
            cell = matrix.cell(row, col)
            if cell is None:
                cells.append({"missing": True, "command": fill_command(row.method, col.dataset)})
                continue
            s = cell.summary
            cells.append(
                {
                    "missing": False,
                    "run_id": cell.run.run_id,
                    "superseded": len(cell.superseded),
                    "metrics": [
                        {
                            "value": fmt(s.get(m)),
                            "rank": best[(col.key, m)].get(row.key, 0),
                            "iqr": f"IQR {fmt(s.get(m + '_q1'))}–{fmt(s.get(m + '_q3'))} over {s.get('n_splits')} splits",
                        }
                        for m in ("srcc", "plcc")
                    ],
                    "failed": cell.run.data.get("images", {}).get("failed", 0),
                }
            )
        body.append(
            {
                "label": row.label,
                "type": row.method_type,
                "cells": cells,
                "average": [
                    {"value": fmt(averages[row.key][m]), "rank": avg_rank[m].get(row.key, 0)} for m in ("srcc", "plcc")
                ],
            }
        )
    return {"columns": cols, "rows": body}


def provenance(run: RunRecord) -> dict[str, Any]:
    d = run.data
    env = d.get("environment", {})
    return {
        "run_id": run.run_id,
        "path": str(run.path),
        "protocol": d["protocol"],
        "methods": [
            {
                "name": m.get("display_name") or m["name"],
                "weights": m.get("weights"),
                "sha": (m.get("weights_sha256") or m.get("weights_identity") or "none"),
                "views": m.get("views"),
                "options": m.get("options"),
            }
            for m in d["methods"]
        ],
        "datasets": [
            {
                "name": ds["name"],
                "label": (ds.get("label") or {}).get("label"),
                "direction": "higher = better" if (ds.get("label") or {}).get("higher_better") else "lower = better",
                "synthetic": ds.get("synthetic"),
                "n": ds.get("n_images"),
            }
            for ds in d["datasets"]
        ],
        "splits": (d.get("splits") or {}).get("source"),
        "seed": d.get("seed"),
        "images": d.get("images", {}),
        "config": d.get("config", {}),
        "versions": ", ".join(f"{k} {env[k]}" for k in ("iqabench", "torch", "numpy", "scikit-learn") if env.get(k)),
        "git": env.get("git_revision") or "not a git checkout",
        "finished": d.get("finished"),
        "command": shlex.join(d.get("command") or []),
    }


def build_report(runs_dir: str | Path) -> str:
    runs = load_runs(runs_dir)
    matrix = within_dataset_matrix(runs)
    used = {cell.run.run_id for cell in matrix.cells.values()}
    synthetic = sorted({c.label for c in matrix.columns if c.synthetic})
    return _env().get_template("report.html.j2").render(
        version=__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        runs_dir=str(runs_dir),
        n_runs=len(runs),
        table1=table1_context(matrix) if matrix.rows else None,
        synthetic=synthetic,
        provenance=[provenance(r) for r in runs if r.run_id in used],
        escape=html.escape,
    )


def write_report(runs_dir: str | Path, out: str | Path) -> Path:
    out = Path(out)
    atomic_write_text(out, build_report(runs_dir))
    return out
