"""Tiny plugin methods and synthetic datasets for the cache and protocol tests (``--plugin`` this file).

* ``tiny-stats`` (features): grey mean, std and Laplacian statistics of the whole image.
* ``tiny-sharp`` (scores, lower = better): mean absolute Laplacian (noise raises it).
* ``tiny-slow`` (features): ``tiny-stats`` that sleeps ``$IQABENCH_TEST_DELAY`` seconds per batch of
  one image, so that a test can kill an extraction half-way (an environment variable, not an
  option: options are part of the cache key).
* ``synth-mos`` / ``synth-dmos``: small noise-degraded images with a higher-better MOS and a
  lower-better DMOS (same structure, different contents), built by :func:`make_synth` (both:
  :func:`make_synth_pair`) under a data root.
* ``make_waterloo``: a miniature Waterloo Exploration copy (layout (a)).
* ``demo-few``, ``demo-few-a``, ``demo-few-b``: the demo data (and its variants) restricted to the
  first ``refs`` references, for protocol tests on the real demo images at a fraction of the cost.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from iqabench.datasets.demo import Demo, DemoA, DemoB
from PIL import Image

from iqabench.dataset import Dataset, ScoreSpec
from iqabench.method import Method
from iqabench.registry import register_dataset, register_method
from iqabench.views import Views

SIZE = 48


def _stats(batch: torch.Tensor) -> torch.Tensor:
    g = batch.mean(1)
    lap = 4 * g[:, 1:-1, 1:-1] - g[:, :-2, 1:-1] - g[:, 2:, 1:-1] - g[:, 1:-1, :-2] - g[:, 1:-1, 2:]
    return torch.stack([g.mean((1, 2)), g.std((1, 2)), lap.abs().mean((1, 2)), lap.std((1, 2))], dim=1)


@register_method("tiny-stats")
class TinyStats(Method):
    description = "test method: grey mean/std and Laplacian statistics"
    kind = "features"
    views = Views(crops=0)
    batch_size = 8

    def extract(self, batch):
        return _stats(batch)


@register_method("tiny-sharp")
class TinySharp(Method):
    description = "test method: mean absolute Laplacian (lower = better)"
    kind = "scores"
    higher_better = False
    views = Views(crops=0)
    batch_size = 8

    def extract(self, batch):
        return _stats(batch)[:, 2]


@register_method("tiny-slow")
class TinySlow(Method):
    description = "test method: tiny-stats, sleeping per batch"
    kind = "features"
    views = Views(crops=0)
    batch_size = 1

    def extract(self, batch):
        time.sleep(float(os.environ.get("IQABENCH_TEST_DELAY", "0")))
        return _stats(batch)


def make_synth(folder: Path, n_refs: int, seed: int, *, lower_better: bool, pristine: bool = False) -> Path:
    """``n_refs`` smooth random contents × white noise at levels 1..5 (+ pristine at level 0)."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    for r in range(n_refs):
        a, b, c = rng.uniform(0.5, 3.0, 3)
        base = 0.5 + 0.3 * np.sin(a * 6 * xx + b * 4 * yy + c)[..., None] * np.array([1.0, 0.8, 0.6])
        for level in range(0 if pristine else 1, 6):
            img = np.clip(base + rng.normal(0, 0.04 * level, base.shape), 0, 1)
            name = f"images/r{r:02d}_{level}.png"
            Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / name)
            quality = 1.0 - 0.15 * level + rng.normal(0, 0.01)
            rows.append(
                {
                    "image_id": name,
                    "ref": f"r{r:02d}",
                    "dist_type": "whitenoise" if level else "pristine",
                    "dist_group": "noise" if level else None,
                    "level": level,
                    "score": 100 * (1 - quality) if lower_better else quality,
                }
            )
    pd.DataFrame(rows).to_csv(folder / "index.csv", index=False)
    return folder


def make_synth_pair(root: Path, n_refs: int) -> Path:
    """``root/synth-mos`` (seed 1, higher = better) and ``root/synth-dmos`` (seed 2, lower = better)."""
    make_synth(root / "synth-mos", n_refs, 1, lower_better=False)
    make_synth(root / "synth-dmos", n_refs, 2, lower_better=True)
    return root


class _Synth(Dataset):
    def looks_like_root(self, folder: Path) -> bool:
        return (folder / "index.csv").is_file()

    def load_index(self) -> pd.DataFrame:
        df = pd.read_csv(self.root / "index.csv")
        df["path"] = [str(self.root / i) for i in df["image_id"]]
        return df


@register_dataset("synth-mos")
class SynthMOS(_Synth):
    description = "test dataset: noise levels, MOS (higher = better)"
    labels = {"mos": ScoreSpec("mos", higher_better=True, range=(0.0, 1.0))}
    folder_names = ("synth-mos",)


@register_dataset("synth-dmos")
class SynthDMOS(_Synth):
    description = "test dataset: noise levels, DMOS (lower = better)"
    labels = {"dmos": ScoreSpec("dmos", higher_better=False, range=(0.0, 100.0))}
    folder_names = ("synth-dmos",)


def make_waterloo(root: Path, n_pristine: int = 3, seed: int = 0) -> Path:
    """A miniature Waterloo Exploration copy in layout (a): pristine BMPs and 4 types × 5 levels."""
    rng = np.random.default_rng(seed)
    folder = root / "exploration_database_and_code"
    (folder / "pristine_images").mkdir(parents=True, exist_ok=True)
    types = ("jpeg", "jp2k", "wn", "gblur")
    for t in types:
        (folder / "distorted_images" / t).mkdir(parents=True, exist_ok=True)
    for k in range(1, n_pristine + 1):
        base = rng.uniform(0.2, 0.8, (SIZE, SIZE, 3))
        Image.fromarray((base * 255).astype(np.uint8)).save(folder / "pristine_images" / f"{k:05d}.bmp")
        for t in types:
            for level in range(1, 6):
                img = np.clip(base + rng.normal(0, 0.03 * level, base.shape), 0, 1)
                Image.fromarray((img * 255).astype(np.uint8)).save(folder / "distorted_images" / t / f"{k:05d}_{level}.bmp")
    return folder


# The demo data restricted to its first few references (sorted by name): the same image files as
# ``demo`` (so the feature cache is shared with it), few enough for fast tests.
class _FewRefs:
    option_defaults = {"seed": 0, "pristine": False, "types": "", "refs": 6}

    def load_index(self) -> pd.DataFrame:
        df = super().load_index()
        keep = sorted(df["ref"].unique())[: int(self.options["refs"])]
        return df[df["ref"].isin(keep)].reset_index(drop=True)


@register_dataset("demo-few")
class DemoFew(_FewRefs, Demo):
    description = "test dataset: the demo data, first references only"


@register_dataset("demo-few-a")
class DemoFewA(_FewRefs, DemoA):
    description = "test dataset: demo-a, first references only"


@register_dataset("demo-few-b")
class DemoFewB(_FewRefs, DemoB):
    description = "test dataset: demo-b, first references only"
