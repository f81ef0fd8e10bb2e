"""Shared helpers of the tests/test_degradation_*.py files (not a test module)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iqabench.degradation.sheet import square_crop


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: the machines are small and shared; oversubscribed threads crawl."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


_CROPS: dict[tuple[int, int], torch.Tensor] = {}


def natural_crops(count: int = 4, size: int = 224) -> torch.Tensor:
    """``count`` centre crops (size×size) of bundled colour photographs, N×3×H×W float32 in [0, 1]."""
    key = (count, size)
    if key not in _CROPS:
        from iqabench.photos import CONTENT

        photos = [p for p in CONTENT if not p.grayscale][:count]
        arrays = [np.asarray(square_crop(p.load(), size), dtype=np.float32) / 255.0 for p in photos]
        _CROPS[key] = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return _CROPS[key].clone()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error."""
    return ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))


def to_hwc(x: torch.Tensor) -> np.ndarray:
    """One CHW image → HWC float64 numpy."""
    return x.detach().double().permute(1, 2, 0).numpy()


def from_hwc(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)
