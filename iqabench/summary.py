"""A protocol's typed summary: what its ``result.json`` holds under ``summary``, and how it is read back.

Each protocol declares one dataclass (subclass of :class:`Summary`) listing its fields with their
types; the protocol builds it, :func:`iqabench.results.write_run` writes it as JSON, and the
report reads it back with :meth:`Summary.read`, which checks every declared field's type and fails
in one line naming the file and the field — the schema lives in one place, next to the protocol.

Field types: ``float`` (a JSON number; NaN is written as null, so read back as None), ``int``,
``str``, ``bool``, ``dict`` and ``list`` (any JSON content), each optionally ``| None``. Keys a
summary does not declare are kept in :attr:`Summary.extra` (older or newer runs), never dropped.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any

from .errors import IQABenchError


@dataclasses.dataclass
class Summary:
    headline: str = ""  # one line for the terminal and the report's generic tables
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # undeclared keys, as read


    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    # Dict-style access, for code that reads the summaries of any protocol.
    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.to_dict()

    @classmethod
    def read(cls, data: Any, where: str) -> Summary:
        """The summary recorded in a result file (``where`` names it in errors)."""
        if not isinstance(data, dict):
            raise IQABenchError(f"{where} has no 'summary' record (a damaged or hand-edited result?)")
        hints = typing.get_type_hints(cls)
        values, extra = {}, {}
        for key, value in data.items():
            field = next((f for f in dataclasses.fields(cls) if f.name == key and f.name != "extra"), None)
            if field is None:
                extra[key] = value
                continue
            values[key] = _check(value, hints[key], f"{where}: summary.{key}")
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.name not in values and f.name != "extra"
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise IQABenchError(f"{where}: summary lacks {', '.join(missing)}")
        return cls(**values, extra=extra)


def _check(value: Any, hint: Any, what: str) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    if value is None:
        if type(None) in allowed or float in allowed:  # NaN is written as null
            return None
        raise IQABenchError(f"{what} is missing (null)")
    for t in allowed:
        base = typing.get_origin(t) or t
        if base is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base in (str, bool, dict, list) and isinstance(value, base):
            return value
    words = {float: "number", int: "whole number", str: "text", bool: "true/false", dict: "record", list: "list"}
    names = " or ".join(words.get(typing.get_origin(t) or t, str(t)) for t in allowed if t is not type(None))
    raise IQABenchError(f"{what} is {value!r}, not a {names}")


def finite(value: float | None) -> float | None:
    """A number for a summary field: NaN becomes None (JSON null), as result.json writes it."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
