"""Compression group ("jpeg" in the reference): jpeg2000 and jpeg (KADID #9, #10)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.io import decode_jpeg, encode_jpeg

from ..jpeg2000 import resolutions_for, round_trip
from .batching import by_level

JPEG2000 = (16, 32, 45, 120, 170)  # compression ratio (OpenJPEG "rates" mode)
JPEG = (43, 36, 24, 7, 4)  # libjpeg quality


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


def jpeg2000_jobs(x: Tensor, li: Tensor) -> list[tuple[np.ndarray, int, int]]:
    """The round trips :func:`jpeg2000` runs on ``x``: ``(H×W×3 uint8 image, ratio, resolutions)``
    per sample, for :func:`iqabench.jpeg2000.round_trip` in this process or in a worker process
    (:class:`~iqabench.degradation.codec_pool.JPEG2000Pool`): the bytes are the same wherever it runs."""
    resolutions = resolutions_for(*x.shape[-2:])
    arrays = _to_uint8(x).permute(0, 2, 3, 1).cpu().numpy()
    return [(arr, JPEG2000[level], resolutions) for arr, level in zip(arrays, li.tolist())]


def jpeg2000_tensor(images: list[np.ndarray], like: Tensor) -> Tensor:
    """The decoded round trips as an N×3×H×W tensor in [0, 1] of ``like``'s dtype and device."""
    y = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(device=like.device, dtype=like.dtype)
    return y.div_(255.0)


def jpeg2000(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Pillow/OpenJPEG round trip with the reference's settings (:func:`iqabench.jpeg2000.round_trip`).
    One image at a time on the CPU (OpenJPEG has no batch API); the dominant cost of the whole
    model, nearly all of it OpenJPEG's encoder, which holds the GIL: imagecodecs and glymur were
    measured as alternatives and give other pixels (docs/performance.md). Training on CUDA runs
    these round trips in worker processes instead (:class:`~iqabench.degradation.codec_pool.JPEG2000Pool`).

    OpenJPEG needs ``min(H, W) ≥ 2**(num_resolutions − 1)``: below 128 px the number of
    resolutions is lowered to the largest allowed (224² training crops are unaffected).
    """
    return jpeg2000_tensor([round_trip(*job) for job in jpeg2000_jobs(x, li)], x)
