"""One registry type for methods, datasets and protocols.

A plugin is a class decorated with ``@register_method("name")`` (or dataset / protocol). The
registry finds plugins three ways, all lazily:

* entry points in the groups ``iqabench.methods``, ``iqabench.datasets``, ``iqabench.protocols``
  (the built-in plugins are declared this way too, in ``pyproject.toml``); an entry point is
  imported only when its name is asked for or when everything is listed;
* ``load_plugin_file(path)`` (the CLI's ``--plugin FILE.py``), which imports the file so that its
  decorators run;
* any module imported by the user that applies the decorator.

Unknown names fail with the closest known names; a plugin that fails to import is reported with
its error, never skipped silently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from .errors import IQABenchError, unknown_name

# Set on a module by load_plugin_file: the SHA-256 of the exact bytes it executed (read by
# iqabench.method.code_sha256, so a changed plugin file gets a new cache key).
SOURCE_SHA256_ATTR = "__iqabench_source_sha256__"


@dataclass(frozen=True)
class Listing:
    name: str
    description: str
    source: str  # "entry point <module>", "plugin file <path>", "module <name>"
    error: str | None = None


class Registry:
    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._classes: dict[str, type] = {}
        self._sources: dict[str, str] = {}
        self._entry_points: dict[str, EntryPoint] | None = None

    # -- registration -------------------------------------------------------------------------
    def register(self, name: str, *, source: str | None = None) -> Callable[[type], type]:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise IQABenchError(f"invalid {self.kind} name {name!r}: use a non-empty name without spaces")

        def decorate(cls: type) -> type:
            existing = self._classes.get(name)
            if existing is not None and _qualname(existing) != _qualname(cls):
                raise IQABenchError(
                    f"{self.kind} {name!r} is registered twice: by {_qualname(existing)} and by {_qualname(cls)}"
                )
            cls.name = name
            self._classes[name] = cls
            self._sources[name] = source or f"module {cls.__module__}"
            return cls

        return decorate

    # -- lookup -------------------------------------------------------------------------------
    def _eps(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def _load_entry_point(self, name: str) -> None:
        ep = self._eps()[name]
        try:
            ep.load()
        except Exception as exc:  # a broken plugin is reported, with its own error
            raise IQABenchError(
                f"{self.kind} plugin {name!r} (entry point {ep.value}) failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        if name not in self._classes:
            raise IQABenchError(
                f"{self.kind} entry point {name!r} ({ep.value}) loaded but registered no {self.kind} named {name!r}"
            )
        self._sources[name] = f"entry point {ep.value}"

    def get(self, name: str) -> type:
        if name not in self._classes and name in self._eps():
            self._load_entry_point(name)
        if name not in self._classes:
            raise unknown_name(self.kind, name, self.names())
        return self._classes[name]

    def __contains__(self, name: str) -> bool:
        return name in self._classes or name in self._eps()

    def names(self) -> list[str]:
        return sorted(set(self._classes) | set(self._eps()))

    def listing(self) -> list[Listing]:
        """Every known plugin with its one-line description; import failures are listed, not hidden."""
        rows = []
        for name in self.names():
            try:
                cls = self.get(name)
            except IQABenchError as exc:
                rows.append(Listing(name, "", f"entry point {self._eps()[name].value}", str(exc)))
                continue
            rows.append(Listing(name, first_line(getattr(cls, "description", "") or cls.__doc__ or ""), self._sources[name]))
        return rows


def first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text and text.strip() else ""


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


methods = Registry("method", "iqabench.methods")
datasets = Registry("dataset", "iqabench.datasets")
protocols = Registry("protocol", "iqabench.protocols")


def register_method(name: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`iqabench.Method` subclass available as ``--method name``."""
    return methods.register(name, source=_plugin_source())


def register_dataset(name: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`iqabench.Dataset` subclass available as ``--dataset name``."""
    return datasets.register(name, source=_plugin_source())


def register_protocol(name: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`iqabench.Protocol` subclass available as ``--protocol name``."""
    return protocols.register(name, source=_plugin_source())


_loading_file: list[str] = []


def _plugin_source() -> str | None:
    return f"plugin file {_loading_file[-1]}" if _loading_file else None


def load_plugin_file(path: str | Path) -> Any:
    """Import a plugin file (``--plugin FILE.py``) so that its decorators register its classes."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise IQABenchError(f"plugin file {str(path)!r} does not exist")
    if p.suffix != ".py":
        raise IQABenchError(f"plugin file {str(path)!r} is not a .py file")
    digest = hashlib.sha1(str(p).encode()).hexdigest()[:10]
    module_name = f"iqabench_plugin_{p.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    source = p.read_bytes()
    spec = importlib.util.spec_from_file_location(module_name, p)
    module = importlib.util.module_from_spec(spec)
    # The methods it defines are keyed by the exact bytes executed here (iqabench.method.code_sha256).
    setattr(module, SOURCE_SHA256_ATTR, hashlib.sha256(source).hexdigest())
    sys.modules[module_name] = module
    _loading_file.append(str(p))
    try:
        exec(compile(source, str(p), "exec"), module.__dict__)
    except IQABenchError:
        del sys.modules[module_name]
        raise
    except Exception as exc:
        del sys.modules[module_name]
        raise IQABenchError(f"plugin file {str(path)!r} failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        _loading_file.pop()
    return module
