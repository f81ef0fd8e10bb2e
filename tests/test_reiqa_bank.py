"""Re-IQA's 26-type distortion bank: the contract, the level tables, severity, Pillow as the oracle."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from iqabench.degradation import DISTORTIONS, INTENDED_SETTINGS, distort
from iqabench.degradation import reiqa_bank as bank
from iqabench.degradation.pil_ops import gaussian_box_radius, pil_box_blur, pil_gaussian_blur, pil_resize
from iqabench.degradation.reiqa_bank import REIQA_BANK, REIQA_IDS, distort_reiqa, distorted_versions
from iqabench.errors import IQABenchError

from .degradation_support import gen, mse, natural_crops, one_thread  # noqa: F401

ALL = list(REIQA_BANK)
RANDOM = [k for k, e in REIQA_BANK.items() if not e.deterministic]
DETERMINISTIC = [k for k, e in REIQA_BANK.items() if e.deterministic]


def eight_bit(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round() / 255


@pytest.fixture(scope="module")
def crops() -> torch.Tensor:
    return eight_bit(natural_crops(3, 128))


@pytest.fixture(scope="module")
def small() -> torch.Tensor:
    return eight_bit(natural_crops(2, 64))


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())


def from_pil(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1).float() / 255


# -- catalogue -----------------------------------------------------------------------------------
def test_bank_holds_the_references_26_types_and_level_tables():
    assert len(REIQA_BANK) == 26 and sorted(REIQA_IDS) == list(range(1, 27))
    levels = {e.id: e.levels for e in REIQA_BANK.values()}
    assert levels[1] == (0.1, 0.5, 1, 2, 5) and levels[2] == (1, 2, 4, 6, 8) and levels[3] == (1, 3, 6, 8, 12)
    assert levels[4] == (1, 3, 6, 8, 12) and levels[5] == (0.4, 0.2, 0.1, 0, -0.4) and levels[6] == (1, 2, 3, 6, 9)
    assert levels[7] == (70, 43, 36, 24, 7) and levels[8] == (0.001, 0.002, 0.003, 0.005, 0.01)
    assert levels[9] == (1e-4, 5e-4, 1e-3, 2e-3, 3e-3) and levels[10] == (0.001, 0.005, 0.01, 0.02, 0.03)
    assert levels[11] == (0.001, 0.005, 0.01, 0.02, 0.05) and levels[12] == (0.001, 0.002, 0.003, 0.005, 0.01)
    assert levels[13] == (0.1, 0.2, 0.4, 0.7, 1.1) and levels[14] == (0.05, 0.1, 0.2, 0.4, 0.8)
    assert levels[15] == (0.15, 0.08, 0, -0.08, -0.15) and levels[16] == (2, 3, 4, 8, 16)
    assert levels[17] == (1, 2, 3, 6, 12) and levels[18] == (0.3, 0.15, 0, -0.4, -0.6)
    assert levels[19] == (2, 4, 6, 8, 10) and levels[20] == (0.01, 0.05, 0.1, 0.2, 0.5)
    assert levels[21] == (20, 40, 60, 80, 100) and levels[22] == (0.05, 0.1, 0.2, 0.5, 1)
    assert levels[23] == (2, 3, 4, 8, 16) and levels[24] == (2, 3, 4, 5, 6) and levels[25] == (2, 3, 4, 8, 16)
    assert levels[26] == (12, 16, 20, 24, 28)
    assert sorted(RANDOM) == sorted(["colorshift", "whitenoise", "whitenoise_ycbcr", "impulsenoise", "multnoise",
                                     "denoise", "colorblock", "noneccpatch", "jitter", "motionblur_line"])
    assert bank.get(7).key == "jpeg_pil" and bank.get("jpeg_pil").id == 7


def test_reused_types_are_the_arniqa_implementations_with_the_same_tables(small):
    reused = {e.key: e for e in REIQA_BANK.values() if e.reuses}
    assert set(reused) == {"lensblur", "colorshift", "colorsat_hsv", "whitenoise", "whitenoise_ycbcr", "impulsenoise",
                           "multnoise", "darken", "colorblock", "pixelate", "noneccpatch", "jitter"}
    for key, e in reused.items():
        arniqa = DISTORTIONS[e.reuses]
        assert e.levels == arniqa.levels and e.fn is arniqa.fn, key
        # Same operation; the bank's output is the ARNIQA type's, rounded to 8 bits. The bank calls the
        # type functions plainly, i.e. without the ARNIQA reference's quirks (INTENDED_SETTINGS).
        a = distort_reiqa(small, key, 4, gen(3))
        b = distort(small, e.reuses, 4, gen(3), INTENDED_SETTINGS)
        assert torch.equal(a, eight_bit(b)), key


# -- the distort_reiqa contract ------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_contract(key, small):
    x = small.clone()
    out = distort_reiqa(x, key, torch.tensor([1, 5]), gen(1))
    assert torch.equal(x, small)  # input untouched
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
    assert torch.equal(out, eight_bit(out))  # 8-bit images, as the reference's PIL images
    assert torch.equal(out, distort_reiqa(x, key, torch.tensor([1, 5]), gen(1)))  # same generator, same output
    out64 = distort_reiqa(small[:1].double(), key, 3, gen(2))
    assert out64.dtype == torch.float64 and out64.shape == (1, 3, 64, 64)


@pytest.mark.parametrize("key", RANDOM)
def test_random_types_draw_from_the_generator(key, small):
    assert not torch.equal(distort_reiqa(small, key, 5, gen(1)), distort_reiqa(small, key, 5, gen(2)))
    torch.manual_seed(7)
    a = distort_reiqa(small, key, 5)
    torch.manual_seed(7)
    assert torch.equal(a, distort_reiqa(small, key, 5))


@pytest.mark.parametrize("key", DETERMINISTIC)
def test_per_sample_levels_equal_single_level_calls(key, small):
    levels = torch.tensor([4, 2])
    out = distort_reiqa(small, key, levels)
    for i, lv in enumerate(levels.tolist()):
        assert (out[i] - distort_reiqa(small[i : i + 1], key, lv)[0]).abs().max() <= 1 / 255 + 1e-6


def test_bad_arguments_give_one_line_errors(small):
    for call, message in [
        (lambda: distort_reiqa(small, "gaussblur", 1), "unknown Re-IQA distortion 'gaussblur'"),
        (lambda: distort_reiqa(small, 27, 1), "id 27 out of range"),
        (lambda: distort_reiqa(small, "jpeg_pil", 6), "level 6 out of range"),
        (lambda: distort_reiqa(small[0], "jpeg_pil", 1), "N×3×H×W"),
        (lambda: distorted_versions(small, ["jpeg_pil"], [1]), "one image"),
    ]:
        with pytest.raises(IQABenchError) as err:
            call()
        assert message in str(err.value) and "\n" not in str(err.value)


# -- severity ------------------------------------------------------------------------------------
MONOTONE = [k for k in ALL if k not in ("meanshift", "contrast")]


@pytest.mark.parametrize("key", MONOTONE)
def test_severity_grows_with_level(key, crops):
    errors = [float(torch.cat([mse(distort_reiqa(crops, key, lv, gen(10 + s)), crops) for s in range(2)]).median())
              for lv in range(1, 6)]
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


def test_meanshift_and_contrast_follow_the_references_order(crops):
    for level, amount in enumerate((0.15, 0.08, 0.0, -0.08, -0.15), start=1):
        assert torch.allclose(distort_reiqa(crops, "meanshift", level), eight_bit((crops + amount).clamp(0, 1)))
    assert torch.equal(distort_reiqa(crops, "meanshift", 3), crops)  # level 3 is the identity
    from scipy.interpolate import CubicSpline

    for level, a in enumerate((0.3, 0.15, 0.0, -0.4, -0.6), start=1):
        spline = CubicSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.25 - a / 4, 0.5, 0.75 + a / 4, 1], bc_type="not-a-knot")
        expected = np.clip(spline(crops[:1].double().numpy()), 0, 1)
        assert np.abs(distort_reiqa(crops[:1], "contrast", level).double().numpy() - expected).max() <= 0.5 / 255 + 1e-6


# -- Pillow as the oracle --------------------------------------------------------------------------
def _pil_batch(x: torch.Tensor, op) -> torch.Tensor:
    return torch.stack([from_pil(op(to_pil(img))) for img in x])


@pytest.mark.parametrize("radius", [0.1, 0.5, 1.0, 2.0, 5.0, 3.0])
def test_gaussian_blur_is_pillows(radius, small):
    ref = _pil_batch(small, lambda im: im.filter(ImageFilter.GaussianBlur(radius)))
    assert torch.equal(pil_gaussian_blur(small, radius), ref)  # Pillow's fixed-point arithmetic, bit for bit
    if radius in bank.GAUBLUR_PIL:
        assert torch.equal(distort_reiqa(small, "gaublur_pil", 1 + bank.GAUBLUR_PIL.index(radius)), ref)


def test_box_blur_is_pillows_and_extended_radius_has_the_gaussians_variance(small):
    for radius in (2.0, 1.375):
        ref = _pil_batch(small, lambda im, r=radius: im.filter(ImageFilter.BoxBlur(r)))
        assert torch.equal(pil_box_blur(small, radius), ref)
    for sigma in (0.5, 1.0, 3.0, 5.0):
        r = gaussian_box_radius(sigma)
        whole = int(r)
        k = np.full(2 * whole + 3, 1.0)
        k[0] = k[-1] = r - whole
        k /= k.sum()
        offsets = np.arange(len(k)) - len(k) // 2
        assert 3 * float((k * offsets**2).sum()) == pytest.approx(sigma**2, rel=1e-6)


@pytest.mark.parametrize("name,flt", [("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR),
                                      ("lanczos", Image.LANCZOS), ("nearest", Image.NEAREST)])
def test_resizes_are_pillows(name, flt, small):
    from iqabench.degradation.pil_ops import nearest_indices

    strip = Image.fromarray(np.tile(np.arange(60, dtype=np.uint8), (2, 1)))
    for out in (7, 21, 59, 61, 133):  # Pillow's accumulated NEAREST positions, boundaries included
        assert np.array_equal(np.array(strip.resize((out, 2), Image.NEAREST))[0], nearest_indices(60, out))
    x = small[:, :, :, :60]  # 64 × 60: unequal sides
    # Both axes reduced or both enlarged, as in the bank (Pillow 13 may run the vertical pass first
    # when one axis grows and the other shrinks; pil_resize always starts horizontally).
    for size in ((30, 32), (7, 5), (21, 13), (97, 101), (60, 64)):
        ours = pil_resize(x, size, name)
        ref = _pil_batch(x, lambda im, s=size: im.resize(s, flt))
        assert torch.equal(ours, ref), (name, size)
    key = {"bicubic": "resize_bicubic", "bilinear": "resize_bilinear", "lanczos": "resize_lanczos",
           "nearest": "resize_nearest"}[name]
    factor = REIQA_BANK[key].levels[1]
    small_size = (60 // factor, 64 // factor)
    ref = _pil_batch(x, lambda im: im.resize(small_size, flt).resize((60, 64), flt))
    assert torch.equal(distort_reiqa(x, key, 2), ref)


@pytest.mark.parametrize("level", range(1, 6))
def test_jpeg_is_pillows_libjpeg(level, small):
    quality = REIQA_BANK["jpeg_pil"].levels[level - 1]

    def pil_jpeg(im):
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        return Image.open(buf)

    assert torch.equal(distort_reiqa(small, "jpeg_pil", level), _pil_batch(small, pil_jpeg))


# -- the new operations ---------------------------------------------------------------------------
def test_motion_blur_is_a_horizontal_or_vertical_line(small):
    g = gen(4)
    state = g.get_state()
    out = distort_reiqa(small, "motionblur_line", 1, g)  # length 12
    vertical = (torch.rand(2, generator=torch.Generator().set_state(state), dtype=torch.float64) < 0.5).tolist()
    for i, v in enumerate(vertical):
        img = small[i].transpose(1, 2) if v else small[i]
        padded = torch.nn.functional.pad(img.unsqueeze(0), (6, 5, 0, 0), mode="replicate")[0]
        expected = torch.stack([padded[..., j : j + 12].mean(-1) for j in range(img.shape[-1])], dim=-1)
        expected = expected.transpose(1, 2) if v else expected
        assert (out[i] - eight_bit(expected)).abs().max() <= 1 / 255 + 1e-6


def test_highsharpen_subtracts_the_laplacian_of_lab_lightness(small):
    from iqabench.degradation.colorspace import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(small[:1].double())
    lpad = torch.nn.functional.pad(lab[:, :1], (1, 1, 1, 1), mode="replicate")
    lap = lpad[..., :-2, 1:-1] + lpad[..., 2:, 1:-1] + lpad[..., 1:-1, :-2] + lpad[..., 1:-1, 2:] - 4 * lab[:, :1]
    expected = lab_to_rgb(torch.cat([lab[:, :1] - 3 * lap, lab[:, 1:]], 1))
    assert (distort_reiqa(small[:1].double(), "highsharpen_laplacian", 3) - eight_bit(expected)).abs().max() < 1.01 / 255


def test_denoise_is_noise_then_one_of_two_smoothings(small):
    out = distort_reiqa(small, "denoise", 5, gen(0))
    # Smoothing leaves far less high-frequency energy than the noise alone would.
    noisy = eight_bit((small + math.sqrt(0.01) * torch.randn(small.shape, generator=gen(0))).clamp(0, 1))
    hf = lambda t: (t[..., 1:, :] - t[..., :-1, :]).abs().mean()  # noqa: E731
    assert hf(out) < 0.5 * hf(noisy)
    choices = set()
    for seed in range(8):
        g = gen(seed)
        g_state = g.get_state()
        torch.randn(small.shape, generator=g)  # the noise field is drawn first
        choices.update((torch.rand(2, generator=g, dtype=torch.float64) < 0.5).tolist())
        g.set_state(g_state)
    assert choices == {True, False}


def test_distorted_versions_stack_the_original_and_each_type(small):
    x = small[:1]
    out = distorted_versions(x[0], [7, "gaublur_pil", 26], [5, 4, 1], gen(0))
    assert out.shape == (4, 3, 64, 64) and torch.equal(out[0], x[0])
    assert torch.equal(out[1], distort_reiqa(x, 7, 5)[0])
    assert torch.equal(out[2], distort_reiqa(x, "gaublur_pil", 4)[0])
