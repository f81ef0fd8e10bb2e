"""Re-IQA's 26-type distortion bank: the contract, the level tables, severity, and each type against
a re-statement of what the reference does with numpy, scipy, scikit-image and Pillow (the tests name
the step the reference takes; none of its code is here)."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from scipy import ndimage
from scipy.interpolate import UnivariateSpline
from skimage import color, filters

from iqabench.degradation import kernels
from iqabench.degradation import reiqa_bank as bank
from iqabench.degradation.pil_ops import gaussian_box_radius, pil_box_blur, pil_gaussian_blur, pil_resize
from iqabench.degradation.reiqa_bank import (
    FIXES,
    REIQA_BANK,
    REIQA_IDS,
    check_fixes,
    distort_reiqa,
    distorted_versions,
)
from iqabench.errors import IQABenchError

from .degradation_support import gen, mse, natural_crops, one_thread  # noqa: F401

# scikit-image warns each time it sets Z < 0 to 0 in LAB → XYZ, which the reference relies on.
pytestmark = pytest.mark.filterwarnings("ignore:Conversion from CIE-LAB:UserWarning")

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


@pytest.fixture(scope="module")
def img(small) -> np.ndarray:
    """One 8-bit photograph, 64 × 56 (unequal sides catch swapped axes), as the reference's
    ``np.array(im)``: H×W×3 uint8."""
    return to_hwc(small[0, :, :, :56])


def to_hwc(x: torch.Tensor) -> np.ndarray:
    return (x * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray(to_hwc(x))


def from_pil(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).float() / 255


def ours(key: str, image: np.ndarray, level: int, draws=None, fixes=()) -> np.ndarray:
    """The bank's type on one H×W×3 uint8 image, with the given draws (random types)."""
    entry = REIQA_BANK[key]
    u = torch.from_numpy(image.copy()).permute(2, 0, 1).unsqueeze(0).double()
    out = entry.apply(u, torch.tensor([level - 1]), draws, check_fixes(fixes))
    assert torch.equal(out, out.round()) and out.min() >= 0 and out.max() <= 255, key
    return out[0].permute(1, 2, 0).numpy().astype(np.uint8)


def assert_same(a: np.ndarray, b: np.ndarray, share: float = 0.0) -> None:
    """Equal 8-bit images, or (``share`` > 0) at most that share of values one level apart, where the
    reference's own result moves with numpy's transcendental functions."""
    diff = np.abs(a.astype(int) - b.astype(int))
    if share == 0:
        assert diff.max() == 0, f"{(diff > 0).sum()} of {diff.size} values differ, by up to {diff.max()}"
    else:
        assert diff.max() <= 1 and (diff > 0).mean() <= share, ((diff > 0).mean(), diff.max())


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
    assert set(FIXES) == {"round8", "colorshift_2d", "highsharpen_unit_rgb", "motionblur_centred"}


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
        (lambda: distort_reiqa(small, "jpeg_pil", 1, fixes=["round"]), "fixes: unknown Re-IQA bank fix 'round'"),
        (lambda: check_fixes("centred", "config data.bank_fixes"), "config data.bank_fixes: unknown Re-IQA bank fix"),
    ]:
        with pytest.raises(IQABenchError) as err:
            call()
        assert message in str(err.value) and "\n" not in str(err.value)


# -- severity ------------------------------------------------------------------------------------
# The reference's high sharpen posterises about equally at every level (its L saturates), so its
# severity is checked with the intended sharpening.
MONOTONE = [(k, ()) for k in ALL if k not in ("meanshift", "contrast", "highsharpen_laplacian")]
MONOTONE.append(("highsharpen_laplacian", ("highsharpen_unit_rgb",)))


@pytest.mark.parametrize("key,fixes", MONOTONE)
def test_severity_grows_with_level(key, fixes, crops):
    errors = [float(torch.cat([mse(distort_reiqa(crops, key, lv, gen(10 + s), fixes=fixes), crops)
                               for s in range(2)]).median()) for lv in range(1, 6)]
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


def test_meanshift_level_3_is_the_identity(crops):
    assert torch.equal(distort_reiqa(crops, "meanshift", 3), crops)  # float32(u/255)·255 truncates back to u


# -- Pillow as the oracle --------------------------------------------------------------------------
def _pil_batch(x: torch.Tensor, op) -> torch.Tensor:
    return torch.stack([from_pil(op(to_pil(img))) for img in x])


@pytest.mark.parametrize("radius", [0.1, 0.5, 1.0, 2.0, 5.0, 3.0])
def test_gaussian_blur_is_pillows(radius, small):
    ref = _pil_batch(small, lambda im: im.filter(ImageFilter.GaussianBlur(radius)))
    assert torch.equal(pil_gaussian_blur(small, radius), ref)  # Pillow's fixed-point arithmetic, bit for bit
    if radius in bank.GAUBLUR:
        assert torch.equal(distort_reiqa(small, "gaublur_pil", 1 + bank.GAUBLUR.index(radius)), ref)


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


# -- each type against a re-statement of the reference's steps ------------------------------------
def convolve_u8(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.convolve`` of each uint8 channel into a uint8 output, replicate borders."""
    return np.stack([ndimage.convolve(image[..., c], kernel, output=np.uint8, mode="nearest") for c in range(3)], -1)


def line_kernel(k: int, vertical: bool, index: int) -> np.ndarray:
    kernel = np.zeros((k, k))
    if vertical:
        kernel[:, index] = 1
    else:
        kernel[index, :] = 1
    return kernel / k


@pytest.mark.parametrize("level", [2, 5])
def test_lens_blur_is_ndimage_convolve_into_uint8(level, img):
    # Re-IQA's disc is MATLAB's fspecial('disk') (its port keeps the arc terms element by element):
    # fspecial('disk', 2) to 4 decimals, no negative weights.
    disc2 = np.array([[0, 0.0170, 0.0381], [0.0170, 0.0784, 0.0796], [0.0381, 0.0796, 0.0796]])
    assert np.abs(kernels.disk(2.0)[:3, :3] - disc2).max() < 5e-5 and (kernels.disk(8.0) >= 0).all()
    # A truncating uint8 output, not a rounding one: scipy's float sums of flat regions fall 1 − ε short.
    assert_same(ours("lensblur", img, level), convolve_u8(img, kernels.disk(float(bank.LENSBLUR[level - 1]))))


@pytest.mark.parametrize("level", [1, 5])
def test_motion_blur_line_sits_at_int_k_minus_1_over_2_and_scipy_centres_at_k_over_2(level, img):
    k = bank.MOTION_LINE[level - 1]
    for vertical in (True, False):  # random.choice([0, 90]): 0 puts the line in a column
        draws = torch.tensor([vertical])
        expected = convolve_u8(img, line_kernel(k, vertical, int((k - 1) / 2)))
        assert_same(ours("motionblur_line", img, level, draws), expected)
        centred = convolve_u8(img, line_kernel(k, vertical, k // 2))
        assert_same(ours("motionblur_line", img, level, draws, ["motionblur_centred"]), centred)
        # Even k: the default reads the neighbouring column (row) of the centred blur.
        shifted = (np.roll(centred, -1, axis=1 if vertical else 0))[:-1, :-1]
        assert np.array_equal(expected[:-1, :-1], shifted)


@pytest.mark.parametrize("level", [1, 5])
def test_colour_diffusion_blurs_lab_with_skimages_4_sigma_gaussian(level, img):
    amount = bank.COLORDIFF[level - 1]
    lab = color.rgb2lab(img)
    blurred = filters.gaussian(lab, sigma=1.5 * amount + 2, channel_axis=-1) * amount  # truncate=4.0 by default
    blurred[..., 0] = lab[..., 0]
    expected = np.uint8(np.clip(255 * color.lab2rgb(blurred), 0, 255))
    assert_same(ours("colordiff", img, level), expected, share=0.002)


@pytest.mark.parametrize("level", [1, 4, 5])
def test_saturation_types_are_skimages_hsv_and_lab_truncated(level, img):
    hsv = color.rgb2hsv(img)
    hsv[..., 1] *= bank.COLORSAT_HSV[level - 1]
    assert_same(ours("colorsat_hsv", img, level), np.uint8(np.clip(color.hsv2rgb(hsv) * 255.0, 0, 255)))
    lab = color.rgb2lab(img)
    lab[..., 1:] *= bank.COLORSAT_LAB[level - 1]
    # Level 1 is a bare LAB round trip: the truncation then follows the last bits of numpy's pow/cbrt.
    share = 0.6 if level == 1 else 0.002
    assert_same(ours("colorsat_lab", img, level), np.uint8(np.clip(color.lab2rgb(lab) * 255.0, 0, 255)), share)


def reference_edge_gate(im32: np.ndarray) -> np.ndarray:
    def mapmm(e):
        return (e - e.min()) / (e.max() - e.min()) if e.min() < e.max() else e

    gray = 0.2989 * im32[..., 0] + 0.5870 * im32[..., 1] + 0.1140 * im32[..., 2]
    e = mapmm(filters.gaussian(np.hypot(np.gradient(gray, axis=0), np.gradient(gray, axis=1)), sigma=4))
    e = mapmm(np.clip(e, 0.1, 1))
    return mapmm(np.clip(e, 1 - np.percentile(1 - e, 99), np.percentile(e, 99)))


@pytest.mark.parametrize("level", [2, 5])
def test_colour_shift_rolls_the_flattened_padded_green_channel(level, img):
    amount = bank.COLORSHIFT[level - 1]
    a = np.array([[0.61, 0.52]])  # one np.random.random([1, 2]) draw
    s = np.uint8(np.round(a / np.sqrt((a * a).sum()) * amount))[0]
    im32 = np.float32(img / 255.0)
    e = reference_edge_gate(im32)
    padded = np.pad(im32[..., 1], int(s.max()), "symmetric")
    p = int(s.max())
    for fixes, rolled in (((), np.roll(padded.ravel(), int(s.sum())).reshape(padded.shape)),  # no axis: flattened
                          (["colorshift_2d"], np.roll(padded, (int(s[0]), int(s[1])), axis=(0, 1)))):
        out = im32.copy()
        out[..., 1] = rolled[p:-p, p:-p] * e + im32[..., 1] * (1 - e)
        assert_same(ours("colorshift", img, level, torch.tensor(a), fixes), np.uint8(out * 255.0), share=0.002)


def _noise_draws(shape, seed):
    z = np.random.default_rng(seed).standard_normal(shape)
    return z, torch.from_numpy(z.transpose(2, 0, 1).copy()).unsqueeze(0)


@pytest.mark.parametrize("level", [1, 5])
def test_noise_types_truncate_as_the_reference(level, img):
    z, draws = _noise_draws(img.shape, level)
    x32 = np.float32(img / 255.0)
    sigma = bank.WHITENOISE[level - 1] ** 0.5
    assert_same(ours("whitenoise", img, level, draws), np.clip((x32 + sigma * z) * 255.0, 0, 255).astype(np.uint8))
    assert_same(ours("whitenoise", img, level, draws, ["round8"]), np.round(np.clip((x32 + sigma * z) * 255.0, 0, 255)))
    sigma = bank.MULTNOISE[level - 1] ** 0.5
    expected = np.clip((x32 + x32 * (sigma * z)) * 255.0, 0, 255).astype(np.uint8)
    assert_same(ours("multnoise", img, level, draws), expected)
    # scikit-image's studio-swing YCbCr: Y in 16..235, the noise added to YCbCr / 255.
    sigma = bank.WHITENOISE_YCBCR[level - 1] ** 0.5
    noisy = color.rgb2ycbcr(img) / 255.0 + sigma * z
    expected = np.clip(color.ycbcr2rgb(noisy * 255.0) * 255.0, 0, 255).astype(np.uint8)
    assert_same(ours("whitenoise_ycbcr", img, level, draws), expected)
    # Salt and pepper on whole pixels (all three channels): one uniform per pixel.
    probs = np.random.default_rng(level).random(img.shape[:2])
    d = bank.IMPULSENOISE[level - 1]
    expected = img.copy()
    expected[probs < d / 2] = 0
    expected[probs > 1 - d / 2] = 255
    assert_same(ours("impulsenoise", img, level, torch.from_numpy(probs).view(1, 1, *probs.shape)), expected)


@pytest.mark.parametrize("gaussian", [True, False])
def test_denoise_smooths_the_truncated_noisy_image_with_pillow(gaussian, img):
    z, draws = _noise_draws(img.shape, 3)
    noisy = Image.fromarray(np.clip((np.float32(img / 255.0) + 0.1 * z) * 255.0, 0, 255).astype(np.uint8))
    smooth = ImageFilter.GaussianBlur(radius=3) if gaussian else ImageFilter.BoxBlur(radius=2)
    expected = np.array(noisy.filter(smooth))
    assert_same(ours("denoise", img, 5, (draws, torch.tensor([gaussian]))), expected)


@pytest.mark.parametrize("level", [1, 3, 5])
def test_tone_curves_are_univariate_splines_on_float32_truncated(level, img):
    x32 = img.astype(np.float32) / 255.0
    a = bank.CONTRAST[level - 1]
    contrast = UnivariateSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.25 - a / 4, 0.5, 0.75 + a / 4, 1])  # s = 5: a cubic
    assert_same(ours("contrast", img, level), (np.clip(contrast(x32), 0, 1) * 255).astype(np.uint8))
    darken = UnivariateSpline([0, 0.5, 1], [0, 0.5 - bank.DARKEN[level - 1] / 2, 1], k=2)
    assert_same(ours("darken", img, level), (np.clip(darken(x32), 0, 1) * 255).astype(np.uint8))
    assert_same(ours("darken", img, level, fixes=["round8"]), np.round(np.clip(darken(x32), 0, 1) * 255))
    shifted = (np.float32(img / 255.0) + bank.MEANSHIFT[level - 1]) * 255.0  # float32 throughout
    assert_same(ours("meanshift", img, level), np.clip(shifted, 0, 255).astype(np.uint8))
    curve = UnivariateSpline([0, 0.5, 1], [0, 0.5 + bank.BRIGHTEN[level - 1] / 2, 1], k=2)
    im32 = np.float32(img / 255.0)
    lab = color.rgb2lab(im32)  # float32 in, float32 out
    lab[..., 0] = np.clip(curve(lab[..., 0] / 100.0), 0, 1) * 100.0
    expected = (2 * np.clip(curve(im32), 0, 1) + np.clip(color.lab2rgb(lab), 0, 1)) / 3.0
    assert_same(ours("brighten", img, level), np.clip(expected * 255.0, 0, 255).astype(np.uint8), share=0.002)


def reference_sharpen(rgb32: np.ndarray, k: float) -> np.ndarray:
    lab = color.rgb2lab(rgb32)
    lightness = lab[..., 0]
    laplacian = (np.gradient(np.gradient(lightness, axis=1), axis=1) +
                 np.gradient(np.gradient(lightness, axis=0), axis=0))
    lab[..., 0] = np.clip(lightness - k * laplacian, 0, 100)
    return (255 * color.lab2rgb(lab)).astype(np.uint8)


@pytest.mark.parametrize("level", [1, 5])
def test_high_sharpen_converts_0_to_255_values_to_lab(level, img):
    k = bank.HIGHSHARPEN[level - 1]
    default = ours("highsharpen_laplacian", img, level)
    assert_same(default, reference_sharpen(img.astype(np.float32), k), share=0.002)
    fixed = ours("highsharpen_laplacian", img, level, fixes=["highsharpen_unit_rgb"])
    assert_same(fixed, reference_sharpen(img.astype(np.float32) / 255.0, k), share=0.002)
    # The quirk posterises (a mean change of ~100 levels at every k); the fix sharpens.
    assert np.abs(default.astype(int) - img).mean() > 90 > np.abs(fixed.astype(int) - img).mean()


@pytest.mark.parametrize("level", [1, 5])
def test_pixelate_is_pillows_nearest_resize(level, img):
    z = 0.95 - bank.PIXELATE[level - 1] ** 0.6
    im = Image.fromarray(img)
    small_im = im.resize((int(z * im.width), int(z * im.height)), resample=Image.NEAREST)
    assert_same(ours("pixelate", img, level), np.array(small_im.resize(im.size, resample=Image.NEAREST)))


def test_jitter_resamples_with_cubic_bsplines_in_float32(img):
    level = 5
    z = np.random.default_rng(7).standard_normal((5, *img.shape[:2], 2))
    out = img.astype(np.float32)
    rows, cols = np.meshgrid(range(img.shape[0]), range(img.shape[1]), indexing="ij")
    for shifts in z * bank.JITTER[level - 1]:
        for c in range(3):
            coords = [(rows - shifts[..., 0]).ravel(), (cols - shifts[..., 1]).ravel()]
            out[..., c] = ndimage.map_coordinates(out[..., c], coords, order=3, mode="reflect").reshape(img.shape[:2])
        out = np.clip(out, 0, 255)
    assert_same(ours("jitter", img, level, torch.from_numpy(z).unsqueeze(0)), out.astype(np.uint8), share=0.002)


def test_colour_blocks_and_patch_copies_follow_the_references_positions(img):
    h, w = img.shape[:2]
    rnd = random.Random(3)
    colours = [[rnd.randint(0, 255) for _ in range(3)] for _ in range(10)]
    where = [[rnd.random(), rnd.random()] for _ in range(10)]
    expected = img.copy()
    for colour, (fx, fy) in zip(colours[:6], where[:6]):  # level 3: 6 blocks, painted in order
        x, y = int(fx * (w - 32)), int(fy * (h - 32))
        expected[y : y + 32, x : x + 32] = colour
    draws = (torch.tensor([colours]), torch.tensor([where], dtype=torch.float64))
    assert_same(ours("colorblock", img, 3, draws), expected)
    u = [[rnd.random() for _ in range(4)] for _ in range(100)]
    expected = img.astype(np.float32)
    for uw, uh, urw, urh in u[:20]:  # level 1: 20 copies, each reading what earlier ones left
        ws, hs = int(uw * (w - 48)) + 16, int(uh * (h - 48)) + 16
        wd, hd = int((urw - 0.5) * 16 + ws), int((urh - 0.5) * 16 + hs)
        expected[hd : hd + 16, wd : wd + 16] = expected[hs : hs + 16, ws : ws + 16].copy()
    assert_same(ours("noneccpatch", img, 1, torch.tensor([u], dtype=torch.float64)), expected.astype(np.uint8))


EXACT = ["gaublur_pil", "jpeg_pil", "impulsenoise", "resize_bicubic", "colorblock", "pixelate", "noneccpatch",
         "resize_bilinear", "resize_nearest", "resize_lanczos"]  # no arithmetic to truncate


def test_fixes_change_only_what_they_name(small):
    x = small[:1]
    named = {"round8": ["lensblur", "whitenoise", "darken", "colordiff"], "colorshift_2d": ["colorshift"],
             "highsharpen_unit_rgb": ["highsharpen_laplacian"], "motionblur_centred": ["motionblur_line"]}
    for fix, keys in named.items():
        for key in ALL:
            changed = not torch.equal(distort_reiqa(x, key, 4, gen(5)), distort_reiqa(x, key, 4, gen(5), fixes=[fix]))
            if key in keys:
                assert changed, (fix, key)
            elif fix != "round8" or key in EXACT:
                assert not changed, (fix, key)
    # Truncation darkens by half a level on average; rounding does not.
    truncated = distort_reiqa(x, "lensblur", 3) - x
    rounded = distort_reiqa(x, "lensblur", 3, fixes=["round8"]) - x
    assert float(truncated.mean()) * 255 < -0.3 < float(rounded.mean()) * 255


def test_distorted_versions_stack_the_original_and_each_type(small):
    x = small[:1]
    out = distorted_versions(x[0], [7, "gaublur_pil", 26], [5, 4, 1], gen(0), fixes=["motionblur_centred"])
    assert out.shape == (4, 3, 64, 64) and torch.equal(out[0], x[0])
    assert torch.equal(out[1], distort_reiqa(x, 7, 5)[0])
    assert torch.equal(out[2], distort_reiqa(x, "gaublur_pil", 4)[0])
    g = gen(0)
    distort_reiqa(x, 7, 5, g)  # deterministic types draw nothing
    assert torch.equal(out[3], distort_reiqa(x, 26, 1, g, fixes=["motionblur_centred"])[0])
