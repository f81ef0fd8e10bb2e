"""Re-IQA's encoders: the weight files they load and the input handling of each.

Re-IQA has two ResNet-50 encoders (baselines.md §1.3–1.4): the *quality-aware* one, fed raw RGB
in [0, 1], and the *content-aware* one, fed ImageNet-normalised RGB. Each gives its pooled
2048-d feature (before the MoCo head), not normalised.

Weight files (:func:`read_encoder_weights`), all read with ``torch.load(weights_only=True)``:

=================  ===================================================================================
``iqabench``       checkpoints of ``iqabench train reiqa`` (quality) or ``train reiqa --content``
                   (content), complete or slim: MoCo state ``query.encoder.*``, ``query.head.*``,
                   ``key.*``, ``queue``…, with ``model_info`` (role, backbone, input downscale)
``reiqa-release``  the released ``quality_aware_r50.pth`` / ``content_aware_r50.pth`` (PyContrast):
                   ``{"model": {"module.encoder.<torchvision name>": …, "module.head.*": …}, …}``;
                   the head and every other top-level entry (``contrast``, ``optimizer``, ``epoch``,
                   ``model_ema``, ``opt``) are ignored. An ``argparse.Namespace`` of training
                   options, which PyContrast may store, is the only non-tensor object allowed
``moco``           an official MoCo (v1/v2) checkpoint: ``{"state_dict": {"module.encoder_q.*"}}``,
                   its ``fc`` (MLP head) ignored: ImageNet MoCo-v2 weights for the content encoder
``torchvision``    a torchvision ResNet state dict (``conv1.*``, …; ``fc.*`` ignored), e.g. supervised
                   ImageNet weights for the content encoder
=================  ===================================================================================

A key mismatch fails with one line naming the missing and unexpected keys.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import IQABenchError
from .arniqa import CHECKPOINT_FORMAT, IMAGENET_MEAN, IMAGENET_STD, load_file
from .encoders import (
    TrainingRecord,
    arch_from_model_info,
    build_encoder,
    encoder_arch,
    infer_backbone,
    load_encoder_state,
    split_keys,
    strip_prefix,
)

ROLES = ("quality", "content")
TRAINERS = {"reiqa": "quality", "reiqa-content": "content"}  # iqabench trainer name → encoder role
FORMAT_LABELS = {
    "reiqa-release": "released weights",
    "moco": "MoCo checkpoint",
    "torchvision": "torchvision weights",
}


@dataclass
class EncoderWeights(TrainingRecord):
    """One encoder's weights in torchvision layout, with what the file says about them."""

    path: Path
    format: str  # "iqabench" | "reiqa-release" | "moco" | "torchvision"
    backbone: str
    encoder: dict[str, Tensor]
    info: dict[str, Any] = field(default_factory=dict)  # iqabench: config, model_info, epoch, global_step, kind

    @property
    def role(self) -> str | None:
        """"quality" or "content" for iqabench checkpoints; None when the file does not say."""
        return self.model_info.get("role")

    @property
    def arch(self) -> dict[str, str]:
        """SE-ResNet-50 options: as an iqabench checkpoint records them (identity-at-start gate when it
        predates the record), the standard ones for every other file; ``{}`` for other backbones."""
        if self.format == "iqabench":
            return arch_from_model_info({"backbone": self.backbone, **self.model_info}, f"weights file {str(self.path)!r}")
        return encoder_arch(self.backbone)


def _load(path: Path, what: str) -> Any:
    try:
        return load_file(path, what)
    except IQABenchError as first:
        # PyContrast may pickle its argparse options next to the weights: allow that class only.
        try:
            with torch.serialization.safe_globals([argparse.Namespace]):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise first from None



def read_encoder_weights(path: str | Path, what: str = "weights file") -> EncoderWeights:
    """Recognise the layout of ``path`` and return its encoder (see the module doc)."""
    p = Path(path)
    obj = _load(p, what)
    label = f"{what} {str(p)!r}"
    if not isinstance(obj, dict):
        raise IQABenchError(f"{label} holds a {type(obj).__name__}, not a state dict or checkpoint")
    if obj.get("format") == CHECKPOINT_FORMAT:
        trainer = obj.get("trainer")
        if trainer not in TRAINERS:
            raise IQABenchError(f"{label} is an iqabench {trainer!r} checkpoint, not a Re-IQA one "
                                f"(iqabench train reiqa [--content])")
        model, info = obj.get("model"), obj.get("model_info") or {}
        if not isinstance(model, dict) or "backbone" not in info:
            raise IQABenchError(f"{label}: iqabench checkpoint without 'model' or 'model_info'")
        encoder = strip_prefix(model, "query.encoder.")
        meta = {k: obj[k] for k in ("config", "model_info", "epoch", "iteration", "global_step", "kind") if k in obj}
        return EncoderWeights(p, "iqabench", str(info["backbone"]), encoder, meta)
    if isinstance(obj.get("model"), dict):  # PyContrast / the released Re-IQA files
        model = obj["model"]
        prefix = "module." if any(isinstance(k, str) and k.startswith("module.") for k in model) else ""
        encoder = strip_prefix(model, f"{prefix}encoder.")
        other = [k for k in model if not (str(k).startswith(f"{prefix}encoder.") or str(k).startswith(f"{prefix}head."))]
        if other:
            raise IQABenchError(f"{label} (reiqa-release layout): unexpected keys {split_keys([str(k) for k in other])}")
        fmt = "reiqa-release"
    elif isinstance(obj.get("state_dict"), dict):  # official MoCo checkpoints
        state = obj["state_dict"]
        prefix = "module.encoder_q." if any(str(k).startswith("module.encoder_q.") for k in state) else "encoder_q."
        encoder = {k: v for k, v in strip_prefix(state, prefix).items() if not k.startswith("fc.")}
        fmt = "moco"
    elif "conv1.weight" in obj:
        encoder = {k: v for k, v in obj.items() if isinstance(k, str)}
        fmt = "torchvision"
    else:
        keys = [str(k) for k in obj]
        raise IQABenchError(
            f"{label}: unrecognised layout (keys start {split_keys(keys)}); expected an iqabench Re-IQA checkpoint, "
            "a released quality_aware_r50.pth / content_aware_r50.pth ('model': module.encoder.*), a MoCo "
            "checkpoint ('state_dict': module.encoder_q.*) or a torchvision ResNet state dict"
        )
    backbone = infer_backbone(list(encoder))
    if backbone is None:
        raise IQABenchError(f"{label} ({fmt} layout): no ResNet encoder found (keys {split_keys(list(encoder))})")
    return EncoderWeights(p, fmt, backbone, encoder)


def build_encoder_from(weights: EncoderWeights, backbone: str | None = None, what: str = "weights file") -> nn.Module:
    """A torchvision-layout encoder (``fc`` = identity) holding ``weights``; every key must match."""
    backbone = backbone or weights.backbone
    net = build_encoder(backbone, **(weights.arch if backbone == weights.backbone else {}))
    load_encoder_state(net, weights.encoder, f"{what} {str(weights.path)!r} ({weights.format} layout, {weights.backbone})")
    return net


def downscale(x: Tensor, factor: float) -> Tensor:
    """Antialiased bicubic resize of a batch by ``factor`` (sides rounded, at least 1 px), clipped to [0, 1].

    The demo configurations train on pristine images reduced this way and the method reduces its
    inputs the same way, so that a small network can see the whole image on two CPU cores."""
    if factor == 1.0:
        return x
    h, w = x.shape[-2:]
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp_(0.0, 1.0)


class EncoderInput(nn.Module):
    """An encoder with Re-IQA's input handling: optional downscale, then ImageNet normalisation for
    the content encoder (raw [0, 1] for the quality encoder); output the pooled feature, not normalised."""

    def __init__(self, encoder: nn.Module, role: str, factor: float = 1.0):
        super().__init__()
        if role not in ROLES:
            raise IQABenchError(f"encoder role {role!r} is not one of {', '.join(ROLES)}")
        self.encoder, self.role, self.factor = encoder, role, float(factor)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = downscale(x, self.factor)
        if self.role == "content":
            x = (x - self.mean) / self.std
        return self.encoder(x.contiguous(memory_format=torch.channels_last))
