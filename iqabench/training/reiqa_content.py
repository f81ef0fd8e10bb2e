"""Re-IQA's content-aware encoder: vanilla MoCo-v2 on pristine images (baselines.md §1.3).

The reference uses a ResNet-50 trained with MoCo-v2 on ImageNet (PyContrast defaults). Users who
have such weights (or supervised ImageNet weights) give the file to the method; this trainer is
for when none is at hand (``iqabench train reiqa --content``, e.g. on the bundled pristine
photographs for the offline demo).

Each image gives two views, independently augmented with MoCo-v2's recipe (``aug_plus``):
RandomResizedCrop(S, scale (0.2, 1), ratio (3/4, 4/3), bilinear) → ColorJitter(0.4, 0.4, 0.4,
0.1) with probability 0.8 (the four adjustments in random order) → greyscale with probability
0.2 → Pillow GaussianBlur(σ ~ U[0.1, 2]) with probability 0.5 → horizontal flip with probability
0.5. Every draw comes from a NumPy generator seeded by (seed, epoch, iteration, rank, position),
so batches are reproducible and resuming is exact. The encoder sees ImageNet-normalised input;
the loss is MoCo's (:mod:`.moco`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from ..errors import IQABenchError
from .loop import PlannedItems
from .moco import info_nce
from .moco_task import MoCoTask, load_pool_image, seed_of

CROP_SCALE = (0.2, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
JITTER = (0.4, 0.4, 0.4, 0.1)  # brightness, contrast, saturation, hue
P_JITTER, P_GREY, P_BLUR, P_FLIP = 0.8, 0.2, 0.5, 0.5
BLUR_SIGMA = (0.1, 2.0)


def resized_crop_box(width: int, height: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(top, left, h, w) by torchvision's RandomResizedCrop rule: 10 tries of a random area and
    log-uniform aspect ratio, then the centred crop clamped to the ratio range."""
    area = width * height
    log_ratio = (math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]))
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    ratio = width / height
    if ratio < CROP_RATIO[0]:
        w, h = width, int(round(width / CROP_RATIO[0]))
    elif ratio > CROP_RATIO[1]:
        h, w = height, int(round(height * CROP_RATIO[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def moco_v2_view(img: Image.Image, size: int, rng: np.random.Generator) -> Tensor:
    """One MoCo-v2 augmented view of ``img``, uint8 3×size×size."""
    top, left, h, w = resized_crop_box(img.width, img.height, rng)
    view = TF.resized_crop(img, top, left, h, w, [size, size], interpolation=InterpolationMode.BILINEAR,
                           antialias=True)
    if rng.random() < P_JITTER:
        b, c, s = (rng.uniform(1 - v, 1 + v) for v in JITTER[:3])
        hue = rng.uniform(-JITTER[3], JITTER[3])
        for op in rng.permutation(4).tolist():
            if op == 0:
                view = TF.adjust_brightness(view, b)
            elif op == 1:
                view = TF.adjust_contrast(view, c)
            elif op == 2:
                view = TF.adjust_saturation(view, s)
            else:
                view = TF.adjust_hue(view, hue)
    if rng.random() < P_GREY:
        view = TF.rgb_to_grayscale(view, num_output_channels=3)
    if rng.random() < P_BLUR:
        view = view.filter(ImageFilter.GaussianBlur(radius=rng.uniform(*BLUR_SIGMA)))
    if rng.random() < P_FLIP:
        view = TF.hflip(view)
    arr = np.asarray(view.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


class ContentTask(MoCoTask):
    """MoCo-v2 on pristine images; shares the pool, model, determinism and checkpoint code of the quality task."""

    name = "reiqa-content"
    role = "content"

    def __init__(self, cfg: dict[str, Any], env, *, data_root: str | None = None):
        self.crop = int(cfg["data"]["crop_size"])
        if self.crop < 16:
            raise IQABenchError(f"config data.crop_size must be at least 16, got {self.crop}")
        super().__init__(cfg, env, data_root=data_root)

    def input_norm(self) -> str:
        return "imagenet"

    def sample_info(self) -> dict[str, Any]:
        return {
            "crop_size": self.crop,
            "augmentation": "MoCo-v2 (RandomResizedCrop 0.2–1, ColorJitter .4/.4/.4/.1 p=.8, grey p=.2, "
                            "blur σ 0.1–2 p=.5, flip)",
        }

    def samples_per_step(self) -> int:
        return self.images

    def batches(self, epoch: int, start: int):
        return self.loader(PlannedItems(self, self.epoch_specs(epoch, start), stack=True), self.workers)

    def load_planned(self, spec: tuple[int, int]) -> Tensor:
        """The image's two MoCo-v2 views, uint8 ``2×3×S×S``."""
        index, seed = spec
        x = load_pool_image(self.pool, index, self.downscale)
        img = Image.fromarray(np.ascontiguousarray(x.permute(1, 2, 0).numpy()))
        rng = np.random.default_rng(seed)
        return torch.stack([moco_v2_view(img, self.crop, rng), moco_v2_view(img, self.crop, rng)])

    def prepare(self, batch: Tensor, epoch: int, iteration: int) -> tuple[Tensor, dict[str, float]]:
        t0 = time.perf_counter()
        views = batch.to(self.env.device, non_blocking=True).float().div_(255.0)
        return views, {"prepare_s": time.perf_counter() - t0}

    def loss(self, model, inputs: Tensor) -> Tensor:
        return info_nce(model(inputs[:, 0], inputs[:, 1]))


__all__ = ["ContentTask", "moco_v2_view", "resized_crop_box", "seed_of"]
