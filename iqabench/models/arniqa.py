"""The ARNIQA network, the weight files it loads, and the released regressors' score scaling.

Network (arniqa.md §2.2): an encoder (ResNet-50 in torchvision's layout, classifier removed; see
:mod:`iqabench.models.encoders`) gives ``h``; the representation is ``f = h / ‖h‖`` (2048-d), the one the
ridge regressors use. The projector ``Linear(d, d) → ReLU → Linear(d, 128)`` maps ``f`` to
``z = g / ‖g‖``, used only by the training loss. Inputs are RGB in [0, 1]; ImageNet normalisation
happens inside :meth:`ARNIQANet.representation`.

Weight files (:func:`read_weights`), all loaded with ``weights_only=True``:

============================  ==========================================================================
``iqabench``                  training checkpoints written by ``iqabench train arniqa`` (complete or
                              slim): ``{"format": "iqabench-checkpoint", "model": {encoder.*,
                              projector.*}, "model_info": {backbone, crop_size, …}, "config": …}``
``arniqa-release``            the released ``ARNIQA.pth``: ``model.0.*`` (conv1), ``model.1.*`` (bn1),
                              ``model.4.*``–``model.7.*`` (layer1–4), ``projector.{0,2}.*``
``arniqa-reference``          the reference code's training checkpoints: ``encoder.model.<i>.*``,
                              ``encoder.projector.*`` (its "last" files wrap them in
                              ``model_state_dict``)
``torchvision``               a torchvision ResNet state dict (``conv1.*``, ``layer1.*``, ``fc.*``), e.g.
                              ImageNet weights: used by ``--init``; as ``--weights`` it evaluates the
                              plain ImageNet features (no ARNIQA training)
``timm``                      timm's ``seresnet50`` state dict (SE layers as 1×1 convolutions), e.g.
                              ImageNet SE-ResNet-50 weights for ``--init``
``senet-caffe``               the Caffe-converted SENet ``se_resnet50`` (timm's ``legacy_seresnet50``:
                              ``layer0.*``, ``se_module.*``, ``last_linear.*``); needs the Caffe stride
                              layout, which the encoder then uses
============================  ==========================================================================

The SE-ResNet-50 architecture options (gate, stride layout; :mod:`iqabench.models.encoders`) come with
the weights: an iqabench checkpoint records them in ``model_info["encoder_arch"]`` (checkpoints
written before the record used the identity-at-start gate), a ``senet-caffe`` file needs the Caffe
stride layout, and every other layout is read with the standard sigmoid gate.

The released per-dataset regressors are TorchScript modules with parameters ``weights`` (1×4096)
and ``biases``; :class:`ReleasedRegressor` reads these two tensors from the archive without running its
code (:mod:`iqabench.torchscript`) and applies ``f @ weightsᵀ + biases``. :func:`scale_score` is the reference's mapping of its output to [0, 1],
higher = better (arniqa.md §3.5; no clipping).
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import IQABenchError
from .encoders import (
    BACKBONES,
    FEATURE_DIMS,
    arch_from_model_info,
    build_encoder,
    convert_standard_se,
    encoder_arch,
    from_sequential,
    infer_backbone,
    load_encoder_state,
    split_keys,
    standard_se_layout,
    strip_prefix,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PROJECTION_DIM = 128
CHECKPOINT_FORMAT = "iqabench-checkpoint"


# Released regressors' output ranges and directions (hubconf.py; arniqa.md §3.5).
REGRESSOR_SCALING: dict[str, tuple[float, float, bool]] = {  # dataset: (lo, hi, lower_is_better)
    "live": (1.0, 100.0, True),
    "csiq": (0.0, 1.0, True),
    "tid2013": (0.0, 9.0, False),
    "kadid10k": (1.0, 5.0, False),
    "flive": (1.0, 100.0, False),
    "spaq": (1.0, 100.0, False),
    "clive": (1.0, 100.0, False),
    "koniq10k": (1.0, 100.0, False),
}


class ARNIQANet(nn.Module):
    """``arch``: the SE-ResNet-50 options (``se_gate``, ``stride_layout``); ``{}`` = the defaults."""

    def __init__(self, backbone: str = "resnet50", projection_dim: int = PROJECTION_DIM, arch: dict[str, str] | None = None):
        super().__init__()
        if backbone not in BACKBONES:
            raise IQABenchError(f"unknown backbone {backbone!r} (backbones: {', '.join(BACKBONES)})")
        self.backbone = backbone
        self.feature_dim = FEATURE_DIMS[backbone]
        self.arch = encoder_arch(backbone, **(arch or {}))
        self.encoder = build_encoder(backbone, **self.arch)
        d = self.feature_dim
        self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, projection_dim))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def representation(self, x: Tensor) -> Tensor:
        """RGB in [0, 1], ``N×3×H×W`` → the L2-normalised encoder feature ``N×d``."""
        h = self.encoder((x - self.mean) / self.std)
        return F.normalize(h.float(), dim=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(representation f, normalised projection z)."""
        f = self.representation(x)
        z = F.normalize(self.projector(f).float(), dim=1)
        return f, z


# -- weight files ---------------------------------------------------------------------------------
@dataclass
class Weights:
    """A weight file read into torchvision-layout encoder (and projector) state dicts."""

    path: Path
    format: str  # "iqabench" | "arniqa-release" | "arniqa-reference" | "torchvision" | "timm" | "senet-caffe"
    backbone: str
    encoder: dict[str, Tensor]
    projector: dict[str, Tensor] | None
    crop_size: int | None = None
    info: dict[str, Any] = field(default_factory=dict)  # iqabench checkpoints: config, training, epoch …
    arch: dict[str, str] = field(default_factory=dict)  # SE-ResNet-50 options the weights need ({} otherwise)

    @property
    def projection_dim(self) -> int:
        if self.projector and "2.weight" in self.projector:
            return int(self.projector["2.weight"].shape[0])
        return PROJECTION_DIM


def is_torchscript(path: str | Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_file(path: str | Path, what: str) -> Any:
    """``torch.load(weights_only=True)`` with one-line errors naming the file."""
    p = Path(path)
    if is_torchscript(p):
        raise IQABenchError(
            f"{what} {str(p)!r} is a TorchScript module (a released regressor?): pass regressors with "
            "--method-option regressor=FILE, and the encoder weights (e.g. ARNIQA.pth) with --weights"
        )
    if not _looks_like_torch_save(p):
        raise IQABenchError(
            f"{what} {str(p)!r} is not a PyTorch weights file (neither a torch.save zip archive nor a pickle)"
        )
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zips, unsafe objects
        raise IQABenchError(f"{what} {str(p)!r} cannot be read safely (weights_only=True): {_load_failure(exc)}") from exc


def _load_failure(exc: Exception) -> str:
    """The reason inside torch.load's error (whose first line advises weights_only=False: never iqabench's advice)."""
    text = str(exc).strip()
    if "WeightsUnpickler error:" in text:
        detail = next((ln.strip() for ln in text.split("WeightsUnpickler error:", 1)[1].splitlines() if ln.strip()), "")
        if detail.startswith("Unsupported operand"):
            return (f"{detail} (pickled with a protocol torch's safe loader does not read, e.g. pickle_protocol=4; "
                    "re-save it with torch.save(obj, path))")
        return detail or "it holds objects a weights file should not need"
    return text.splitlines()[0] if text else type(exc).__name__


def _looks_like_torch_save(path: Path) -> bool:
    """A zip archive (torch.save since 1.6) or a pickle (the legacy format starts with PROTO, 0x80)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True  # let torch.load report it
    return head.startswith(b"PK") or head[:1] == b"\x80"



def read_weights(path: str | Path, what: str = "weights file") -> Weights:
    """Recognise the layout of a weight file and convert it (see module doc)."""
    p = Path(path)
    obj = load_file(p, what)
    if not isinstance(obj, dict):
        raise IQABenchError(f"{what} {str(p)!r} holds a {type(obj).__name__}, not a state dict or checkpoint")
    if obj.get("format") == CHECKPOINT_FORMAT:
        model = obj.get("model")
        info = obj.get("model_info") or {}
        if not isinstance(model, dict) or "backbone" not in info:
            raise IQABenchError(f"{what} {str(p)!r}: iqabench checkpoint without 'model' or 'model_info'")
        return Weights(
            p,
            "iqabench",
            str(info["backbone"]),
            strip_prefix(model, "encoder."),
            strip_prefix(model, "projector.") or None,
            int(info["crop_size"]) if info.get("crop_size") else None,
            {k: obj[k] for k in ("config", "model_info", "epoch", "iteration", "global_step", "kind", "validation") if k in obj},
            arch_from_model_info(info, f"{what} {str(p)!r}"),
        )
    if "model_state_dict" in obj and isinstance(obj["model_state_dict"], dict):  # reference "last" checkpoint
        obj = obj["model_state_dict"]
    keys = [k for k in obj if isinstance(k, str)]
    standard_se = standard_se_layout(obj)
    if standard_se is not None:  # ImageNet SE-ResNet-50 weights (timm, Caffe-converted SENet)
        fmt, encoder, projector = standard_se, convert_standard_se(obj, standard_se), None
    elif any(k.startswith("encoder.model.") for k in keys):
        fmt, encoder, projector = "arniqa-reference", strip_prefix(obj, "encoder.model."), strip_prefix(obj, "encoder.projector.")
        encoder = from_sequential(encoder, f"{what} {str(p)!r}", "encoder.model.")
    elif any(k.startswith("model.") for k in keys):
        fmt, encoder, projector = "arniqa-release", from_sequential(strip_prefix(obj, "model."), f"{what} {str(p)!r}", "model."), strip_prefix(obj, "projector.")
    elif "conv1.weight" in keys:
        fmt, encoder, projector = "torchvision", dict(obj), None
    else:
        raise IQABenchError(
            f"{what} {str(p)!r}: unrecognised layout (keys start {split_keys(keys)}); expected an iqabench "
            "checkpoint, ARNIQA.pth (model.*, projector.*), a reference checkpoint (encoder.model.*), a "
            "torchvision ResNet state dict or an SE-ResNet-50 one (timm seresnet50, legacy_seresnet50)"
        )
    leftover = [k for k in keys if not any(k.startswith(pre) for pre in ("model.", "projector.", "encoder."))]
    if fmt in ("arniqa-release", "arniqa-reference") and leftover:
        raise IQABenchError(f"{what} {str(p)!r} ({fmt} layout): unexpected keys {split_keys(leftover)}")
    backbone = infer_backbone(list(encoder))
    if backbone is None:
        raise IQABenchError(f"{what} {str(p)!r} ({fmt} layout): no ResNet encoder found (keys {split_keys(list(encoder))})")
    arch = {"se_gate": "sigmoid", "stride_layout": "caffe" if fmt == "senet-caffe" else "torchvision"}
    return Weights(p, fmt, backbone, encoder, projector or None, arch=arch if backbone == "se_resnet50" else {})


def build_net(weights: Weights | None, backbone: str, *, what: str = "weights file") -> ARNIQANet:
    """An :class:`ARNIQANet` of ``backbone`` with the encoder (and projector, when present) from ``weights``
    and the SE-ResNet-50 architecture they need."""
    net = ARNIQANet(backbone, weights.projection_dim if weights and weights.projector else PROJECTION_DIM,
                    weights.arch if weights is not None and weights.backbone == backbone else None)
    if weights is not None:
        load_into(net, weights, what)
    return net


def load_into(net: ARNIQANet, weights: Weights, what: str, *, allow_missing_se: bool = False,
              projector: bool = True) -> None:
    """Load ``weights`` into ``net``: every encoder key must match (one-line error naming the keys).

    ``allow_missing_se``: ResNet-50 weights into ``se_resnet50`` (the SE layers keep their initialisation).
    ``projector``: also load the projector when the file has one."""
    label = f"{what} {str(weights.path)!r} ({weights.format} layout, {weights.backbone})"
    load_encoder_state(net.encoder, weights.encoder, label, allow_missing_se=allow_missing_se)
    if projector and weights.projector is not None:
        result = _load_strict(net.projector, weights.projector)
        if result:
            raise IQABenchError(f"{label}: projector does not match: {result}")


def _load_strict(module: nn.Module, state: dict[str, Tensor]) -> str:
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    if missing or unexpected or shapes:
        return "; ".join(
            s
            for s in (
                f"missing keys {split_keys(missing)}" if missing else "",
                f"unexpected keys {split_keys(unexpected)}" if unexpected else "",
                f"shape mismatch at {shapes[0]}" if shapes else "",
            )
            if s
        )
    module.load_state_dict(state)
    return ""


# -- released regressors --------------------------------------------------------------------------
class ReleasedRegressor:
    """A released linear regressor: ``score = f @ weightsᵀ + biases`` on the 4096-d feature.

    The file's ``weights`` and ``biases`` are read from the archive's attribute record and tensor
    records without running anything in it (:func:`iqabench.torchscript.read_module_tensors`); a
    file that would need its code run is refused. ``trust_code=True`` (the method option
    ``trust_regressor_code=true``) loads it with ``torch.jit.load`` instead, which runs any code
    the file holds: only for files from a source you trust."""

    def __init__(self, path: str | Path, dataset: str | None, *, trust_code: bool = False):
        self.path = Path(path)
        if not is_torchscript(self.path):
            raise IQABenchError(
                f"regressor {str(self.path)!r} is not a TorchScript module (expected a released regressor_<dataset>.pth)"
            )
        self.loaded_with = "torch.jit.load (trust_regressor_code=true)" if trust_code else "tensor records, no code run"
        params = _jit_parameters(self.path) if trust_code else _archive_parameters(self.path)
        w, b = params["weights"], params["biases"]
        if w.ndim != 2 or w.shape[0] != 1 or b.numel() != 1:
            raise IQABenchError(
                f"regressor {str(self.path)!r}: weights must be 1×D and biases a scalar, got {tuple(w.shape)} and {tuple(b.shape)}"
            )
        if not (w.is_floating_point() and b.is_floating_point()):
            raise IQABenchError(f"regressor {str(self.path)!r}: weights and biases must be floating point, got {w.dtype} and {b.dtype}")
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise IQABenchError(f"regressor {str(self.path)!r}: weights or biases hold non-finite values")
        self.weights, self.bias = w.detach().float(), b.detach().float().reshape(-1)
        if dataset is None:
            dataset = guess_regressor_dataset(self.path)
        if dataset is not None and dataset not in REGRESSOR_SCALING:
            raise IQABenchError(
                f"regressor dataset {dataset!r} has no known score range (known: {', '.join(REGRESSOR_SCALING)})"
            )
        self.dataset = dataset

    @property
    def in_dim(self) -> int:
        return int(self.weights.shape[1])

    def __call__(self, features: Tensor) -> Tensor:
        w = self.weights.to(features.device)
        return features.float() @ w[0] + self.bias.to(features.device)[0]


def _archive_parameters(path: Path) -> dict[str, Tensor]:
    """``weights`` and ``biases`` from the archive's records; nothing in the file runs."""
    from ..torchscript import read_module_tensors

    state = read_module_tensors(path, "regressor")
    found = {k: v for k, v in state.items() if isinstance(v, Tensor)}
    if "weights" not in found or "biases" not in found:
        raise IQABenchError(
            f"regressor {str(path)!r} has no 'weights'/'biases' tensors (found {split_keys(list(found))}); "
            "expected a released regressor_<dataset>.pth"
        )
    return found


def _jit_parameters(path: Path) -> dict[str, Tensor]:
    """``torch.jit.load``: runs the code in the file (``trust_regressor_code=true`` only)."""
    try:
        with warnings.catch_warnings():  # torch 2.14 marks TorchScript deprecated; the release uses it
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise IQABenchError(f"regressor {str(path)!r} cannot be loaded with torch.jit.load: {exc}") from exc
    params = dict(module.named_parameters())
    params.update(dict(module.named_buffers()))
    if "weights" not in params or "biases" not in params:
        raise IQABenchError(
            f"regressor {str(path)!r} has no 'weights'/'biases' parameters (found {split_keys(list(params))})"
        )
    return params


def guess_regressor_dataset(path: Path) -> str | None:
    """``regressor_kadid10k.pth`` → ``kadid10k`` (the release's file names)."""
    stem = path.stem.lower()
    if stem.startswith("regressor_") and stem[len("regressor_") :] in REGRESSOR_SCALING:
        return stem[len("regressor_") :]
    return None


def scale_score(raw: Tensor, dataset: str) -> Tensor:
    """The reference's scaling to [0, 1], higher = better: (s − lo)/(hi − lo), flipped for DMOS; no clipping."""
    lo, hi, lower_better = REGRESSOR_SCALING[dataset]
    s = (raw - lo) / (hi - lo)
    return 1.0 - s if lower_better else s
