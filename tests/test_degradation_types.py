"""The 24 distortion types: the distort() contract, severity order, and per-type semantics checked
against literal per-image re-statements of the reference (scipy, skimage, Pillow, torchvision)."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.interpolate import CubicSpline
from scipy.ndimage import correlate
from skimage import color as skcolor
from torchvision.io import decode_jpeg, encode_jpeg

from iqabench.degradation import DISTORTIONS, GROUPS, Distortion, Settings, distort, kernels, spatial
from iqabench.degradation import colorspace as cs
from iqabench.errors import IQABenchError

from .degradation_support import from_hwc, gen, mse, natural_crops, one_thread, to_hwc  # noqa: F401

ALL = list(DISTORTIONS)
RANDOM = [k for k, d in DISTORTIONS.items() if not d.deterministic]
DETERMINISTIC = [k for k, d in DISTORTIONS.items() if d.deterministic]
LEVELS = torch.arange(1, 6)


@pytest.fixture(scope="module")
def crops() -> torch.Tensor:
    return natural_crops(4, 224)


@pytest.fixture(scope="module")
def small() -> torch.Tensor:
    return natural_crops(2, 64)


# -- catalogue --------------------------------------------------------------------------------------


def test_catalogue_matches_the_reference_tables():
    from iqabench.dataset import DIST_GROUPS

    assert len(DISTORTIONS) == 24 and tuple(GROUPS) == DIST_GROUPS
    sizes = {g: len(v) for g, v in GROUPS.items()}
    assert sizes == {"brightness_change": 3, "blur": 3, "spatial_distortion": 5, "noise": 4,
                     "color_distortion": 4, "jpeg": 2, "sharpness_contrast": 3}
    assert sorted(k for keys in GROUPS.values() for k in keys) == sorted(DISTORTIONS)
    table = {k: d.levels for k, d in DISTORTIONS.items()}
    assert table["gaublur"] == (0.1, 0.5, 1, 2, 5) and table["jpeg"] == (43, 36, 24, 7, 4)
    assert table["jpeg2000"] == (16, 32, 45, 120, 170) and table["meanshift"] == (0, 0.08, -0.08, 0.15, -0.15)
    assert table["lincontrchange"] == (0, 0.15, -0.4, 0.3, -0.6) and table["colorsat1"] == (0.4, 0.2, 0.1, 0, -0.4)
    assert table["nonlincontrchange"] == (0.4, 0.3, 0.2, 0.1, 0.05) and table["quantization"] == (20, 16, 13, 10, 7)
    assert DISTORTIONS["nonlincontrchange"].kadid_id is None and DISTORTIONS["highsharpen"].kadid_id == 24
    assert sorted(RANDOM) == sorted(["motionblur", "colorshift", "whitenoise", "whitenoiseCC", "impulsenoise",
                                     "multnoise", "jitter", "noneccpatch", "colorblock"])
    d = DISTORTIONS["gaublur"]
    assert isinstance(d, Distortion) and len(d.levels) == 5 and d.description
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.key = "x"


# -- the distort() contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_contract(key, small):
    x = small.clone()
    out = distort(x, key, LEVELS[:2], gen(1))
    assert torch.equal(x, small)  # input untouched
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
    again = distort(x, key, LEVELS[:2], gen(1))
    assert torch.equal(out, again)  # same generator state, same input: same output
    x64 = small[:1].double()
    out64 = distort(x64, key, 5, gen(2))
    assert out64.dtype == torch.float64 and out64.shape == x64.shape and torch.equal(x64, small[:1].double())


@pytest.mark.parametrize("key", RANDOM)
def test_random_types_use_the_generator(key, small):
    a = distort(small, key, 5, gen(1))
    b = distort(small, key, 5, gen(2))
    assert not torch.equal(a, b)
    torch.manual_seed(7)
    c = distort(small, key, 5)  # generator=None: seeded from the global RNG ...
    torch.manual_seed(7)
    assert torch.equal(c, distort(small, key, 5))
    assert not torch.equal(c, distort(small, key, 5))  # ... and fresh on every call


@pytest.mark.parametrize("key", DETERMINISTIC)
def test_per_sample_levels_equal_single_level_calls(key, small):
    x = torch.cat([small, small[:1]])
    levels = torch.tensor([5, 2, 3])
    out = distort(x, key, levels)
    for i, lv in enumerate(levels.tolist()):
        assert torch.allclose(out[i : i + 1], distort(x[i : i + 1], key, lv), atol=1e-5)  # conv summation order


def test_bad_arguments_give_one_line_errors(small):
    cases = [
        (lambda: distort(small, "gaussblur", 1), "unknown distortion 'gaussblur'"),
        (lambda: distort(small, "gaublur", 0), "level 0 out of range"),
        (lambda: distort(small, "gaublur", 6), "level 6 out of range"),
        (lambda: distort(small, "gaublur", torch.tensor([1, 2, 3])), "3 levels for a batch of 2"),
        (lambda: distort(small[0], "gaublur", 1), "N×3×H×W"),
        (lambda: distort((small * 255).to(torch.uint8), "gaublur", 1), "float32 or float64"),
        (lambda: distort(small[:, :, :20, :20], "noneccpatch", 1), "at least 48×48"),
    ]
    for call, message in cases:
        with pytest.raises(IQABenchError) as err:
            call()
        assert message in str(err.value) and "\n" not in str(err.value)
    assert distort(small[:0], "jpeg", 1).shape == (0, 3, 64, 64)


def test_settings_are_checked_and_default_to_the_reference():
    assert Settings().as_dict() == {"lens_kernel": "arniqa", "patch_copy": "arniqa", "jitter_crop": "arniqa",
                                    "colorshift_clamp": "arniqa"}
    assert Settings.from_mapping({"lens_kernel": "matlab"}) == Settings(lens_kernel="matlab")
    cases = [
        (lambda: Settings(patch_copy="whole"), "degradation setting patch_copy: 'whole' is not one of arniqa, atomic"),
        (lambda: Settings.from_mapping({"lens_kernal": "matlab"}, "config degradation"),
         "config degradation: unknown setting 'lens_kernal'"),
        (lambda: Settings.from_mapping({"jitter_crop": "none"}, "config degradation"),
         "config degradation jitter_crop: 'none' is not one of arniqa, centred"),
    ]
    for call, message in cases:
        with pytest.raises(IQABenchError) as err:
            call()
        assert message in str(err.value) and "\n" not in str(err.value)


# -- severity -----------------------------------------------------------------------------------------

# Types whose level table is monotone in strength; the others are checked one by one below.
MONOTONE = [k for k in ALL if k not in ("meanshift", "lincontrchange")]


@pytest.mark.parametrize("key", MONOTONE)
def test_severity_grows_with_level(key, crops):
    # Median over crops and seeds: quantization's min-max stretch makes single images non-monotone.
    # jitter's ±1 px translations (the reference's quirk) scatter single draws so much that L4 can
    # beat L5 (reference, mean |Δ| over 20 seeds: 0.044 ± 0.004 vs 0.051 ± 0.002): its shift fields
    # alone are checked here.
    settings = Settings(jitter_crop="centred") if key == "jitter" else Settings()
    errors = []
    for level in range(1, 6):
        e = torch.cat([mse(distort(crops, key, level, gen(10 + s), settings), crops) for s in range(2)]).median()
        errors.append(float(e))
    assert all(a < b for a, b in zip(errors, errors[1:])), [f"{10 * math.log10(1 / max(e, 1e-12)):.2f} dB" for e in errors]


def test_meanshift_levels(crops):
    assert torch.equal(distort(crops, "meanshift", 1), crops)  # L1 is the identity
    for level, amount in zip(range(2, 6), (0.08, -0.08, 0.15, -0.15)):
        assert torch.allclose(distort(crops, "meanshift", level), (crops + amount).clamp(0, 1))


def test_lincontrchange_level1_is_not_identity(crops):
    out = distort(crops, "lincontrchange", 1)
    assert float(mse(out, crops).mean()) > 1e-4
    spline = CubicSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.25, 0.5, 0.75, 1], bc_type="not-a-knot")
    assert np.abs(out.double().numpy() - np.clip(spline(crops.double().numpy()), 0, 1)).max() < 1e-6


@pytest.mark.parametrize("level", range(1, 6))
def test_lincontrchange_is_the_spline(level, crops):
    a = DISTORTIONS["lincontrchange"].levels[level - 1]
    spline = CubicSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.25 - a / 4, 0.5, 0.75 + a / 4, 1], bc_type="not-a-knot")
    out = distort(crops[:1], "lincontrchange", level)
    assert np.abs(out.double().numpy() - np.clip(spline(crops[:1].double().numpy()), 0, 1)).max() < 1e-6


# -- blur ----------------------------------------------------------------------------------------------


def _correlate_rgb(img: torch.Tensor, k: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(correlate(img[c].double().numpy(), k, mode="nearest")) for c in range(3)])


@pytest.mark.parametrize("level", range(1, 6))
def test_gaublur_and_lensblur_are_replicate_correlations(level, small):
    sigma = DISTORTIONS["gaublur"].levels[level - 1]
    k = kernels.gaussian_2d(sigma, kernels.gaussian_size(sigma))
    assert (distort(small[:1], "gaublur", level)[0] - _correlate_rgb(small[0], k)).abs().max() < 1e-5
    radius = DISTORTIONS["lensblur"].levels[level - 1]
    # Default: the reference's disc (what the released weights saw); option: MATLAB's exact disc.
    ref = _correlate_rgb(small[0], kernels.disk_arniqa(radius)).clamp(0, 1)  # negative taps can undershoot
    assert (distort(small[:1], "lensblur", level)[0] - ref).abs().max() < 1e-5
    matlab = distort(small[:1], "lensblur", level, settings=Settings(lens_kernel="matlab"))[0]
    assert (matlab - _correlate_rgb(small[0], kernels.disk(radius))).abs().max() < 1e-5
    if level > 1:
        assert (matlab - distort(small[:1], "lensblur", level)[0]).abs().max() > 1e-3


def test_motionblur_draws_an_integer_angle_per_sample(small):
    g = gen(5)
    state = g.get_state()
    x = torch.cat([small, small])
    levels = torch.tensor([5, 4, 5, 3])
    out = distort(x, "motionblur", levels, g)
    angles = torch.randint(0, 181, (4,), generator=torch.Generator().set_state(state)).tolist()
    for i in range(4):
        k = kernels.motion(DISTORTIONS["motionblur"].levels[int(levels[i]) - 1], angles[i])
        assert (out[i] - _correlate_rgb(x[i], k)).abs().max() < 1e-5
    assert torch.allclose(distort(small, "motionblur", 1, gen(0)), small, atol=1e-6)  # length 1


# -- colour --------------------------------------------------------------------------------------------


def _sk_lab_bgr(img: torch.Tensor) -> np.ndarray:
    """The reference's LAB: of the channel-reversed image (skimage as the colour oracle)."""
    return skcolor.rgb2lab(to_hwc(img)[..., ::-1])


def _sk_rgb_from_lab_bgr(lab: np.ndarray) -> torch.Tensor:
    return from_hwc(np.clip(skcolor.lab2rgb(lab), 0, 1)[..., ::-1].copy())


def _close_after_truncation(out: torch.Tensor, ref: torch.Tensor, exact_share: float = 0.99) -> None:
    """Outputs truncated to 1/255 steps: allow one step where the oracle sits on a step boundary."""
    diff = (out.double() - ref.double()).abs()
    assert diff.max() <= 1 / 255 + 1e-6 and float((diff > 1e-6).double().mean()) < 1 - exact_share


@pytest.mark.parametrize("level", [1, 3, 5])
def test_colordiff_is_the_reference_pipeline(level, small):
    amount = DISTORTIONS["colordiff"].levels[level - 1]
    sigma = 1.5 * amount + 2
    k = kernels.gaussian_2d(sigma, kernels.gaussian_size(sigma))
    lab = _sk_lab_bgr(small[0])
    for c in (1, 2):  # blur a,b, then multiply them by the amount (quirk)
        lab[..., c] = correlate(lab[..., c], k, mode="nearest") * amount
    ref = torch.trunc(_sk_rgb_from_lab_bgr(lab) * 255) / 255
    _close_after_truncation(distort(small[:1], "colordiff", level)[0], ref)


@pytest.mark.parametrize("level", [1, 2, 5])
def test_colorsat2_is_the_reference_pipeline(level, small):
    lab = _sk_lab_bgr(small[0])
    lab[..., 1:] *= DISTORTIONS["colorsat2"].levels[level - 1]
    ref = torch.trunc(_sk_rgb_from_lab_bgr(lab) * 255) / 255
    if level > 1:
        _close_after_truncation(distort(small[:1], "colorsat2", level)[0], ref)
    else:
        # Factor 1 on 8-bit input: the round trip lands within float error of the input's own
        # 1/255 step, so truncation keeps or drops it by chance; the reference measured mean |Δ| ≈ 0.002.
        _close_after_truncation(distort(small[:1], "colorsat2", level)[0], ref, exact_share=0.0)
        assert float((distort(small, "colorsat2", 1) - small).abs().mean()) < 0.003


@pytest.mark.parametrize("level", range(1, 6))
def test_colorsat1_is_the_hsv_round_trip(level, small):
    factor = DISTORTIONS["colorsat1"].levels[level - 1]
    hsv = cs.rgb_to_hsv(small.double().flip(1))  # the reference's BGR order
    hsv[:, 1] *= factor
    ref = cs.hsv_to_rgb(hsv).flip(1).clamp(0, 1)
    assert (distort(small, "colorsat1", level).double() - ref).abs().max() < 1e-5


def _reference_colorshift(img: torch.Tensor, s0: int, s1: int, clamp: str) -> torch.Tensor:
    """The reference's colour shift, literally (per image, numpy). clamp="arniqa": its port's clamp with
    the index tensors of torch.sort (ties do not occur here); "percentile": the MATLAB original's."""
    gray = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]).double().numpy()
    gp = np.pad(gray, 1, mode="edge")
    gx = (gp[1:-1, 2:] - gp[1:-1, :-2]) / 2
    gy = (gp[2:, 1:-1] - gp[:-2, 1:-1]) / 2
    e = correlate(np.sqrt(gx**2 + gy**2), kernels.gaussian_2d(4.0, 17), mode="nearest")
    e = (e - e.min()) / (e.max() - e.min())
    if clamp == "arniqa":
        hi = np.argsort(e, axis=1, kind="stable")  # "perc" returns sort's indices, row by row
        lo = 1 - np.argsort(1 - e, axis=1, kind="stable")
    else:
        xs = np.sort(e.ravel())
        i = max(min(len(xs) * 99 / 100, len(xs)), 1)
        hi = xs[int(math.floor(i + 0.5)) - 1]
        xs = np.sort(1 - e.ravel())
        lo = 1 - xs[int(math.floor(i + 0.5)) - 1]
    e = np.maximum(np.minimum(e, hi), lo)
    g = img[1].double()
    y = torch.nn.functional.pad(g[None], (s0, s0), mode="replicate")[0]
    y = torch.nn.functional.pad(y.T[None], (s1, s1), mode="replicate")[0].T
    y = torch.roll(y, (s0, s1), dims=(0, 1))
    if s1:
        y = y[s1:-s1]
    if s0:
        y = y[:, s0:-s0]
    out = img.double().clone()
    out[1] = y * torch.from_numpy(e) + g * (1 - torch.from_numpy(e))
    return out


@pytest.mark.parametrize("clamp", ["arniqa", "percentile"])
def test_colorshift_is_the_reference_pipeline(clamp, small):
    g = gen(9)
    state = g.get_state()
    x = small.repeat(8, 1, 1, 1)
    levels = torch.tensor([5, 3, 2, 4] * 4)
    out = distort(x, "colorshift", levels, g, Settings(colorshift_clamp=clamp))
    a = torch.rand((16, 2), generator=torch.Generator().set_state(state), dtype=torch.float64)
    amounts = torch.tensor([DISTORTIONS["colorshift"].levels[i - 1] for i in levels.tolist()], dtype=torch.float64)
    shifts = torch.round(a / a.norm(dim=1, keepdim=True) * amounts[:, None]).long().tolist()
    # the draws include the case where the reference's swapped pad/roll axes wrap rows around
    assert any(s0 > 2 * s1 + 1 for s0, s1 in shifts)
    for i, (s0, s1) in enumerate(shifts):
        assert (out[i].double() - _reference_colorshift(x[i], s0, s1, clamp)).abs().max() < 1e-5
    if clamp == "arniqa":  # the default
        assert torch.equal(out, distort(x, "colorshift", levels, torch.Generator().set_state(state)))


# -- compression ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", range(1, 6))
def test_jpeg_is_torchvision_on_truncated_bytes(level, small):
    out = distort(small, "jpeg", level)
    quality = DISTORTIONS["jpeg"].levels[level - 1]
    for i in range(len(small)):
        u8 = (small[i] * 255).to(torch.uint8)
        ref = decode_jpeg(encode_jpeg(u8, quality=quality)).float() / 255
        assert torch.equal(out[i], ref)


@pytest.mark.parametrize("level", [1, 5])
def test_jpeg2000_is_pillow_with_the_reference_settings(level, crops):
    x = crops[:1]
    out = distort(x, "jpeg2000", level)
    buf = io.BytesIO()
    Image.fromarray((x[0] * 255).to(torch.uint8).permute(1, 2, 0).numpy()).save(
        buf, format="JPEG2000", quality_mode="rates", quality_layers=[DISTORTIONS["jpeg2000"].levels[level - 1]],
        num_resolutions=8, prog_order="LRCP")
    ref = torch.from_numpy(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))).permute(2, 0, 1) / 255
    assert torch.equal(out[0], ref.float())


@pytest.mark.parametrize("key", ["jpeg", "jpeg2000"])
def test_compression_truncates_to_8_bits(key, small):
    base = torch.floor(small * 255) / 255
    nudged = base + 0.9 / 255  # same bytes under truncation, the next byte under rounding
    assert torch.equal(distort(base, key, 2), distort(nudged, key, 2))


# -- noise -----------------------------------------------------------------------------------------------


def _grey(n: int = 2, size: int = 128, value: float = 0.5) -> torch.Tensor:
    return torch.full((n, 3, size, size), value)


@pytest.mark.parametrize("key,transform", [("whitenoise", None), ("multnoise", "relative"), ("whitenoiseCC", "ycbcr")])
def test_gaussian_noise_has_the_level_variance(key, transform):
    x = _grey()
    for level in (1, 5):
        out = distort(x, key, level, gen(level)).double()
        if transform == "relative":
            d = (out - x) / x
        elif transform == "ycbcr":
            d = cs.rgb_to_ycbcr(out) - cs.rgb_to_ycbcr(x.double())
        else:
            d = out - x
        var = DISTORTIONS[key].levels[level - 1]
        assert abs(float(d.var()) / var - 1) < 0.05 and abs(float(d.mean())) < 0.01 * math.sqrt(var) + 1e-4


def test_impulse_noise_is_per_element_salt_and_pepper():
    x = _grey(2, 128)
    for level in range(1, 6):
        out = distort(x, "impulsenoise", level, gen(level))
        n = int(DISTORTIONS["impulsenoise"].levels[level - 1] * 3 * 128 * 128)
        for i in range(2):
            salt, pepper = int((out[i] == 1).sum()), int((out[i] == 0).sum())
            assert salt <= n // 2 and pepper <= n - n // 2 and salt + pepper >= 0.97 * n
            assert int((out[i] != 0.5).sum()) == salt + pepper
    changed = (out[0] != 0.5).sum(0)
    assert int((changed == 1).sum()) > 0.9 * int((changed > 0).sum())  # per channel: coloured specks


# -- brightness ------------------------------------------------------------------------------------------


def _curve(x: np.ndarray, c: float) -> np.ndarray:
    return np.clip(CubicSpline([0, 0.5, 1], [0, c, 1], bc_type="not-a-knot")(x), 0, 1)


@pytest.mark.parametrize("level", range(1, 6))
def test_brighten_is_the_reference_pipeline(level, small):
    c = 0.5 + DISTORTIONS["brighten"].levels[level - 1] / 2
    img = to_hwc(small[0])
    lab = _sk_lab_bgr(small[0])
    lab[..., 0] = _curve(lab[..., 0] / 100, c) * 100
    ref = (2 * _curve(img, c) + to_hwc(_sk_rgb_from_lab_bgr(lab))) / 3
    assert np.abs(to_hwc(distort(small[:1], "brighten", level)[0]) - ref).max() < 2e-5


@pytest.mark.parametrize("level", range(1, 6))
def test_darken_is_the_rgb_curve(level, small):
    c = 0.5 - DISTORTIONS["darken"].levels[level - 1] / 2
    assert np.abs(distort(small, "darken", level).double().numpy() - _curve(small.double().numpy(), c)).max() < 1e-6
    if level == 5:
        x = torch.linspace(0, 0.375, 50).view(1, 1, 1, 50).expand(1, 3, 1, 50)
        assert distort(x, "darken", 5).max() == 0


# -- spatial ---------------------------------------------------------------------------------------------


def test_pixelate_sizes():
    # Rows of distinct values: the number of distinct rows left is the intermediate height.
    x = torch.linspace(0, 1, 224).view(1, 1, 224, 1).expand(1, 3, 224, 224).contiguous()
    sizes = [len(torch.unique(distort(x, "pixelate", lv)[0, 0, :, 0])) for lv in range(1, 6)]
    assert sizes == [198, 175, 156, 127, 65]


def _reference_quantization(img: torch.Tensor, levels: int) -> torch.Tensor:
    gray = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]) * 255
    _, edges = np.histogram(gray.numpy(), bins=levels, range=[0, 255])
    bins = torch.tensor([0] + [int(t) for t in edges[1:-1]] + [256])
    y = torch.bucketize(img * 255, bins, right=False).double()
    return (y - y.min()) / (y.max() - y.min())


@pytest.mark.parametrize("level", range(1, 6))
def test_quantization_equals_bucketize_and_min_max(level, small):
    grid = torch.arange(256, dtype=torch.float32).div(255).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    grid = torch.nn.functional.pad(grid, (0, 48, 0, 48), value=0.5)  # exact k/255 values hit every edge
    x = torch.cat([small, grid, torch.rand(1, 3, 64, 64, generator=gen(0))])
    out = distort(x, "quantization", level)
    for i in range(len(x)):
        ref = _reference_quantization(x[i], DISTORTIONS["quantization"].levels[level - 1])
        assert torch.allclose(out[i].double(), ref, atol=1e-6)


def test_quantization_of_a_constant_image_keeps_the_index():
    assert torch.equal(distort(torch.full((1, 3, 8, 8), 0.5), "quantization", 1), torch.ones(1, 3, 8, 8))
    assert torch.equal(distort(torch.zeros(1, 3, 8, 8), "quantization", 1), torch.zeros(1, 3, 8, 8))


def test_colorblock_paints_solid_blocks(small):
    x = torch.rand(3, 3, 96, 96, generator=gen(0))
    out = distort(x, "colorblock", torch.tensor([1, 1, 5]), gen(3))
    for i, blocks in enumerate((2, 2, 10)):
        changed = (out[i] != x[i]).any(0)
        colours = torch.unique(out[i][:, changed].T, dim=0)
        assert 1024 <= int(changed.sum()) <= blocks * 1024 and len(colours) <= blocks


def test_noneccpatch_only_moves_existing_pixels(small):
    x = torch.rand(2, 3, 64, 64, generator=gen(0))
    out = distort(x, "noneccpatch", torch.tensor([1, 5]), gen(4))
    for i in range(2):
        assert (out[i] != x[i]).any()
        assert torch.isin(out[i], x[i]).all()  # copies only
        # destinations lie within [8, size − 8): the border band never changes
        assert torch.equal(out[i][:, :8], x[i][:, :8]) and torch.equal(out[i][:, -8:], x[i][:, -8:])
        assert torch.equal(out[i][:, :, :8], x[i][:, :, :8]) and torch.equal(out[i][:, :, -8:], x[i][:, :, -8:])


def _reference_patch_copies(img: torch.Tensor, src: list, dst: list, row_by_row: bool) -> torch.Tensor:
    """The reference's non_eccentricity_patch given its positions: `y[:, dst] = y[:, src]` where the
    source is a view of y. torch copies such overlapping views row by row, top to bottom (each
    16-px row at once; measured with the reference on torch 2.14); row_by_row=False copies whole patches."""
    y = img.clone()
    for (hs, ws), (hd, wd) in zip(src, dst):
        if row_by_row:
            for i in range(16):
                y[:, hd + i, wd : wd + 16] = y[:, hs + i, ws : ws + 16].clone()
        else:
            y[:, hd : hd + 16, wd : wd + 16] = y[:, hs : hs + 16, ws : ws + 16].clone()
    return y


@pytest.mark.parametrize("copy", ["arniqa", "atomic"])
def test_noneccpatch_is_the_reference_copy_loop(copy):
    x = torch.rand(3, 3, 64, 64, generator=gen(0))
    levels = torch.tensor([1, 3, 5])
    g = gen(6)
    state = g.get_state()
    out = distort(x, "noneccpatch", levels, g, Settings(patch_copy=copy))
    u = torch.rand((3, 100, 4), generator=torch.Generator().set_state(state), dtype=torch.float64).tolist()
    moved_down = 0
    for i, level in enumerate(levels.tolist()):
        src, dst = [], []
        for uw, uh, udw, udh in ((a[1], a[0], a[3], a[2]) for a in u[i][: 20 * level]):
            ws, hs = round(uw * (64 - 32 - 16)) + 16, round(uh * (64 - 32 - 16)) + 16
            src.append((hs, ws))
            dst.append((round((udh - 0.5) * 16 + hs), round((udw - 0.5) * 16 + ws)))
        moved_down += sum(d[0] > s_[0] for s_, d in zip(src, dst))
        assert torch.equal(out[i], _reference_patch_copies(x[i], src, dst, copy == "arniqa"))
    assert moved_down > 50  # the case where the two differ
    if copy == "arniqa":  # the default
        assert torch.equal(out, distort(x, "noneccpatch", levels, torch.Generator().set_state(state)))


def test_noneccpatch_copy_rows_differ_from_whole_patches():
    x = torch.rand(1, 3, 64, 64, generator=gen(0))
    src, dst = torch.tensor([[[20, 20]]]), torch.tensor([[[23, 18]]])  # 3 px down, 2 px left
    rows = spatial.copy_patches(x, src, dst, torch.tensor([1]), "arniqa")[0]
    whole = spatial.copy_patches(x, src, dst, torch.tensor([1]), "atomic")[0]
    assert torch.equal(whole[:, 23:39, 18:34], x[0, :, 20:36, 20:36])
    # Row 3 of the destination re-reads row 0 of the destination, moved 2 px left again.
    assert torch.equal(rows[:, 26, 18:32], x[0, :, 20, 22:36])
    assert torch.equal(rows[:, 23:26], whole[:, 23:26])


def _reference_imscatter_round(img: np.ndarray, s_row: np.ndarray, s_col: np.ndarray) -> np.ndarray:
    """One round of the reference's imscatter (float64, per image), literally: replicate-pad the image
    and both shift fields, rows by m_r = ceil|max s_row| and columns by m_c = ceil|max s_col|, sample
    at (row − s_row, col − s_col) with its bilinear (taps clamped to the padded image, weights
    (x1 − x)/(x1 − x0 + eps)), then crop rows from m_c and columns from m_r."""
    c, h, w = img.shape
    m_r, m_c = int(math.ceil(abs(s_row.max()))), int(math.ceil(abs(s_col.max())))
    pad = ((m_r, m_r), (m_c, m_c))
    y = np.stack([np.pad(p, pad, mode="edge") for p in img])
    sr, sc = np.pad(s_row, pad, mode="edge"), np.pad(s_col, pad, mode="edge")
    hp, wp = y.shape[1:]
    rr, cc = np.mgrid[0:hp, 0:wp]
    by, bx = rr - sr, cc - sc  # row and column coordinates
    y0 = np.floor(by).astype(int)
    x0 = np.floor(bx).astype(int)
    y1, x1 = np.clip(y0 + 1, 0, hp - 1), np.clip(x0 + 1, 0, wp - 1)
    y0, x0 = np.clip(y0, 0, hp - 1), np.clip(x0, 0, wp - 1)
    eps = 1e-8
    z = np.empty_like(y)
    for k in range(c):
        p = y[k]
        r1 = p[y0, x0] * (x1 - bx) / (x1 - x0 + eps) + p[y0, x1] * (bx - x0) / (x1 - x0 + eps)
        r2 = p[y1, x0] * (x1 - bx) / (x1 - x0 + eps) + p[y1, x1] * (bx - x0) / (x1 - x0 + eps)
        z[k] = r1 * (y1 - by) / (y1 - y0 + eps) + r2 * (by - y0) / (y1 - y0 + eps)
    return z[:, m_c : m_c + h, m_r : m_r + w]


@pytest.mark.parametrize("level", [1, 4, 5])
def test_jitter_is_the_reference_imscatter(level):
    x = torch.rand(2, 3, 40, 40, generator=gen(0), dtype=torch.float64)
    g = gen(11 + level)
    state = g.get_state()
    out = distort(x, "jitter", level, g)
    replay = torch.Generator().set_state(state)
    std = DISTORTIONS["jitter"].levels[level - 1]
    ref = x.numpy().copy()
    translated = blacked = 0
    for _ in range(5):
        field = torch.randn((2, 40, 40, 2), generator=replay, dtype=torch.float64).numpy() * std  # (dx, dy)
        for i in range(2):
            s_row, s_col = -field[i, ..., 1], -field[i, ..., 0]  # the reference subtracts its field
            translated += math.ceil(abs(s_row.max())) != math.ceil(abs(s_col.max()))
            ref[i] = _reference_imscatter_round(ref[i], s_row, s_col)
            blacked += int((ref[i] == 0).all(0).sum())
    # 1e-6: in float64 the restatement's weights carry the reference's 1/(1 + 1e-8) (lost in its float32)
    assert np.abs(out.numpy() - np.clip(ref, 0, 1)).max() < 1e-6
    if level == 5:
        assert translated > 0 and blacked > 0  # the quirks occurred in these draws
    centred = distort(x, "jitter", level, torch.Generator().set_state(state), Settings(jitter_crop="centred"))
    quirks = translated > 0 or blacked > 0
    assert float((out - centred).abs().max()) > 1e-3 if quirks else torch.allclose(out, centred, atol=1e-9)


def test_jitter_keeps_a_flat_image_flat_and_moves_edges():
    flat = _grey(1, 32, 0.3)
    assert torch.allclose(distort(flat, "jitter", 5, gen(0), Settings(jitter_crop="centred")), flat)
    step = torch.zeros(1, 3, 32, 32)
    step[..., 16:] = 1
    out = distort(step, "jitter", 1, gen(0))  # shifts ~ N(0, 0.05²): at most one pixel per round
    assert out[..., :11].max() == 0 and out[..., 21:].min() > 1 - 1e-6 and (out[..., 14:18] != step[..., 14:18]).any()


# -- sharpness & contrast ---------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 3, 5])
def test_highsharpen_is_the_reference_kernel_on_bgr_lab(level, small):
    amount = DISTORTIONS["highsharpen"].levels[level - 1]
    delta = np.zeros((13, 13))
    delta[6, 6] = 1
    k = delta + amount * (delta - kernels.gaussian_2d(6.0, 13))  # σ = 6: the reference's quirk
    lab = _sk_lab_bgr(small[0])
    lab[..., 0] = correlate(lab[..., 0], k, mode="nearest")
    ref = to_hwc(_sk_rgb_from_lab_bgr(lab))
    assert np.abs(to_hwc(distort(small[:1], "highsharpen", level)[0]) - ref).max() < 1e-4


def test_nonlincontrchange_range(crops):
    for level, v in enumerate(DISTORTIONS["nonlincontrchange"].levels, start=1):
        out = distort(crops, "nonlincontrchange", level)
        assert torch.allclose(out, 0.5 + 2 * v * (crops - 0.5), atol=1e-7)
        assert out.min() >= 0.5 - v - 1e-6 and out.max() <= 0.5 + v + 1e-6


def test_all_types_run_under_deterministic_algorithms(small):
    torch.use_deterministic_algorithms(True)
    try:
        for key in ALL:
            assert torch.equal(distort(small, key, torch.tensor([2, 5]), gen(0)),
                               distort(small, key, torch.tensor([2, 5]), gen(0))), key
    finally:
        torch.use_deterministic_algorithms(False)
