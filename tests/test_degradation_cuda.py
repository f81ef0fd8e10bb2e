"""CPU and CUDA run the same code: their outputs agree (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

from iqabench.degradation import DISTORTIONS, apply_compositions, distort, sampler_for

from .degradation_support import gen, natural_crops

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CODECS = ("jpeg", "jpeg2000")  # libjpeg vs nvJPEG are different encoders


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return 10 * torch.log10(torch.tensor(1 / max(mse, 1e-20))).item()


@pytest.mark.parametrize("key", [k for k, d in DISTORTIONS.items() if d.deterministic])
def test_deterministic_types_agree(key):
    x = natural_crops(4, 224)
    levels = torch.tensor([1, 3, 4, 5])
    cpu = distort(x, key, levels)
    cuda = distort(x.cuda(), key, levels.cuda())
    assert cuda.device.type == "cuda" and cuda.dtype == x.dtype and cuda.shape == x.shape
    assert _psnr(cpu, cuda.cpu()) >= (30 if key in CODECS else 40), key


@pytest.mark.parametrize("key", [k for k, d in DISTORTIONS.items() if not d.deterministic])
def test_random_types_with_a_cpu_generator_agree(key):
    # A CPU generator drives CUDA inputs: the same draws, moved to the device.
    x = natural_crops(2, 224)
    cpu = distort(x, key, 5, gen(3))
    cuda = distort(x.cuda(), key, 5, gen(3))
    assert cuda.device.type == "cuda" and _psnr(cpu, cuda.cpu()) >= 40, key


def test_cuda_generator_and_compositions():
    x = natural_crops(4, 224).cuda()
    g = torch.Generator(device="cuda").manual_seed(0)
    comps = sampler_for("arniqa").sample_batch(4, g)
    out = apply_compositions(x, comps, g)
    assert out.device.type == "cuda" and out.shape == x.shape and 0 <= float(out.min()) <= float(out.max()) <= 1
    g2 = torch.Generator(device="cuda").manual_seed(0)
    assert torch.equal(out, apply_compositions(x, sampler_for("arniqa").sample_batch(4, g2), g2))


def test_all_types_run_under_deterministic_algorithms():
    # ARNIQA trains with torch.use_deterministic_algorithms(True); no type may need a
    # nondeterministic CUDA kernel (or cuBLAS's workspace setting).
    x = natural_crops(2, 224).cuda()
    torch.use_deterministic_algorithms(True)
    try:
        for key in DISTORTIONS:
            a = distort(x, key, torch.tensor([2, 5]), gen(0))
            assert torch.equal(a, distort(x, key, torch.tensor([2, 5]), gen(0))), key
    finally:
        torch.use_deterministic_algorithms(False)
