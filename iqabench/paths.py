"""Where iqabench keeps its files: caches under ``$IQABENCH_HOME``, datasets under a data root."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import IQABenchError


def home() -> Path:
    """``$IQABENCH_HOME`` (default ``~/.cache/iqabench``): demo data, feature cache, fitted models."""
    return Path(os.environ.get("IQABENCH_HOME") or Path.home() / ".cache" / "iqabench").expanduser()


def data_root(explicit: str | os.PathLike | None = None) -> Path | None:
    """The folder holding datasets: ``--data-root``, else ``$IQABENCH_DATA``; None when neither is set."""
    value = explicit if explicit is not None else os.environ.get("IQABENCH_DATA")
    if value is None or value == "":
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        source = "--data-root" if explicit is not None else "IQABENCH_DATA"
        raise IQABenchError(f"data root {str(root)!r} (from {source}) is not a directory")
    return root


def existing_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or fail with a one-line error naming it and what it was for."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise IQABenchError(f"{what} {str(p)!r} does not exist" if not p.exists() else f"{what} {str(p)!r} is not a file")
    return p
