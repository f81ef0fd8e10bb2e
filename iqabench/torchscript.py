"""Read the tensors of a TorchScript archive without running anything it holds.

A TorchScript file (``torch.jit.save``) is a zip archive::

    <name>/data.pkl          the module's attributes, pickled (protocol 2)
    <name>/constants.pkl     constants of the compiled code
    <name>/code/...          TorchScript source, compiled by ``torch.jit.load``
    <name>/data/<key>        raw bytes of each tensor storage (little-endian)
    <name>/version, byteorder, .data/...

``torch.jit.load`` compiles ``code/`` and runs any ``__setstate__`` it defines while unpickling,
so a crafted file can write files or read memory at load time. :func:`read_module_tensors`
instead unpickles ``data.pkl`` with an unpickler that admits only what a plain module's
attribute record holds (script-object placeholders, tensors rebuilt from the archive's own
storages, ``OrderedDict``, plain Python values) and never compiles or runs ``code/``. An archive
whose code defines ``__setstate__`` (its attributes are whatever that code computes at load time)
or that needs any other global is refused with one line naming the file.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from .errors import IQABenchError

# Storage type names the TorchScript pickler writes (torch.<Name>Storage) → dtype.
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "BoolStorage": torch.bool,
}
_SCRIPT_CLASS = re.compile(r"^__torch__(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SETSTATE = re.compile(r"\bdef\s+__setstate__\b")
_MAX_PICKLE_BYTES = 64 << 20  # the attribute record of a module is small; a larger one is not a plain module


class ScriptObject:
    """Inert stand-in for a TorchScript object: its type name and its attribute record; nothing runs.

    The unpickler gets one subclass per ``__torch__.*`` type name; NEWOBJ makes an empty instance
    and BUILD hands it the attribute record."""

    type_name = ""

    def __new__(cls, *args):
        if args:
            raise Refused(f"object {cls.type_name} is built with arguments")
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        self.state = state


_SCRIPT_TYPES: dict[str, type] = {}


def _script_type(type_name: str) -> type:
    if type_name not in _SCRIPT_TYPES:
        _SCRIPT_TYPES[type_name] = type("ScriptObject", (ScriptObject,), {"type_name": type_name, "state": None})
    return _SCRIPT_TYPES[type_name]


class _StorageType:
    """What ``torch.FloatStorage`` & co. stand for inside the pickle: only a dtype."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


class Refused(Exception):
    """The archive needs something a plain attribute record does not (message: why)."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, storages):
        super().__init__(io.BytesIO(data))
        self.storages = storages

    def find_class(self, module: str, name: str):
        full = f"{module}.{name}"
        if full == "torch._utils._rebuild_tensor_v2":
            return _rebuild_tensor
        if full == "torch._utils._rebuild_parameter":
            return _rebuild_parameter
        if full == "collections.OrderedDict":
            return OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if _SCRIPT_CLASS.match(full) and not full.startswith("__torch__.torch.classes"):
            return _script_type(full)
        raise Refused(f"it needs the global {full}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise Refused(f"unknown persistent record {str(pid)[:80]}")
        _, kind, key, _location, numel = pid
        if not isinstance(kind, _StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise Refused(f"malformed storage record {str(pid)[:80]}")
        return self.storages(key, kind.dtype, numel)


def _check_ints(values, what: str) -> tuple[int, ...]:
    if not isinstance(values, tuple) or not all(isinstance(v, int) and v >= 0 for v in values):
        raise Refused(f"malformed tensor {what}")
    return values


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, torch.Tensor) or not isinstance(offset, int) or offset < 0:
        raise Refused("malformed tensor record")
    size, stride = _check_ints(size, "size"), _check_ints(stride, "stride")
    if len(size) != len(stride):
        raise Refused("malformed tensor record (size and stride differ in length)")
    if math.prod(size) > 0:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel():
            raise Refused("a tensor reaches past the end of its storage")
    return storage.as_strided(size, stride, offset).clone()


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    if not isinstance(data, torch.Tensor):
        raise Refused("malformed parameter record")
    return data


def _archive_root(names: list[str]) -> str:
    roots = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(roots) != 1:
        raise Refused("it is not a single-module archive")
    return roots.pop()


def read_module_tensors(path: str | Path, what: str) -> dict[str, Any]:
    """The top-level attributes of the module saved in TorchScript archive ``path`` (tensors, plain values).

    Nothing in the archive is executed. ``what`` names the file in errors (e.g. ``"regressor"``).
    """
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
            root = _archive_root(names)
            for name in names:
                if name.startswith(f"{root}/code/") and name.endswith(".py"):
                    if _SETSTATE.search(zf.read(name).decode("utf-8", errors="replace")):
                        raise Refused("its code defines __setstate__, which torch.jit.load would run")
            byteorder = zf.read(f"{root}/byteorder").decode().strip() if f"{root}/byteorder" in names else "little"
            if byteorder != sys.byteorder:
                raise Refused(f"its tensors are {byteorder}-endian")
            info = zf.getinfo(f"{root}/data.pkl") if f"{root}/data.pkl" in names else None
            if info is None:
                raise Refused("it has no data.pkl")
            if info.file_size > _MAX_PICKLE_BYTES:
                raise Refused("its data.pkl is implausibly large")

            def storage(key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
                member = f"{root}/data/{key}"
                if member not in names:
                    raise Refused(f"its tensor record data/{key} is missing")
                raw = zf.read(member)
                itemsize = torch.empty((), dtype=dtype).element_size()
                if len(raw) != numel * itemsize:
                    raise Refused(f"its tensor record data/{key} holds {len(raw)} bytes, not {numel} × {itemsize}")
                return torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)

            obj = _Unpickler(zf.read(info), storage).load()
    except Refused as exc:
        raise IQABenchError(f"{what} {str(p)!r} is refused: {exc} (iqabench reads TorchScript files without running them)") from None
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IQABenchError(f"{what} {str(p)!r} is not a readable TorchScript archive: {reason}") from None
    if not isinstance(obj, ScriptObject) or not isinstance(obj.state, dict):
        raise IQABenchError(
            f"{what} {str(p)!r} is refused: it does not hold a plain TorchScript module (its state is "
            f"{type(getattr(obj, 'state', obj)).__name__}, not an attribute record)"
        )
    return obj.state
