"""ARNIQA's self-supervised training task (paper §3.2, §4.1; arniqa.md §2).

Sample (per pair, ``P`` pairs per step and process):

* image A from the epoch's permutation of the pool, image B a uniformly random *other* image
  (``positives: same_image``: B = A, the Table 3 ablation);
* a random ``crop_size`` crop of each image at full scale and of its half-scale version (PIL
  bicubic, antialiased, to ``(w // 2, h // 2)``), the two crops not aligned, offsets uniform in
  ``[0, max(1, side − crop))`` and zero padding where the image is smaller, as the reference;
* one composition from the degradation sampler, applied to all four views on the training device
  (batched, :func:`iqabench.degradation.apply_compositions`) with fresh randomness per view.

Throughput: decoding and cropping run in ``data.workers`` DataLoader processes (pinned memory on
CUDA); JPEG 2000, the one type that runs on the CPU only, in ``data.jpeg2000_workers`` processes
(``auto``: on CUDA the host's cores less the DataLoader's and the training process's, at least 1; on
the CPU none, the model's threads use the cores); and the loop prepares each step's inputs one step
ahead, in a thread, while the model runs (:attr:`prepare_ahead`). None of it changes a number.

Loss: NT-Xent (τ = 0.1) over the ``4P`` projections: ``a = [A_full; A_half]``, ``b = [B_full;
B_half]``, positives ``(a_k, b_k)``, i.e. the same-scale crops of A and B; the encoder runs once on
``a`` and once on ``b`` (batch-norm statistics per stack, as the reference). ``hard_negatives:
false`` drops the half-scale views and doubles ``P`` so the loss sees as many embeddings.

Determinism: the permutation depends on (seed, epoch); the choice of B, the crops, the
compositions and the degradations of iteration ``i`` on rank ``r`` on (seed, epoch, i, r) only.

Validation (per epoch, rank 0): the method's own feature extraction (5 crops × 2 scales) on every
image in a train or val part of the configured labelled datasets; per split, ridge (alpha 0.1) on
the train part and SRCC on the val part; the dataset's score is the median over splits, the
epoch's score the mean over datasets.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ..errors import IQABenchError
from ..method import sha256_file
from ..models.arniqa import ARNIQANet, Weights, load_into, read_weights
from ..models.encoders import BACKBONES, arch_from_model_info, encoder_arch
from .contrastive import nt_xent
from .distributed import DistEnv
from .loop import Task
from .pools import ImagePool, open_pool

log = logging.getLogger("iqabench")

POSITIVES = ("different_image", "same_image")
MIN_CROP = 48  # the smallest crop every distortion type accepts


class PairwiseARNIQA(ARNIQANet):
    """ARNIQANet whose forward takes both stacks (one DDP forward per step) and returns their projections."""

    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return super().forward(a)[1], super().forward(b)[1]


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def random_crop(img: Image.Image, size: int, rng: np.random.Generator) -> Tensor:
    """A ``size``² crop at a uniform offset in [0, max(1, side − size)) (zero-padded beyond the image), uint8 3×S×S."""
    w, h = img.size
    left = int(rng.integers(0, max(1, w - size)))
    top = int(rng.integers(0, max(1, h - size)))
    arr = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def half_scale(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, w // 2), max(1, h // 2)), Image.BICUBIC)


class _IterationViews(torch.utils.data.Dataset):
    """Item ``j`` = the uint8 views of one iteration: ``[A_full; A_half; B_full; B_half]`` (or without halves)."""

    def __init__(self, pool: ImagePool, specs: list[tuple[np.ndarray, np.ndarray, list[int]]], crop: int, halves: bool,
                 half_cache: list[Image.Image] | None):
        self.pool, self.specs, self.crop, self.halves, self.half_cache = pool, specs, crop, halves, half_cache

    def __len__(self) -> int:
        return len(self.specs)

    def _images(self, i: int) -> tuple[Image.Image, Image.Image | None]:
        img = self.pool.load(i)
        if not self.halves:
            return img, None
        return img, self.half_cache[i] if self.half_cache is not None else half_scale(img)

    def __getitem__(self, j: int) -> Tensor:
        a_idx, b_idx, seeds = self.specs[j]
        a_full, a_half, b_full, b_half = [], [], [], []
        for a, b, seed in zip(a_idx.tolist(), b_idx.tolist(), seeds):
            rng = np.random.default_rng(seed)
            (img_a, half_a), (img_b, half_b) = self._images(a), self._images(b)
            a_full.append(random_crop(img_a, self.crop, rng))
            if self.halves:
                a_half.append(random_crop(half_a, self.crop, rng))
            b_full.append(random_crop(img_b, self.crop, rng))
            if self.halves:
                b_half.append(random_crop(half_b, self.crop, rng))
        return torch.stack(a_full + a_half + b_full + b_half)


class ARNIQATask(Task):
    name = "arniqa"
    prepare_ahead = True  # prepare() depends on (batch, epoch, iteration) only and draws from its own generators

    def __init__(self, cfg: dict[str, Any], env: DistEnv, *, data_root: str | None = None,
                 resumed_info: dict[str, Any] | None = None):
        """``resumed_info``: the ``model_info`` of the checkpoint a resumed run continues (its encoder
        architecture is rebuilt as recorded there)."""
        from ..degradation import Settings, sampler_for

        self.read_common(cfg, env, BACKBONES)
        m, d, t = cfg["model"], cfg["data"], cfg["training"]
        # Checked now; the architecture itself is fixed in build_model (it may come from the --init file).
        self.se_gate = str(m.get("se_gate") or "sigmoid")
        encoder_arch(self.backbone, self.se_gate, what="config model.se_gate")
        self.resumed_info = resumed_info
        self.arch: dict[str, str] = {}
        self.crop = int(d["crop_size"])
        if self.crop < MIN_CROP:
            raise IQABenchError(
                f"config data.crop_size must be at least {MIN_CROP} (noneccpatch moves 16 px patches by up to 8 px), got {self.crop}"
            )
        self.positives = str(t["positives"])
        if self.positives not in POSITIVES:
            raise IQABenchError(f"config training.positives: {self.positives!r} is not one of {', '.join(POSITIVES)}")
        self.hard_negatives = bool(t["hard_negatives"])
        # Without the half-scale views the batch is doubled, so the loss sees as many embeddings (Table 3).
        self.pairs = int(t["batch_size"]) * (1 if self.hard_negatives else 2)
        self.temperature = float(t["temperature"])
        self.jpeg2000_workers = self._jpeg2000_workers(d.get("jpeg2000_workers", "auto"))
        degradation = dict(cfg["degradation"])
        self.variant = str(degradation.pop("variant"))
        self.sampler = sampler_for(self.variant)
        # The rest of the section: how the reference's quirks are reproduced (docs/degradation.md, Settings).
        self.degradation_settings = Settings.from_mapping(degradation, "config degradation")
        self.pool = open_pool(str(d["source"]), data_root=data_root, tiles_per_side=int(d.get("tiles_per_side") or 2))
        if len(self.pool) < 2 and self.positives == "different_image":
            raise IQABenchError("training images: at least 2 are needed for pairs of different images")
        # Small in-memory pools: make each half-scale image once.
        self.half_cache = [half_scale(img) for img in self.pool.images] if self.pool.images is not None else None
        self.init = m.get("init")
        self.init_info: dict[str, Any] = {"seed": self.seed}
        self.val_datasets = self._open_validation(cfg.get("validation") or {}, data_root)
        self.jpeg2000_pool = None
        if self.jpeg2000_workers:
            from ..degradation.codec_pool import JPEG2000Pool

            self.jpeg2000_pool = JPEG2000Pool(self.jpeg2000_workers)
            log.info(f"JPEG 2000 in {self.jpeg2000_workers} worker processes")

    def _jpeg2000_workers(self, value: Any) -> int:
        if value in (None, "auto"):
            if self.env.device.type != "cuda":
                return 0
            from ..devices import host_cores

            return max(1, host_cores() - 1 - self.workers)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise IQABenchError(f"config data.jpeg2000_workers: expected auto or a number of processes (0 = in the "
                                f"training process), got {value!r}")
        return value

    def close(self) -> None:
        if self.jpeg2000_pool is not None:
            self.jpeg2000_pool.close()

    # -- model ----------------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        w = read_weights(self.init, "--init file") if self.init else None
        if w is not None:
            compatible = w.backbone == self.backbone or (self.backbone == "se_resnet50" and w.backbone == "resnet50")
            if not compatible:
                raise IQABenchError(f"--init file {str(self.init)!r} holds a {w.backbone}, the config trains a {self.backbone}")
        self.arch = self._encoder_arch(w)
        net = PairwiseARNIQA(self.backbone, int(self.cfg["model"].get("projection_dim") or 128), self.arch)
        if w is not None:
            same_proj = w.projector is not None and w.backbone == self.backbone and w.projection_dim == net.projector[2].out_features
            load_into(net, w, "--init file", allow_missing_se=self.backbone != w.backbone, projector=same_proj)
            self.init_info = {"file": str(w.path), "sha256": sha256_file(w.path), "format": w.format,
                              "backbone": w.backbone, "projector_loaded": same_proj}
            log.info(f"initial weights: {w.path} ({w.format} layout{', with projector' if same_proj else ''})")
        else:
            log.info(f"initial weights: random initialisation (seed {self.seed})")
        return net

    def _encoder_arch(self, w: Weights | None) -> dict[str, str]:
        """SE-ResNet-50: the resumed checkpoint's record, else what SE weights in the --init file need
        (their gate must be the configured one), else the configured gate with torchvision strides."""
        if self.backbone != "se_resnet50":
            return {}
        if self.resumed_info is not None:
            return arch_from_model_info({"backbone": self.backbone, **self.resumed_info}, "resumed checkpoint")
        if w is not None and w.backbone == "se_resnet50":
            if w.arch["se_gate"] != self.se_gate:
                raise IQABenchError(
                    f"--init file {str(w.path)!r} ({w.format} layout) holds SE-ResNet-50 weights with the "
                    f"{w.arch['se_gate']} SE gate, the config trains the {self.se_gate} gate "
                    f"(pass --se-gate {w.arch['se_gate']})"
                )
            return dict(w.arch)
        return encoder_arch(self.backbone, self.se_gate)

    def model_info(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            **({"encoder_arch": self.arch} if self.arch else {}),
            "crop_size": self.crop,
            "projection_dim": int(self.cfg["model"].get("projection_dim") or 128),
            "init": self.init_info,
            "pool": self.pool.describe(),
            "degradation": {"variant": self.variant, **self.sampler.config(),
                            "settings": self.degradation_settings.as_dict()},
            "positives": self.positives,
            "hard_negatives": self.hard_negatives,
            "pairs_per_step": self.pairs,
            "world_size": self.env.world_size,
        }

    # -- data -----------------------------------------------------------------------------------
    def iterations_per_epoch(self) -> int:
        return (len(self.pool) * self.repeats) // (self.pairs * self.env.world_size)

    def samples_per_step(self) -> int:
        return self.pairs

    def _spec(self, perm: np.ndarray, epoch: int, i: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
        r, w, p, n = self.env.rank, self.env.world_size, self.pairs, len(self.pool)
        a = perm[(i * w + r) * p : (i * w + r + 1) * p]
        if self.positives == "same_image":
            b = a.copy()
        else:  # a uniformly random other image
            b = (a + np.random.default_rng([self.seed, epoch, i, r, 1]).integers(1, n, size=p)) % n
        return a, b, [_seed(self.seed, epoch, i, r, 2, k) for k in range(p)]

    def batches(self, epoch: int, start: int):
        n = len(self.pool)
        perm = np.random.default_rng([self.seed, epoch, 0]).permutation(n * self.repeats) % n
        specs = [self._spec(perm, epoch, i) for i in range(start, self.iterations_per_epoch())]
        data = _IterationViews(self.pool, specs, self.crop, self.hard_negatives, self.half_cache)
        return self.loader(data, self.workers)

    def prepare(self, batch: Tensor, epoch: int, iteration: int) -> tuple[Tensor, dict[str, float]]:
        from ..degradation import apply_compositions

        t0 = time.perf_counter()
        dev = self.env.device
        views = batch.to(dev, non_blocking=True).float().div_(255.0)
        gen = torch.Generator(device=dev).manual_seed(_seed(self.seed, epoch, iteration, self.env.rank, 3))
        comps = self.sampler.sample_batch(self.pairs, gen)
        n_views = views.shape[0] // self.pairs
        out = apply_compositions(views, comps * n_views, gen, self.degradation_settings, self.jpeg2000_pool)
        if dev.type == "cuda":  # this stream only: the loop may run prepare() beside the model's work
            torch.cuda.current_stream(dev).synchronize()
        return out, {"prepare_s": time.perf_counter() - t0}

    def loss(self, model: nn.Module, inputs: Tensor) -> Tensor:
        half = inputs.shape[0] // 2  # [A views; B views]
        za, zb = model(inputs[:half], inputs[half:])
        return nt_xent(za, zb, self.temperature)

    # -- validation -----------------------------------------------------------------------------
    def _open_validation(self, vcfg: dict[str, Any], data_root: str | None) -> list:
        from .. import registry

        out = []
        for name in vcfg.get("datasets") or []:
            try:
                ds = registry.datasets.get(str(name))(root=data_root)
                if not ds.labelled:
                    raise IQABenchError(f"dataset {name!r} has no labels")
                ds.index()  # fail now, not after the first epoch
            except IQABenchError as exc:
                raise IQABenchError(
                    f"validation: {exc} (choose validation datasets with --val-dataset NAME or use --no-validation)"
                ) from exc
            out.append(ds)
        self.val_alpha = float(vcfg.get("alpha", 0.1))
        self.val_seed = int(vcfg.get("seed", 0))
        return out

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        if not self.val_datasets:
            return None
        from .. import registry
        from ..evaluation import Labelled
        from ..features import extract_features
        from ..quality_models import Ridge, select

        was_training = model.training
        model.eval()
        # The evaluation's own views and extraction code, around the network being trained.
        method = registry.methods.get("arniqa").from_net(model, self.crop, self.env.device)
        result: dict[str, float] = {}
        try:
            for ds in self.val_datasets:
                index = ds.index()
                splits = ds.splits(seed=self.val_seed)
                needed = {i for k in range(len(splits)) for part in ("train", "val") for i in splits.part(k, part)}
                table = extract_features(method, index[index["image_id"].isin(needed)], desc=f"validate on {ds.name}")
                data = Labelled.join(table, index, ds.score_spec.higher_better)
                # The reference's model selection: Ridge(alpha) on each train part, median SRCC on the val parts.
                chosen = select(Ridge(np.array([self.val_alpha]), ds.score_spec.higher_better), data, splits, test=False)
                result[ds.name] = chosen.val_srcc_median
        finally:
            model.train(was_training)
        result["score"] = float(np.mean([result[ds.name] for ds in self.val_datasets]))
        return result


def train_arniqa(
    cfg: dict[str, Any],
    out_dir,
    *,
    device: str = "auto",
    data_root: str | None = None,
    resume: dict[str, Any] | None = None,
    on_step=None,
) -> dict[str, Any]:
    """Train ARNIQA with a resolved config (single process, or one rank under torchrun)."""
    from .loop import run

    resumed_info = resume.get("model_info") or {} if resume is not None else None
    return run(lambda env: ARNIQATask(cfg, env, data_root=data_root, resumed_info=resumed_info), cfg, out_dir,
               device=device, resume=resume, on_step=on_step)
