"""The Method contract.

A method turns a batch of RGB images (``N×3×H×W`` float tensors in [0, 1] on its device) into
either features (``kind = "features"``: protocols fit a ridge regressor on them) or quality
scores (``kind = "scores"``: used directly, oriented by ``higher_better``).

Subclasses declare class attributes and implement :meth:`extract`::

    @register_method("mine")
    class Mine(Method):
        description = "Mean and std of the luminance"
        kind = "features"
        views = Views(crops=0, scales=(1.0, 0.5))

        def extract(self, batch):
            return torch.stack([batch.mean((1, 2, 3)), batch.std((1, 2, 3))], dim=1)

Constructor arguments: ``weights`` (a file the user supplies, or None), ``device`` and
``options`` (strings from ``--method-option key=value``, converted to the type of the matching
entry in ``option_defaults``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path
from typing import Any, ClassVar

import torch

from .errors import IQABenchError
from .options import parse_options
from .paths import existing_file
from .registry import SOURCE_SHA256_ATTR
from .views import Views


class Method:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[str] = "features"  # "features" | "scores"
    higher_better: ClassVar[bool] = True  # direction of the scores of a "scores" method
    # Quality model the protocols fit on a "features" method's output unless told otherwise
    # (--protocol-option regressor=...): "ridge" (ARNIQA's) or "svr" (BRISQUE's).
    default_regressor: ClassVar[str] = "ridge"
    method_type: ClassVar[str] = "other"  # the "Type" column of the report's Table 1
    views: ClassVar[Views] = Views()
    option_defaults: ClassVar[dict[str, Any]] = {}
    accepts_weights: ClassVar[bool] = False
    # Bump when preprocessing or extraction changes, so cached features are not reused. Methods
    # defined outside iqabench are also keyed by their source (code_sha256); built-ins only by this.
    version: ClassVar[str] = "1"
    # The release (a key of iqabench/data/published_weights.yaml) whose weights the method's published
    # numbers were measured with; None for methods without weights.
    published_weights: ClassVar[str | None] = None
    # Recommended number of crops per forward pass.
    batch_size: ClassVar[int] = 32

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu", **options: Any):
        self.device = torch.device(device)
        self.options = self._parse_options(options)
        if weights is not None and not self.accepts_weights:
            raise IQABenchError(f"method {self.name!r} takes no --weights file")
        self.weights_path = existing_file(weights, "weights file") if weights is not None else None
        self._weights_sha256: str | None = None
        self.published_as: str | None = None  # `run --published-as NAME`: the user asserts the weights are that release
        self._check_contract()

    # -- to implement -------------------------------------------------------------------------
    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        """``N×3×H×W`` in [0, 1] → ``N×D`` features, or ``N`` scores."""
        raise NotImplementedError

    @classmethod
    def demo_variants(cls, device: str = "cpu") -> list[dict[str, Any]]:
        """Configurations ``iqabench demo`` runs on the demo data: ``[{"weights": ..., "options": {...}}]``.

        Default: the method as it is, once. Methods that need weights the user must supply return
        ``[]``; self-supervised methods may train a small demo model here and return it.
        """
        return [{}]

    # -- provenance ---------------------------------------------------------------------------
    @property
    def weights_sha256(self) -> str | None:
        if self.weights_path is not None and self._weights_sha256 is None:
            self._weights_sha256 = sha256_file(self.weights_path)
        return self._weights_sha256

    def weights_identity(self) -> str:
        """What the numbers depend on besides the code: the weights file hash, or a description."""
        return self.weights_sha256 or "none"

    def display_name(self) -> str:
        """Row label in reports; methods with trainable weights add what the weights are."""
        return self.name

    def paper_issues(self) -> list[str]:
        """Why this configuration's numbers cannot stand beside the method's published ones (empty: nothing
        known stands in the way). The default checks the weights against :attr:`published_weights`."""
        from .comparability import weights_issue

        if self.published_weights is None:
            return []
        issue = weights_issue(self.published_weights, self.weights_sha256, self.published_as)
        return [f"{self.name}: {issue}"] if issue else []

    def fitted_on(self) -> set[str]:
        """Datasets whose images the method's output was fitted on (e.g. a released per-dataset regressor)."""
        return set()

    def note(self) -> str | None:
        """A sentence that reports show under the method's row (e.g. what a demo training recipe is and
        why its row is weak); None for most methods. Not part of the cache key."""
        return None

    def identity(self) -> dict[str, Any]:
        """Everything that determines the features: the cache key and the result's provenance."""
        ident = {
            "name": self.name,
            "display_name": self.display_name(),
            "kind": self.kind,
            "higher_better": self.higher_better,
            "method_type": self.method_type,
            "views": self.views.to_dict(),
            "options": {k: self.options[k] for k in sorted(self.options)},
            "weights": str(self.weights_path) if self.weights_path else None,
            "weights_sha256": self.weights_sha256,
            "weights_identity": self.weights_identity(),
            "version": self.version,
            "published_as": self.published_as,
            "code_sha256": code_sha256(type(self)),
        }
        if note := self.note():
            ident["note"] = note
        return ident

    # -- helpers ------------------------------------------------------------------------------
    def _parse_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return parse_options(f"method {self.name!r}", options, self.option_defaults)

    def _check_contract(self) -> None:
        if self.kind not in ("features", "scores"):
            raise IQABenchError(f"method {self.name!r}: kind must be 'features' or 'scores', not {self.kind!r}")
        if self.default_regressor not in ("ridge", "svr"):
            raise IQABenchError(f"method {self.name!r}: default_regressor must be 'ridge' or 'svr', not {self.default_regressor!r}")
        if self.kind == "scores" and len(self.views.scales) != 1:
            raise IQABenchError(f"method {self.name!r}: a scores method must use a single scale")


def code_sha256(cls: type) -> str | None:
    """SHA-256 of the source of a method class defined outside iqabench (None for built-ins).

    Covers the module of the class and of every base class outside iqabench (a plugin that
    subclasses another plugin): for a ``--plugin`` file the bytes that were executed, for an
    installed module its source file as it is on disk. Code in other modules the method calls
    is not covered: such a method bumps ``version`` when it changes."""
    parts = []
    for klass in cls.__mro__:
        module_name = getattr(klass, "__module__", "") or ""
        if klass is object or module_name == "iqabench" or module_name.startswith("iqabench."):
            continue
        module = sys.modules.get(module_name)
        digest = getattr(module, SOURCE_SHA256_ATTR, None)
        if digest is None:
            source = getattr(module, "__file__", None)
            if not source or not source.endswith(".py") or not os.path.isfile(source):
                continue  # no source to hash (e.g. defined interactively): version alone keys it
            digest = _cached_file_sha256(source)
        parts.append(f"{module_name}:{digest}")
    if not parts:
        return None
    return hashlib.sha256("\n".join(dict.fromkeys(parts)).encode()).hexdigest()


@functools.lru_cache(maxsize=256)
def _file_sha256_at(path: str, mtime_ns: int, ctime_ns: int, size: int) -> str:
    return sha256_file(path)


def _cached_file_sha256(path: str) -> str:
    st = os.stat(path)
    return _file_sha256_at(path, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def config_note(weights: Any) -> str | None:
    """The ``note`` of the training config an iqabench checkpoint records (``weights``: any of the
    models' read weight files, with ``format`` and ``info``); None for other files and for none."""
    if weights is None or weights.format != "iqabench":
        return None
    return (weights.info.get("config") or {}).get("note") or None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
