"""Compression group ("jpeg" in the reference): jpeg2000 and jpeg (KADID #9, #10)."""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.io import decode_jpeg, encode_jpeg

from .batching import by_level

JPEG2000 = (16, 32, 45, 120, 170)  # compression ratio (OpenJPEG "rates" mode)
JPEG = (43, 36, 24, 7, 4)  # libjpeg quality

_J2K_RESOLUTIONS = 8


def _to_uint8(x: Tensor) -> Tensor:
    """x·255 cast to uint8: *truncation*, not rounding (the reference's ``(x * 255).byte()``), so
    every pixel loses up to one grey level before compression (a darkening of ~0.5/255 on average)."""
    return (x * 255.0).to(torch.uint8)


def jpeg(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """torchvision ``encode_jpeg(quality)`` → ``decode_jpeg``: libjpeg on CPU, nvJPEG on CUDA, where
    each level's samples go to the codec as one list (a batched call)."""

    def run(u8: Tensor, level: int) -> Tensor:
        encoded = encode_jpeg(list(u8.contiguous().unbind(0)), quality=JPEG[level])
        if u8.is_cuda:  # decode_jpeg wants the bytes on the CPU; it decodes on `device`
            encoded = [e.cpu() for e in encoded]
        return torch.stack(decode_jpeg(encoded, device=u8.device))

    return by_level(_to_uint8(x), li, run).to(x.dtype).div_(255.0)


def jpeg2000(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Pillow/OpenJPEG round trip with the reference's settings: ``quality_mode='rates'``,
    ``quality_layers=[ratio]``, ``num_resolutions=8``, ``prog_order='LRCP'``, written as JP2 (a raw
    codestream, ``no_jp2``, decodes to other pixels). One image at a time on the CPU (OpenJPEG has
    no batch API); the dominant cost of the whole model, nearly all of it OpenJPEG's encoder:
    imagecodecs and glymur were measured as alternatives and give other pixels
    (docs/performance.md).

    OpenJPEG needs ``min(H, W) ≥ 2**(num_resolutions − 1)``: below 128 px the number of
    resolutions is lowered to the largest allowed (224² training crops are unaffected).
    """
    h, w = x.shape[-2:]
    resolutions = min(_J2K_RESOLUTIONS, int(math.floor(math.log2(min(h, w)))) + 1)
    arrays = _to_uint8(x).permute(0, 2, 3, 1).cpu().numpy()
    out = np.empty_like(arrays)
    for i, (arr, level) in enumerate(zip(arrays, li.tolist())):
        buf = io.BytesIO()
        Image.fromarray(arr).save(
            buf,
            format="JPEG2000",
            quality_mode="rates",
            quality_layers=[JPEG2000[level]],
            num_resolutions=resolutions,
            prog_order="LRCP",
        )
        buf.seek(0)
        with Image.open(buf, formats=["JPEG2000"]) as decoded:  # an RGB JP2 decodes as RGB: no conversion
            decoded.load()
            out[i] = np.asarray(decoded if decoded.mode == "RGB" else decoded.convert("RGB"))
    y = torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype)
    return y.div_(255.0)
