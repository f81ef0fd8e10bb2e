"""Building blocks of the degradation model against independent oracles: skimage colour spaces,
MATLAB's fspecial definitions, scipy's correlate and CubicSpline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline
from scipy.ndimage import correlate
from skimage import color as skcolor

from iqabench.degradation import colorspace as cs
from iqabench.degradation import curves, kernels
from iqabench.degradation.filtering import filter2d, filter_separable

from .degradation_support import from_hwc, natural_crops, one_thread, to_hwc  # noqa: F401


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Two natural crops and one uniform-noise image (covers saturated and dark corners)."""
    nat = natural_crops(2, 64)
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    return torch.cat([nat, noise])


# -- colour spaces --------------------------------------------------------------------------------


def test_lab_matches_skimage(images):
    lab = cs.rgb_to_lab(images)
    for i in range(len(images)):
        ref = skcolor.rgb2lab(to_hwc(images[i]))
        assert np.abs(to_hwc(lab[i]) - ref).max() < 2e-3  # float32, L in 0..100


def test_lab_inverse_matches_skimage_and_round_trips(images):
    lab = cs.rgb_to_lab(images.double())
    back = cs.lab_to_rgb(lab)
    assert (back - images.double()).abs().max() < 1e-10
    for i in range(len(images)):
        ref = skcolor.lab2rgb(to_hwc(lab[i]))
        assert np.abs(to_hwc(back[i]) - ref).max() < 1e-10


def test_lab_to_rgb_clips_out_of_gamut_colours():
    lab = torch.tensor([[80.0, 120.0, -120.0], [20.0, -100.0, 100.0], [50.0, 0.0, 300.0]]).T.reshape(1, 3, 3, 1)
    out = cs.lab_to_rgb(lab)
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()


def test_swapped_lab_is_lab_of_channel_reversed_data(images):
    direct = cs.rgb_to_lab(images.flip(1))
    assert (cs.rgb_to_lab(images, swap_rb=True) - direct).abs().max() < 1e-3
    assert (cs.lab_to_rgb(direct, swap_rb=True) - images).abs().max() < 1e-4
    # The quirk matters: LAB of BGR data differs from LAB of RGB data.
    assert (cs.rgb_to_lab(images, swap_rb=True)[:, 0] - cs.rgb_to_lab(images)[:, 0]).abs().max() > 1


def test_hsv_matches_skimage(images):
    hsv = cs.rgb_to_hsv(images.double())
    for i in range(len(images)):
        ref = skcolor.rgb2hsv(to_hwc(images[i]))
        got = to_hwc(hsv[i])
        dh = np.abs(got[..., 0] / (2 * math.pi) - ref[..., 0])
        assert np.minimum(dh, 1 - dh).max() < 1e-6
        assert np.abs(got[..., 1:] - ref[..., 1:]).max() < 1e-5  # kornia: S = Δ/(max + 1e-8)
    assert (cs.hsv_to_rgb(hsv) - images.double()).abs().max() < 1e-6


def test_ycbcr_matches_skimage_ypbpr(images):
    # kornia's rounded coefficients (0.564, 0.713) against BT.601 YPbPr plus kornia's 0.5 offset.
    ycc = cs.rgb_to_ycbcr(images.double())
    for i in range(len(images)):
        ref = skcolor.rgb2ypbpr(to_hwc(images[i])) + np.array([0.0, 0.5, 0.5])
        assert np.abs(to_hwc(ycc[i]) - ref).max() < 1e-3
    assert (cs.ycbcr_to_rgb(ycc) - images.double()).abs().max() < 2e-3  # kornia's inverse is not exact
    assert torch.allclose(ycc[:, :1], cs.rgb_to_gray(images.double()))


def test_select_gt_is_exact_where():
    x = torch.tensor([-1.0, 0.0, 0.5, 0.5000001, 2.0])
    a, b = torch.full_like(x, 7.25), torch.full_like(x, -3.125)
    assert torch.equal(cs.select_gt(x, 0.5, a, b), torch.where(x > 0.5, a, b))


# -- MATLAB fspecial ports --------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 2.0, 5.0, 3.5, 20.0, 6.0])
def test_gaussian_kernel_is_matlab_fspecial(sigma):
    size = kernels.gaussian_size(sigma)
    r = (size - 1) // 2
    h = np.array([[math.exp(-(i * i + j * j) / (2 * sigma * sigma)) for j in range(-r, r + 1)] for i in range(-r, r + 1)])
    h[h < np.finfo(float).eps * h.max()] = 0
    h /= h.sum()
    assert np.abs(kernels.gaussian_2d(sigma, size) - h).max() < 1e-15
    g = kernels.gaussian_1d(sigma, size)
    assert np.abs(np.outer(g, g) - h).max() < 1e-15


def test_gaussian_sizes_of_the_level_tables():
    assert [kernels.gaussian_size(s) for s in (0.1, 0.5, 1, 2, 5)] == [3, 3, 5, 9, 21]
    assert [kernels.gaussian_size(1.5 * a + 2) for a in (1, 3, 6, 8, 12)] == [15, 27, 45, 57, 81]


def _disk_coverage(radius: float, ss: int = 200) -> np.ndarray:
    """Fraction of each pixel inside the disc, by supersampling: what fspecial('disk') computes."""
    c = math.ceil(radius - 0.5)
    t = (np.arange(ss) + 0.5) / ss - 0.5
    out = np.zeros((2 * c + 1, 2 * c + 1))
    for i in range(2 * c + 1):
        yy = (i - c + t)[:, None] ** 2
        for j in range(2 * c + 1):
            out[i, j] = ((j - c + t)[None, :] ** 2 + yy <= radius * radius).mean()
    return out / out.sum()


@pytest.mark.parametrize("radius", [1, 2, 4, 6, 8, 2.3])
def test_disk_kernel_is_pixel_coverage(radius):
    h = kernels.disk(radius)
    assert h.shape == (2 * math.ceil(radius - 0.5) + 1,) * 2
    assert abs(h.sum() - 1) < 1e-12
    assert np.abs(h - _disk_coverage(radius)).max() < 5e-5


def test_disk_kernel_matches_matlab_output():
    # MATLAB: fspecial('disk', 1)
    expected = np.array([[0.0251, 0.1453, 0.0251], [0.1453, 0.3183, 0.1453], [0.0251, 0.1453, 0.0251]])
    assert np.abs(kernels.disk(1) - expected).max() < 5e-5


def _reference_port_disk(r: int) -> np.ndarray:
    """The ARNIQA reference's port of fspecial('disk') (miccunifi/ARNIQA utils_distortions.fspecial),
    restated pixel by pixel: MATLAB's formula, except that m1's and m2's second branches are single
    all-or-nothing choices made over the whole grid (`if (r1 > 0).all()`), and m2's uses min, not max."""
    n = 2 * r + 1
    cells = [(max(abs(a), abs(b)), min(abs(a), abs(b))) for a in range(-r, r + 1) for b in range(-r, r + 1)]
    m1_else_ok = all(r * r - (mx + 0.5) ** 2 > 0 for mx, _ in cells)
    m2_else_ok = all(r * r - (mn - 0.5) ** 2 > 0 for _, mn in cells)
    out = []
    for mx, mn in cells:
        if r * r < (mx + 0.5) ** 2 + (mn - 0.5) ** 2:
            m1 = mn - 0.5
        else:
            m1 = math.sqrt(r * r - (mx + 0.5) ** 2) if m1_else_ok else 0.0
        if r * r > (mx - 0.5) ** 2 + (mn + 0.5) ** 2:
            m2 = mn + 0.5
        else:
            m2 = math.sqrt(r * r - (mn - 0.5) ** 2) if m2_else_ok else 0.0
        a1, a2 = math.asin(m1 / r), math.asin(m2 / r)
        on_edge = (r * r < (mx + 0.5) ** 2 + (mn + 0.5) ** 2 and r * r > (mx - 0.5) ** 2 + (mn - 0.5) ** 2) or (
            mn == 0 and mx - 0.5 < r <= mx + 0.5)
        v = 0.0
        if on_edge:
            v = r * r * (0.5 * (a2 - a1) + 0.25 * (math.sin(2 * a2) - math.sin(2 * a1))) - (mx - 0.5) * (m2 - m1) + (
                m1 - mn + 0.5)
        out.append(v + float((mx + 0.5) ** 2 + (mn + 0.5) ** 2 < r * r))
    h = np.array(out).reshape(n, n)
    h[r, r] = min(min(math.pi * r * r, math.pi / 2), 1)  # the small-disc fix-up never applies to whole radii
    return h / h.sum()


@pytest.mark.parametrize("radius", [1, 2, 4, 6, 8])
def test_arniqa_disk_is_the_reference_port(radius):
    h = kernels.disk_arniqa(radius)
    assert h.shape == (2 * radius + 1,) * 2 and abs(h.sum() - 1) < 1e-12
    assert np.abs(h - _reference_port_disk(radius)).max() < 1e-15


def test_arniqa_disk_differs_from_matlab_from_radius_2():
    assert np.array_equal(kernels.disk_arniqa(1), kernels.disk(1))
    # Measured with the reference's fspecial('disk', r): negative taps at the rim from radius 2 on.
    measured_min = {2: -0.0019126265587018532, 4: -0.029413204396776017, 6: -0.04756395169197535,
                    8: -0.05007560131736931}
    for r, low in measured_min.items():
        h = kernels.disk_arniqa(r)
        assert abs(h.min() - low) < 1e-15 and int((h < 0).sum()) == (8 if r < 6 else 16)
        assert (kernels.disk(r) >= 0).all()
    with pytest.raises(ValueError, match="whole radii"):
        kernels.disk_arniqa(2.5)


def test_motion_kernel_known_cases():
    assert np.allclose(kernels.motion(9, 0), np.full((1, 9), 1 / 9))
    assert np.allclose(kernels.motion(10, 0), np.array([[0.5] + [1.0] * 9 + [0.5]]) / 10)
    assert np.allclose(kernels.motion(9, 90), np.full((9, 1), 1 / 9))
    assert np.allclose(kernels.motion(9, 180), kernels.motion(9, 0))
    one = kernels.motion(1, 120)  # length 1: the identity (up to eps-sized side taps)
    assert one[one.shape[0] // 2, one.shape[1] // 2] > 1 - 1e-12


@pytest.mark.parametrize("length", [1, 2, 4, 6, 10])
@pytest.mark.parametrize("angle", [0, 17, 45, 90, 121, 135, 179])
def test_motion_kernel_properties(length, angle):
    h = kernels.motion(length, angle)
    assert h.shape[0] % 2 == 1 and h.shape[1] % 2 == 1
    assert abs(h.sum() - 1) < 1e-12 and h.min() >= 0
    assert np.allclose(h, h[::-1, ::-1])  # centred line: symmetric under 180° rotation
    assert max(h.shape) <= length + 1 + (length == 1) * 2


def test_motion_kernel_direction_is_counter_clockwise():
    h = kernels.motion(10, 45)  # rows grow downwards: the line runs bottom-left to top-right
    assert h[1, -2] > 0.05 and h[-2, 1] > 0.05 and h[1, 1] == 0 and h[-2, -2] == 0


# -- filtering ----------------------------------------------------------------------------------------


def test_filter2d_is_replicate_correlation():
    x = torch.rand(2, 3, 20, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    k = np.random.default_rng(1).random((5, 7))
    out = filter2d(x, k)
    for n in range(2):
        for c in range(3):
            ref = correlate(x[n, c].numpy(), k, mode="nearest")
            assert np.abs(out[n, c].numpy() - ref).max() < 1e-12


def test_filter2d_per_sample_kernels():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ks = np.random.default_rng(2).random((3, 3, 5))
    out = filter2d(x, ks)
    for n in range(3):
        assert torch.allclose(out[n : n + 1], filter2d(x[n : n + 1], ks[n]))


@pytest.mark.parametrize("size,sigma", [(3, 0.5), (9, 2.0), (21, 5.0), (81, 20.0)])
def test_separable_equals_dense(size, sigma):
    x = torch.rand(2, 2, 30, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = kernels.gaussian_1d(sigma, size)
    out = filter_separable(x, g)
    for n in range(2):
        ref = correlate(x[n, 1].numpy(), np.outer(g, g), mode="nearest")
        assert np.abs(out[n, 1].numpy() - ref).max() < 1e-12


# -- curves ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.55, 0.6, 0.7, 0.85, 1.05, 0.475, 0.1])
def test_parabola_is_the_three_point_spline(c):
    a, b = curves.parabola_coefficients(c)
    xs = np.linspace(0, 1, 101)
    ref = CubicSpline([0, 0.5, 1], [0, c, 1], bc_type="not-a-knot")(xs)
    assert np.abs(a * xs * xs + b * xs - ref).max() < 1e-12
    f64 = torch.float64
    got = curves.parabola(torch.tensor(xs), torch.tensor(a, dtype=f64), torch.tensor(b, dtype=f64))
    assert np.abs(got.numpy() - np.clip(ref, 0, 1)).max() < 1e-12


@pytest.mark.parametrize("a", [0.0, 0.15, -0.4, 0.3, -0.6, 0.9])
def test_spline5_matches_scipy_not_a_knot(a):
    lo, hi = 0.25 - a / 4, 0.75 + a / 4
    ref_spline = CubicSpline(curves.SPLINE_X, [0, lo, 0.5, hi, 1], bc_type="not-a-knot")
    pieces = curves.spline5_pieces(lo, hi)
    # scipy stores the pieces highest power first, local to each knot
    assert np.abs(pieces[:, ::-1].T - ref_spline.c).max() < 1e-12
    # not-a-knot: pieces 0/1 and 2/3 are one cubic each (equal third derivatives)
    assert abs(pieces[0, 3] - pieces[1, 3]) < 1e-12 and abs(pieces[2, 3] - pieces[3, 3]) < 1e-12
    xs = torch.linspace(0, 1, 1001, dtype=torch.float64).view(1, 1, 1, -1)
    coeffs = torch.tensor([curves.spline5_coefficients(lo, hi)], dtype=torch.float64)
    got = curves.spline5(xs, coeffs).flatten().numpy()
    assert np.abs(got - np.clip(ref_spline(xs.flatten().numpy()), 0, 1)).max() < 1e-12
