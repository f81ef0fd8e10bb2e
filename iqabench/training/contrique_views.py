"""CONTRIQUE's training views, batched in torch (the reference's ``modules/dataset_loader.py``, in PIL there).

Each image gives two views, one at full scale and one at half scale (which one comes first is
random). A view is, in this order:

1. the image resized to ``(h // d, w // d)`` (``d`` = 1 or 2) by bilinear interpolation with
   antialiasing, as torchvision's ``Resize`` does on a PIL image, rounded to 8 bits;
2. a ``S×S`` crop (``S`` = 256 in the paper): at a uniform random position, or, when the resized
   image is smaller than ``S`` on either side, torchvision's ``CenterCrop`` (zero padding, then the
   centred window);
3. a colour space drawn uniformly from :data:`COLOUR_SPACES`, each as the reference's PIL
   conversion writes 8-bit channels (then read as RGB in [0, 1] by ``ToTensor``):

   * ``grey``: Pillow's ``convert("L")`` (``(19595 R + 38470 G + 7471 B + 2¹⁵) >> 16``) in all
     three channels (``RandomGrayscale``);
   * ``lab``: ``ImageCms`` sRGB → CIELAB (D50), 8-bit: ``L·255/100`` and ``a``, ``b`` as signed
     bytes read as unsigned (negative values wrap to 129–255, as ``ToTensor`` reads Pillow's LAB
     mode); computed here with the Bradford-adapted sRGB matrix, within one level of littleCMS;
   * ``hsv``: Pillow's ``convert("HSV")`` (hue and saturation truncated to 0–255);
   * ``ms``: per channel, the image minus its local mean (separable 7-tap Gaussian, σ = 7/6,
     mirror borders as scipy's ``reflect``), min–max normalised over the crop
     (``/(ptp + 10⁻³)`` on the 0–255 scale) and truncated to 8 bits;
   * ``rgb``: unchanged;
4. a horizontal flip with probability ½.

Everything random is drawn beforehand (:func:`plan_views`), so a batch is a pure function of its
plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

COLOUR_SPACES = ("grey", "lab", "hsv", "ms", "rgb")  # the reference's choices 0..4

# Linear sRGB → XYZ relative to D50 (Bradford adaptation of the sRGB primaries, as ICC profiles).
_XYZ50_FROM_RGB = (
    (0.4360747, 0.3850649, 0.1430804),
    (0.2225045, 0.7168786, 0.0606169),
    (0.0139322, 0.0971045, 0.7141733),
)
_D50_WHITE = (0.9642, 1.0, 0.8249)
MS_TAPS, MS_SIGMA = 3, 7 / 6  # skvideo gen_gauss_window(3, 7/6): 7 taps


@dataclass(frozen=True)
class ViewPlan:
    divisor: int  # 1: full scale, 2: half scale
    top: int  # crop window in the (padded) resized image
    left: int
    pad: tuple[int, int, int, int]  # (left, right, top, bottom) zero padding before the crop
    colour: int  # index into COLOUR_SPACES
    flip: bool


def _crop_plan(height: int, width: int, size: int, rng: np.random.Generator) -> tuple[int, int, tuple[int, int, int, int]]:
    if height >= size and width >= size:  # RandomCrop
        return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1)), (0, 0, 0, 0)
    # CenterCrop: pad what is too small, then take the centred window (round half to even, as torchvision)
    pl, pr = ((size - width) // 2, (size - width + 1) // 2) if size > width else (0, 0)
    pt, pb = ((size - height) // 2, (size - height + 1) // 2) if size > height else (0, 0)
    top = int(round((height + pt + pb - size) / 2.0))
    left = int(round((width + pl + pr - size) / 2.0))
    return top, left, (pl, pr, pt, pb)


def plan_views(height: int, width: int, size: int, rng: np.random.Generator) -> tuple[ViewPlan, ViewPlan]:
    """The two views of an image of ``height × width``: one at full and one at half scale, in random order."""
    first = int(rng.integers(1, 3))
    plans = []
    for divisor in (first, 3 - first):
        top, left, pad = _crop_plan(height // divisor, width // divisor, size, rng)
        plans.append(ViewPlan(divisor, top, left, pad, int(rng.integers(0, len(COLOUR_SPACES))), bool(rng.random() < 0.5)))
    return plans[0], plans[1]


def quantise(x: Tensor) -> Tensor:
    """Round to the 8-bit grid (values k/255), as a PIL image holds them."""
    return x.clamp(0.0, 1.0).mul(255.0).round_().div_(255.0)


def resized_crop(image: Tensor, plan: ViewPlan, size: int) -> Tensor:
    """``1×3×H×W`` (8-bit values) → the view's ``3×S×S`` crop, before its colour space and flip."""
    h, w = image.shape[-2:]
    if plan.divisor != 1:
        image = quantise(F.interpolate(image, size=(h // plan.divisor, w // plan.divisor), mode="bilinear",
                                       antialias=True, align_corners=False))
    if any(plan.pad):
        image = F.pad(image, plan.pad)
    return image[0, :, plan.top : plan.top + size, plan.left : plan.left + size]


def _bytes(x: Tensor) -> Tensor:
    return x.mul(255.0).round().to(torch.int64)


def pil_grey(x: Tensor) -> Tensor:
    r, g, b = _bytes(x).unbind(1)
    luma = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
    return (luma.to(x.dtype) / 255.0).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def pil_hsv(x: Tensor) -> Tensor:
    """Pillow's ``rgb2hsv``: float32 ratios, hue wrapped with fmod in double, both truncated."""
    rgb = _bytes(x)
    r, g, b = rgb.unbind(1)
    maxc, minc = rgb.max(1).values, rgb.min(1).values
    cr = (maxc - minc).to(torch.float32)
    safe = torch.where(cr > 0, cr, torch.ones_like(cr))
    s = cr / maxc.clamp(min=1).to(torch.float32)
    rc, gc, bc = ((maxc - c).to(torch.float32) / safe for c in (r, g, b))
    h = torch.where(r == maxc, (bc - gc).double(),
                    torch.where(g == maxc, 2.0 + rc.double() - bc.double(), 4.0 + gc.double() - rc.double()))
    h = torch.fmod(h.float().double() / 6.0 + 1.0, 1.0).float()
    uh = torch.where(cr > 0, (h.double() * 255.0).trunc().clamp(0, 255), torch.zeros_like(h, dtype=torch.float64))
    us = torch.where(cr > 0, (s.double() * 255.0).trunc().clamp(0, 255), torch.zeros_like(s, dtype=torch.float64))
    return torch.stack([uh, us, maxc.double()], dim=1).to(x.dtype) / 255.0


def imagecms_lab(x: Tensor) -> Tensor:
    """sRGB → CIELAB (D50) as Pillow's ``ImageCms`` writes the LAB mode, read back as 8-bit RGB."""
    v = x.double()
    lin = torch.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    m = torch.tensor(_XYZ50_FROM_RGB, dtype=v.dtype, device=v.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin) / torch.tensor(_D50_WHITE, dtype=v.dtype, device=v.device).view(1, 3, 1, 1)
    eps, kappa = 216 / 24389, 24389 / 27
    f = torch.where(xyz > eps, xyz.clamp(min=eps) ** (1 / 3), (kappa * xyz + 16) / 116)
    lum = (116 * f[:, 1] - 16).mul(255 / 100).round().clamp(0, 255)
    a = (500 * (f[:, 0] - f[:, 1])).round().clamp(-128, 127).remainder(256)  # signed byte read as unsigned
    b = (200 * (f[:, 1] - f[:, 2])).round().clamp(-128, 127).remainder(256)
    return torch.stack([lum, a, b], dim=1).to(x.dtype) / 255.0


def _ms_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    w = torch.tensor([math.exp(-0.5 * i * i / (MS_SIGMA * MS_SIGMA)) for i in range(-MS_TAPS, MS_TAPS + 1)],
                     dtype=dtype, device=device)
    return w / w.sum()


def _mirror(x: Tensor, n: int, dim: int) -> Tensor:
    """scipy's ``reflect`` border (``d c b a | a b c d``)."""
    size = x.shape[dim]
    return torch.cat([x.narrow(dim, 0, n).flip(dim), x, x.narrow(dim, size - n, n).flip(dim)], dim=dim)


def ms_transform(x: Tensor) -> Tensor:
    """The reference's mean-subtracted (MS) image: ``x − μ`` per channel (0–255 scale), min–max normalised, truncated."""
    v = _bytes(x).double()
    n, c, h, w = v.shape
    k = _ms_window(v.dtype, v.device)
    flat = v.reshape(n * c, 1, h, w)
    mu = F.conv2d(_mirror(flat, MS_TAPS, 2), k.view(1, 1, -1, 1))  # along rows (axis 0), then columns
    mu = F.conv2d(_mirror(mu, MS_TAPS, 3), k.view(1, 1, 1, -1))
    d = (flat - mu).reshape(n, c, h * w)
    lo, hi = d.min(dim=2, keepdim=True).values, d.max(dim=2, keepdim=True).values
    out = ((d - lo) / (hi - lo + 1e-3) * 255.0).trunc()
    return out.reshape(n, c, h, w).to(x.dtype) / 255.0


_CONVERSIONS = {"grey": pil_grey, "lab": imagecms_lab, "hsv": pil_hsv, "ms": ms_transform}


def colour_and_flip(views: Tensor, colours: list[int], flips: list[bool]) -> Tensor:
    """Apply each view's colour space and flip to a ``V×3×S×S`` stack (8-bit values in, 8-bit values out)."""
    out = views.clone()
    chosen = torch.tensor(colours)
    for index, name in enumerate(COLOUR_SPACES):
        fn = _CONVERSIONS.get(name)
        rows = (chosen == index).nonzero().flatten().to(views.device)
        if fn is not None and len(rows):
            out[rows] = fn(views[rows])
    flip = torch.tensor(flips, dtype=torch.bool).nonzero().flatten().to(views.device)
    if len(flip):
        out[flip] = out[flip].flip(-1)
    return out
