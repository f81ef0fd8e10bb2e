"""Typed options from the command line (``--method-option key=value`` etc.); no heavy imports."""

from __future__ import annotations

from typing import Any

from .errors import IQABenchError


def coerce_option(what: str, value: Any, default: Any) -> Any:
    """Convert a command-line string to the type of ``default``; one-line error on failure."""
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise IQABenchError(f"{what}: {value!r} is not a valid {type(default).__name__}") from None
    return value


def parse_options(owner: str, given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated with ``given``; an unknown key is an error naming the owner and the known keys."""
    parsed = dict(defaults)
    for key, value in given.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise IQABenchError(f"{owner} has no option {key!r} (options: {known})")
        parsed[key] = coerce_option(f"{owner} option {key!r}", value, defaults[key])
    return parsed
