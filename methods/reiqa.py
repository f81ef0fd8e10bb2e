"""Re-IQA (Saha, Mishra, Bovik, CVPR 2023): content-aware and quality-aware ResNet-50 features.

Features (baselines.md §1.4): the **whole image** at full and half scale (PIL bicubic to
``(w // 2, h // 2)``); each encoder's pooled 2048-d feature before its MoCo head, **not
normalised**; the quality encoder sees raw RGB in [0, 1], the content encoder ImageNet-normalised
RGB. The extraction loop concatenates each scale's output in scale order, and :meth:`ReIQA.extract`
returns ``[content, quality]`` per scale, so a row of ``reiqa`` is, in this fixed order::

    [content_full (2048), quality_full (2048), content_half (2048), quality_half (2048)]  = 8192-d

``reiqa-quality`` and ``reiqa-content`` give one encoder's ``[full, half]`` (4096-d each: the
paper's ablation). :func:`feature_layout` lists the blocks; it is recorded in every result.

Weights (two files; all read with ``torch.load(weights_only=True)``, layouts in
:mod:`iqabench.models.reiqa`):

* ``reiqa``: ``--weights QUALITY`` (e.g. the released ``quality_aware_r50.pth``) and
  ``--method-option content=CONTENT`` (``content_aware_r50.pth``, an ImageNet MoCo-v2 or
  supervised ResNet-50, or an ``iqabench train reiqa --content`` checkpoint);
* ``reiqa-quality``: ``--weights QUALITY``; ``reiqa-content``: ``--weights CONTENT``.

An encoder without a file is refused, unless ``quality_random=true`` / ``content_random=true``
asks for a randomly initialised one (``seed``, ``backbone``), which the row's name then says. An
iqabench checkpoint of the wrong role (a content encoder given as the quality one) is refused.
Demo checkpoints record an input downscale factor; the method reduces its inputs by it.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar

import torch

from iqabench.errors import IQABenchError
from iqabench.method import Method, config_note, sha256_file
from iqabench.models.encoders import BACKBONES, FEATURE_DIMS, build_encoder, encoder_arch
from iqabench.models.reiqa import (
    FORMAT_LABELS,
    EncoderInput,
    EncoderWeights,
    build_encoder_from,
    read_encoder_weights,
)
from iqabench.options import Unset
from iqabench.paths import existing_file
from iqabench.registry import register_method
from iqabench.views import Views

_BACKBONE_LABELS = {"resnet18": "ResNet-18", "se_resnet50": "SE-ResNet-50"}


class _Encoder:
    """One of Re-IQA's two encoders as the method uses it, with its provenance."""

    def __init__(self, role: str, module: EncoderInput, weights: EncoderWeights | None, backbone: str, seed: int):
        self.role, self.module, self.weights, self.backbone, self.seed = role, module, weights, backbone, seed
        self.sha256 = sha256_file(weights.path) if weights is not None else None

    @property
    def dim(self) -> int:
        return FEATURE_DIMS[self.backbone]

    @property
    def factor(self) -> float:
        return self.module.factor

    def identity(self) -> str:
        base = self.sha256 or f"random-init(seed={self.seed},{self.backbone})"
        arch = self.weights.arch if self.weights is not None else encoder_arch(self.backbone)
        if arch:  # the same SE-ResNet-50 weights compute other features with another gate or layout
            base += "+encoder:" + ",".join(f"{k}={v}" for k, v in sorted(arch.items()))
        return base

    def label(self) -> str:
        """What the weights are: "released weights", "<config> config[, from random init]", "random init"…"""
        w = self.weights
        if w is None:
            return "random init"
        if w.format != "iqabench":
            return FORMAT_LABELS[w.format]
        text = f"{(w.info.get('config') or {}).get('name', 'custom')} config"
        if not (w.model_info.get("init") or {}).get("file"):
            text += ", from random init"
        return text

    def describe(self) -> dict[str, Any]:
        w = self.weights
        out: dict[str, Any] = {
            "file": str(w.path) if w else None,
            "sha256": self.sha256,
            "format": w.format if w else "random-init",
            "backbone": self.backbone,
            "downscale": self.factor,
            "label": self.label(),
        }
        if w is None:
            out["seed"] = self.seed
        elif w.format == "iqabench":
            out["training"] = {"config": (w.info.get("config") or {}).get("name"), "epoch": w.info.get("epoch"),
                               "global_step": w.info.get("global_step"), "kind": w.info.get("kind"),
                               "init": w.model_info.get("init")}
        return out


@register_method("reiqa")
class ReIQA(Method):
    description = "Re-IQA: content + quality-aware MoCo-v2 ResNet-50s, whole image × 2 scales, 8192-d (CVPR 2023)"
    kind = "features"
    method_type = "SSL + LR"
    views = Views(crops=0, scales=(1.0, 0.5))
    accepts_weights = True
    parts: ClassVar[tuple[str, ...]] = ("content", "quality")  # per-scale order of extract()'s output
    weights_role: ClassVar[str] = "quality"  # what --weights names
    published_weights = "reiqa"
    title: ClassVar[str] = "Re-IQA"
    option_defaults = {
        "content": Unset(str),  # the content encoder's weights file
        "content_random": False,  # allow a randomly initialised content encoder
        "quality_random": False,  # allow a randomly initialised quality encoder (no --weights)
        "backbone": Unset(str),  # random-init encoders: resnet50 (default) | resnet18; with files: must agree
        "seed": 0,  # random initialisation
    }
    version = "1"
    batch_size = 8

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu", **options: Any):
        super().__init__(weights, device, **options)
        wanted = self.options["backbone"]
        if wanted and wanted not in BACKBONES:
            raise IQABenchError(f"method {self.name!r} option backbone: {wanted!r} is not one of {', '.join(BACKBONES)}")
        self.encoders = {role: self._encoder(role) for role in self.parts}

    # -- construction -------------------------------------------------------------------------
    def _file_for(self, role: str) -> Path | None:
        if role == self.weights_role:
            return self.weights_path
        given = self.options.get(role) or ""
        return existing_file(given, f"method {self.name!r} option {role}:") if given else None

    def _encoder(self, role: str) -> _Encoder:
        path = self._file_for(role)
        if path is None:
            if not self.options.get(f"{role}_random", False):
                how = "--weights FILE" if role == self.weights_role else f"--method-option {role}=FILE"
                raise IQABenchError(
                    f"method {self.name!r} needs the {role} encoder's weights ({how}, e.g. the released "
                    f"{role}_aware_r50.pth); a randomly initialised one only with --method-option {role}_random=true"
                )
            backbone = self.options["backbone"] or "resnet50"
            seed = int(self.options["seed"]) + (1 if role == "content" else 0)  # two different random encoders
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                net = build_encoder(backbone)
            return _Encoder(role, self._place(EncoderInput(net, role)), None, backbone, seed)
        what = "--weights file" if role == self.weights_role else f"method {self.name!r} option {role}"
        w = read_encoder_weights(path, what)
        if w.role is not None and w.role != role:
            raise IQABenchError(
                f"{what} {str(path)!r} is an iqabench {w.role} encoder checkpoint, given as the {role} encoder"
            )
        wanted = self.options["backbone"]
        if wanted and wanted != w.backbone:
            raise IQABenchError(f"method {self.name!r} option backbone={wanted} contradicts {what} {str(path)!r}, "
                                f"which holds a {w.backbone}")
        net = build_encoder_from(w, what=what)
        return _Encoder(role, self._place(EncoderInput(net, role, w.downscale)), w, w.backbone, int(self.options["seed"]))

    def _place(self, module: EncoderInput) -> EncoderInput:
        # channels_last: faster convolutions on CPU (oneDNN) and the layout fp16 tensor cores prefer.
        return module.to(self.device, memory_format=torch.channels_last).eval()

    # -- extraction ---------------------------------------------------------------------------
    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.device.type == "cuda" else nullcontext()

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        """One scale's whole images → ``[content, quality]`` pooled features (each part alone in the variants)."""
        with self._autocast():
            return torch.cat([self.encoders[role].module(batch).float() for role in self.parts], dim=1)

    def feature_layout(self) -> list[dict[str, Any]]:
        """The blocks of a row, in order: scale (per the views), encoder, width."""
        blocks = []
        for scale in self.views.scales:
            for role in self.parts:
                blocks.append({"scale": "full" if scale == 1.0 else "half", "encoder": role,
                               "dim": self.encoders[role].dim})
        return blocks

    # -- provenance ---------------------------------------------------------------------------
    def weights_identity(self) -> str:
        return ";".join(f"{role}:{self.encoders[role].identity()}" for role in self.parts)

    def paper_issues(self) -> list[str]:
        from iqabench.comparability import weights_issue

        issues = []
        for role in self.parts:
            issue = weights_issue("reiqa", self.encoders[role].sha256, self.published_as, f"{role} encoder weights")
            if issue:
                issues.append(f"{self.name}: {issue}")
        if self.parts != ReIQA.parts:
            issues.append(f"{self.name}: an ablation (one encoder); the published row uses both")
        return issues

    def display_name(self) -> str:
        labels = {role: self.encoders[role].label() for role in self.parts}
        if len(set(labels.values())) == 1:
            body = next(iter(labels.values()))
        else:
            body = "; ".join(f"{role}: {labels[role]}" for role in self.parts)
        bits = []
        backbones = {self.encoders[r].backbone for r in self.parts}
        if backbones != {"resnet50"}:
            bits.append("/".join(_BACKBONE_LABELS.get(b, b) for b in sorted(backbones)))
        factors = {self.encoders[r].factor for r in self.parts}
        if factors != {1.0}:
            bits.append("input ×" + "/".join(f"{f:g}" for f in sorted(factors)))
        shape = ", ".join(bits)
        simple = body in ("released weights", "random init")
        if simple:
            return f"{self.title} ({body}" + (f", {shape}" if shape else "") + ")"
        return f"{self.title} [{body}" + (f"; {shape}" if shape else "") + "]"

    def note(self) -> str | None:
        """The encoders' training-config notes (the demo configs say what they are)."""
        notes = [config_note(self.encoders[role].weights) for role in self.parts]
        return " ".join(dict.fromkeys(n for n in notes if n)) or None

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["encoders"] = {role: self.encoders[role].describe() for role in self.parts}
        ident["feature_layout"] = self.feature_layout()
        return ident

    # -- demo -----------------------------------------------------------------------------------
    @classmethod
    def demo_variants(cls, device: str = "cpu") -> list[dict[str, Any]]:
        """Both encoders trained with the demo configs (once, cached): one row."""
        from iqabench.training.reiqa_demo import ensure_demo_models

        quality, content = ensure_demo_models(device=device)
        return [{"weights": str(quality), "options": {"content": str(content)}}]


class _OneEncoder(ReIQA):
    """An ablation with one of the two encoders (``--weights`` = that encoder)."""

    @classmethod
    def demo_variants(cls, device: str = "cpu") -> list[dict[str, Any]]:
        return []  # the demo shows the full model only (time budget)


@register_method("reiqa-quality")
class ReIQAQuality(_OneEncoder):
    description = "Re-IQA quality-aware encoder alone (ablation): whole image × 2 scales, 4096-d"
    parts = ("quality",)
    weights_role = "quality"
    title = "Re-IQA quality-only"
    option_defaults = {"quality_random": False, "backbone": Unset(str), "seed": 0}


@register_method("reiqa-content")
class ReIQAContent(_OneEncoder):
    description = "Re-IQA content-aware encoder alone (ablation; --weights = the content encoder), 4096-d"
    parts = ("content",)
    weights_role = "content"
    title = "Re-IQA content-only"
    option_defaults = {"content_random": False, "backbone": Unset(str), "seed": 0}
