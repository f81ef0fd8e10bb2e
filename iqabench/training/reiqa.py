"""Re-IQA's quality-aware encoder: MoCo-v2 on overlapping crops of distorted versions (baselines.md §1.2).

Sample (per pristine image, ``B`` images per step and process), as the reference's
``datasets/dataset.py::IQAImageClass``:

1. ``1 + n_aug`` *versions*: the image and ``n_aug`` (11) distorted copies, the types the first
   ``n_aug`` of a random permutation of the 26 of Re-IQA's bank (all distinct), each at an
   independent uniform level; distortions apply to the **full image** before any crop
   (:func:`iqabench.degradation.reiqa_bank.distorted_versions`, on the training device).
2. ``n_scale = 2``: the stack of versions is also resized to ``(H // 2, W // 2)`` by bicubic
   tensor interpolation (``align_corners=True``), so ``2·(1 + n_aug)`` = 24 instances per image.
3. Per scale, one *overlapping-area* crop pair shared by its versions: ``y`` uniform in
   ``[⌈P(1 − o_max)⌉, ⌈P(1 − o_min)⌉)`` and ``x`` uniform among the offsets that make two P×P windows
   offset by ``(y, x)`` overlap on ``o_min``–``o_max`` (10–30 %) of the patch area; one random crop of
   ``P + max(x, y)`` (images smaller than that are first zero-padded, centred, as torchvision's
   CenterCrop does), crop A its top-left P×P, crop B offset by ``(y, x)``.
4. ``swap_crops``: for half the versions (scale 1: the first half, scale 2: the second) B is the
   query and A the key, for the others A is the query.

The batch is ``(B·24)×6×P×P``: channels 0–2 the query crop, 3–5 its positive key crop (the other
crop of the same version and scale). Negatives come only from the MoCo queue (keys of earlier steps:
other images and other versions of the same content). Inputs are raw RGB in [0, 1].

Determinism: image order from (seed, epoch); each image's types, levels, crops and distortion
randomness from (seed, epoch, iteration, rank, position), so resuming at any step is exact.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import IQABenchError
from .distributed import DistEnv
from .loop import PlannedItems
from .moco import info_nce
from .moco_task import MoCoTask, load_pool_image

log = logging.getLogger("iqabench")

MIN_PATCH = 16


def ola_offsets(patch: int, overlap: tuple[float, float], rng: np.random.Generator) -> tuple[int, int]:
    """(y, x) offsets of crop B from crop A whose P×P windows overlap on ``overlap`` of the patch area."""
    lo, hi = overlap
    y = int(rng.integers(math.ceil(patch * (1 - hi)), math.ceil(patch * (1 - lo))))
    side = patch - y  # overlap rows; the overlap area is (P − x)·side
    x_lo = max(0, math.ceil(patch - hi * patch * patch / side))
    x_hi = min(patch - 1, math.floor(patch - lo * patch * patch / side))
    return y, int(rng.integers(x_lo, x_hi + 1))


def crop_plan(height: int, width: int, patch: int, overlap: tuple[float, float],
              rng: np.random.Generator) -> tuple[int, int, int, int, int, int]:
    """(pad_top, pad_left, top, left, y, x) of one OLA pair on an image of ``height × width``: the
    S×S crop (S = P + max(y, x)) starts at (top, left) of the image zero-padded by (pad_top, pad_left)."""
    y, x = ola_offsets(patch, overlap, rng)
    size = patch + max(y, x)
    pad_top, pad_left = max(0, size - height) // 2, max(0, size - width) // 2
    top = int(rng.integers(0, max(height, size) - size + 1))
    left = int(rng.integers(0, max(width, size) - size + 1))
    return pad_top, pad_left, top, left, y, x


def cut_pair(stack: Tensor, plan: tuple[int, ...], patch: int) -> tuple[Tensor, Tensor]:
    """Crops A and B (each V×3×P×P) of a V×3×H×W stack."""
    pad_top, pad_left, top, left, y, x = plan
    size = patch + max(y, x)
    h, w = stack.shape[-2:]
    if size > h or size > w:  # zero padding, centred (torchvision CenterCrop)
        ph, pw = max(0, size - h), max(0, size - w)
        stack = F.pad(stack, (pad_left, pw - pad_left, pad_top, ph - pad_top))
    window = stack[..., top : top + size, left : left + size]
    return window[..., :patch, :patch], window[..., y : y + patch, x : x + patch]


class ReIQATask(MoCoTask):
    name = "reiqa"
    role = "quality"

    def __init__(self, cfg: dict[str, Any], env: DistEnv, *, data_root: str | None = None):
        d = cfg["data"]
        self.patch = int(d["patch_size"])
        if self.patch < MIN_PATCH:
            raise IQABenchError(f"config data.patch_size must be at least {MIN_PATCH}, got {self.patch}")
        self.n_aug = int(d["n_aug"])
        if not 0 <= self.n_aug <= 26:
            raise IQABenchError(f"config data.n_aug must be in 0..26 (distinct types of the bank), got {self.n_aug}")
        self.n_scale = int(d["n_scale"])
        if self.n_scale not in (1, 2):
            raise IQABenchError(f"config data.n_scale must be 1 or 2, got {self.n_scale}")
        overlap = d["overlap"]
        self.overlap = (float(overlap[0]), float(overlap[1]))
        if not 0 < self.overlap[0] < self.overlap[1] <= 1:
            raise IQABenchError(f"config data.overlap must be [low, high] with 0 < low < high ≤ 1, got {overlap}")
        self.swap = bool(d["swap_crops"])
        from ..degradation.reiqa_bank import check_fixes

        # Intended-behaviour fixes of the bank (docs/reiqa.md); none = what the released encoder saw.
        self.bank_fixes = sorted(check_fixes(d.get("bank_fixes"), "config data.bank_fixes"))
        super().__init__(cfg, env, data_root=data_root)

    @property
    def versions(self) -> int:
        return 1 + self.n_aug

    def input_norm(self) -> str:
        return "none"  # the quality encoder sees raw [0, 1] RGB

    def sample_info(self) -> dict[str, Any]:
        return {
            "patch_size": self.patch,
            "n_aug": self.n_aug,
            "n_scale": self.n_scale,
            "swap_crops": self.swap,
            "overlap": list(self.overlap),
            "bank": "reiqa (26 types)",
            "bank_fixes": list(self.bank_fixes),
        }

    # -- data -----------------------------------------------------------------------------------
    def samples_per_step(self) -> int:
        return self.images * self.versions * self.n_scale  # query crops

    def batches(self, epoch: int, start: int):
        return self.loader(PlannedItems(self, self.epoch_specs(epoch, start)), self.workers, as_list=True)

    def load_planned(self, spec: tuple[int, int]) -> tuple[Tensor, dict[str, Any]]:
        index, seed = spec
        image = load_pool_image(self.pool, index, self.downscale)
        rng = np.random.default_rng(seed)
        ids = (rng.permutation(26)[: self.n_aug] + 1).tolist()
        levels = rng.integers(1, 6, size=self.n_aug).tolist()
        h, w = image.shape[-2:]
        sizes = [(h, w), (h // 2, w // 2)][: self.n_scale]
        plans = [crop_plan(sh, sw, self.patch, self.overlap, rng) for sh, sw in sizes]
        return image, {"ids": ids, "levels": levels, "plans": plans, "seed": int(rng.integers(0, 2**62))}

    def instances(self, image: Tensor, spec: dict[str, Any]) -> Tensor:
        """One image's ``(n_scale·versions)×6×P×P`` query/key crops, built on the training device."""
        from ..degradation.reiqa_bank import distorted_versions

        dev = self.env.device
        x = image.to(dev, non_blocking=True).float().div_(255.0)
        gen = torch.Generator(device=dev).manual_seed(int(spec["seed"]))
        stacks = [distorted_versions(x, spec["ids"], spec["levels"], gen, fixes=self.bank_fixes)]
        if self.n_scale == 2:
            h, w = stacks[0].shape[-2:]
            stacks.append(F.interpolate(stacks[0], size=(h // 2, w // 2), mode="bicubic", align_corners=True))
        half = self.versions // 2
        out = []
        for s, (stack, plan) in enumerate(zip(stacks, spec["plans"])):
            a, b = cut_pair(stack, plan, self.patch)
            swapped = torch.zeros(self.versions, dtype=torch.bool, device=dev)
            if self.swap:
                swapped[:half] = s == 0
                swapped[half:] = s == 1
            sw = swapped.view(-1, 1, 1, 1)
            query, key = torch.where(sw, b, a), torch.where(sw, a, b)
            out.append(torch.cat([query, key], dim=1))
        return torch.cat(out)

    def prepare(self, batch: list, epoch: int, iteration: int) -> tuple[Tensor, dict[str, float]]:
        t0 = time.perf_counter()
        out = torch.cat([self.instances(image, spec) for image, spec in batch])
        if self.env.device.type == "cuda":
            torch.cuda.synchronize(self.env.device)
        return out, {"prepare_s": time.perf_counter() - t0}

    def loss(self, model: nn.Module, inputs: Tensor) -> Tensor:
        return info_nce(model(inputs[:, :3], inputs[:, 3:]))


def train_reiqa(cfg: dict[str, Any], out_dir, *, device: str = "auto", data_root: str | None = None,
                resume: dict[str, Any] | None = None, on_step=None, content: bool = False) -> dict[str, Any]:
    """Train Re-IQA's quality encoder (or, ``content=True``, its content encoder) with a resolved config."""
    from .loop import run

    if content:
        from .reiqa_content import ContentTask

        return run(lambda env: ContentTask(cfg, env, data_root=data_root), cfg, out_dir, device=device, resume=resume,
                   on_step=on_step)
    return run(lambda env: ReIQATask(cfg, env, data_root=data_root), cfg, out_dir, device=device, resume=resume,
               on_step=on_step)
