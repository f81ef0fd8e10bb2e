"""Fitted quality models saved with their run, in a documented format that loads without pickle.

Every protocol run that fits a quality model writes it under ``runs/<id>/models/``:
``within_dataset`` one per split (``split_01.npz`` …) and ``all.npz``, refitted on every image
of the dataset at the chosen hyper-parameters (as the reference does for its released
regressors); ``cross_dataset`` one per training dataset (``<dataset>.npz``); ``gmad`` and
``waterloo`` one per features method (``<method>.npz``).

A model file is a NumPy ``.npz`` archive (read with ``allow_pickle=False``): the model's arrays
(:meth:`iqabench.quality_models.Fitted.arrays`: ridge ``coef``, ``intercept``; SVR ``support``,
``dual``, ``intercept``, ``x_min``, ``x_max``, ``y_range``) and ``meta``, a JSON text with

* ``format`` (``iqabench-quality-model``), ``version`` (1), ``family`` (ridge | svr), ``params``;
* ``method``: name, method key (what the feature cache keys on: name, weights SHA-256, views,
  options, version), display name, weights SHA-256, views, feature dimension;
* ``label``: training dataset, label name, direction (``higher_better``) and nominal range — the
  scale of the model's raw predictions;
* ``trained_on``: the images it was fitted on (split k's train part, or all), their number, the
  split set and its SHA-256.

:func:`load` checks every key, shape and dtype and fails with one line naming the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IQABenchError
from .quality_models import Fitted, LinearFitted, SVRFitted

FORMAT = "iqabench-quality-model"
VERSION = 1
# Arrays of each family: name -> number of dimensions (-1: the feature dimension D sits on that axis).
_ARRAYS = {
    "ridge": {"coef": 1, "intercept": 0},
    "svr": {"support": 2, "dual": 1, "intercept": 0, "x_min": 1, "x_max": 1, "y_range": 1},
}


def to_bytes(fitted: Fitted, meta: dict[str, Any]) -> bytes:
    """The ``.npz`` bytes of ``fitted`` with its provenance ``meta`` (see module doc)."""
    if fitted.family not in _ARRAYS:
        raise IQABenchError(f"internal error: a {fitted.family} model has nothing to save")
    record = {"format": FORMAT, "version": VERSION, "family": fitted.family, "params": fitted.params,
              "higher_better": fitted.higher_better, **meta}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(record, sort_keys=True, default=_plain)), **fitted.arrays())
    return buf.getvalue()


def _plain(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    raise TypeError(type(obj).__name__)


def load(path: str | Path) -> tuple[Fitted, dict[str, Any]]:
    """(the fitted model, its meta) from a model file; one-line errors for anything unexpected."""
    p = Path(path)
    what = f"model file {str(p)!r}"
    if not p.is_file():
        raise IQABenchError(f"{what} does not exist")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise IQABenchError(f"{what} is not an iqabench model (.npz readable without pickle): {exc}") from None
    if "meta" not in arrays or arrays["meta"].dtype.kind != "U" or arrays["meta"].ndim != 0:
        raise IQABenchError(f"{what} has no text 'meta' record: not an iqabench model file")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as exc:
        raise IQABenchError(f"{what}: its meta record is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise IQABenchError(f"{what}: format {meta.get('format')!r} version {meta.get('version')!r}; "
                            f"expected {FORMAT} version {VERSION}")
    family = meta.get("family")
    if family not in _ARRAYS:
        raise IQABenchError(f"{what}: unknown model family {family!r} (known: {', '.join(_ARRAYS)})")
    expected = _ARRAYS[family]
    if set(arrays) != set(expected):
        raise IQABenchError(f"{what}: a {family} model holds arrays {sorted(expected)}, this file {sorted(arrays)}")
    for name, ndim in expected.items():
        a = arrays[name]
        if a.ndim != ndim or a.dtype.kind != "f" or not np.isfinite(a).all():
            raise IQABenchError(f"{what}: array {name!r} must be finite floats of {ndim} dimension(s), "
                                f"got {a.dtype} {a.shape}")
    dim = (meta.get("method") or {}).get("feature_dim")
    params = meta.get("params") or {}
    higher_better = meta.get("higher_better")
    if not isinstance(dim, int) or not isinstance(higher_better, bool):
        raise IQABenchError(f"{what}: meta lacks method.feature_dim or higher_better")
    if family == "ridge":
        if arrays["coef"].shape != (dim,):
            raise IQABenchError(f"{what}: coef has shape {arrays['coef'].shape}, the features are {dim}-d")
        fitted: Fitted = LinearFitted(arrays["coef"], float(arrays["intercept"]), params, higher_better)
    else:
        s, d, lo, hi, yr = (arrays[k] for k in ("support", "dual", "x_min", "x_max", "y_range"))
        if s.shape[1:] != (dim,) or d.shape != (s.shape[0],) or lo.shape != (dim,) or hi.shape != (dim,) or yr.shape != (2,):
            raise IQABenchError(f"{what}: SVR arrays do not fit together ({dim}-d features, support {s.shape}, "
                                f"dual {d.shape}, x_min {lo.shape}, x_max {hi.shape}, y_range {yr.shape})")
        if not (isinstance(params.get("gamma"), (int, float)) and params["gamma"] > 0):
            raise IQABenchError(f"{what}: SVR params lack a positive gamma")
        fitted = SVRFitted(s, d, float(arrays["intercept"]), lo, hi, float(yr[0]), float(yr[1]), params, higher_better)
    return fitted, meta


def method_meta(method, feature_dim: int) -> dict[str, Any]:
    """What a model file records of the method whose features it was fitted on."""
    from .cache import method_key

    ident = method.identity()
    return {
        "name": method.name,
        "key": method_key(ident),
        "display_name": ident.get("display_name"),
        "weights_sha256": ident.get("weights_sha256"),
        "weights_identity": ident.get("weights_identity"),
        "views": ident.get("views"),
        "options": ident.get("options"),
        "version": ident.get("version"),
        "feature_dim": int(feature_dim),
    }


def label_meta(dataset) -> dict[str, Any]:
    spec = dataset.score_spec
    return {"dataset": dataset.name, "label": dataset.label, "higher_better": spec.higher_better,
            "range": list(spec.range)}


def model_files(method, dataset, fitted_by_name: dict[str, Fitted], *, feature_dim: int, splits=None,
                trained_on: dict[str, dict[str, Any]] | None = None) -> dict[str, bytes]:
    """``models/<name>.npz`` bytes for each fitted model (the identity has nothing to save)."""
    out = {}
    for name, fitted in fitted_by_name.items():
        if fitted.family not in _ARRAYS:
            continue
        meta = {
            "method": method_meta(method, feature_dim),
            "label": label_meta(dataset),
            "trained_on": {
                **((trained_on or {}).get(name) or {}),
                "split_set": (splits.meta.get("set") if splits is not None else None),
                "splits_sha256": (splits.meta.get("sha256") if splits is not None else None),
            },
        }
        out[f"models/{name}.npz"] = to_bytes(fitted, meta)
    return out
