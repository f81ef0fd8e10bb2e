"""Typed options from the command line (``--method-option key=value`` etc.); no heavy imports.

Every option has a default whose type the given string is converted to, and optionally a *rule*
that checks the value: options are parsed and checked when the plugin is constructed, before
any work, and a bad value is a one-line error naming the owner and the option.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import IQABenchError

# A rule returns None for a good value, else the reason in a few words ("must be at least 2").
Rule = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Unset:
    """The default of an option that has no value until given (e.g. "read from the weights"): the option
    is None, and a given value is converted to ``type``. Write ``{"crop_size": Unset(int)}``."""

    type: type = str


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
            number = float(value)
            if not math.isfinite(number):
                raise IQABenchError(f"{what}: {value!r} is not a finite number")
            return number
    except ValueError:
        raise IQABenchError(f"{what}: {value!r} is not a valid {type(default).__name__}") from None
    return value


def parse_options(
    owner: str, given: dict[str, Any], defaults: dict[str, Any], rules: dict[str, Rule] | None = None
) -> dict[str, Any]:
    """Defaults updated with ``given`` and checked by ``rules``; an unknown key names the known keys."""
    parsed = {k: None if isinstance(v, Unset) else v for k, v in defaults.items()}
    for key, value in given.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise IQABenchError(f"{owner} has no option {key!r} (options: {known})")
        default = defaults[key]
        parsed[key] = coerce_option(f"{owner} option {key!r}", value, default.type() if isinstance(default, Unset) else default)
    for key, rule in (rules or {}).items():
        if parsed[key] is None:  # an Unset option that was not given
            continue
        problem = rule(parsed[key])
        if problem:
            raise IQABenchError(f"{owner} option {key}={parsed[key]!r}: {problem}")
    return parsed


# -- rules ---------------------------------------------------------------------------------------
def at_least(low: float) -> Rule:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def greater_than(low: float) -> Rule:
    return lambda v: None if v > low else f"must be greater than {low:g}"


def between(low: float, high: float) -> Rule:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def one_of(*choices: str) -> Rule:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"
