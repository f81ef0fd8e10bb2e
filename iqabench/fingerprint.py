"""sha256 of parts of iqabench's own source: the key of what iqabench builds once and caches (the
demo dataset, the demo models), so that a change to the code that builds it builds it again."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def source_fingerprint(*entries: str) -> str:
    """sha256 over the named files and folders (``*.py`` below them) of the package, paths included."""
    h = hashlib.sha256()
    for entry in entries:
        path = PACKAGE / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(file.relative_to(PACKAGE)).encode() + b"\0" + file.read_bytes() + b"\0")
    return h.hexdigest()
