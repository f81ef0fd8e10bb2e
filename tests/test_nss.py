"""NSS primitives (iqabench.nss) against pyiqa's and scipy's implementations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from iqabench import nss
from iqabench.errors import IQABenchError

from .nss_support import (
    calibration_images,
    matlab_gaussian,
    single_torch_thread,  # noqa: F401
)


def _rgb8(seed: int, h: int = 64, w: int = 80) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (2, 3, h, w), generator=g).float() / 255.0


def test_luminance_matches_pyiqa_except_exact_halves():
    from pyiqa.utils.color_util import to_y_channel

    for x in [*calibration_images().values(), _rgb8(0)]:
        ours = nss.luminance_255(x)
        ref = to_y_channel(x, 255.0)[:, 0].double()  # float32 arithmetic, then torch.round
        assert ours.dtype == torch.float64 and torch.equal(ours, ours.round())
        rgb = torch.round(x.double() * 255)
        weighted = 299 * rgb[:, 0] + 587 * rgb[:, 1] + 114 * rgb[:, 2]
        differ = ours != ref
        # Only pixels whose exact Y ends in .5 may differ (pyiqa's float32 rounding error decides
        # those); iqabench rounds them up.
        assert torch.all(weighted[differ] % 1000 == 500)
        assert torch.all((ours - ref).abs() <= 1)
        assert torch.equal(ours[differ], (weighted[differ] + 500) // 1000)


def test_luminance_rejects_non_rgb_batches():
    with pytest.raises(IQABenchError, match="N×3×H×W"):
        nss.luminance_255(torch.zeros(1, 1, 8, 8))


@pytest.mark.parametrize("shape,scale", [((384, 512), 0.5), ((97, 131), 0.5), ((40, 50), 0.75), ((30, 41), 2.0)])
def test_imresize_matches_pyiqa(shape, scale):
    from pyiqa.matlab_utils import imresize

    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 255
    ours = nss.imresize(x, scale)
    ref = imresize(x[:, None], scale=scale, antialiasing=True)[:, 0]  # pyiqa computes in float32
    assert ours.shape == (2, int(np.ceil(shape[0] * scale)), int(np.ceil(shape[1] * scale)))
    assert (ours - ref.double()).abs().max() < 5e-4


def _matlab_resize_1d(v: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB ``imresize`` along one axis, written out per output sample (``contributions``)."""
    n = len(v)
    width = 4 / scale
    aux = np.concatenate([np.arange(n), np.arange(n - 1, -1, -1)])  # [1:n, n:-1:1], 0-based
    out = []
    for u in range(1, int(np.ceil(n * scale)) + 1):
        x = u / scale + 0.5 * (1 - 1 / scale)
        idx = np.floor(x - width / 2) + np.arange(int(np.ceil(width)) + 2)
        d = np.abs(scale * (x - idx))
        h = np.where(d <= 1, 1.5 * d**3 - 2.5 * d**2 + 1, np.where(d <= 2, -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2, 0))
        w = scale * h / np.sum(scale * h)
        out.append(np.sum(w * v[aux[np.mod(idx.astype(int) - 1, 2 * n)]]))
    return np.array(out)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 16])
def test_imresize_short_inputs_follow_matlab_symmetric_extension(n):
    # Shorter than the 8-tap antialiased kernel: the symmetric extension wraps around several times.
    v = np.random.default_rng(n).uniform(0, 255, n)
    ours = nss.imresize(torch.from_numpy(v).reshape(1, 1, n), 0.5)[0, 0].numpy()
    assert np.allclose(ours, _matlab_resize_1d(v, 0.5), rtol=0, atol=1e-9)
    with pytest.raises(IQABenchError):
        nss.imresize(torch.ones(1, 2, 2), 0.0)


@pytest.mark.parametrize("padding,mode", [("zero", "constant"), ("replicate", "nearest")])
def test_gaussian_filter_matches_scipy(padding, mode):
    y = torch.randint(0, 256, (2, 37, 45), generator=torch.Generator().manual_seed(2)).double()
    k = matlab_gaussian()[0, 0].numpy()
    ref = np.stack([ndimage.correlate(a, k, mode=mode, cval=0.0) for a in y.numpy()])
    assert np.abs(nss.gaussian_filter(y, padding).numpy() - ref).max() < 1e-10


def test_mscn_is_exactly_zero_on_flat_and_ramp_windows_and_matches_pyiqa_elsewhere():
    from pyiqa.archs.func_util import normalize_img_with_gauss

    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 256, (1, 64, 96), generator=g).double()
    y[:, :, 20:50] = 117.0  # flat band
    y[:, :, 60:96] = torch.arange(36, dtype=torch.float64) * 3 + 10  # horizontal ramp
    for padding, pyiqa_padding in (("zero", "same"), ("replicate", "replicate")):
        m, sigma = nss.mscn(y, padding)
        # Interiors, away from the zero padding of the image border.
        assert torch.all(m[:, 3:-3, 23:47] == 0) and torch.all(sigma[:, 3:-3, 23:47] < 1e-5)
        assert torch.all(m[:, 3:-3, 63:93] == 0)
        assert torch.all(m[:, :, :17] != 0)
        ref = normalize_img_with_gauss(y[:, None], 7, 7 / 6, padding=pyiqa_padding)[:, 0]
        assert (m - ref).abs().max() < 1e-5  # pyiqa's float32 kernel: ±1e-6 residues


def test_paired_products_equal_circshift():
    m = torch.randn(2, 3, 7, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    shifts = ((0, 1), (1, 0), (1, 1), (-1, 1), (1, -1), (0, 0), (8, -10))
    prods = list(nss.paired_products(m, shifts))
    assert len(prods) == len(shifts)
    for prod, s in zip(prods, shifts):
        assert torch.equal(prod, m * torch.roll(m, s, dims=(-2, -1)))


def test_nearest_on_grid_equals_argmin_with_first_index_ties():
    table = torch.from_numpy(np.sort(np.random.default_rng(5).uniform(0, 1, 500)))
    mids = (table[:-1] + table[1:]) / 2
    values = torch.cat(
        [torch.rand(2000, dtype=torch.float64) * 1.2 - 0.1, mids, table, torch.tensor([-5.0, 5.0], dtype=torch.float64)]
    )
    brute = (table[None, :] - values[:, None]).abs().argmin(dim=1)
    assert torch.equal(nss.nearest_on_grid(table, values), brute)
    special = torch.tensor([float("nan"), float("inf"), -float("inf")], dtype=torch.float64)
    assert torch.equal(nss.nearest_on_grid(table, special), torch.zeros(3, dtype=torch.long))


def test_shape_grid_is_the_release_grid():
    assert len(nss.SHAPE_GRID) == 9801 and nss.SHAPE_GRID[0] == 0.2 and nss.SHAPE_GRID[-1] == 10.0
    assert np.allclose(np.diff(nss.SHAPE_GRID), 0.001)


def _samples() -> torch.Tensor:
    g = torch.Generator().manual_seed(6)
    lap = torch.distributions.Laplace(0.0, 1.0).sample((2, 1, 48, 48))
    gauss = torch.randn(2, 1, 48, 48, generator=g)
    skew = torch.where(gauss > 0, gauss * 2.5, gauss * 0.4)
    cubed = torch.randn(2, 1, 48, 48, generator=g) ** 3
    return torch.cat([lap, gauss, skew, cubed]).double()


def test_fits_match_pyiqa_estimators():
    from pyiqa.archs.func_util import estimate_aggd_param, estimate_ggd_param

    x = _samples()
    ggd = nss.fit_ggd(x[:, 0])
    alpha, sigma = estimate_ggd_param(x)
    # pyiqa's grid is float32-rounded (relative 1e-8); the grid index must be the same.
    assert torch.allclose(ggd.alpha, alpha.reshape(-1), rtol=1e-6)
    assert torch.allclose(ggd.sigma_sq, sigma.reshape(-1) ** 2, rtol=1e-12)
    fit = nss.fit_aggd(x[:, 0])
    alpha, sl, sr = estimate_aggd_param(x, return_sigma=True)
    assert torch.allclose(fit.alpha, alpha.reshape(-1), rtol=1e-6)
    assert torch.allclose(fit.left_std, sl.reshape(-1), rtol=1e-12)
    assert torch.allclose(fit.right_std, sr.reshape(-1), rtol=1e-12)
    _, bl, br = estimate_aggd_param(x)
    ours_bl, ours_br = fit.betas()
    assert torch.allclose(ours_bl, bl.reshape(-1), rtol=1e-6) and torch.allclose(ours_br, br.reshape(-1), rtol=1e-6)


def test_aggd_without_negative_values_gives_nan_scale_and_first_grid_shape():
    # As MATLAB: mean([]) is NaN, and min() over an all-NaN difference picks the first grid point.
    fit = nss.fit_aggd(torch.rand(1, 8, 8, dtype=torch.float64) + 0.1)
    assert torch.isnan(fit.left_std).all() and torch.isfinite(fit.right_std).all()
    assert fit.alpha.item() == pytest.approx(0.2)
    zero = nss.fit_aggd(torch.zeros(1, 8, 8, dtype=torch.float64))
    assert torch.isnan(zero.left_std).all() and torch.isnan(zero.right_std).all() and zero.alpha.item() == pytest.approx(0.2)


def test_fits_reduce_trailing_dims_only():
    with pytest.raises(ValueError):
        nss.fit_aggd(torch.zeros(2, 3, 4, dtype=torch.float64), dims=(0, 1))
