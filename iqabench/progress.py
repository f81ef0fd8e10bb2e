"""Progress bars for long work (tqdm on stderr), switched off by ``iqabench --quiet``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

_enabled = True


def set_enabled(flag: bool) -> None:
    global _enabled
    _enabled = flag


def bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it", **kw: Any):
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=not _enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        **kw,
    )
