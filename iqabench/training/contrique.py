"""CONTRIQUE's training task: contrastive learning of distortion classes (baselines.md §2.1).

Each step and process takes ``B`` *synthetic* images and ``B`` *authentic* images (the reference's
two zipped loaders; ``data.authentic: none`` trains on synthetic images only).

Classes (:func:`synthetic_classes`):

* a synthetic image is a pristine pool image given one class drawn uniformly from ``pristine``
  (left undistorted) and every (distortion type, level) of iqabench's degradation model
  (:data:`iqabench.degradation.DISTORTIONS`, 24 types × 5 levels): 121 classes, shared by every
  image content, as the reference's 126 (25 KADIS types × 5 levels + pristine) are. The
  distortion is applied to the **whole image** (as KADIS-700k's distorted files are made), then
  rounded to 8 bits, on the training device;
* every authentic image is its own class (ids after the synthetic ones, unique across processes).

Views (:mod:`.contrique_views`): per image one full-scale and one half-scale view, each a random
``S×S`` crop with a random colour space and flip. The network (:class:`iqabench.models.contrique.
ContriqueNet`) runs once per view stack (``[synthetic; authentic]``); the loss is
:func:`~.contrastive.nt_xent_multiclass` (τ = 0.1) on the 2×2 patch projections of both stacks,
each patch carrying its image's class, gathered over the processes. As the reference's
``GatherLayer`` (Spijkervet's SimCLR, from which its loss comes; its own ``gather.py`` is not in
the snapshot, so unverified), each process back-propagates only through its own rows.

Optimisation: SGD (momentum 0.9, lr 0.6), weight decay 1e-4 except on parameters whose *reference*
name contains "bn" (the bottlenecks' bn1–bn3: the reference decides on ``encoder.<i>`` names, so
the stem's batch norm, the downsample and projector batch norms keep their decay); linear warm-up
over 10 % of the iterations then cosine to 0, per iteration; AMP; SyncBatchNorm under torchrun on
CUDA; 25 epochs; seed 10. An epoch is ``min(#synthetic, #authentic) · epoch_repeats`` images of
each kind (the reference's ``min(len(loader_syn), len(loader_ugc))`` steps).

Determinism: image order from (seed, epoch); each image's class, views and distortion randomness
from (seed, epoch, iteration, rank, position), so resuming at any step is exact.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import IQABenchError
from ..models.contrique import BACKBONES, PROJECTION_DIM, TRAINER, ContriqueNet, reference_name
from .contrastive import nt_xent_multiclass
from .contrique_views import COLOUR_SPACES, colour_and_flip, plan_views, quantise, resized_crop
from .distributed import DistEnv
from .loop import PlannedItems, Task
from .moco import gather_all
from .moco_task import load_pool_image, seed_of
from .pools import ImagePool, open_pool

log = logging.getLogger("iqabench")

MIN_CROP = 64  # output stride 32: the 2×2 patch grid then pools 2×2 distinct encoder cells or more
NO_AUTHENTIC = "none"


def synthetic_classes() -> list[tuple[str, int]]:
    """``[("pristine", 0), (type, 1), …, (type, 5), …]``: class id = position."""
    from ..degradation import DISTORTIONS, NUM_LEVELS

    return [("pristine", 0)] + [(key, level) for key in DISTORTIONS for level in range(1, NUM_LEVELS + 1)]


class _GatherRows(torch.autograd.Function):
    """All processes' rows in rank order; the gradient flows back to this process's own rows only."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n].contiguous()


def gather_rows(x: Tensor) -> Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return _GatherRows.apply(x)
    return x


class ContriqueTask(Task):
    name = TRAINER

    def __init__(self, cfg: dict[str, Any], env: DistEnv, *, data_root: str | None = None):
        self.read_common(cfg, env, BACKBONES)
        m, d, t = cfg["model"], cfg["data"], cfg["training"]
        self.projection_dim = int(m.get("projection_dim") or PROJECTION_DIM)
        self.crop = int(d["crop_size"])
        if self.crop < MIN_CROP:
            raise IQABenchError(f"config data.crop_size must be at least {MIN_CROP}, got {self.crop}")
        self.downscale = self.read_downscale()
        if str(cfg["optimizer"].get("name", "sgd")) != "sgd":
            raise IQABenchError(f"config optimizer.name: CONTRIQUE trains with sgd, not {cfg['optimizer']['name']!r}")
        self.images = int(t["batch_size"])
        if self.images < 1:
            raise IQABenchError(f"config training.batch_size must be positive, got {self.images}")
        self.temperature = float(t["temperature"])
        tiles = int(d.get("tiles_per_side") or 2)
        if not d.get("synthetic"):
            raise IQABenchError("synthetic training images: none configured (give --synthetic DATASET|DIR, or "
                                "data.synthetic in the config)")
        self.synthetic = open_pool(str(d["synthetic"]), data_root=data_root, tiles_per_side=tiles)
        authentic = d.get("authentic")
        if not authentic:
            raise IQABenchError(
                "authentic training images: none configured (give --authentic DATASET|DIR: the reference pairs every "
                f"synthetic image with an authentic one; --authentic {NO_AUTHENTIC} trains on synthetic images only)"
            )
        self.authentic: ImagePool | None = None
        if str(authentic) != NO_AUTHENTIC:
            self.authentic = open_pool(str(authentic), data_root=data_root, tiles_per_side=tiles)
        self.classes = synthetic_classes()

    # -- model ----------------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        log.info(f"initial weights: random initialisation (seed {self.seed})")
        net = ContriqueNet(self.backbone, self.projection_dim)
        if self.env.distributed and self.env.device.type == "cuda":  # the reference converts to SyncBN under DDP
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        return net

    def optimizer_params(self, model: nn.Module) -> list[dict[str, Any]]:
        """The reference's groups: no weight decay where the reference's parameter name contains "bn"."""
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            (no_decay if "bn" in reference_name(name) else decay).append(p)
        return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]

    def model_info(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "projection_dim": self.projection_dim,
            "crop_size": self.crop,
            "downscale": self.downscale,
            "classes": {"synthetic": len(self.classes), "authentic": "one per image",
                        "names": ["pristine" if k == "pristine" else f"{k}:{lv}" for k, lv in self.classes]},
            "colour_spaces": list(COLOUR_SPACES),
            "temperature": self.temperature,
            "init": {"seed": self.seed},
            "pools": {"synthetic": self.synthetic.describe(),
                      "authentic": self.authentic.describe() if self.authentic is not None else None},
            "images_per_step": self.images_per_step(),
            "world_size": self.env.world_size,
        }

    # -- data -----------------------------------------------------------------------------------
    def images_per_step(self) -> int:
        return self.images * (2 if self.authentic is not None else 1)

    def iterations_per_epoch(self) -> int:
        sizes = [len(self.synthetic)] + ([len(self.authentic)] if self.authentic is not None else [])
        return (min(sizes) * self.repeats) // (self.images * self.env.world_size)

    def samples_per_step(self) -> int:
        return self.images_per_step()

    def epoch_specs(self, epoch: int, start: int) -> list[list[tuple[str, int, int]]]:
        """Per iteration from ``start``: this process's (pool, index, seed), a function of (seed, epoch)."""
        r, w, b = self.env.rank, self.env.world_size, self.images
        pools = [("synthetic", self.synthetic)] + ([("authentic", self.authentic)] if self.authentic is not None else [])
        perms = {kind: np.random.default_rng([self.seed, epoch, k]).permutation(len(pool) * self.repeats) % len(pool)
                 for k, (kind, pool) in enumerate(pools)}
        specs = []
        for i in range(start, self.iterations_per_epoch()):
            step = []
            for k, (kind, _) in enumerate(pools):
                chosen = perms[kind][(i * w + r) * b : (i * w + r + 1) * b]
                step += [(kind, int(index), seed_of(self.seed, epoch, i, r, k, j)) for j, index in enumerate(chosen)]
            specs.append(step)
        return specs

    def batches(self, epoch: int, start: int):
        return self.loader(PlannedItems(self, self.epoch_specs(epoch, start)), self.workers, as_list=True)

    def load_planned(self, spec: tuple[str, int, int]) -> tuple[Tensor, dict[str, Any]]:
        kind, index, seed = spec
        image = load_pool_image(self.synthetic if kind == "synthetic" else self.authentic, index, self.downscale)
        rng = np.random.default_rng(seed)
        cls = int(rng.integers(0, len(self.classes))) if kind == "synthetic" else None
        views = plan_views(image.shape[1], image.shape[2], self.crop, rng)
        return image, {"class": cls, "views": views, "seed": int(rng.integers(0, 2**62))}

    def source_image(self, image: Tensor, spec: dict[str, Any]) -> Tensor:
        """The image a synthetic sample's views are cut from: distorted as its class says, 8-bit; ``1×3×H×W``."""
        from ..degradation import distort

        dev = self.env.device
        x = image.to(dev, non_blocking=True).float().div_(255.0).unsqueeze(0)
        key, level = self.classes[spec["class"]] if spec["class"] is not None else ("pristine", 0)
        if key == "pristine":
            return x
        gen = torch.Generator(device=dev).manual_seed(int(spec["seed"]))
        return quantise(distort(x, key, level, gen))

    def prepare(self, batch: list, epoch: int, iteration: int) -> tuple[dict[str, Tensor], dict[str, float]]:
        t0 = time.perf_counter()
        first, second, classes = [], [], []
        n_synthetic = self.images
        offset = len(self.classes) + self.env.rank * self.images  # authentic ids: unique per process
        for k, (image, spec) in enumerate(batch):
            x = self.source_image(image, spec)
            a, b = spec["views"]
            first.append((resized_crop(x, a, self.crop), a))
            second.append((resized_crop(x, b, self.crop), b))
            classes.append(spec["class"] if k < n_synthetic else offset + (k - n_synthetic))
        stacks = [colour_and_flip(torch.stack([v for v, _ in views]), [p.colour for _, p in views],
                                  [p.flip for _, p in views]) for views in (first, second)]
        out = {"first": stacks[0], "second": stacks[1],
               "classes": torch.tensor(classes, dtype=torch.int64, device=self.env.device)}
        if self.env.device.type == "cuda":
            torch.cuda.synchronize(self.env.device)
        return out, {"prepare_s": time.perf_counter() - t0}

    def loss(self, model: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        z1, z2 = model(inputs["first"], inputs["second"])
        per_patch = z1.shape[0] // inputs["first"].shape[0]  # 4 patches per image, image-major
        classes = inputs["classes"].repeat_interleave(per_patch)
        z = gather_rows(torch.cat([z1, z2]).float())
        labels = gather_all(torch.cat([classes, classes]))
        return nt_xent_multiclass(z, labels, self.temperature)


def train_contrique(cfg: dict[str, Any], out_dir, *, device: str = "auto", data_root: str | None = None,
                    resume: dict[str, Any] | None = None, on_step=None) -> dict[str, Any]:
    """Train CONTRIQUE with a resolved config (single process, or one rank under torchrun)."""
    from .loop import run

    return run(lambda env: ContriqueTask(cfg, env, data_root=data_root), cfg, out_dir, device=device, resume=resume,
               on_step=on_step)
