"""User-facing errors.

An :class:`IQABenchError` is a problem with the user's input (a name, a file, a row, an option).
The CLI prints its message as one line and exits with status 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import difflib


class IQABenchError(Exception):
    """An error the user can fix; its message is one line naming the file, row or option."""


def unknown_name(kind: str, name: str, known: list[str]) -> IQABenchError:
    """Error for an unknown registry name, offering the closest known names."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:
        close = [k for k in known if name.lower() in k.lower() or k.lower() in name.lower()][:3]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = f" (known: {', '.join(known)})" if known and len(known) <= 12 else ""
    return IQABenchError(f"unknown {kind} {name!r}{hint}{listing}")
