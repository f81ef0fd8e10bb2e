"""Colour-space conversions of batches (N×3×H×W) with kornia 0.7.0's formulas.

The reference runs its colour steps through kornia (sRGB/D65 CIELAB, HSV with hue in [0, 2π),
analogue YCbCr with offset 0.5); these are the same formulas in plain torch, so no kornia is
needed. ``swap_rb`` reproduces the reference's channel reversal before LAB (see
:func:`rgb_to_lab`): it permutes the matrix columns (rows on the way back) instead of copying the
data, which is the same arithmetic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# kornia.color.rgb_to_xyz / xyz_to_rgb (sRGB primaries, D65).
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_RGB_FROM_XYZ = (
    (3.2404813432005266, -1.5371515162713185, -0.4985363261688878),
    (-0.9692549499965682, 1.8759900014898907, 0.0415559265582928),
    (0.0556466391351772, -0.2040413383665112, 1.0573110696453443),
)
_D65_WHITE = (0.95047, 1.0, 1.08883)


def _mix(x: Tensor, matrix: tuple[tuple[float, ...], ...]) -> Tensor:
    """out[:, i] = Σ_j matrix[i][j] · x[:, j] (a per-pixel 3×3 matrix product).

    On CPU one batched matmul; elsewhere plain elementwise sums, which keeps cuBLAS (and its
    workspace setting under torch.use_deterministic_algorithms) out of the CUDA path.
    """
    n, _, h, w = x.shape
    if x.device.type == "cpu":
        m = torch.tensor(matrix, dtype=x.dtype)
        return torch.matmul(m, x.reshape(n, 3, h * w)).view(n, 3, h, w)
    c = x.unbind(1)
    out = torch.empty_like(x)
    for i, row in enumerate(matrix):
        torch.mul(c[0], row[0], out=out[:, i])
        out[:, i].add_(c[1], alpha=row[1]).add_(c[2], alpha=row[2])
    return out


def select_gt(x: Tensor, threshold: float, above: Tensor, otherwise: Tensor) -> Tensor:
    """``torch.where(x > threshold, above, otherwise)`` for finite inputs.

    torch.where (and masked_fill) are ~15× slower than arithmetic on CPU in torch 2.14; a 0/1
    float mask and lerp select exactly (lerp returns ``start`` at weight 0 and ``end`` at 1).
    """
    mask = (x - threshold).sign_().clamp_(min=0.0)
    return torch.lerp(otherwise, above, mask)


def _pow(x: Tensor, exponent: float) -> Tensor:
    """x ** exponent for x > 0 as exp(exponent · log x): the same value to float precision, ~3× faster
    than torch.pow on CPU (new tensor; ``x`` is not modified)."""
    return torch.log(x).mul_(exponent).exp_()


def _rgb_to_linear(x: Tensor) -> Tensor:
    return select_gt(x, 0.04045, _pow((x + 0.055).mul_(1 / 1.055), 2.4), x * (1 / 12.92))


def _linear_to_rgb(x: Tensor) -> Tensor:
    threshold = 0.0031308
    return select_gt(x, threshold, _pow(x.clamp(min=threshold), 1 / 2.4).mul_(1.055).sub_(0.055), 12.92 * x)


def rgb_to_lab(x: Tensor, swap_rb: bool = False) -> Tensor:
    """sRGB in [0, 1] → CIELAB (L in [0, 100]), as kornia.color.rgb_to_lab.

    ``swap_rb=True`` gives ``rgb_to_lab(x[:, [2, 1, 0]])``: the reference reverses the channels
    before kornia (it treats the tensor as BGR), so its LAB is computed from BGR data read as RGB
    and L weights the channels wrongly. Kept as a quirk because the released weights were trained
    on it.
    """
    matrix = [list(row) for row in _XYZ_FROM_RGB]
    if swap_rb:
        matrix = [row[::-1] for row in matrix]
    # Divide each XYZ row by the white point here rather than after the product (same value to
    # within one float rounding).
    matrix = tuple(tuple(v / w for v in row) for row, w in zip(matrix, _D65_WHITE))
    xyz = _mix(_rgb_to_linear(x), matrix)
    threshold = 0.008856
    f = select_gt(xyz, threshold, _pow(xyz.clamp(min=threshold), 1 / 3), (7.787 * xyz).add_(4.0 / 29.0))
    # L = 116·fy − 16, a = 500·(fx − fy), b = 200·(fy − fz) as one matrix product.
    lab = _mix(f, ((0.0, 116.0, 0.0), (500.0, -500.0, 0.0), (0.0, 200.0, -200.0)))
    lab[:, 0].sub_(16.0)
    return lab


def lab_to_rgb(lab: Tensor, swap_rb: bool = False) -> Tensor:
    """CIELAB → sRGB clipped to [0, 1], as kornia.color.lab_to_rgb(clip=True).

    ``swap_rb=True`` returns the channel-reversed result, the inverse of ``rgb_to_lab(…, True)``.
    """
    # fy = (L + 16)/116, fx = a/500 + fy, fz = fy − b/200 as one matrix product.
    f = _mix(lab, ((1 / 116, 1 / 500, 0.0), (1 / 116, 0.0, 0.0), (1 / 116, 0.0, -1 / 200)))
    f.add_(16.0 / 116.0)
    f[:, 2].clamp_(min=0.0)  # kornia: out-of-gamut colours with Z < 0
    xyz = select_gt(f, 0.2068966, f * f * f, (f - 4.0 / 29.0).mul_(1 / 7.787))
    matrix = tuple(tuple(v * w for v, w in zip(row, _D65_WHITE)) for row in _RGB_FROM_XYZ)
    if swap_rb:
        matrix = matrix[::-1]
    return _linear_to_rgb(_mix(xyz, matrix)).clamp(0.0, 1.0)


def rgb_to_hsv(x: Tensor, eps: float = 1e-8) -> Tensor:
    """RGB → HSV with hue in radians [0, 2π), as kornia.color.rgb_to_hsv."""
    max_rgb, argmax_rgb = x.max(1)
    min_rgb = x.min(1).values
    delta = max_rgb - min_rgb
    v = max_rgb
    s = delta / (max_rgb + eps)
    delta = torch.where(delta == 0, torch.ones_like(delta), delta)
    rc, gc, bc = (max_rgb.unsqueeze(1) - x).unbind(1)
    h = torch.stack((bc - gc, (rc - bc) + 2.0 * delta, (gc - rc) + 4.0 * delta), dim=1) / delta.unsqueeze(1)
    h = torch.gather(h, 1, argmax_rgb.unsqueeze(1)).squeeze(1)
    h = 2.0 * math.pi * ((h / 6.0) % 1.0)
    return torch.stack((h, s, v), dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """HSV (hue in radians) → RGB, as kornia.color.hsv_to_rgb (no clipping)."""
    h = hsv[:, 0] / (2 * math.pi)
    s, v = hsv[:, 1], hsv[:, 2]
    hi = torch.floor(h * 6) % 6
    f = ((h * 6) % 6) - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    hi = hi.long()
    indices = torch.stack([hi, hi + 6, hi + 12], dim=1)
    out = torch.stack((v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q), dim=1)
    return torch.gather(out, 1, indices)


# kornia.color.rgb_to_ycbcr: y = .299r + .587g + .114b, cb = (b − y)·.564 + .5, cr = (r − y)·.713 + .5
_YCBCR_FROM_RGB = (
    (0.299, 0.587, 0.114),
    (-0.564 * 0.299, -0.564 * 0.587, 0.564 * (1 - 0.114)),
    (0.713 * (1 - 0.299), -0.713 * 0.587, -0.713 * 0.114),
)
# kornia.color.ycbcr_to_rgb (its rounded coefficients: not the exact inverse of the above)
_RGB_FROM_YCBCR = ((1.0, 0.0, 1.403), (1.0, -0.344, -0.714), (1.0, 1.773, 0.0))
_CHROMA_OFFSET = 0.5


def rgb_to_ycbcr(x: Tensor) -> Tensor:
    """RGB → YCbCr (analogue, chroma offset 0.5), as kornia.color.rgb_to_ycbcr."""
    out = _mix(x, _YCBCR_FROM_RGB)
    out[:, 1:].add_(_CHROMA_OFFSET)
    return out


def ycbcr_to_rgb(ycc: Tensor) -> Tensor:
    """YCbCr → RGB, as kornia.color.ycbcr_to_rgb."""
    centred = ycc.clone()
    centred[:, 1:].sub_(_CHROMA_OFFSET)
    return _mix(centred, _RGB_FROM_YCBCR)


def ycbcr_noise_to_rgb(x: Tensor, noise: Tensor) -> Tensor:
    """``ycbcr_to_rgb(rgb_to_ycbcr(x) + noise)`` in two matrix products (the chroma offsets cancel)."""
    return _mix(_mix(x, _YCBCR_FROM_RGB).add_(noise), _RGB_FROM_YCBCR)


def rgb_to_gray(x: Tensor) -> Tensor:
    """N×1×H×W luma with kornia.color.rgb_to_grayscale's weights (0.299, 0.587, 0.114)."""
    r, g, b = x.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)
