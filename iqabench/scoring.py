"""Score your own images with what you evaluated: a method plus (for features methods) a saved model.

::

    import iqabench
    score = iqabench.scorer(method="arniqa", weights="ARNIQA.pth", model="runs/<run-id>")
    score("photo.png")                       # array([3.71])  on the training label's scale
    score(["a.png", "b.png"]); score(pil_image); score(batch)   # batch: N×3×H×W in [0, 1]
    score.higher_better, score.label          # the direction and the label scale of the numbers

``model`` is a run folder (its ``models/all.npz``: the model refitted on every image of the
dataset; ``split=k`` takes split k's model) or a model file (:mod:`iqabench.saved_models`). A
scores method (NIQE, ARNIQA with a released ``regressor=``) needs no model. A model fitted on the
features of one method configuration (name, weights, views, options, version) refuses another's.
``iqabench score`` is this object on the command line.
"""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import registry
from .errors import IQABenchError
from .quality_models import Fitted, IdentityFitted
from .saved_models import load

log = logging.getLogger("iqabench")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}


def resolve_model(model: str | Path, split: int | None) -> tuple[Path, str]:
    """(model file, what it is) from a run folder or a file; ``split`` picks split k's model of a run."""
    p = Path(model).expanduser()
    if p.is_dir():
        folder = p / "models"
        if not folder.is_dir():
            raise IQABenchError(f"run folder {str(p)!r} holds no saved models (models/): its protocol fitted none, "
                                "or the method gives scores")
        name = f"split_{split:02d}.npz" if split is not None else "all.npz"
        path = folder / name
        if not path.is_file():
            names = ", ".join(sorted(f.name for f in folder.glob("*.npz")))
            raise IQABenchError(f"run folder {str(p)!r} has no models/{name} (it has: {names or 'none'})")
        what = f"split {split}'s model" if split is not None else "the final model refitted on all images"
        return path, what
    if split is not None:
        raise IQABenchError("--split picks a model inside a run folder; --model names a file")
    if not p.is_file():
        raise IQABenchError(f"model {str(p)!r} does not exist (give a run folder or a models/*.npz file)")
    return p, "model file"


@dataclass
class Scores:
    """The outcome of scoring: one row per image scored, and the ones that failed."""

    frame: pd.DataFrame  # image, score
    failures: list[tuple[str, str]] = field(default_factory=list)


class Scorer:
    """Quality of images by one method (and its saved model); the object ``iqabench score`` uses."""

    def __init__(self, method, fitted: Fitted, *, label: dict[str, Any], model_path: Path | None = None,
                 model_what: str = ""):
        self.method = method
        self.fitted = fitted
        self.label = label  # the scale of the scores: dataset, label, range (or the method's own scores)
        self.model_path = model_path
        self.model_what = model_what

    @property
    def higher_better(self) -> bool:
        return self.fitted.higher_better

    def describe(self) -> str:
        if self.model_path is None:
            return f"{self.method.display_name()}: its own scores"
        return (f"{self.method.display_name()} + {self.fitted.family} model {self.model_path} ({self.model_what}), "
                f"on the {self.label['dataset']} {self.label['label']} scale")

    def score_sources(self, sources: list, ids: list[str], *, on_error: str = "raise", batch_size: int | None = None,
                      workers: int = 0, desc: str = "score") -> Scores:
        from .features import extract_features

        index = pd.DataFrame({"image_id": ids, "path": sources})
        table = extract_features(self.method, index, on_error=on_error, batch_size=batch_size, workers=workers,
                                 desc=desc)
        mask = np.ones(len(table.rows), dtype=bool)
        _, pred = table.image_mean(self.fitted.predict_rows(table.rows), mask)
        return Scores(pd.DataFrame({"image": table.image_ids, "score": pred}), list(table.failures))

    def __call__(self, x) -> np.ndarray:
        """Scores of a path, a PIL image, a list of either, or an N×3×H×W tensor in [0, 1]."""
        sources = _as_sources(x)
        ids = [s if isinstance(s, str) else f"image {k}" for k, s in enumerate(sources)]
        return self.score_sources(sources, ids).frame["score"].to_numpy()


def _as_sources(x) -> list:
    import torch
    from PIL import Image

    if isinstance(x, (str, Path)):
        return [str(x)]
    if isinstance(x, Image.Image):
        return [x]
    if isinstance(x, torch.Tensor):
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] != 3:
            raise IQABenchError(f"a tensor to score must be N×3×H×W (RGB in [0, 1]), got {tuple(x.shape)}")
        # Methods read 8-bit RGB images (the datasets' form): the tensor is quantised as a PNG would be.
        arr = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return [Image.fromarray(np.ascontiguousarray(a)) for a in arr]
    if isinstance(x, (list, tuple)):
        out = []
        for item in x:
            out += _as_sources(item)
        return out
    raise IQABenchError(f"cannot score a {type(x).__name__}: give a path, a PIL image, a list, or an N×3×H×W tensor")


def scorer(method: str, weights: str | Path | None = None, model: str | Path | None = None, *, split: int | None = None,
           device: str = "auto", **options: Any) -> Scorer:
    """A :class:`Scorer` for ``method`` (with ``weights`` and method ``options``) and a saved ``model``."""
    from .devices import resolve_device

    cls = registry.methods.get(method)
    m = cls(weights=weights, device=resolve_device(device), **{k: str(v) for k, v in options.items()})
    if m.kind == "scores":
        if model is not None:
            raise IQABenchError(f"method {method!r} gives quality scores itself; it takes no --model")
        return Scorer(m, IdentityFitted({}, m.higher_better),
                      label={"dataset": None, "label": f"{m.name} score", "range": None})
    if model is None:
        raise IQABenchError(
            f"method {method!r} gives features: give --model, a run folder of a protocol that fitted a model on them "
            "(e.g. runs/<within_dataset run>) or one of its models/*.npz"
        )
    path, what = resolve_model(model, split)
    fitted, meta = load(path)
    check_same_method(m, meta, path)
    return Scorer(m, fitted, label=meta["label"], model_path=path, model_what=what)


def check_same_method(method, meta: dict[str, Any], path: Path) -> None:
    """A model scores only the features it was fitted on: same method, weights, views, options, version."""
    from .cache import method_key

    ident = method.identity()
    fitted_on = meta.get("method") or {}
    if fitted_on.get("key") == method_key(ident):
        return

    def who(d: dict[str, Any]) -> str:
        sha = d.get("weights_sha256") or d.get("weights_identity") or "none"
        return f"{d.get('display_name') or d.get('name')} (weights {str(sha)[:16]}, options {d.get('options') or {}})"

    raise IQABenchError(f"model {str(path)!r} was fitted on the features of {who(fitted_on)}, not of {who(ident)}")


def expand_inputs(items: list[str]) -> list[str]:
    """Image files from files, folders (recursive) and glob patterns, in a stable order; errors name the input."""
    out: list[str] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise IQABenchError(f"folder {item!r} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out += found
        elif p.is_file():
            out.append(str(p))
        elif any(c in item for c in "*?["):
            found = sorted(f for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
            if not found:
                raise IQABenchError(f"pattern {item!r} matches no file")
            out += found
        else:
            raise IQABenchError(f"image {item!r} does not exist")
    seen: set[str] = set()
    return [f for f in out if not (f in seen or seen.add(f))]
