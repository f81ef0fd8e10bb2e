"""Quality models: how a method's output becomes one quality prediction per image, by one rule.

Three families, one contract:

* ``ridge`` — scikit-learn ``Ridge(alpha)`` semantics (intercept fitted), solved for a whole grid
  of alphas at once (:class:`iqabench.ridge.RidgePath`): ARNIQA's regressor, the default for
  learned features;
* ``svr`` — an RBF epsilon-support-vector regressor on features scaled to [−1, 1] (libsvm's
  ``svm-scale -l -1 -u 1`` over the training rows), with C and gamma on a grid: BRISQUE's regressor
  as its authors define it. The training labels are mapped linearly to 0–100 (the DMOS scale of
  the LIVE release's BRISQUE model) so that libsvm's default ``epsilon = 0.1`` means the same
  on every label scale; predictions are mapped back;
* ``identity`` — a ``scores`` method's own score: nothing to fit.

**The selection rule** (:func:`select`), the same for every family and every protocol: for each
split, fit the training images' feature rows (each row carries its image's label) at every grid
point; predict the validation images (an image's prediction is the mean over its rows); the
chosen grid point is the argmax of the **median over splits of the validation SRCC** (ties: the
first in grid order, i.e. the smaller alpha); the test numbers of every split use that point.
:func:`refit` then fits every image of a dataset at the chosen point (cross-dataset training,
gMAD/Waterloo scoring, the saved "all images" model).

A :class:`Fitted` model is plain arrays (:meth:`Fitted.arrays`), so it can be saved and read
back without pickle, and predicts without scikit-learn.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import IQABenchError
from .metrics import orient, srcc_columns
from .options import Unset
from .ridge import RidgePath

FAMILIES = ("ridge", "svr", "identity")

# Protocol options shared by every protocol that fits a quality model.
MODEL_OPTIONS: dict[str, Any] = {
    "regressor": Unset(str),  # unset: each method's own default (Method.default_regressor): ridge, or svr for BRISQUE
    "n_alphas": 100,
    "alpha_min": 1e-3,
    "alpha_max": 1e3,
    # log2 grids as "first:last:step" (inclusive), the notation of libsvm's grid.py
    "svr_log2c": "-3:13:2",
    "svr_log2gamma": "-11:1:2",
}
SVR_EPSILON = 0.1  # libsvm's default, on labels mapped to 0-100
SVR_LABEL_SCALE = 100.0


# -- fitted models ------------------------------------------------------------------------------
class Fitted(ABC):
    """A model fitted at one grid point: feature rows → raw predictions (on the label's scale)."""

    family: ClassVar[str] = ""

    def __init__(self, params: dict[str, float], higher_better: bool):
        self.params = dict(params)
        self.higher_better = bool(higher_better)  # direction of the raw predictions

    @abstractmethod
    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        """``n × D`` rows → ``n`` raw predictions."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the model is, as named arrays (saved as .npz; no pickle)."""

    @property
    def n_features(self) -> int | None:
        return None


class LinearFitted(Fitted):
    family = "ridge"

    def __init__(self, coef: np.ndarray, intercept: float, params: dict[str, float], higher_better: bool):
        super().__init__(params, higher_better)
        self.coef = np.asarray(coef, dtype=np.float64).ravel()
        self.intercept = float(intercept)

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.float64) @ self.coef + self.intercept

    def arrays(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef, "intercept": np.array(self.intercept)}

    @property
    def n_features(self) -> int:
        return len(self.coef)


class SVRFitted(Fitted):
    """``f(x) = Σ_i dual_i · exp(−gamma ‖s(x) − sv_i‖²) + b``, with ``s`` the [−1, 1] scaling."""

    family = "svr"

    def __init__(self, support: np.ndarray, dual: np.ndarray, intercept: float, x_min: np.ndarray,
                 x_max: np.ndarray, y_min: float, y_max: float, params: dict[str, float], higher_better: bool):
        super().__init__(params, higher_better)
        self.support = np.asarray(support, dtype=np.float64)
        self.dual = np.asarray(dual, dtype=np.float64).ravel()
        self.intercept = float(intercept)
        self.x_min = np.asarray(x_min, dtype=np.float64)
        self.x_max = np.asarray(x_max, dtype=np.float64)
        self.y_min, self.y_max = float(y_min), float(y_max)

    def scale(self, rows: np.ndarray) -> np.ndarray:
        return scale_features(rows, self.x_min, self.x_max)

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        x = self.scale(rows)
        gamma = self.params["gamma"]
        out = np.empty(len(x))
        for start in range(0, len(x), 4096):  # bounded memory: chunk × n_support kernel blocks
            chunk = x[start : start + 4096]
            d2 = (chunk**2).sum(1)[:, None] - 2.0 * chunk @ self.support.T + (self.support**2).sum(1)[None, :]
            out[start : start + 4096] = np.exp(-gamma * np.maximum(d2, 0.0)) @ self.dual + self.intercept
        return self.y_min + out * (self.y_max - self.y_min) / SVR_LABEL_SCALE

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "support": self.support,
            "dual": self.dual,
            "intercept": np.array(self.intercept),
            "x_min": self.x_min,
            "x_max": self.x_max,
            "y_range": np.array([self.y_min, self.y_max]),
        }

    @property
    def n_features(self) -> int:
        return len(self.x_min)


class IdentityFitted(Fitted):
    """A scores method's own score (its first and only column)."""

    family = "identity"

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        return rows[:, 0] if rows.ndim == 2 else rows

    def arrays(self) -> dict[str, np.ndarray]:
        return {}


def scale_features(rows: np.ndarray, x_min: np.ndarray, x_max: np.ndarray) -> np.ndarray:
    """libsvm's ``svm-scale -l -1 -u 1``: per feature to [−1, 1]; a constant feature becomes 0."""
    rows = np.asarray(rows, dtype=np.float64)
    span = x_max - x_min
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, -1.0 + 2.0 * (rows - x_min) / safe, 0.0)


# -- families --------------------------------------------------------------------------------------
class PathFit(ABC):
    """One training set fitted at every grid point."""

    @abstractmethod
    def predict(self, rows: np.ndarray) -> np.ndarray:
        """``n × D`` rows → ``n × G`` raw predictions (one column per grid point)."""

    @abstractmethod
    def model(self, g: int) -> Fitted:
        """The fitted model at grid point ``g``."""

    def compact(self) -> PathFit | None:
        """A light copy that can still give :meth:`model` for any point, or None if that costs as
        much as refitting (the selection then refits the chosen point)."""
        return None


class QualityModel(ABC):
    """A family of quality models with a hyper-parameter grid."""

    name: ClassVar[str] = ""
    trains: ClassVar[bool] = True  # False for the identity: nothing is fitted

    def __init__(self, higher_better: bool = True):
        self.higher_better = higher_better  # direction of the training label (identity: of the scores)

    @abstractmethod
    def grid(self) -> list[dict[str, float]]: ...

    @abstractmethod
    def fit_path(self, rows: np.ndarray, labels: np.ndarray) -> PathFit: ...

    def fit(self, rows: np.ndarray, labels: np.ndarray, params: dict[str, float]) -> Fitted:
        """The model at ``params`` (a point of :meth:`grid`), fitted on ``rows``."""
        grid = self.grid()
        if params not in grid:
            raise IQABenchError(f"internal error: {params} is not on the {self.name} grid")
        return self.fit_path(rows, labels).model(grid.index(params))

    def describe(self) -> str:
        return self.name

    def config(self) -> dict[str, Any]:
        return {"regressor": self.name}

    def with_direction(self, higher_better: bool) -> QualityModel:
        """The same family and grid for a label of the given direction."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.higher_better = higher_better
        return clone


class Ridge(QualityModel):
    name = "ridge"

    def __init__(self, alphas: np.ndarray, higher_better: bool = True):
        super().__init__(higher_better)
        self.alphas = np.asarray(alphas, dtype=np.float64)

    def grid(self) -> list[dict[str, float]]:
        return [{"alpha": float(a)} for a in self.alphas]

    def fit_path(self, rows: np.ndarray, labels: np.ndarray) -> PathFit:
        return _RidgePathFit(RidgePath(rows, labels), self.alphas, self.higher_better)

    def describe(self) -> str:
        a = self.alphas
        return f"ridge, alpha from geomspace({a[0]:g}, {a[-1]:g}, {len(a)})"

    def config(self) -> dict[str, Any]:
        a = self.alphas
        return {"regressor": "ridge", "alphas": f"geomspace({a[0]:g}, {a[-1]:g}, {len(a)})"}


class _RidgePathFit(PathFit):
    def __init__(self, path: RidgePath, alphas: np.ndarray, higher_better: bool):
        self.path, self.alphas, self.higher_better = path, alphas, higher_better

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.path.predict(rows, self.alphas)

    def model(self, g: int) -> Fitted:
        alpha = float(self.alphas[g])
        return LinearFitted(self.path.coef(alpha), self.path.intercept(alpha), {"alpha": alpha}, self.higher_better)

    def compact(self) -> PathFit:
        return _RidgeCoefs(self.path, self.alphas, self.higher_better)


class _RidgeCoefs(PathFit):
    """The coefficients of every alpha (D × G: megabytes), without the D × D eigenbasis."""

    def __init__(self, path: RidgePath, alphas: np.ndarray, higher_better: bool):
        self.alphas, self.higher_better = alphas, higher_better
        self.coefs = path.basis @ (path.proj[:, None] / (path.evals[:, None] + alphas[None, :]))
        self.intercepts = path.y_mean - path.x_mean @ self.coefs

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.float64) @ self.coefs + self.intercepts

    def model(self, g: int) -> Fitted:
        return LinearFitted(self.coefs[:, g], self.intercepts[g], {"alpha": float(self.alphas[g])}, self.higher_better)


class SVR(QualityModel):
    name = "svr"

    def __init__(self, log2c: list[float], log2gamma: list[float], higher_better: bool = True):
        super().__init__(higher_better)
        self.log2c, self.log2gamma = list(log2c), list(log2gamma)

    def grid(self) -> list[dict[str, float]]:
        return [{"C": 2.0**c, "gamma": 2.0**g} for c in self.log2c for g in self.log2gamma]

    def fit_path(self, rows: np.ndarray, labels: np.ndarray) -> PathFit:
        return _SVRPathFit(self, self.grid(), rows, labels)

    def fit(self, rows: np.ndarray, labels: np.ndarray, params: dict[str, float]) -> Fitted:
        return _SVRPathFit(self, [params], rows, labels).model(0)

    def describe(self) -> str:
        return (f"RBF epsilon-SVR on features scaled to [-1, 1], log2 C in {_span(self.log2c)}, "
                f"log2 gamma in {_span(self.log2gamma)}")

    def config(self) -> dict[str, Any]:
        return {
            "regressor": "svr",
            "log2_C": self.log2c,
            "log2_gamma": self.log2gamma,
            "epsilon": SVR_EPSILON,
            "labels": f"mapped linearly to 0-{SVR_LABEL_SCALE:g} on the training images",
            "features": "scaled to [-1, 1] over the training rows (svm-scale)",
        }


class _SVRPathFit(PathFit):
    """SVR has no solution path: every grid point is its own fit (cheap per point on 36-d features)."""

    def __init__(self, family: SVR, grid: list[dict[str, float]], rows: np.ndarray, labels: np.ndarray):
        from sklearn.svm import SVR as SkSVR

        rows, labels = np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.float64)
        if len(rows) < 2:
            raise IQABenchError("SVR needs at least 2 training rows")
        self.x_min, self.x_max = rows.min(axis=0), rows.max(axis=0)
        self.y_min, self.y_max = float(labels.min()), float(labels.max())
        if self.y_max == self.y_min:
            raise IQABenchError("SVR: every training label is the same value")
        x = scale_features(rows, self.x_min, self.x_max)
        y = (labels - self.y_min) * SVR_LABEL_SCALE / (self.y_max - self.y_min)
        self.models: list[Fitted] = []
        for params in grid:
            sk = SkSVR(kernel="rbf", C=params["C"], gamma=params["gamma"], epsilon=SVR_EPSILON, cache_size=500)
            sk.fit(x, y)
            self.models.append(
                SVRFitted(sk.support_vectors_, sk.dual_coef_[0], float(sk.intercept_[0]), self.x_min, self.x_max,
                          self.y_min, self.y_max, params, family.higher_better)
            )

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.stack([m.predict_rows(rows) for m in self.models], axis=1)

    def model(self, g: int) -> Fitted:
        return self.models[g]


class Identity(QualityModel):
    name = "identity"
    trains = False

    def grid(self) -> list[dict[str, float]]:
        return [{}]

    def fit_path(self, rows: np.ndarray, labels: np.ndarray) -> PathFit:
        return _IdentityPathFit(IdentityFitted({}, self.higher_better))

    def describe(self) -> str:
        return "the method's own scores (nothing fitted)"


class _IdentityPathFit(PathFit):
    def __init__(self, fitted: IdentityFitted):
        self.fitted = fitted

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.fitted.predict_rows(rows)[:, None]

    def model(self, g: int) -> Fitted:
        return self.fitted

    def compact(self) -> PathFit:
        return self


def _span(values: list[float]) -> str:
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


# -- from options ----------------------------------------------------------------------------------
def log2_grid(text: str, option: str) -> list[float]:
    """``"first:last:step"`` (inclusive, as libsvm's grid.py) or a comma list of log2 values."""
    text = str(text).strip()
    try:
        if ":" in text:
            first, last, step = (float(p) for p in text.split(":"))
            if not all(math.isfinite(v) for v in (first, last, step)) or step == 0 or (last - first) / step < 0:
                raise ValueError
            n = int(math.floor((last - first) / step + 1e-9)) + 1
            values = [first + k * step for k in range(n)]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise IQABenchError(
            f"protocol option {option}={text!r}: expected FIRST:LAST:STEP (e.g. -3:13:2) or a comma list of log2 values"
        ) from None
    if not values or len(values) > 1000 or not all(math.isfinite(v) and abs(v) <= 60 for v in values):
        raise IQABenchError(f"protocol option {option}={text!r}: needs 1 to 1000 finite log2 values within ±60")
    return values


def alpha_grid(options: dict[str, Any]) -> np.ndarray:
    """``geomspace(alpha_min, alpha_max, n_alphas)``: ARNIQA's ``geomspace(1e-3, 1e3, 100)`` by default."""
    n, lo, hi = options["n_alphas"], options["alpha_min"], options["alpha_max"]
    if not isinstance(n, int) or n < 1:
        raise IQABenchError(f"protocol option n_alphas must be a whole number >= 1, got {n!r}")
    for key, v in (("alpha_min", lo), ("alpha_max", hi)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise IQABenchError(f"protocol option {key} must be a finite number > 0, got {v!r}")
    if lo > hi:
        raise IQABenchError(f"protocol options alpha_min ({lo:g}) must not exceed alpha_max ({hi:g})")
    return np.geomspace(lo, hi, n)


def family_from_options(options: dict[str, Any]) -> dict[str, QualityModel]:
    """Every trainable family configured from a protocol's options (validated now, before any work)."""
    if options["regressor"] not in (None, "ridge", "svr"):
        raise IQABenchError(f"protocol option regressor must be ridge or svr (or empty: each method's default), "
                            f"got {options['regressor']!r}")
    return {
        "ridge": Ridge(alpha_grid(options)),
        "svr": SVR(log2_grid(options["svr_log2c"], "svr_log2c"), log2_grid(options["svr_log2gamma"], "svr_log2gamma")),
    }


def model_for(method, options: dict[str, Any], families: dict[str, QualityModel], higher_better: bool) -> QualityModel:
    """The quality model of ``method`` under a protocol's options, for a label of direction ``higher_better``.

    Scores methods get the identity (oriented by the method); features methods the protocol's
    ``regressor`` option, else the method's own default (``Method.default_regressor``)."""
    if method.kind == "scores":
        return Identity(method.higher_better)
    name = options.get("regressor") or method.default_regressor
    if name not in families:
        raise IQABenchError(f"method {method.name!r}: unknown regressor {name!r} (regressors: ridge, svr)")
    return families[name].with_direction(higher_better)


# -- the selection rule ----------------------------------------------------------------------------
@dataclass
class Selection:
    """The outcome of :func:`select` on one dataset's splits."""

    model: QualityModel
    index: int  # chosen grid point
    val_srcc: np.ndarray  # splits × grid points
    split_models: list[Fitted]  # per split, fitted on its training images at the chosen point
    test: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # per split (positions, raw preds)

    @property
    def params(self) -> dict[str, float]:
        return self.model.grid()[self.index]

    @property
    def val_srcc_median(self) -> float:
        return float(_median_over_splits(self.val_srcc)[self.index])

    def curve(self):
        """Validation SRCC of every grid point: median and per split (a DataFrame)."""
        import pandas as pd

        grid = self.model.grid()
        frame = pd.DataFrame(grid if grid and grid[0] else [{} for _ in grid])
        frame["val_srcc_median"] = _median_over_splits(self.val_srcc)
        for k in range(self.val_srcc.shape[0]):
            frame[f"val_srcc_split_{k + 1:02d}"] = self.val_srcc[k]
        return frame


def _median_over_splits(val_srcc: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():  # an all-NaN column (constant predictions) is reported as NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.where(np.isfinite(val_srcc), val_srcc, np.nan), axis=0)


def choose(val_srcc: np.ndarray) -> int:
    """Argmax over grid points of the median validation SRCC over splits; ties: the first point."""
    med = _median_over_splits(val_srcc)
    if not np.isfinite(med).any():
        raise IQABenchError("validation SRCC is undefined at every grid point (constant predictions or labels)")
    return int(np.nanargmax(med))


def select(model: QualityModel, data, splits, *, test: bool = True, progress: Any = None) -> Selection:
    """Fit every split at every grid point, choose on validation, predict each test part at the choice.

    ``data`` is an :class:`iqabench.evaluation.Labelled`; ``test=False`` skips the test parts (model
    selection during training, where only train and val images are extracted); ``progress``, if
    given, is called once per split."""
    n_grid = len(model.grid())
    val_srcc = np.full((len(splits), n_grid), np.nan)
    kept, trains, tests = [], [], []
    for k in range(len(splits)):
        train, val, held_out = (data.positions(ids) for ids in splits.parts(k))
        if len(train) < 2 or len(val) < 2 or (test and len(held_out) < 2):
            raise IQABenchError(
                f"split {k + 1}: too few images with features (train {len(train)}, val {len(val)}, test {len(held_out)})"
            )
        path = model.fit_path(*data.training_rows(train))
        vpos, vpred = data.predict(path.predict, val)
        val_srcc[k] = srcc_columns(orient(vpred, model.higher_better), data.oriented_labels(vpos))
        if test:
            tests.append(data.predict(path.predict, held_out))
        kept.append(path.compact())
        trains.append(train)
        del path  # ridge: the D × D eigenbasis of one split at a time
        if progress is not None:
            progress()
    best = choose(val_srcc) if model.trains and n_grid > 1 else 0
    params = model.grid()[best]
    return Selection(
        model=model,
        index=best,
        val_srcc=val_srcc,
        split_models=[
            c.model(best) if c is not None else model.fit(*data.training_rows(tr), params) for c, tr in zip(kept, trains)
        ],
        test=[(pos, pred[:, best]) for pos, pred in tests],
    )


def predict_images(fitted: Fitted, table) -> np.ndarray:
    """Quality of every image of a :class:`~iqabench.features.FeatureTable` (aligned with its
    ``image_ids``): the crop-averaged prediction, oriented higher = better."""
    mask = np.ones(len(table.rows), dtype=bool)
    pos, pred = table.image_mean(fitted.predict_rows(table.rows), mask)
    out = np.full(table.n_images, np.nan)
    out[pos] = pred
    return orient(out, fitted.higher_better)


def refit(model: QualityModel, data, params: dict[str, float] | None = None) -> Fitted:
    """``model`` at ``params`` fitted on every image of ``data`` (identity: nothing to fit)."""
    everything = np.arange(data.table.n_images)
    return model.fit(*data.training_rows(everything), params if params is not None else model.grid()[0])
