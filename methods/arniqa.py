"""ARNIQA (Agnolucci et al., WACV 2024): a self-supervised ResNet-50 encoder of image degradations.

Features (the paper's protocol, arniqa.md §3.1): 5 crops (centre, 4 corners) at full and half
scale (PIL bicubic), zero-padded; each crop's L2-normalised encoder feature; a row is the
concatenation [f_full, f_half] (4096-d for ResNet-50). ImageNet normalisation and, on CUDA, fp16
autocast happen inside :meth:`ARNIQA.extract`, as in the reference.

``--weights`` takes an iqabench training checkpoint (which also fixes backbone, crop size and the
SE-ResNet-50 architecture), the released ``ARNIQA.pth``, a reference training checkpoint, or
torchvision ResNet / timm or Caffe SENet SE-ResNet-50 weights (see :mod:`iqabench.models.arniqa`);
without one the encoder is randomly initialised (``seed``) and the row says so.

Options:

* ``backbone``: resnet50 (default), se_resnet50, resnet18 or resnet18_quarter (demo only); read from the weights
  when they say, and an explicit value that contradicts them is an error;
* ``crop_size``: default 224, or the training crop size stored in an iqabench checkpoint;
* ``seed``: the random initialisation when there are no weights;
* ``regressor=FILE`` (a released ``regressor_<dataset>.pth``): the method becomes a *scores*
  method: per image, the 5 crops at both scales → regressor → mean of the 5 scores, scaled as the
  reference does (``regressor_dataset``, guessed from the file name; ``scale_scores=false`` keeps
  the regressor's native scale, whose direction is then that dataset's label direction). The
  file's ``weights`` and ``biases`` are read without running any code in it; a file that would
  need its code run is refused unless ``trust_regressor_code=true``, which loads it with
  ``torch.jit.load`` and so runs whatever code the file holds (only for files you trust). The
  option does not change the numbers of a file both ways can read, so it is not part of the
  method's identity.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from iqabench.errors import IQABenchError
from iqabench.method import Method, config_note, sha256_file
from iqabench.models.arniqa import (
    REGRESSOR_SCALING,
    ARNIQANet,
    ReleasedRegressor,
    Weights,
    build_net,
    read_weights,
    scale_score,
)
from iqabench.models.encoders import BACKBONES, arch_label
from iqabench.options import Unset
from iqabench.paths import existing_file
from iqabench.registry import register_method
from iqabench.views import Views, make_views

_FORMAT_LABELS = {
    "arniqa-release": "released weights",
    "arniqa-reference": "reference training checkpoint",
}
# Layouts of weights that had no ARNIQA training (e.g. ImageNet classifiers).
_PLAIN_FORMATS = {"torchvision": "torchvision weights", "timm": "timm weights", "senet-caffe": "Caffe SENet weights"}


@register_method("arniqa")
class ARNIQA(Method):
    description = "ARNIQA: self-supervised distortion-manifold ResNet-50, 5 crops × 2 scales, 4096-d (WACV 2024)"
    kind = "features"
    method_type = "SSL + LR"
    views = Views(crops=5, crop_size=224, scales=(1.0, 0.5))
    accepts_weights = True
    option_defaults = {
        "backbone": Unset(str),  # unset: from the weights, else resnet50
        "crop_size": Unset(int),  # unset: from the weights (iqabench checkpoints), else 224
        "seed": 0,  # random initialisation when there are no weights
        "regressor": Unset(str),  # released TorchScript regressor file → scores method
        "regressor_dataset": Unset(str),  # its dataset, for the score scaling (unset: from the file name)
        "scale_scores": True,
        # Load the regressor with torch.jit.load, running any code in the file (see ReleasedRegressor).
        "trust_regressor_code": False,
    }
    version = "1"
    batch_size = 32
    published_weights = "arniqa"

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu", **options: Any):
        super().__init__(weights, device, **options)
        self.loaded: Weights | None = read_weights(self.weights_path) if self.weights_path is not None else None
        self.backbone = self._resolve_backbone()
        self.crop_size = self._resolve_crop_size()
        if self.loaded is None:
            with torch.random.fork_rng(devices=[]):  # reproducible initialisation, global RNG untouched
                torch.manual_seed(int(self.options["seed"]))
                net = ARNIQANet(self.backbone)
        else:
            net = build_net(self.loaded, self.backbone)
        self._use(net)
        self.views = Views(crops=5, crop_size=self.crop_size, scales=(1.0, 0.5))
        self.regressor: ReleasedRegressor | None = None
        if self.options["regressor"]:
            self._set_regressor()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_net(cls, net: ARNIQANet, crop_size: int, device: str | torch.device) -> ARNIQA:
        """A method around a network in memory (training validation): same views and extraction code."""
        self = cls.__new__(cls)
        Method.__init__(self, None, device)
        self.loaded, self.backbone, self.crop_size, self.regressor = None, net.backbone, int(crop_size), None
        self.net = net
        self.views = Views(crops=5, crop_size=self.crop_size, scales=(1.0, 0.5))
        return self

    def _use(self, net: ARNIQANet) -> None:
        # channels_last: ~1.3× faster inference on CPU (oneDNN) and the layout fp16 tensor cores prefer.
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self._channels_last = True

    def _resolve_backbone(self) -> str:
        wanted = self.options["backbone"]
        if wanted and wanted not in BACKBONES:
            raise IQABenchError(f"method 'arniqa' option backbone: {wanted!r} is not one of {', '.join(BACKBONES)}")
        if self.loaded is None:
            return wanted or "resnet50"
        if wanted and wanted != self.loaded.backbone:
            raise IQABenchError(
                f"method 'arniqa' option backbone={wanted} contradicts the weights file {str(self.weights_path)!r}, "
                f"which holds a {self.loaded.backbone}"
            )
        return self.loaded.backbone

    def _resolve_crop_size(self) -> int:
        wanted = self.options["crop_size"] or 0
        if wanted < 0:
            raise IQABenchError(f"method 'arniqa' option crop_size must be positive, got {wanted}")
        stored = self.loaded.crop_size if self.loaded is not None else None
        if wanted and stored and wanted != stored:
            raise IQABenchError(
                f"method 'arniqa' option crop_size={wanted} contradicts the checkpoint {str(self.weights_path)!r} "
                f"(trained on {stored} px crops)"
            )
        return wanted or stored or 224

    def _set_regressor(self) -> None:
        path = existing_file(self.options["regressor"], "method 'arniqa' option regressor:")
        dataset = self.options["regressor_dataset"] or None
        reg = ReleasedRegressor(path, dataset, trust_code=bool(self.options["trust_regressor_code"]))
        if reg.in_dim != 2 * self.net.feature_dim:
            raise IQABenchError(
                f"regressor {str(path)!r} takes {reg.in_dim}-d features, the {self.backbone} encoder gives "
                f"{2 * self.net.feature_dim}"
            )
        if reg.dataset is None and self.options["scale_scores"]:
            raise IQABenchError(
                f"regressor {str(path)!r}: say which dataset it was fitted on for the score scaling "
                f"(--method-option regressor_dataset=NAME, one of {', '.join(REGRESSOR_SCALING)}) or pass scale_scores=false"
            )
        self.regressor = reg
        self._regressor_sha256 = sha256_file(path)
        # Scores are per image: the whole image comes in, crops at both scales are made here.
        self.kind = "scores"
        self.higher_better = True if self.options["scale_scores"] else not REGRESSOR_SCALING.get(reg.dataset or "", (0, 0, False))[2]
        self.views = Views(crops=0, scales=(1.0,))
        self.batch_size = 4

    # -- extraction ---------------------------------------------------------------------------
    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    def representation(self, crops: torch.Tensor) -> torch.Tensor:
        if getattr(self, "_channels_last", False):
            crops = crops.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self.net.representation(crops).float()

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        if self.regressor is None:
            return self.representation(batch)
        return self.score(batch)

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        """Whole images → one score each: 5 crops × 2 scales, regressor, mean over the crops."""
        eval_views = Views(crops=5, crop_size=self.crop_size, scales=(1.0, 0.5))
        full, half = [], []
        for img in batch:
            arr = (img.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            f, h = make_views(Image.fromarray(np.ascontiguousarray(arr)), eval_views)
            full.append(f)
            half.append(h)
        feats = torch.cat(
            [self.representation(torch.cat(full).to(self.device)), self.representation(torch.cat(half).to(self.device))],
            dim=1,
        )
        raw = self.regressor(feats).view(len(batch), 5).mean(dim=1)
        if self.options["scale_scores"]:
            raw = scale_score(raw, self.regressor.dataset)
        return raw

    # -- provenance ---------------------------------------------------------------------------
    def paper_issues(self) -> list[str]:
        issues = super().paper_issues()
        if self.regressor is not None:
            issues.append(f"arniqa: scored by the released {self.regressor.dataset or 'custom'} regressor, "
                          "not a ridge fitted on the training splits")
        return issues

    def fitted_on(self) -> set[str]:
        return {self.regressor.dataset} if self.regressor is not None and self.regressor.dataset else set()

    def weights_identity(self) -> str:
        base = self.weights_sha256 or f"random-init(seed={int(self.options['seed'])})"
        if self.net.arch:  # the same SE-ResNet-50 file computes other features with another gate or layout
            base += "+encoder:" + ",".join(f"{k}={v}" for k, v in sorted(self.net.arch.items()))
        if self.regressor is not None:
            base += f"+regressor:{self._regressor_sha256}"
        return base

    def training_variant(self) -> dict[str, Any]:
        """The ablation switches the checkpoint was trained with, where they differ from the paper's
        (the keys of the paper's Table 3: degradation, positives, hard_negatives); {} for the paper's own."""
        cfg = (self.loaded.info if self.loaded is not None else {}).get("config") or {}
        training = cfg.get("training", {})
        variant: dict[str, Any] = {}
        if cfg.get("degradation", {}).get("variant", "arniqa") != "arniqa":
            variant["degradation"] = cfg["degradation"]["variant"]
        if training.get("positives", "different_image") != "different_image":
            variant["positives"] = training["positives"]
        if training.get("hard_negatives", True) is False:
            variant["hard_negatives"] = False
        return variant

    def training_label(self) -> str:
        """What the checkpoint was trained with: "<config> config" plus any ablation switches."""
        info = self.loaded.info if self.loaded is not None else {}
        parts = [f"{(info.get('config') or {}).get('name', 'custom')} config"]
        variant = self.training_variant()
        if "positives" in variant:
            parts.append(f"positives={variant['positives']}")
        if variant.get("hard_negatives") is False:
            parts.append("no hard negatives")
        if "degradation" in variant:
            parts.append(f"degradation={variant['degradation']}")
        if not ((info.get("model_info") or {}).get("init") or {}).get("file"):
            parts.append("from random init")
        return ", ".join(parts)

    def _shape_label(self) -> str:
        """Backbone and crop size when they are not the paper's."""
        bits = []
        if self.backbone != "resnet50":
            arch = arch_label(self.net.arch)
            bits.append({"se_resnet50": "SE-ResNet-50", "resnet18": "ResNet-18",
                         "resnet18_quarter": "quarter-width ResNet-18"}[self.backbone] + (f" ({arch})" if arch else ""))
        if self.crop_size != 224:
            bits.append(f"{self.crop_size} px crops")
        return ", ".join(bits)

    def display_name(self) -> str:
        shape = self._shape_label()
        if self.loaded is None:
            name = "ARNIQA (random init" + (f", {shape}" if shape else "") + ")"
        elif self.loaded.format == "iqabench":
            name = f"ARNIQA [{self.training_label()}" + (f"; {shape}" if shape else "") + "]"
        elif self.loaded.format in _PLAIN_FORMATS:
            name = f"ResNet features [{_PLAIN_FORMATS[self.loaded.format]}, no ARNIQA training" + (f"; {shape}" if shape else "") + "]"
        else:
            name = f"ARNIQA ({_FORMAT_LABELS[self.loaded.format]}" + (f", {shape}" if shape else "") + ")"
        if self.regressor is not None:
            name += f" + {self.regressor.dataset or 'custom'} regressor"
        return name

    def note(self) -> str | None:
        """The training config's ``note`` (the demo config says what it is)."""
        return config_note(self.loaded)

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["options"].pop("trust_regressor_code", None)  # how the file is read, not what it holds
        ident["backbone"] = self.backbone
        if self.net.arch:
            ident["encoder_arch"] = dict(self.net.arch)
        ident["crop_size"] = self.crop_size
        ident["weights_format"] = self.loaded.format if self.loaded is not None else "random-init"
        if self.loaded is not None and self.loaded.format == "iqabench":
            info = self.loaded.info
            ident["training"] = {
                "config": (info.get("config") or {}).get("name"),
                "label": self.training_label(),
                "variant": self.training_variant(),
                "epoch": info.get("epoch"),
                "global_step": info.get("global_step"),
                "kind": info.get("kind"),
                "init": (info.get("model_info") or {}).get("init"),
            }
        if self.regressor is not None:
            ident["regressor"] = {
                "file": str(self.regressor.path),
                "sha256": self._regressor_sha256,
                "dataset": self.regressor.dataset,
                "scaled": bool(self.options["scale_scores"]),
                "loaded_with": self.regressor.loaded_with,
            }
        return ident

    # -- demo -----------------------------------------------------------------------------------
    @classmethod
    def demo_variants(cls, device: str = "cpu") -> list[dict[str, Any]]:
        """[trained with the demo config (trained once, cached), the same network untrained]."""
        from iqabench.training.arniqa_demo import ensure_demo_model

        path, info = ensure_demo_model(device=device)
        untrained = {"backbone": info["backbone"], "crop_size": str(info["crop_size"]), "seed": str(info["seed"])}
        return [{"weights": str(path)}, {"options": untrained}]
