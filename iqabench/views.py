"""Views: how a method looks at an image (whole image or N crops of size S, at scales 1 and ½).

The rules follow the ARNIQA evaluation protocol:

* the half-scale image is a PIL resize to ``(w // 2, h // 2)`` with bicubic filtering;
* the 5 crops are the centre (top-left at ``(h//2 - S//2, w//2 - S//2)``), then top-left,
  bottom-left, top-right and bottom-right, in that order;
* a crop that extends beyond the image is zero-padded (as PIL's ``crop`` does).

One *row* of features is produced per crop position: the features of that crop at every scale,
concatenated in scale order. With ``crops=0`` (whole image) there is one row per image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from .errors import IQABenchError

CROP_ORDER = ("centre", "top-left", "bottom-left", "top-right", "bottom-right")


@dataclass(frozen=True)
class Views:
    """``crops``: 0 for the whole image, 1 for the centre crop, 5 for centre + 4 corners."""

    crops: int = 0
    crop_size: int = 224
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self):
        if self.crops not in (0, 1, 5):
            raise IQABenchError(f"views: crops must be 0 (whole image), 1 (centre) or 5 (centre + corners), not {self.crops}")
        if not self.scales or any(s not in (1.0, 0.5) for s in self.scales):
            raise IQABenchError(f"views: scales must be drawn from (1.0, 0.5), not {self.scales}")
        if self.crops and self.crop_size < 1:
            raise IQABenchError(f"views: crop_size must be positive, not {self.crop_size}")

    @property
    def rows_per_image(self) -> int:
        return max(self.crops, 1)

    def describe(self) -> str:
        where = "whole image" if self.crops == 0 else f"{self.crops} crop{'s' if self.crops > 1 else ''} of {self.crop_size}"
        scales = " and ".join("full" if s == 1.0 else "half" for s in self.scales)
        return f"{where} at {scales} scale"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scales"] = list(self.scales)
        return d


def rescale(img: Image.Image, scale: float) -> Image.Image:
    if scale == 1.0:
        return img
    w, h = img.size
    return img.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.BICUBIC)


def crop_boxes(width: int, height: int, crops: int, size: int) -> list[tuple[int, int, int, int]]:
    """PIL boxes (left, top, right, bottom) in :data:`CROP_ORDER`; may extend beyond the image."""
    cx, cy = width // 2, height // 2
    tops_lefts = [
        (cy - size // 2, cx - size // 2),
        (0, 0),
        (height - size, 0),
        (0, width - size),
        (height - size, width - size),
    ][:crops]
    return [(left, top, left + size, top + size) for top, left in tops_lefts]


def to_tensor(img: Image.Image) -> torch.Tensor:
    """3×H×W float32 in [0, 1]."""
    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def make_views(img: Image.Image, views: Views) -> list[torch.Tensor]:
    """One tensor per scale, shaped ``rows × 3 × H × W`` (rows = number of crops, or 1)."""
    out = []
    for scale in views.scales:
        scaled = rescale(img, scale)
        if views.crops == 0:
            out.append(to_tensor(scaled).unsqueeze(0))
        else:
            boxes = crop_boxes(scaled.width, scaled.height, views.crops, views.crop_size)
            # PIL's crop zero-pads outside the image, as the reference implementation relies on.
            out.append(torch.stack([to_tensor(scaled.crop(b)) for b in boxes]))
    return out
