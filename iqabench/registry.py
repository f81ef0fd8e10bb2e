"""One registry type for methods, datasets and protocols.

A plugin is a class decorated with ``@register_method("name")`` (or dataset / protocol). The
registry finds plugins four ways, all lazily:

* the **built-in plugin packages** themselves (``iqabench.methods``, ``iqabench.datasets``,
  ``iqabench.protocols``, i.e. the ``methods/``, ``datasets/``, ``protocols/`` folders): every
  module whose name does not start with ``_`` is imported the first time a name is not found, or
  everything is listed — a new file in one of these folders is a plugin, with nothing to declare;
* entry points in the groups ``iqabench.methods``, ``iqabench.datasets``, ``iqabench.protocols``,
  for plugins shipped in other installed packages; an entry point is imported only when its name
  is asked for or when everything is listed;
* ``load_plugin_file(path)`` (the CLI's ``--plugin FILE.py``), which imports the file so that its
  decorators run;
* any module imported by the user that applies the decorator.

A *namespace* supplies a whole family of names ``PREFIX:NAME`` (e.g. ``pyiqa:piqe``) from one
provider object, registered with :meth:`Registry.register_namespace` (as the built-in ``pyiqa``
namespace does when its module is imported) or declared by another package as an entry point in
the group ``<group>.namespaces`` (e.g. ``iqabench.methods.namespaces``). A provider is
loaded, and asked for its names, only when a name with its prefix is asked for or listed with a
pattern naming it (``iqabench list methods 'pyiqa:*'``): plain listings show one ``PREFIX:*`` row.

Unknown names fail with the closest known names; a plugin that fails to import is reported with
its error, never skipped silently.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol

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


class NamespaceProvider(Protocol):
    """Supplies the names ``PREFIX:NAME`` of one namespace (see the module docstring)."""

    description: str  # one line, shown on the namespace's ``PREFIX:*`` row

    def names(self) -> list[str]:
        """The bare names (without ``PREFIX:``) it offers."""

    def get(self, name: str) -> type | None:
        """The class for a bare name; None for a name it does not know; IQABenchError for a known name that
        cannot be used (the message says why)."""


class Registry:
    def __init__(self, kind: str, group: str, package: str):
        self.kind = kind
        self.group = group
        self.package = package  # the built-in plugin package, discovered module by module
        self._discovered = False
        self._broken: dict[str, str] = {}  # built-in module -> why it failed to import
        self._classes: dict[str, type] = {}
        self._sources: dict[str, str] = {}
        self._entry_points: dict[str, EntryPoint] | None = None
        self._providers: dict[str, NamespaceProvider] = {}
        self._provider_sources: dict[str, str] = {}
        self._namespace_eps: dict[str, EntryPoint] | None = None

    # -- registration -------------------------------------------------------------------------
    def register(self, name: str, *, source: str | None = None) -> Callable[[type], type]:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise IQABenchError(f"invalid {self.kind} name {name!r}: use a non-empty name without spaces")
        if ":" in name:
            raise IQABenchError(f"invalid {self.kind} name {name!r}: ':' separates a namespace from a name (PREFIX:NAME)")

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

    # -- discovery ----------------------------------------------------------------------------
    def discover(self) -> None:
        """Import every plugin module of the built-in package (once); a module that fails is remembered
        with its error (shown by listings and unknown-name errors), never skipped silently."""
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue  # private helpers (shared readers, report renderers), not plugins
            module = f"{self.package}.{info.name}"
            try:
                importlib.import_module(module)
            except Exception as exc:  # a broken plugin is reported, with its own error
                self._broken[module] = f"{type(exc).__name__}: {exc}"

    def builtin(self, name: str) -> bool:
        """Whether ``name`` is one of the built-in plugins (a module of the built-in package)."""
        self.discover()
        cls = self._classes.get(name)
        return cls is not None and cls.__module__.startswith(self.package + ".")

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
        if name not in self._classes and ":" in name:
            return self._get_namespaced(name)
        if name not in self._classes:
            self.discover()
        if name not in self._classes and name in self._eps():
            self._load_entry_point(name)
        if name not in self._classes:
            error = unknown_name(self.kind, name, self.names())
            if self._broken:  # the name may live in a module that could not be imported
                module, why = next(iter(self._broken.items()))
                raise IQABenchError(f"{error} (note: built-in plugin module {module} failed to import: {why})")
            raise error
        return self._classes[name]

    def __contains__(self, name: str) -> bool:
        if name not in self._classes:
            self.discover()
        if name in self._classes or name in self._eps():
            return True
        prefix, sep, bare = name.partition(":")
        return bool(sep) and prefix in self.namespaces() and bare in self._provider(prefix).names()

    def names(self) -> list[str]:
        """The plain names (namespaced ones are listed by their provider, on request)."""
        self.discover()
        return sorted(n for n in set(self._classes) | set(self._eps()) if ":" not in n)

    def listing(self, pattern: str | None = None) -> list[Listing]:
        """Known plugins matching ``pattern`` (fnmatch, as timm's ``list_models``; None: all) with their one-line
        description; import failures are listed, not hidden. A namespace's names are listed when the pattern
        names the namespace (``pyiqa:*``); otherwise the namespace shows as one ``PREFIX:*`` row."""
        rows = [self._row(n) for n in self.names() if pattern is None or fnmatchcase(n, pattern)]
        rows += [Listing(module.rsplit(".", 1)[1], "", f"module {module}", why) for module, why in self._broken.items()
                 if pattern is None]
        for prefix in self.namespaces():
            if pattern is not None and ":" in pattern:
                prefix_pattern, _, name_pattern = pattern.partition(":")
                if fnmatchcase(prefix, prefix_pattern):
                    rows += self._namespace_rows(prefix, name_pattern)
            elif pattern is None or fnmatchcase(f"{prefix}:*", pattern):
                rows.append(self._namespace_summary(prefix))
        return sorted(rows, key=lambda r: r.name)

    def _row(self, name: str) -> Listing:
        try:
            cls = self.get(name)
        except IQABenchError as exc:
            ep = self._eps().get(name)
            return Listing(name, "", f"entry point {ep.value}" if ep else self._sources.get(name, ""), str(exc))
        return Listing(name, first_line(getattr(cls, "description", "") or cls.__doc__ or ""), self._sources[name])

    # -- namespaces -----------------------------------------------------------------------------
    def register_namespace(self, prefix: str, provider: NamespaceProvider, *, source: str | None = None) -> None:
        """Make ``provider`` answer for every name ``prefix:NAME``."""
        if not prefix or any(c.isspace() or c in ":*?[]" for c in prefix):
            raise IQABenchError(f"invalid {self.kind} namespace {prefix!r}: use a non-empty name without spaces, ':' or wildcards")
        existing = self._providers.get(prefix)
        if existing is not None and existing is not provider:
            raise IQABenchError(f"{self.kind} namespace {prefix!r} is registered twice")
        self._providers[prefix] = provider
        self._provider_sources[prefix] = source or _plugin_source() or f"module {type(provider).__module__}"

    def namespaces(self) -> list[str]:
        self.discover()
        if self._namespace_eps is None:
            self._namespace_eps = {ep.name: ep for ep in entry_points(group=f"{self.group}.namespaces")}
        return sorted(set(self._providers) | set(self._namespace_eps))

    def _provider(self, prefix: str) -> NamespaceProvider:
        if prefix not in self._providers:
            if prefix not in self.namespaces():
                raise unknown_name(f"{self.kind} namespace", prefix, self.namespaces())
            ep = self._namespace_eps[prefix]
            try:
                provider = ep.load()
            except Exception as exc:  # a broken plugin is reported, with its own error
                raise IQABenchError(
                    f"{self.kind} namespace {prefix!r} (entry point {ep.value}) failed to load: {type(exc).__name__}: {exc}"
                ) from exc
            self.register_namespace(prefix, provider, source=f"entry point {ep.value}")
        return self._providers[prefix]

    def _get_namespaced(self, name: str) -> type:
        prefix, _, bare = name.partition(":")
        provider = self._provider(prefix)
        cls = provider.get(bare)
        if cls is None:
            raise unknown_name(self.kind, name, [f"{prefix}:{n}" for n in provider.names()])
        cls.name = name
        self._classes[name] = cls
        self._sources[name] = f"namespace {prefix} ({self._provider_sources[prefix]})"
        return cls

    def _namespace_rows(self, prefix: str, pattern: str) -> list[Listing]:
        try:
            bare_names = self._provider(prefix).names()
        except IQABenchError as exc:
            return [Listing(f"{prefix}:*", "", self._provider_sources.get(prefix, ""), str(exc))]
        return [self._row(f"{prefix}:{n}") for n in bare_names if fnmatchcase(n, pattern)]

    def _namespace_summary(self, prefix: str) -> Listing:
        name = f"{prefix}:*"
        try:
            provider = self._provider(prefix)
        except IQABenchError as exc:
            return Listing(name, "", f"entry point {self._namespace_eps[prefix].value}", str(exc))
        what = first_line(getattr(provider, "description", "") or "")
        hint = f"list them with: iqabench list {self.kind}s '{name}'"
        return Listing(name, f"{what} ({hint})" if what else hint, self._provider_sources[prefix])


def first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text and text.strip() else ""


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


methods = Registry("method", "iqabench.methods", "iqabench.methods")
datasets = Registry("dataset", "iqabench.datasets", "iqabench.datasets")
protocols = Registry("protocol", "iqabench.protocols", "iqabench.protocols")


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
