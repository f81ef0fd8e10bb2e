"""Contact sheet: one image under all 24 types × 5 levels, labelled, for eyeballing."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .catalog import _TABLE, NUM_LEVELS, distort

LABEL_WIDTH = 170  # left column: type key and group
HEADER_HEIGHT = 22  # top row: column titles
CAPTION_HEIGHT = 16  # above each tile: the level's parameter value
COLUMNS = 1 + NUM_LEVELS  # the input, then L1..L5


def sheet_size(size: int) -> tuple[int, int]:
    """(width, height) of the sheet for tiles of ``size`` px."""
    return LABEL_WIDTH + COLUMNS * size, HEADER_HEIGHT + len(_TABLE) * (size + CAPTION_HEIGHT)


def square_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize so the short side is ``size`` (bicubic), then take the centre size×size crop."""
    w, h = img.size
    scale = size / min(w, h)
    if scale != 1:
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def _fmt(v: float) -> str:
    return f"{v:g}"


def contact_sheet(img: Image.Image, size: int = 224, seed: int = 0, device: str | torch.device = "cpu") -> Image.Image:
    """The sheet: a row per type (reference order), columns input, L1..L5.

    The image is centre-cropped to size×size (short side resized to ``size`` first). Each row's
    five levels are one batched :func:`distort` call; random types use a generator seeded with
    ``seed`` and the row number, so a row does not depend on the others.
    """
    crop = square_crop(img.convert("RGB"), size)
    x = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
    batch = x.unsqueeze(0).expand(NUM_LEVELS, -1, -1, -1).contiguous().to(device)
    width, height = sheet_size(size)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for col, title in enumerate(["input"] + [f"L{i}" for i in range(1, NUM_LEVELS + 1)]):
        draw.text((LABEL_WIDTH + col * size + 4, 4), title, fill="black", font=font)
    levels = torch.arange(1, NUM_LEVELS + 1)
    for row, dist in enumerate(_TABLE):
        top = HEADER_HEIGHT + row * (size + CAPTION_HEIGHT)  # caption band, then the tiles
        gen = torch.Generator().manual_seed(seed * 1000 + row)
        out = distort(batch, dist.key, levels, gen).cpu()
        tiles = (out * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        sheet.paste(crop, (LABEL_WIDTH, top + CAPTION_HEIGHT))
        for j in range(NUM_LEVELS):
            sheet.paste(Image.fromarray(tiles[j]), (LABEL_WIDTH + (j + 1) * size, top + CAPTION_HEIGHT))
            caption = f"{dist.key} = {_fmt(dist.levels[j])}"
            draw.text((LABEL_WIDTH + (j + 1) * size + 4, top + 2), caption, fill="black", font=font)
        kadid = f"KADID #{dist.kadid_id}" if dist.kadid_id is not None else "not in KADID"
        for k, (text, colour) in enumerate(((dist.key, "black"), (dist.group, "dimgray"), (kadid, "dimgray"))):
            draw.text((6, top + CAPTION_HEIGHT + size // 2 - 22 + 15 * k), text, fill=colour, font=font)
    return sheet
