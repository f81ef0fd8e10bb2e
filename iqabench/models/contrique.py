"""The CONTRIQUE network (Madhusudana et al., IEEE TIP 2022), its weight files and released regressors.

Network (baselines.md §2.1–2.2; ``pavancm/CONTRIQUE`` ``modules/CONTRIQUE_model.py``): a ResNet
encoder in torchvision's layout (:func:`iqabench.models.encoders.build_encoder`; the reference's
``nn.Sequential(*resnet.children()[:-2])`` without classifier and pool) gives a feature map. The
*representation* the regressors use is its global average, L2-normalised (2048-d for ResNet-50).
For training, the map is also pooled to a 2×2 grid of patch features, each L2-normalised and
projected by ``Linear(d, d, no bias) → BatchNorm1d → ReLU → Linear(d, 128, no bias) →
BatchNorm1d``. Inputs are RGB in [0, 1] **without** ImageNet normalisation.

Weight files (:func:`read_weights`), read with ``torch.load(weights_only=True)`` only:

======================  =====================================================================================
``contrique-release``   the released ``CONTRIQUE_checkpoint25.tar``: the reference model's plain state dict,
                        ``encoder.0.*`` (conv1), ``encoder.1.*`` (bn1), ``encoder.4.*``–``encoder.7.*``
                        (layer1–4), ``projector.{0,1,3,4}.*``; nothing else
``iqabench``            checkpoints of ``iqabench train contrique`` (complete or slim): ``model`` holds
                        ``encoder.<torchvision name>`` and ``projector.*``; ``model_info`` the backbone and
                        the demo configurations' input downscale factor
======================  =====================================================================================

The released per-dataset regressors (``models/*.save``: scikit-learn ``Ridge`` objects pickled by
``train_regressor.py``) are read by :class:`ReleasedRidge` through
:func:`iqabench.safe_pickle.load_restricted`, never ``pickle.load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import IQABenchError
from ..safe_pickle import Record, load_restricted
from .arniqa import CHECKPOINT_FORMAT, load_file
from .encoders import (
    FEATURE_DIMS,
    SEQUENTIAL_NAMES,
    TrainingRecord,
    build_encoder,
    from_sequential,
    infer_backbone,
    load_encoder_state,
    split_keys,
    strip_prefix,
)

TRAINER = "contrique"
BACKBONES = ("resnet50", "resnet18")  # resnet18: the offline demo configuration only
PROJECTION_DIM = 128
PATCH_GRID = (2, 2)
FORMAT_LABELS = {"contrique-release": "released weights"}
# The reference's nn.Sequential(*resnet.children()[:-2]) numbering ↔ torchvision names.
TORCHVISION_INDEX = {v: k for k, v in SEQUENTIAL_NAMES.items()}


class ContriqueNet(nn.Module):
    def __init__(self, backbone: str = "resnet50", projection_dim: int = PROJECTION_DIM):
        super().__init__()
        if backbone not in BACKBONES:
            raise IQABenchError(f"CONTRIQUE backbone {backbone!r} is not one of {', '.join(BACKBONES)}")
        self.backbone = backbone
        self.feature_dim = d = FEATURE_DIMS[backbone]
        self.encoder = build_encoder(backbone)
        self.projector = nn.Sequential(
            nn.Linear(d, d, bias=False), nn.BatchNorm1d(d), nn.ReLU(), nn.Linear(d, projection_dim, bias=False),
            nn.BatchNorm1d(projection_dim),
        )

    def feature_map(self, x: Tensor) -> Tensor:
        e = self.encoder
        x = e.maxpool(e.relu(e.bn1(e.conv1(x))))
        return e.layer4(e.layer3(e.layer2(e.layer1(x))))

    def representation(self, x: Tensor) -> Tensor:
        """RGB in [0, 1], ``N×3×H×W`` → the L2-normalised global feature ``N×d`` (the encoder's own
        global average pool, as the reference's ``AdaptiveAvgPool2d((1, 1))``)."""
        return F.normalize(self.encoder(x).float(), dim=1)

    def patch_projections(self, x: Tensor) -> Tensor:
        """``N×3×H×W`` → ``4N × 128`` projections of the 2×2 patch features, image-major (the 4 patches
        of image 0 first), each patch feature L2-normalised before the projector."""
        h = F.adaptive_avg_pool2d(self.feature_map(x), PATCH_GRID)
        h = h.flatten(2).transpose(1, 2).reshape(-1, self.feature_dim)
        return self.projector(F.normalize(h, dim=1))

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        """Both views of a step (one forward pass, so DDP sees every parameter once): their patch
        projections, the encoder run on each stack separately (batch-norm statistics per view)."""
        return self.patch_projections(x1), self.patch_projections(x2)


def reference_name(name: str) -> str:
    """A parameter's name in the reference's model (``encoder.layer1.0.bn1.weight`` →
    ``encoder.4.0.bn1.weight``): the reference excludes parameters whose name contains "bn" from
    weight decay, which it decides on these names."""
    if name.startswith("encoder."):
        head, _, rest = name[len("encoder.") :].partition(".")
        return f"encoder.{TORCHVISION_INDEX.get(head, head)}.{rest}"
    return name


# -- weight files ---------------------------------------------------------------------------------
@dataclass
class Weights(TrainingRecord):
    path: Path
    format: str  # "contrique-release" | "iqabench"
    backbone: str
    encoder: dict[str, Tensor]  # torchvision names
    projector: dict[str, Tensor]
    info: dict[str, Any] = field(default_factory=dict)  # iqabench: config, model_info, epoch, global_step, kind



def read_weights(path: str | Path, what: str = "weights file") -> Weights:
    """Recognise the layout of ``path`` (see the module doc) and return its encoder and projector."""
    p = Path(path)
    label = f"{what} {str(p)!r}"
    obj = load_file(p, what)
    if not isinstance(obj, dict):
        raise IQABenchError(f"{label} holds a {type(obj).__name__}, not a state dict or checkpoint")
    if obj.get("format") == CHECKPOINT_FORMAT:
        trainer = obj.get("trainer")
        if trainer != TRAINER:
            raise IQABenchError(f"{label} is an iqabench {trainer!r} checkpoint, not a CONTRIQUE one "
                                "(iqabench train contrique)")
        model, info = obj.get("model"), obj.get("model_info") or {}
        if not isinstance(model, dict) or "backbone" not in info:
            raise IQABenchError(f"{label}: iqabench checkpoint without 'model' or 'model_info'")
        meta = {k: obj[k] for k in ("config", "model_info", "epoch", "iteration", "global_step", "kind") if k in obj}
        fmt, encoder, projector = "iqabench", strip_prefix(model, "encoder."), strip_prefix(model, "projector.")
    else:
        keys = [str(k) for k in obj]
        if not any(k.startswith("encoder.0.") for k in keys):
            raise IQABenchError(
                f"{label}: unrecognised layout (keys start {split_keys(keys)}); expected CONTRIQUE_checkpoint25.tar "
                "(encoder.0.*, …, projector.*) or an iqabench train contrique checkpoint"
            )
        other = [k for k in keys if not k.startswith(("encoder.", "projector."))]
        if other:
            raise IQABenchError(f"{label} (contrique-release layout): unexpected keys {split_keys(other)}")
        fmt, meta = "contrique-release", {}
        encoder, projector = from_sequential(strip_prefix(obj, "encoder."), label, "encoder."), strip_prefix(obj, "projector.")
    backbone = infer_backbone(list(encoder))
    if backbone not in BACKBONES:
        found = f"a {backbone}" if backbone else f"no ResNet encoder (keys {split_keys(list(encoder))})"
        raise IQABenchError(f"{label} ({fmt} layout) holds {found}; CONTRIQUE uses {' or '.join(BACKBONES)}")
    if fmt == "iqabench" and str(meta["model_info"]["backbone"]) != backbone:
        raise IQABenchError(f"{label}: model_info says {meta['model_info']['backbone']}, the weights are a {backbone}")
    return Weights(p, fmt, backbone, encoder, projector, meta)


def build_net(weights: Weights, what: str = "weights file") -> ContriqueNet:
    """A :class:`ContriqueNet` holding ``weights``: every encoder and projector key must match."""
    proj = weights.projector.get("3.weight")
    net = ContriqueNet(weights.backbone, int(proj.shape[0]) if isinstance(proj, Tensor) else PROJECTION_DIM)
    label = f"{what} {str(weights.path)!r} ({weights.format} layout, {weights.backbone})"
    load_encoder_state(net.encoder, weights.encoder, label)
    expected = net.projector.state_dict()
    missing = [k for k in expected if k not in weights.projector]
    unexpected = [k for k in weights.projector if k not in expected]
    shapes = [k for k in weights.projector if k in expected and weights.projector[k].shape != expected[k].shape]
    if missing or unexpected or shapes:
        parts = [f"missing keys {split_keys(missing)}" if missing else "",
                 f"unexpected keys {split_keys(unexpected)}" if unexpected else "",
                 f"shape mismatch at {shapes[0]}" if shapes else ""]
        raise IQABenchError(f"{label}: projector does not match: {'; '.join(s for s in parts if s)}")
    net.projector.load_state_dict(weights.projector)
    return net


# -- released regressors --------------------------------------------------------------------------
RIDGE_CLASSES = ("sklearn.linear_model._ridge.Ridge", "sklearn.linear_model.ridge.Ridge")  # sklearn ≥ 0.22, older


class ReleasedRidge:
    """A pickled scikit-learn ``Ridge`` (the release's ``models/*.save``), read as plain arrays.

    Prediction is scikit-learn's ``X @ coef_ᵀ + intercept_`` in the dtypes of the file (float32
    features and ``coef_`` in the release), so scores equal ``Ridge.predict`` on the same features."""

    def __init__(self, path: str | Path, what: str = "regressor"):
        self.path = Path(path)
        label = f"{what} {str(self.path)!r}"
        record = load_restricted(self.path, RIDGE_CLASSES, what)
        if not isinstance(record, Record):
            raise IQABenchError(f"{label} holds a {type(record).__name__}, not a pickled scikit-learn Ridge")
        state = record.state
        coef, intercept = state.get("coef_"), state.get("intercept_", 0.0)
        if not isinstance(coef, np.ndarray) or coef.ndim not in (1, 2) or (coef.ndim == 2 and coef.shape[0] != 1):
            raise IQABenchError(f"{label}: coef_ must be a vector or a 1×D array (a fitted Ridge of one target), "
                                f"got {getattr(coef, 'shape', type(coef).__name__)}")
        intercept = np.asarray(intercept)
        if intercept.size != 1 or intercept.dtype.kind not in "iuf":
            raise IQABenchError(f"{label}: intercept_ must be one number, got shape {intercept.shape}")
        self.coef = coef.reshape(-1)
        self.intercept = intercept.reshape(()) if intercept.ndim else intercept[()]
        self.n_features = int(self.coef.shape[0])
        declared = state.get("n_features_in_")
        if declared is not None and int(declared) != self.n_features:
            raise IQABenchError(f"{label}: n_features_in_ is {declared} but coef_ has {self.n_features} entries")
        self.alpha = state.get("alpha")
        self.sklearn_version = state.get("_sklearn_version")

    def predict(self, features: np.ndarray) -> np.ndarray:
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise IQABenchError(f"regressor {str(self.path)!r} takes {self.n_features}-d features, got {features.shape}")
        return features @ self.coef + self.intercept

    def describe(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "alpha": None if self.alpha is None else float(self.alpha),
                "coef_dtype": str(self.coef.dtype), "sklearn_version": self.sklearn_version}
