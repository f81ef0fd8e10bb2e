"""Image reading: one place that decodes files, and the one-line errors for files that cannot be used.

Every image becomes 8-bit RGB exactly as the reference loaders (ARNIQA, pyiqa) make it:
``PIL.Image.open(path).convert("RGB")``, without EXIF orientation. Greyscale, greyscale+alpha, RGBA,
palette, CMYK and 16-bit files are converted, never refused; the mode a file had is returned with
it (:func:`decode_rgb`) so that the conversions can be counted and reported. Pillow's conversions
are kept as they are, including their quirks: alpha is dropped (not composited), CMYK is converted
without a colour profile, and 16-bit greyscale (``I;16``) is clipped at 255, not rescaled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import IQABenchError

RGB = "RGB"  # the mode that needs no conversion
# What Pillow's convert("RGB") does to a mode, where a reader of the counts should know it.
CONVERSION_NOTES = {
    "I;16": "values above 255 are clipped to 255, as PIL's convert('RGB') does",
    "I": "values above 255 are clipped to 255, as PIL's convert('RGB') does",
    "LA": "alpha dropped",
    "RGBA": "alpha dropped",
    "PA": "alpha dropped",
    "CMYK": "converted without a colour profile",
    "RGB;16": "Pillow keeps the high byte of each 16-bit value",
    "RGBA;16": "Pillow keeps the high byte of each 16-bit value; alpha dropped",
}


class ImageError(IQABenchError):
    """An image file that cannot be used as it is; the message names the file."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"image {str(path)!r}: {reason}")
        self.path = str(path)
        self.reason = reason


def decode_rgb(path: str | Path) -> tuple[Image.Image, str]:
    """Decode ``path`` fully into an 8-bit RGB image; also return the file's mode (see :func:`image_mode`).

    Fails with :class:`ImageError` for a missing, truncated or corrupt file only."""
    p = Path(path)
    if not p.is_file():
        raise ImageError(p, "a folder, not an image file" if p.is_dir() else "file does not exist")
    try:
        with Image.open(p) as img:
            img.load()
            mode = _mode_of(img, p)
            return (img.copy() if img.mode == RGB else img.convert(RGB)), mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower() or "premature end" in reason.lower():
            reason = f"truncated image ({reason})"
        elif "cannot identify image file" in reason:
            reason = "not a readable image (corrupt or unknown format)"
        raise ImageError(p, reason) from exc


def load_rgb(path: str | Path) -> Image.Image:
    """Decode ``path`` fully into an 8-bit RGB PIL image (:func:`decode_rgb` without the mode)."""
    return decode_rgb(path)[0]


def image_mode(path: str | Path) -> str:
    """The mode of ``path`` from its header alone (no decoding): Pillow's mode name, with ``;16``
    appended for 16-bit-per-channel PNGs, which Pillow opens as 8-bit ``RGB``/``RGBA``.

    ``"unreadable"`` when the header cannot be read (counted, never raised: the caller decoded the
    file before, e.g. for the feature cache)."""
    try:
        with Image.open(path) as img:
            return _mode_of(img, Path(path))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return "unreadable"


def conversions_line(counts: Mapping[str, int]) -> str:
    """``"12 L, 1 CMYK (converted without a colour profile)"``: the conversion counts in one line."""
    parts = []
    for mode, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        note = CONVERSION_NOTES.get(mode)
        parts.append(f"{n} {mode}" + (f" ({note})" if note else ""))
    return ", ".join(parts)


def _mode_of(img: Image.Image, path: Path) -> str:
    if img.format == "PNG" and img.mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
        return f"{img.mode};16"
    return img.mode


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(25)
    # PNG signature (8) + IHDR length/type (8) + width, height (8) + bit depth (1 byte).
    return head[24] if len(head) == 25 and head[12:16] == b"IHDR" else 8


def to_array(img: Image.Image) -> np.ndarray:
    """H×W×3 uint8 array of an RGB image."""
    return np.asarray(img, dtype=np.uint8)
