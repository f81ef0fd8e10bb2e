"""Results: one folder per run under ``runs/``, never overwritten.

``runs/<run-id>/result.json`` holds everything needed to know how the numbers were made
(method identity and weights sha256, dataset card and label choice, protocol config, seed,
per-split numbers, images scored and failed, deviations from a run on the whole intact dataset
(:func:`deviations`), versions, git revision, times, command line);
tables (per-split metrics, predictions, …) sit beside it as CSV, the splits used as
``splits.csv``, and any figures or data files the protocol produced.

A run folder is assembled under a temporary name and renamed into place, so a reader (the
report) never sees half a run.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import __version__
from .errors import IQABenchError
from .splits import Splits

if TYPE_CHECKING:
    from .features import FeatureTable

SCHEMA_VERSION = 1


@dataclass
class Result:
    protocol: str
    config: dict[str, Any]
    methods: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    summary: Any  # the protocol's typed summary (iqabench.summary.Summary), or a plain dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    images: dict[str, Any] = field(default_factory=dict)
    splits: Splits | None = None  # the splits of a single-dataset result, saved as splits.csv
    split_sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # dataset -> splits record (set, sha256, ...)
    comparability: dict[str, Any] | None = None  # with the paper's published numbers (iqabench.comparability)
    seed: int = 0

    def slug(self) -> str:
        parts = [self.protocol, *(m["name"] for m in self.methods), *(d["name"] for d in self.datasets)]
        text = "-".join(parts)
        return re.sub(r"[^A-Za-z0-9_.]+", "-", text)[:80].strip("-")


@dataclass
class RunRecord:
    """A run as read back from disk."""

    path: Path
    data: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.data["run_id"]

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.path / f"{name}.csv")


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every result."""
    import numpy
    import scipy
    import sklearn
    import torch

    env = {
        "iqabench": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu",
        "git_revision": git_revision(),
    }
    try:
        import torchvision

        env["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover
        pass
    return env


def git_revision() -> str | None:
    """Commit of the iqabench source tree (with "+dirty" for local changes), or None if not a checkout."""
    src = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def deviations(result: Result) -> list[dict[str, Any]]:
    """What makes a run's numbers differ from a run of the protocol on the whole, intact dataset.

    Recorded in result.json as ``deviations`` (empty: none); a run with any is not comparable with
    published numbers. Kinds: ``skipped_images`` (``--on-error skip`` left images out) and
    ``labels_out_of_range`` (a dataset's labels leave the range a correct copy stays in)."""
    out: list[dict[str, Any]] = []
    failed = int(result.images.get("failed") or 0)
    if failed:
        out.append({
            "kind": "skipped_images",
            "count": failed,
            "total": result.images.get("total"),
            "first": [f.get("image_id") for f in result.images.get("failures", [])[:5]],
            "note": "left out with --on-error skip: the numbers are not over the whole dataset",
        })
    for card in result.datasets:
        labels = card.get("labels_out_of_range") or {}
        if labels.get("count"):
            out.append({
                "kind": "labels_out_of_range",
                "dataset": card.get("name"),
                "count": labels["count"],
                "bounds": labels.get("bounds"),
                "first": labels.get("first", []),
                "note": "labels outside the range a correct copy of the dataset stays in",
            })
    return out


def write_run(result: Result, runs_dir: str | Path, *, command: list[str], started: float) -> Path:
    runs = Path(runs_dir)
    runs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_id = f"{stamp}-{result.slug()}-{secrets.token_hex(3)}"
    tmp = runs / f".tmp-{run_id}"
    tmp.mkdir()
    try:
        record = {
            "schema": SCHEMA_VERSION,
            "run_id": run_id,
            "protocol": result.protocol,
            "config": result.config,
            "seed": result.seed,
            "methods": result.methods,
            "datasets": result.datasets,
            "summary": result.summary.to_dict() if hasattr(result.summary, "to_dict") else result.summary,
            "images": result.images,
            "deviations": deviations(result),
            "splits": {"source": result.splits.source, "n": len(result.splits), **result.splits.meta}
            if result.splits is not None
            else None,
            "split_sets": result.split_sets,
            "comparability": result.comparability,
            "tables": sorted(result.tables),
            "files": sorted(result.files),
            "environment": environment(),
            "command": command,
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            # Microseconds: the report shows the latest run of a result, so runs must not tie.
            "finished": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "duration_s": round(time.time() - started, 3),
        }
        for name, table in result.tables.items():
            table.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
        for name, data in result.files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if result.splits is not None:
            (tmp / "splits.csv").write_text(result.splits.to_csv())
        (tmp / "result.json").write_text(json.dumps(finite_or_null(record), indent=2, allow_nan=False, default=_jsonable) + "\n")
        final = runs / run_id
        os.rename(tmp, final)  # atomic; fails rather than overwrite an existing run
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def finite_or_null(obj: Any) -> Any:
    """NaN and infinities become null: result.json is strict JSON that any tool can read."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    return obj


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_runs(runs_dir: str | Path) -> list[RunRecord]:
    """Every complete run under ``runs_dir``, oldest first. Unreadable runs fail with their path."""
    runs = Path(runs_dir)
    if not runs.is_dir():
        raise IQABenchError(f"runs folder {str(runs)!r} does not exist (run 'iqabench run ...' first)")
    records = []
    # Run folders may be grouped in sub-folders (e.g. runs/demo/); half-written ones start with ".tmp-".
    for f in sorted(runs.rglob("result.json")):
        if any(part.startswith(".") for part in f.relative_to(runs).parts):
            continue
        try:
            data = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise IQABenchError(f"run file {str(f)!r} cannot be read: {exc}") from exc
        if data.get("schema") != SCHEMA_VERSION:
            raise IQABenchError(f"run file {str(f)!r} has schema {data.get('schema')!r}; expected {SCHEMA_VERSION}")
        records.append(RunRecord(f.parent, data))
    records.sort(key=lambda r: (r.data.get("finished", ""), r.run_id))
    return records


# -- the images record of a result ----------------------------------------------------------------
def table_record(total: int, table: FeatureTable) -> dict[str, Any]:
    """Result.images for one dataset of ``total`` images read into ``table``."""
    return {
        "total": int(total),
        "scored": int(table.n_images),
        "failed": len(table.failures),
        "failures": [{"image_id": i, "reason": r} for i, r in table.failures],
        "from_cache": int(table.from_cache),
        "conversions": dict(table.conversions),  # original mode -> images converted to 8-bit RGB
    }


def image_record(parts: list[tuple[str, int, FeatureTable]]) -> dict[str, Any]:
    """Result.images for several (dataset, index size, table) parts: flat totals plus a breakdown."""
    records = {name: table_record(total, t) for name, total, t in parts}
    by = {name: {k: v for k, v in r.items() if k != "failures"} for name, r in records.items()}
    return {
        "total": sum(v["total"] for v in by.values()),
        "scored": sum(v["scored"] for v in by.values()),
        "failed": sum(v["failed"] for v in by.values()),
        "failures": [{**f, "image_id": f"{name}:{f['image_id']}"} for name, r in records.items() for f in r["failures"]],
        "from_cache": sum(v["from_cache"] for v in by.values()),
        "conversions": dict(sum((Counter(v["conversions"]) for v in by.values()), Counter())),
        "by_dataset": by,
    }
