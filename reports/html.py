"""Render the report: one self-contained HTML file (no network, figures embedded, autoescaped)."""

from __future__ import annotations

import csv
import io
import os
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from iqabench import __version__
from iqabench.fileio import atomic_write_text
from iqabench.results import RunRecord

from . import published
from .build import Report, build
from .tables import to_csv_rows, to_latex


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("iqabench.reports", "templates"),
        autoescape=True,  # dataset and method names are user data: always shown as text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def provenance(run: RunRecord, base: Path | None = None) -> dict[str, Any]:
    """What the report shows of a run; ``base`` (the report's folder) makes links to its files relative."""
    d = run.data
    env = d.get("environment", {})
    return {
        "run_id": run.run_id,
        "path": str(run.path),
        "protocol": d["protocol"],
        "config": d.get("config", {}),
        "methods": [
            {
                "name": m.get("display_name") or m["name"],
                "weights": m.get("weights"),
                "sha": m.get("weights_sha256") or m.get("weights_identity") or "none",
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
        "splits": _splits_text(d),
        "comparability": _comparability_text(d),
        "seed": d.get("seed"),
        "images": d.get("images", {}),
        "versions": ", ".join(f"{k} {env[k]}" for k in ("iqabench", "torch", "numpy", "scikit-learn") if env.get(k)),
        "git": env.get("git_revision") or "not a git checkout",
        "finished": d.get("finished"),
        "command": shlex.join(d.get("command") or []),
        "models": [
            (name, os.path.relpath(run.path / name, base) if base is not None else str(run.path / name))
            for name in (d.get("summary") or {}).get("models") or []
        ],
    }


def _splits_text(d: dict[str, Any]) -> str | None:
    """Each dataset's split set, its SHA-256 and whether it is reference-disjoint."""
    used = d.get("split_sets") or {}
    if not used and d.get("splits"):
        used = {d["datasets"][0]["name"]: d["splits"]}
    parts = []
    for name, s in used.items():
        text = f"{name}: {s.get('set', '?')} ({s.get('source')}), sha256 {str(s.get('sha256', '?'))[:12]}…"
        if s.get("reference_disjoint") is False:
            text += ", NOT reference-disjoint"
        parts.append(text)
    return "; ".join(parts) or None


def _comparability_text(d: dict[str, Any]) -> str | None:
    c = d.get("comparability")
    if c is None:
        return None
    return "comparable with " + c["paper"] if c.get("comparable") else "not comparable with the paper: " + "; ".join(c["reasons"])


def render(report: Report, base: Path | None = None) -> str:
    return _env().get_template("report.html.j2").render(
        version=__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        report=report,
        n_runs=len(report.runs),
        provenance=[provenance(r, base) for r in report.runs if r.run_id in report.used_runs],
        published_source=published.source(),
        published_extra=published.extra_sources(),
    )


def figures_dir_for(out: Path) -> Path:
    return out.with_name(out.stem + "_files")


def write_report(runs_dir: str | Path, out: str | Path, fmt: str = "html") -> list[Path]:
    """Write the report (``html``) or every table as ``csv`` / ``latex`` files; returns what was written."""
    out = Path(out)
    report = build(runs_dir, figures_dir=figures_dir_for(out) if fmt == "html" else None)
    if fmt == "html":
        atomic_write_text(out, render(report, out.resolve().parent))
        return [out]
    written = []
    for table in report.tables:
        if fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(to_csv_rows(table))
            path = out.with_name(f"{out.stem}_{table.key}.csv")
            atomic_write_text(path, buf.getvalue())
        else:
            path = out.with_name(f"{out.stem}_{table.key}.tex")
            atomic_write_text(path, to_latex(table))
        written.append(path)
    return written
