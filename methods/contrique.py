"""CONTRIQUE (Madhusudana, Birkbeck, Wang, Adsumilli, Bovik, IEEE TIP 2022): contrastive distortion classes.

Features (baselines.md §2.2, the reference's ``demo_feat.py``): the **whole image** at full scale
and at half scale (Pillow's default bicubic resize of the 8-bit image to ``(w // 2, h // 2)``,
made by the extraction loop's views), RGB in [0, 1] **without** ImageNet normalisation; each
scale's globally pooled ResNet-50 feature, L2-normalised; a row is ``[full (2048), half (2048)]``
= 4096-d. The protocols fit their ridge regressor on it (``default_regressor = "ridge"``).

``--weights`` takes the released ``CONTRIQUE_checkpoint25.tar`` or an ``iqabench train contrique``
checkpoint (layouts in :mod:`iqabench.models.contrique`); both give identical features for the
same network. Without a file the method refuses to run unless ``random=true`` asks for a randomly
initialised encoder (``seed``, ``backbone``), which the row's name then says. Demo checkpoints
record an input downscale factor; the method reduces its inputs by it.

Options:

* ``random``: allow a randomly initialised encoder (no ``--weights``);
* ``backbone``: resnet50 (default) or resnet18 (demo only); must agree with the weights;
* ``seed``: the random initialisation;
* ``regressor=FILE`` with ``regressor_dataset=NAME``: one of the released per-dataset regressors
  (``models/*.save``, pickled scikit-learn ``Ridge``; read through a restricted unpickler, see
  :mod:`iqabench.safe_pickle`): the method becomes a *scores* method whose direction is that
  dataset's label direction (``live`` and ``csiq``: DMOS, lower = better; ``clive``, ``koniq10k``:
  MOS). The dataset must be named: nothing is guessed from the file name.

iqabench converts every image to RGB before any method sees it; the reference opens images as
they are (a greyscale or RGBA file would not run through its ResNet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from iqabench import registry
from iqabench.errors import IQABenchError
from iqabench.method import Method, config_note, sha256_file
from iqabench.models.contrique import (
    BACKBONES,
    FORMAT_LABELS,
    ContriqueNet,
    ReleasedRidge,
    Weights,
    build_net,
    read_weights,
)
from iqabench.options import Unset
from iqabench.paths import existing_file
from iqabench.registry import register_method
from iqabench.views import Views, rescale, to_tensor

_BACKBONE_LABELS = {"resnet18": "ResNet-18"}


@register_method("contrique")
class CONTRIQUE(Method):
    description = "CONTRIQUE: distortion-class contrastive ResNet-50, whole image × 2 scales, L2-normalised 4096-d (TIP 2022)"
    kind = "features"
    method_type = "SSL + LR"
    views = Views(crops=0, scales=(1.0, 0.5))
    accepts_weights = True
    option_defaults = {
        "random": False,  # allow a randomly initialised encoder (no --weights)
        "backbone": Unset(str),  # unset: from the weights, else resnet50
        "seed": 0,  # random initialisation
        "regressor": Unset(str),  # a released models/*.save → scores method
        "regressor_dataset": Unset(str),  # the dataset it was fitted on (its label direction orients the scores)
    }
    version = "1"
    batch_size = 8  # whole images
    published_weights = "contrique"

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu", **options: Any):
        super().__init__(weights, device, **options)
        wanted = self.options["backbone"]
        if wanted and wanted not in BACKBONES:
            raise IQABenchError(f"method 'contrique' option backbone: {wanted!r} is not one of {', '.join(BACKBONES)}")
        self.loaded: Weights | None = None
        if self.weights_path is not None:
            if self.options["random"]:
                raise IQABenchError("method 'contrique': random=true contradicts --weights (drop one of them)")
            self.loaded = read_weights(self.weights_path)
            if wanted and wanted != self.loaded.backbone:
                raise IQABenchError(f"method 'contrique' option backbone={wanted} contradicts the weights file "
                                    f"{str(self.weights_path)!r}, which holds a {self.loaded.backbone}")
            net = build_net(self.loaded)
        elif not self.options["random"]:
            raise IQABenchError(
                "method 'contrique' needs --weights FILE (the released CONTRIQUE_checkpoint25.tar or an iqabench "
                "train contrique checkpoint); a randomly initialised encoder only with --method-option random=true"
            )
        else:
            with torch.random.fork_rng(devices=[]):  # reproducible initialisation, global RNG untouched
                torch.manual_seed(int(self.options["seed"]))
                net = ContriqueNet(wanted or "resnet50")
        self.backbone = net.backbone
        self.downscale = self.loaded.downscale if self.loaded is not None else 1.0
        # channels_last: faster convolutions on CPU (oneDNN) and the layout GPUs prefer; same features.
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self.regressor: ReleasedRidge | None = None
        if self.options["regressor"] or self.options["regressor_dataset"]:
            self._set_regressor()

    def _set_regressor(self) -> None:
        if not self.options["regressor"]:
            raise IQABenchError("method 'contrique' option regressor_dataset needs regressor=FILE")
        path = existing_file(self.options["regressor"], "method 'contrique' option regressor:")
        dataset = self.options["regressor_dataset"]
        if not dataset:
            raise IQABenchError(
                f"regressor {str(path)!r}: name the dataset it was fitted on with --method-option regressor_dataset=NAME "
                "(its label direction orients the scores: the released LIVE.save and CSIQ.save predict DMOS, lower = better)"
            )
        cls = registry.datasets.get(dataset)
        if not cls.labels:
            raise IQABenchError(f"method 'contrique' option regressor_dataset: dataset {dataset!r} has no labels")
        self.regressor_label = cls.labels[cls.default_label or next(iter(cls.labels))]
        reg = ReleasedRidge(path)
        if reg.n_features != 2 * self.net.feature_dim:
            raise IQABenchError(f"regressor {str(path)!r} takes {reg.n_features}-d features, the {self.backbone} encoder "
                                f"gives {2 * self.net.feature_dim} (full and half scale)")
        self.regressor, self._regressor_sha256 = reg, sha256_file(path)
        # Scores are per image: the whole image comes in, its half scale is made in score().
        self.kind = "scores"
        self.higher_better = self.regressor_label.higher_better
        self.views = Views(crops=0, scales=(1.0,))
        self.batch_size = 4

    # -- extraction ---------------------------------------------------------------------------
    def representation(self, batch: torch.Tensor) -> torch.Tensor:
        """Whole images of one size → L2-normalised global features (after the demo downscale, if any)."""
        if self.downscale != 1.0:
            from iqabench.models.reiqa import downscale

            batch = downscale(batch, self.downscale)
        return self.net.representation(batch.contiguous(memory_format=torch.channels_last))

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        return self.representation(batch) if self.regressor is None else self.score(batch)

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        """Whole images → the released regressor's prediction on ``[full, half]``, as ``demo_score.py``."""
        halves = []
        for img in batch:  # the half scale from the 8-bit image, exactly as the views make it
            arr = (img.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            halves.append(to_tensor(rescale(Image.fromarray(np.ascontiguousarray(arr)), 0.5)))
        half = torch.stack(halves).to(self.device)
        feats = torch.cat([self.representation(batch), self.representation(half)], dim=1)
        return torch.from_numpy(self.regressor.predict(feats.cpu().numpy()).astype(np.float64))

    # -- provenance ---------------------------------------------------------------------------
    def weights_identity(self) -> str:
        base = self.weights_sha256 or f"random-init(seed={int(self.options['seed'])},{self.backbone})"
        if self.regressor is not None:
            base += f"+regressor:{self._regressor_sha256}"
        return base

    def paper_issues(self) -> list[str]:
        issues = super().paper_issues()
        if self.regressor is not None:
            issues.append(f"contrique: scored by a released regressor fitted on {self.options['regressor_dataset']}, "
                          "not a ridge fitted on the training splits")
        return issues

    def fitted_on(self) -> set[str]:
        return {self.options["regressor_dataset"]} if self.regressor is not None else set()

    def training_label(self) -> str:
        info = self.loaded.info if self.loaded is not None else {}
        text = f"{(info.get('config') or {}).get('name', 'custom')} config"
        if not ((info.get("model_info") or {}).get("init") or {}).get("file"):
            text += ", from random init"
        return text

    def display_name(self) -> str:
        bits = [_BACKBONE_LABELS[self.backbone]] if self.backbone in _BACKBONE_LABELS else []
        if self.downscale != 1.0:
            bits.append(f"input ×{self.downscale:g}")
        shape = ", ".join(bits)
        if self.loaded is None:
            name = "CONTRIQUE (random init" + (f", {shape}" if shape else "") + ")"
        elif self.loaded.format == "iqabench":
            name = f"CONTRIQUE [{self.training_label()}" + (f"; {shape}" if shape else "") + "]"
        else:
            name = f"CONTRIQUE ({FORMAT_LABELS[self.loaded.format]}" + (f", {shape}" if shape else "") + ")"
        if self.regressor is not None:
            name += f" + {self.options['regressor_dataset']} regressor"
        return name

    def note(self) -> str | None:
        """The training config's ``note`` (the demo config says what it is)."""
        return config_note(self.loaded)

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["backbone"] = self.backbone
        ident["downscale"] = self.downscale
        ident["weights_format"] = self.loaded.format if self.loaded is not None else "random-init"
        if self.loaded is not None and self.loaded.format == "iqabench":
            info = self.loaded.info
            ident["training"] = {"config": (info.get("config") or {}).get("name"), "label": self.training_label(),
                                 "epoch": info.get("epoch"), "global_step": info.get("global_step"),
                                 "kind": info.get("kind"),
                                 "synthetic_classes": (self.loaded.model_info.get("classes") or {}).get("synthetic")}
        if self.regressor is not None:
            ident["regressor"] = {"file": str(self.regressor.path), "sha256": self._regressor_sha256,
                                  "dataset": self.options["regressor_dataset"],
                                  "label": self.regressor_label.label,
                                  "higher_better": self.regressor_label.higher_better, **self.regressor.describe()}
        return ident

    # -- demo -----------------------------------------------------------------------------------
    @classmethod
    def demo_variants(cls, device: str = "cpu") -> list[dict[str, Any]]:
        """The network trained with the demo config (trained once, cached): one row."""
        from iqabench.training.contrique_demo import ensure_demo_model

        return [{"weights": str(ensure_demo_model(device=device))}]
