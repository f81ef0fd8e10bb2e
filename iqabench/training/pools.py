"""Pools of pristine training images: a folder, a dataset plugin, or the bundled demo photographs.

``demo-pristine`` is :data:`iqabench.photos.PRISTINE` cut into tiles (held in memory); it is
disjoint from the demo dataset's test content (:data:`iqabench.photos.CONTENT`), which no
trainer may use. A folder is read recursively (PNG, JPEG, BMP, TIFF, WebP), sorted by path; a
dataset plugin (e.g. ``kadis700k``) contributes every image of its index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import IQABenchError
from ..images import load_rgb

DEMO_PRISTINE = "demo-pristine"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class ImagePool:
    source: str  # what the pool was made from, recorded in checkpoints
    names: list[str]
    paths: list[str] | None = None  # decoded on use
    images: list[Image.Image] | None = None  # held in memory (small pools)

    def __len__(self) -> int:
        return len(self.names)

    def load(self, i: int) -> Image.Image:
        if self.images is not None:
            return self.images[i]
        return load_rgb(self.paths[i])

    def describe(self) -> dict:
        return {"source": self.source, "n_images": len(self)}


def open_pool(source: str, *, data_root: str | None = None, tiles_per_side: int = 2) -> ImagePool:
    if source == DEMO_PRISTINE:
        from ..photos import pristine_tiles

        tiles = pristine_tiles(tiles_per_side)
        return ImagePool(f"{DEMO_PRISTINE} (tiles_per_side={tiles_per_side})", [n for n, _ in tiles], images=[t for _, t in tiles])
    folder = Path(source).expanduser()
    if folder.is_dir():
        paths = sorted(
            str(Path(dirpath) / f)
            for dirpath, _, files in os.walk(folder)
            for f in files
            if Path(f).suffix.lower() in IMAGE_SUFFIXES
        )
        if not paths:
            raise IQABenchError(f"training images: folder {str(folder)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return ImagePool(f"folder {folder}", [os.path.relpath(p, folder) for p in paths], paths=paths)
    from .. import registry

    if source not in registry.datasets:
        raise IQABenchError(
            f"training images {source!r}: not a folder, not {DEMO_PRISTINE!r} and not a dataset "
            f"(datasets: {', '.join(registry.datasets.names())})"
        )
    ds = registry.datasets.get(source)(root=data_root)
    index = ds.index()
    if len(index) < 2:
        raise IQABenchError(f"training images: dataset {source!r} has {len(index)} image(s); at least 2 are needed")
    return ImagePool(f"dataset {source} ({ds.root})", index["image_id"].tolist(), paths=index["path"].tolist())
