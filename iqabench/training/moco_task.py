"""The part of Re-IQA's two encoder trainers they share: the pool, the MoCo-v2 model, its initial
weights, the data order and the per-image seeds (:class:`MoCoTask`). The quality-aware sample is in
:mod:`iqabench.training.reiqa`, the content-aware one in :mod:`iqabench.training.reiqa_content`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import IQABenchError
from ..method import sha256_file
from ..models.encoders import BACKBONES, encoder_arch
from .distributed import DistEnv
from .loop import Task
from .moco import MoCo
from .pools import ImagePool, open_pool

log = logging.getLogger("iqabench")


def seed_of(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def load_pool_image(pool: ImagePool, i: int, factor: float) -> Tensor:
    """Pool image ``i`` as uint8 3×H×W, reduced by ``factor`` (the demo's input downscale) when ≠ 1."""
    from ..models.reiqa import downscale

    arr = np.asarray(pool.load(i).convert("RGB"), dtype=np.uint8)
    x = torch.from_numpy(arr.copy()).permute(2, 0, 1)
    if factor == 1.0:
        return x
    return downscale(x.unsqueeze(0).float().div_(255.0), factor)[0].mul_(255.0).round_().to(torch.uint8)



class MoCoTask(Task):
    """What Re-IQA's two encoders train alike: the pool, MoCo-v2 model, initial weights, data order
    and per-image seeds. Subclasses add the sample (:meth:`batches`, :meth:`prepare`, :meth:`loss`)."""

    role = ""  # "quality" | "content": recorded in the checkpoint, read back by the reiqa method

    def __init__(self, cfg: dict[str, Any], env: DistEnv, *, data_root: str | None = None):
        self.read_common(cfg, env, BACKBONES)
        m, d, t = cfg["model"], cfg["data"], cfg["training"]
        self.downscale = self.read_downscale()
        self.images = int(t["batch_size"])
        self.moco_cfg = cfg["moco"]
        if not d.get("source"):
            raise IQABenchError("training images: none configured (give --data DATASET|DIR, or data.source in the config)")
        self.pool = open_pool(str(d["source"]), data_root=data_root, tiles_per_side=int(d.get("tiles_per_side") or 2))
        self.init = m.get("init")
        self.init_info: dict[str, Any] = {"seed": self.seed}

    # -- model ----------------------------------------------------------------------------------
    def input_norm(self) -> str:
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        mc = self.moco_cfg
        net = MoCo(self.backbone, feat_dim=int(self.cfg["model"]["feat_dim"]), queue_size=int(mc["queue_size"]),
                   momentum=float(mc["momentum"]), temperature=float(mc["temperature"]), input_norm=self.input_norm(),
                   shuffle_seed=self.seed, shuffle_bn=bool(mc.get("shuffle_bn", True)))
        if self.init:
            from ..models.encoders import load_encoder_state
            from ..models.reiqa import read_encoder_weights

            w = read_encoder_weights(self.init, "--init file")
            if w.backbone != self.backbone:
                raise IQABenchError(f"--init file {str(self.init)!r} holds a {w.backbone}, the config trains a {self.backbone}")
            if w.arch != encoder_arch(self.backbone):  # MoCo builds the default SE-ResNet-50 architecture
                raise IQABenchError(f"--init file {str(self.init)!r} holds an SE-ResNet-50 built with {w.arch}; "
                                    f"Re-IQA training builds {encoder_arch(self.backbone)}")
            label = f"--init file {str(w.path)!r} ({w.format} layout)"
            load_encoder_state(net.query.encoder, w.encoder, label)
            net.key.load_state_dict(net.query.state_dict())
            self.init_info = {"file": str(w.path), "sha256": sha256_file(w.path), "format": w.format, "backbone": w.backbone}
            log.info(f"initial weights: {w.path} ({w.format} layout; encoder only, the head starts random)")
        else:
            log.info(f"initial weights: random initialisation (seed {self.seed})")
        return net

    def model_info(self) -> dict[str, Any]:
        mc = self.moco_cfg
        return {
            "role": self.role,
            "backbone": self.backbone,
            **({"encoder_arch": encoder_arch(self.backbone)} if self.backbone == "se_resnet50" else {}),
            "feat_dim": int(self.cfg["model"]["feat_dim"]),
            "input_norm": self.input_norm(),
            "downscale": self.downscale,
            **self.sample_info(),
            "queue_size": int(mc["queue_size"]),
            "momentum": float(mc["momentum"]),
            "temperature": float(mc["temperature"]),
            "init": self.init_info,
            "pool": self.pool.describe(),
            "images_per_step": self.images,
            "world_size": self.env.world_size,
        }

    def sample_info(self) -> dict[str, Any]:
        """How a sample is built, for :meth:`model_info`."""
        raise NotImplementedError

    # -- data -----------------------------------------------------------------------------------
    def iterations_per_epoch(self) -> int:
        return (len(self.pool) * self.repeats) // (self.images * self.env.world_size)

    def _spec(self, perm: np.ndarray, epoch: int, i: int) -> list[tuple[int, int]]:
        r, w, b = self.env.rank, self.env.world_size, self.images
        chosen = perm[(i * w + r) * b : (i * w + r + 1) * b]
        return [(int(index), seed_of(self.seed, epoch, i, r, k)) for k, index in enumerate(chosen)]

    def epoch_specs(self, epoch: int, start: int) -> list[list[tuple[int, int]]]:
        """Per iteration from ``start``: this process's (pool index, seed) pairs, a function of (seed, epoch)."""
        n = len(self.pool)
        perm = np.random.default_rng([self.seed, epoch, 0]).permutation(n * self.repeats) % n
        return [self._spec(perm, epoch, i) for i in range(start, self.iterations_per_epoch())]
