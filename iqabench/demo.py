"""The built-in ``demo`` dataset: synthetic, built offline from photographs bundled in installed packages.

Recipe (version :data:`DEMO_VERSION`), deterministic for a seed:

1. The 20 reference contents of :data:`iqabench.photos.CONTENT` (skimage, scikit-learn,
   matplotlib and the 5 Kodak images in pyiqa's wheel) are converted to RGB, scaled to cover
   512×384 (bicubic) and centre-cropped to 512×384.
2. Each is degraded at the 5 levels of 7 distortion types of iqabench's ARNIQA degradation
   model, one type per KADID group (:data:`DEMO_TYPES`): 20 × 7 × 5 = 700 images, saved as PNG.
3. Each distorted image is labelled with a **pseudo-DMOS**: the full-reference GMSD (pyiqa's
   ``gmsd``, gradient magnitude similarity deviation; lower = better, 0 for an identical image)
   against its reference. GMSD was chosen for speed (about 30 ms per image, so the whole build
   takes about a minute on 2 cores) and because it sees all seven demo distortions (none is a
   pure chroma change). This is not a human opinion score: everything built on it is marked
   synthetic.

Everything lands in ``$IQABENCH_HOME/demo/v<version>-seed<seed>-<key>/`` (built in a temporary
folder and renamed into place; the key covers the source of the code that builds it and pyiqa's
version, see :data:`BUILD_CODE`), with ``index.csv`` and ``card.json`` describing the sources,
distortions and label.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from . import progress
from .errors import IQABenchError
from .fileio import atomic_write_json
from .fingerprint import source_fingerprint
from .paths import home
from .photos import CONTENT
from .views import to_tensor

log = logging.getLogger("iqabench")

DEMO_VERSION = "2"  # 2: label GMSD (lower = better) instead of FSIM
SIZE = (512, 384)  # width, height
# One distortion type per KADID group, so t-SNE panels show all seven groups.
DEMO_TYPES = ("darken", "gaublur", "pixelate", "whitenoise", "colorshift", "jpeg", "lincontrchange")
LABEL_METRIC = "gmsd"


# The code that decides the demo's pixels and labels: a change to any of it builds a new demo folder
# instead of reusing one made by other code (the label metric's version comes from pyiqa's metadata).
BUILD_CODE = ("demo.py", "photos.py", "images.py", "views.py", "degradation")


def demo_dir(seed: int = 0) -> Path:
    from importlib.metadata import version

    key = hashlib.sha256(f"{source_fingerprint(*BUILD_CODE)}|pyiqa {version('pyiqa')}".encode()).hexdigest()[:12]
    return home() / "demo" / f"v{DEMO_VERSION}-seed{seed}-{key}"


def ensure_demo(seed: int = 0) -> Path:
    """The demo folder for ``seed``, building it first if it is not there."""
    target = demo_dir(seed)
    if (target / "index.csv").is_file() and (target / "card.json").is_file():
        return target
    return build_demo(seed)


def fit_to_demo_size(img: Image.Image) -> Image.Image:
    w, h = img.size
    tw, th = SIZE
    scale = max(tw / w, th / h)
    if abs(scale - 1.0) > 1e-9:
        img = img.resize((max(tw, round(w * scale)), max(th, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - tw) // 2, (h - th) // 2
    return img.crop((left, top, left + tw, top + th))


def _generator(seed: int, *parts: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, *parts]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def build_demo(seed: int = 0) -> Path:
    from .degradation import DISTORTIONS, distort

    target = demo_dir(seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "refs").mkdir(parents=True)
    (tmp / "images").mkdir()
    started = time.time()
    log.info(f"building the demo dataset in {target} (one-off, about a minute)")
    try:
        metric = _label_metric()
        rows = []
        total = len(CONTENT) * len(DEMO_TYPES) * 5
        with progress.bar(total=total, desc="build demo", unit="img") as pbar:
            for r, photo in enumerate(CONTENT):
                ref_img = fit_to_demo_size(photo.load())
                ref_name = f"refs/{photo.name}.png"
                ref_img.save(tmp / ref_name, compress_level=1)
                ref = to_tensor(ref_img).unsqueeze(0)
                batch, names = [], []
                for t, key in enumerate(DEMO_TYPES):
                    for level in range(1, 6):
                        out = distort(ref, key, level, generator=_generator(seed, r, t, level))
                        arr = _to_uint8(out[0])
                        name = f"images/{photo.name}_{key}_{level}.png"
                        Image.fromarray(arr).save(tmp / name, compress_level=1)
                        # Label the 8-bit image as saved, not the float tensor.
                        batch.append(torch.from_numpy(arr).permute(2, 0, 1).float() / 255.0)
                        names.append((name, key, level))
                        pbar.update(1)
                scores = _score(metric, torch.stack(batch), ref)
                for (name, key, level), score in zip(names, scores):
                    rows.append(
                        {
                            "image_id": name,
                            "ref": photo.name,
                            "dist_type": key,
                            "dist_group": DISTORTIONS[key].group,
                            "level": level,
                            "score": float(score),
                        }
                    )
        index = pd.DataFrame(rows)
        index.to_csv(tmp / "index.csv", index=False, lineterminator="\n", float_format="%.6f")
        import pyiqa

        card = {
            "name": "demo",
            "version": DEMO_VERSION,
            "seed": seed,
            "synthetic": True,
            "size": list(SIZE),
            "n_images": len(index),
            "references": [
                {"name": p.name, "package": p.package, "file": p.relpath, "licence": p.licence, "grayscale": p.grayscale}
                for p in CONTENT
            ],
            "distortions": {k: {"group": DISTORTIONS[k].group, "levels": list(DISTORTIONS[k].levels)} for k in DEMO_TYPES},
            "label": {
                "name": "pseudo_dmos_gmsd",
                "metric": f"pyiqa {pyiqa.__version__} '{LABEL_METRIC}' (GMSD, full-reference, lower = better)",
                "higher_better": False,
                "note": "synthetic pseudo-DMOS from a full-reference metric, not human opinion scores",
            },
            "build_seconds": round(time.time() - started, 1),
        }
        atomic_write_json(tmp / "card.json", card)
        if target.exists():  # built concurrently by another process: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return target
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info(f"demo dataset built: {len(rows)} images in {time.time() - started:.0f} s")
    return target


def _label_metric():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import pyiqa

        return pyiqa.create_metric(LABEL_METRIC, device="cpu")
    except Exception as exc:  # pyiqa is a dependency; say plainly what failed
        raise IQABenchError(f"cannot create the demo's label metric pyiqa '{LABEL_METRIC}': {exc}") from exc


def _score(metric, dist: torch.Tensor, ref: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        out = metric(dist, ref.expand(len(dist), -1, -1, -1))
    return out.detach().cpu().numpy().reshape(-1)


def read_card(folder: Path) -> dict:
    return json.loads((folder / "card.json").read_text())
