"""Shared pieces of the BRISQUE/NIQE tests: the test images and a pyiqa-based MSCN oracle.

The oracle composes pyiqa's own primitives (``imfilter`` with its padding modes, the GGD/AGGD
estimators, ``blockproc``/``compute_feature``, ``imresize``, ``nanmean``/``nancov``) with the two
documented deviations of iqabench (docs/nss.md, iqabench/nss.py):

* the 7×7 Gaussian in float64, as MATLAB's ``fspecial`` (pyiqa rounds it to float32, which
  leaves a ±1e-6 residue in flat windows);
* coefficients that are zero in exact arithmetic (flat or ramp-like windows) are exactly zero.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from iqabench import nss  # noqa: E402
from iqabench.images import load_rgb  # noqa: E402
from iqabench.photos import CONTENT  # noqa: E402
from iqabench.views import to_tensor  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def single_torch_thread():
    """One torch thread: the test machines are small and shared, and oversubscribed threads crawl."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def kodak_dir(kind: str) -> Path:
    import pyiqa

    return Path(pyiqa.__file__).resolve().parent.parent / "ResultsCalibra" / kind


KODAK = ("I03", "I04", "I06", "I08", "I19")
# Images without flat or ramp-like 7×7 windows, where unmodified pyiqa is comparable: elsewhere its
# float32 kernel leaves a ±1e-6 residue where the coefficient is exactly 0, which the AGGD fits then
# count as negative or positive (test_brisque.py::test_pyiqa_itself_is_unstable_on_flat_regions).
UNAMBIGUOUS = ("ref_I03", "ref_I04", "ref_I08", "ref_I19", "dist_I04", "chelsea", "coffee")


@cache
def calibration_images() -> dict[str, torch.Tensor]:
    """The 10 Kodak/TID2013 calibration images and two demo-content photographs, 1×3×H×W."""
    out = {}
    for kind in ("ref", "dist"):
        for name in KODAK:
            out[f"{kind}_{name}"] = to_tensor(load_rgb(kodak_dir(f"{kind}_dir") / f"{name}.bmp")).unsqueeze(0)
    for photo in CONTENT:
        if photo.name in ("chelsea", "coffee"):
            out[photo.name] = to_tensor(photo.load()).unsqueeze(0)
    return out


def matlab_gaussian() -> torch.Tensor:
    """``fspecial('gaussian', 7, 7/6)`` in double, shaped for pyiqa's ``imfilter``."""
    r = np.arange(-3, 4, dtype=np.float64)
    xx, yy = np.meshgrid(r, r)
    k = np.exp(-(xx**2 + yy**2) / (2 * (7 / 6) ** 2))
    return torch.from_numpy(k / k.sum())[None, None]


def oracle_mscn(y: torch.Tensor, padding: str) -> torch.Tensor:
    """MSCN of ``N×1×H×W`` grey levels with pyiqa's ``imfilter`` (``'same'`` = zero or ``'replicate'``)."""
    from pyiqa.matlab_utils import imfilter

    k = matlab_gaussian()
    mu = imfilter(y, k, padding=padding)
    sigma = torch.sqrt((imfilter(y * y, k, padding=padding) - mu * mu).abs())
    m = (y - mu) / (sigma + 1)
    ours = "zero" if padding == "same" else "replicate"
    exact_zero = (y - nss.gaussian_filter(y, ours)).abs() <= nss.EXACT_ZERO_TOL
    return torch.where(exact_zero, 0.0, m)


def max_rel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Relative deviation of ``a`` from ``b`` per last-dim entry, maximised over the other dims."""
    rel = (a.double() - b.double()).abs() / b.double().abs()
    return rel.reshape(-1, rel.shape[-1]).amax(0) if rel.ndim > 1 else rel
