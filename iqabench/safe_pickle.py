"""Read a pickled scikit-learn linear model without running anything the file names.

``pickle.load`` imports and calls whatever globals a file names (``os.system`` included), so
iqabench never uses it. :func:`load_restricted` unpickles with :class:`RestrictedUnpickler`, which
admits exactly these globals, each resolved to an inert stand-in defined here (nothing is
imported from the file's names, no library function or class is called):

=========================================================  ==========================================
global named by the file                                   stand-in
=========================================================  ==========================================
``numpy.core.multiarray._reconstruct`` (and ``numpy._core``)  an empty array placeholder; only with the
                                                           arguments ``(numpy.ndarray, (0,), b"b")``
``numpy.ndarray``                                          a marker, accepted only as that argument
``numpy.dtype``                                            a dtype placeholder for a numeric type
                                                           string (``b1``, ``i8``, ``u2``, ``f4``,
                                                           ``c16``…); object, string, structured and
                                                           sub-array dtypes are refused
``numpy.core.multiarray.scalar`` (and ``numpy._core``)        a numeric numpy scalar from its bytes
``numpy.core.numeric._frombuffer`` (and ``numpy._core``)      a numeric array from its bytes (protocol 5)
``_codecs.encode``                                         ``str → bytes`` with ``latin1`` only (how
                                                           protocol 2 writes bytes)
each class the caller names (e.g.                          :class:`Record`: the pickled attribute
``sklearn.linear_model._ridge.Ridge``)                     dict, kept as data; the class is not
                                                           imported, constructed or asked to set
                                                           its state
=========================================================  ==========================================

Arrays are rebuilt with ``np.frombuffer`` after checking that the byte count matches the shape and
dtype. Python's own containers and scalars (dict, list, tuple, str, bytes, int, float, bool,
None) need no global and are read as usual. Any other global (``os.system``, ``builtins.eval``, a
class the caller did not name, ``copyreg._reconstructor`` of protocol 0/1 pickles), persistent IDs
and malformed arguments stop the load with a one-line :class:`IQABenchError` naming the file and
what it asked for, before anything it names could run.
"""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IQABenchError

_NUMERIC_TYPE = re.compile(r"^[biufc][1-9][0-9]?$")  # numpy's pickled type strings: kind + item size
_BYTE_ORDERS = ("<", ">", "|", "=")


class _Refused(Exception):
    """What the unpickler met that it does not admit (reported by :func:`load_restricted`)."""


@dataclass
class Record:
    """A pickled instance of an admitted class: its qualified name and its attribute dict, as data."""

    cls: str
    state: dict[str, Any] = field(default_factory=dict)


class _Marker:
    def __init__(self, name: str):
        self.name = name


_NDARRAY = _Marker("numpy.ndarray")


class _Dtype:
    """numpy.dtype(type_string, align, copy); pickle then sets its byte order with BUILD."""

    def __init__(self, code: Any, align: Any = False, copy: Any = True):
        if not isinstance(code, str) or not _NUMERIC_TYPE.match(code):
            raise _Refused(f"numpy dtype {code!r} (only numeric dtypes are admitted)")
        self.code, self.order = code, "="

    def __setstate__(self, state: Any) -> None:
        # (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) < 5 or state[1] not in _BYTE_ORDERS or any(
            s is not None for s in state[2:5]
        ):
            raise _Refused(f"numpy dtype state {state!r} (only plain numeric dtypes are admitted)")
        self.order = state[1]

    def numpy(self) -> np.dtype:
        dt = np.dtype(self.code)
        if dt.kind not in "biufc":
            raise _Refused(f"numpy dtype {self.code!r} (only numeric dtypes are admitted)")
        return dt.newbyteorder(self.order) if self.order in "<>" else dt


def _from_bytes(data: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    if not isinstance(dtype, _Dtype):
        raise _Refused(f"an array whose dtype is {type(dtype).__name__}")
    if not isinstance(data, (bytes, bytearray)):
        raise _Refused(f"array data of type {type(data).__name__} (only raw bytes are admitted)")
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape) or order not in ("C", "F"):
        raise _Refused(f"an array of shape {shape!r} and order {order!r}")
    dt = dtype.numpy()
    if len(data) != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
        raise _Refused(f"an array of shape {shape} and dtype {dt} with {len(data)} bytes of data")
    return np.frombuffer(bytes(data), dtype=dt).reshape(shape, order=order).copy()


class _Array:
    """What ``_reconstruct`` returns: pickle then passes ``(version, shape, dtype, fortran, data)``."""

    def __init__(self, subtype: Any, shape: Any, typecode: Any):
        if subtype is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
            raise _Refused("numpy _reconstruct with arguments other than (numpy.ndarray, (0,), b'b')")
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5 or not isinstance(state[3], bool):
            raise _Refused("an ndarray state that is not (version, shape, dtype, is_fortran, data)")
        _, shape, dtype, fortran, data = state
        self.array = _from_bytes(data, dtype, shape, "F" if fortran else "C")


def _scalar(dtype: Any, data: Any) -> Any:
    if not isinstance(dtype, _Dtype) or not isinstance(data, bytes):
        raise _Refused("numpy scalar with arguments other than (dtype, bytes)")
    return _from_bytes(data, dtype, (), "C")[()]


def _frombuffer(data: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    return _from_bytes(data, dtype, shape, order)


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise _Refused("_codecs.encode with arguments other than (str, 'latin1')")
    return text.encode("latin1")


_NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Dtype,
    ("_codecs", "encode"): _encode,
}
for _module in ("numpy.core", "numpy._core"):
    _NUMPY_GLOBALS[(f"{_module}.multiarray", "_reconstruct")] = _Array
    _NUMPY_GLOBALS[(f"{_module}.multiarray", "scalar")] = _scalar
    _NUMPY_GLOBALS[(f"{_module}.numeric", "_frombuffer")] = _frombuffer


class _Instance:
    """Base of the stand-in classes: NEWOBJ makes an empty one, BUILD stores the attribute dict."""

    qualname = ""

    def __new__(cls, *args: Any, **kwargs: Any):
        if args or kwargs:
            raise _Refused(f"{cls.qualname} constructed with arguments")
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise _Refused(f"{self.qualname} with a state that is not an attribute dict")
        self.state = state


def _record_class(qualname: str) -> type[_Instance]:
    return type(f"Record[{qualname}]", (_Instance,), {"qualname": qualname})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals of the module doc (``classes``: the admitted classes)."""

    def __init__(self, file, classes: tuple[str, ...]):
        super().__init__(file)
        self._classes = {name: _record_class(name) for name in classes}

    def find_class(self, module: str, name: str) -> Any:
        admitted = _NUMPY_GLOBALS.get((module, name)) or self._classes.get(f"{module}.{name}")
        if admitted is None:
            raise _Refused(f"the global {module}.{name}")
        return admitted

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


def _finish(obj: Any) -> Any:
    """Placeholders → values: arrays for ``_reconstruct`` results, :class:`Record` for class instances."""
    if isinstance(obj, _Array):
        if obj.array is None:
            raise _Refused("an ndarray without its data")
        return obj.array
    if isinstance(obj, dict):
        return {k: _finish(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finish(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_finish(v) for v in obj)
    if isinstance(obj, _Dtype):
        return obj.numpy()
    if isinstance(obj, _Instance):
        return Record(obj.qualname, _finish(getattr(obj, "state", {})))
    if isinstance(obj, _Marker):
        raise _Refused(f"a bare {obj.name}")
    return obj


def load_restricted(path: str | Path, classes: tuple[str, ...], what: str = "file") -> Any:
    """Unpickle ``path`` admitting only numpy arrays, dtypes and scalars and the named ``classes``
    (returned as :class:`Record`); anything else is a one-line :class:`IQABenchError`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise IQABenchError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}") from exc
    try:
        return _finish(RestrictedUnpickler(io.BytesIO(data), classes).load())
    except _Refused as exc:
        raise IQABenchError(f"{what} {str(p)!r} is refused: it contains {exc}, which a restricted unpickler "
                            "does not admit (nothing from the file was run)") from None
    except Exception as exc:  # truncated or malformed pickles
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IQABenchError(f"{what} {str(p)!r} is not a readable pickle: {reason}") from None
