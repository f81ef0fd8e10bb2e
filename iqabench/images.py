"""Image reading: one place that decodes files, and the one-line errors for files that cannot be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .errors import IQABenchError

# Modes that hold an 8-bit RGB picture once converted without losing information.
_RGB_MODES = {"RGB"}
_CONVERTIBLE = {"P", "CMYK", "YCbCr"}


class ImageError(IQABenchError):
    """An image file that cannot be used as it is; the message names the file."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"image {str(path)!r}: {reason}")
        self.path = str(path)
        self.reason = reason


def load_rgb(path: str | Path, *, allow_gray: bool = False) -> Image.Image:
    """Decode ``path`` fully into an 8-bit RGB PIL image.

    Fails with :class:`ImageError` for a missing, truncated or corrupt file, and for images that
    are not 8-bit colour (grayscale, alpha, 16-bit): IQA datasets are 8-bit RGB, so such a file
    means a broken or different copy. ``allow_gray`` converts grayscale (used by the demo builder,
    whose sources include grayscale photographs).
    """
    p = Path(path)
    if not p.is_file():
        raise ImageError(p, "a folder, not an image file" if p.is_dir() else "file does not exist")
    try:
        with Image.open(p) as img:
            img.load()
            mode = img.mode
            bits = _bit_depth(img)
            if bits > 8:
                raise ImageError(p, f"{bits}-bit image (mode {mode}); expected 8-bit RGB")
            if mode in _RGB_MODES:
                return img.copy()
            if mode in ("L", "1") and allow_gray:
                return img.convert("RGB")
            if mode in ("L", "1", "LA"):
                raise ImageError(p, f"grayscale image (mode {mode}); expected 8-bit RGB")
            if mode in ("RGBA", "RGBa", "PA"):
                raise ImageError(p, f"image has an alpha channel (mode {mode}); expected 8-bit RGB")
            if mode in _CONVERTIBLE:
                if mode == "P" and "transparency" in img.info:
                    raise ImageError(p, "palette image with transparency; expected 8-bit RGB")
                return img.convert("RGB")
            raise ImageError(p, f"unsupported image mode {mode}; expected 8-bit RGB")
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower() or "premature end" in reason.lower():
            reason = f"truncated image ({reason})"
        elif "cannot identify image file" in reason:
            reason = "not a readable image (corrupt or unknown format)"
        raise ImageError(p, reason) from exc


def _bit_depth(img: Image.Image) -> int:
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        return 16 if img.mode.startswith("I;16") else 32
    # Pillow reads 16-bit-per-channel PNG/TIFF colour images as 8-bit RGB; the header tells.
    if img.format == "PNG":
        depth = getattr(img, "_iqabench_png_depth", None)
        if depth is None:
            depth = _png_bit_depth(img)
        return depth
    if img.format == "BMP" and img.info.get("compression") == 3 and img.mode == "RGB":
        # 32-bit BMP with bit-field masks: Pillow may drop an alpha mask; the header tells.
        return 8
    if img.format == "TIFF":
        bps = img.tag_v2.get(258) if hasattr(img, "tag_v2") else None
        if bps:
            return max(bps) if isinstance(bps, tuple) else int(bps)
    return 8


def _png_bit_depth(img: Image.Image) -> int:
    fp = getattr(img, "filename", None)
    if not fp:
        return 8
    with open(fp, "rb") as f:
        head = f.read(33)
    # PNG signature (8) + IHDR length/type (8) + width, height (8) + bit depth (1 byte).
    if len(head) >= 25 and head[12:16] == b"IHDR":
        return head[24]
    return 8


def to_array(img: Image.Image) -> np.ndarray:
    """H×W×3 uint8 array of an RGB image."""
    return np.asarray(img, dtype=np.uint8)
