"""Spatial group: jitter, noneccpatch, pixelate, quantization, colorblock (KADID #19–#23)."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import IQABenchError
from . import rng
from .batching import by_level, per_sample

JITTER = (0.05, 0.1, 0.2, 0.5, 1.0)  # std of the per-pixel shift (px)
NONECCPATCH = (20, 40, 60, 80, 100)  # number of patch copies
PIXELATE = (0.01, 0.05, 0.1, 0.2, 0.5)  # strength s: scale z = 0.95 − s^0.6
QUANTIZATION = (20, 16, 13, 10, 7)  # number of levels
COLORBLOCK = (2, 4, 6, 8, 10)  # number of blocks

_JITTER_ITERATIONS = 5
_NONECC_PATCH = 16
_NONECC_RADIUS = 16
_BLOCK = 32


def _require_size(x: Tensor, minimum: int, key: str) -> None:
    h, w = x.shape[-2:]
    if h < minimum or w < minimum:
        raise IQABenchError(f"distortion {key!r} needs images of at least {minimum}×{minimum} pixels, got {h}×{w}")


JITTER_CROPS = ("arniqa", "centred")
PATCH_COPIES = ("arniqa", "atomic")


def jitter(x: Tensor, li: Tensor, gen: torch.Generator, crop: str = "centred") -> Tensor:
    """Five rounds of: per-pixel shift field (dy, dx) ~ N(0, amt²) px, bilinear resampling with
    replicate borders. One grid_sample per round for the whole batch.

    ``crop`` (:data:`JITTER_CROPS`): "centred" is the plain operation (the default here, which the
    Re-IQA bank uses). "arniqa", the ARNIQA model's setting unless changed, adds what the
    reference's ``imscatter`` does around it. Each round it pads the rows by m_r = ceil|max s_r|
    and the columns by m_c = ceil|max s_c| (s = −shift, the field it subtracts) but crops rows
    from m_c and columns from m_r: the round's output is translated by t = m_c − m_r rows and −t
    columns (its shift field with it, replicate-indexed). And a sample that falls outside the
    padded image (coordinate < −m or ≥ size − 1 + m) comes out 0: its two clamped bilinear taps
    coincide and the reference's weights cancel exactly. At L4 and L5 (std 0.5, 1 px) m_r ≠ m_c
    in about a third of the rounds; the ±1 px translations raise the mean change by ~35 % (L4)
    and ~13 % (L5).
    """
    _require_size(x, 2, "jitter")
    n, _, h, w = x.shape
    # Pixel (i, j) samples at (i + dy, j + dx); align_corners=True maps pixel centres exactly.
    ys = torch.linspace(-1.0, 1.0, h, dtype=x.dtype, device=x.device)
    xs = torch.linspace(-1.0, 1.0, w, dtype=x.dtype, device=x.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # H×W×2 as (x, y)
    to_grid = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], dtype=x.dtype, device=x.device)
    std = per_sample(JITTER, li, x)  # N×1×1×1
    pixels = base.add(1.0).div_(to_grid) if crop == "arniqa" else None  # (j, i) of every pixel
    y = x
    for _ in range(_JITTER_ITERATIONS):
        field = rng.randn((n, h, w, 2), gen, x.device, x.dtype)
        if crop == "centred":
            grid = torch.addcmul(base, field, std * to_grid)
            y = F.grid_sample(y, grid, mode="bilinear", padding_mode="border", align_corners=True)
        else:
            y = _jitter_round_arniqa(y, field.mul_(std), base, pixels, to_grid)
    return y


def _jitter_round_arniqa(y: Tensor, shift: Tensor, base: Tensor, pixels: Tensor, to_grid: Tensor) -> Tensor:
    """One round of the reference's ``imscatter`` (see :func:`jitter`); ``shift`` N×H×W×2 in px as
    (dx, dy), overwritten; ``pixels`` H×W×2 the pixel coordinates (j, i), ``base`` the same in grid units."""
    n, _, h, w = y.shape
    # N×2: (m_c, m_r) = ceil|max s|, s = −shift (a contiguous copy makes the reduction ~4× faster)
    pad = shift.view(n, h * w, 2).transpose(1, 2).contiguous().amin(-1).neg_().abs_().ceil_()
    t = (pad[:, 0] - pad[:, 1]).long()  # rows move by t, columns by −t
    low, high = torch.aminmax(shift)
    reach = max(-float(low), float(high)) + float(t.abs().max())  # ≥ every |shift| after the translation
    for step in t.unique().tolist():  # at L1–L3 almost always only 0
        if step == 0:
            continue
        sel = (t == step).nonzero().squeeze(1)
        rows = (torch.arange(h, device=y.device) + step).clamp_(0, h - 1)
        cols = (torch.arange(w, device=y.device) - step).clamp_(0, w - 1)
        moved = shift.index_select(0, sel).index_select(1, rows).index_select(2, cols)
        moved += torch.tensor([-step, step], dtype=y.dtype, device=y.device)  # the translation (dx, dy), px
        shift.index_copy_(0, sel, moved)
    out = F.grid_sample(y, torch.addcmul(base, shift, to_grid), mode="bilinear", padding_mode="border",
                        align_corners=True)
    # A sample lands outside the padded image (x + dx < −m_c or ≥ w − 1 + m_c, likewise y) only if
    # |shift| reaches the pad, and then only within `band` pixels of the border.
    least = float(pad.min())
    if reach < least:
        return out
    band = min(int(math.ceil(reach - least)) + 1, h, w)
    size = torch.tensor([w - 1, h - 1], dtype=y.dtype, device=y.device)
    margin = pad.to(y.dtype).view(n, 1, 1, 2)
    for strip in ((slice(None), slice(0, band)), (slice(None), slice(h - band, h)),
                  (slice(None), slice(None), slice(0, band)), (slice(None), slice(None), slice(w - band, w))):
        pos = shift[strip] + pixels[strip[1:]]  # sample coordinates in px
        inside = ((pos >= -margin) & (pos < size + margin)).all(-1)
        out_strip = out.permute(0, 2, 3, 1)[strip]  # N×rows×cols×C view of the output
        out_strip.mul_(inside.unsqueeze(-1).to(y.dtype))
    return out


def _patch_offsets(h: int, w: int, size: int, device: torch.device) -> Tensor:
    """Flat offsets of a size×size patch in an H×W plane, for every channel: 3×size×size."""
    r = torch.arange(size, device=device)
    within = (r.view(-1, 1) * w + r.view(1, -1)).view(1, size, size)
    return within + (torch.arange(3, device=device) * (h * w)).view(3, 1, 1)


_MAX_MOVE = _NONECC_RADIUS // 2  # destinations lie −8..8 px from their source


@lru_cache(maxsize=16)
def _patch_sources(h: int, w: int, copy: str, device: torch.device) -> Tensor:
    """Flat offsets, from a patch's source top-left, of the pixel each destination pixel receives:
    one row of 3·16·16 per move (dy, dx), row (dy + 8)·17 + (dx + 8).

    "atomic": the source patch itself. "arniqa": the reference copies rows top to bottom from a view
    of the tensor it writes, so when the patch moves down (dy > 0) source row i is destination row
    i − dy, already written: destination pixel (i, j) receives (i − k·dy, j − k·dx) with k the number
    of times that step stays inside the rows and columns written so far,
    k = min(⌊i/dy⌋, ⌊j/dx⌋ if dx > 0, ⌊(15 − j)/−dx⌋ if dx < 0). Within a row the copy is whole.
    """
    size = _NONECC_PATCH
    i = torch.arange(size).view(1, 1, size, 1)
    j = torch.arange(size).view(1, 1, 1, size)
    moves = torch.arange(-_MAX_MOVE, _MAX_MOVE + 1)
    dy, dx = moves.view(-1, 1, 1, 1), moves.view(1, -1, 1, 1)
    if copy == "atomic":
        k = torch.zeros(1, 1, size, size, dtype=torch.long)
    else:
        big = torch.tensor(size)
        k_rows = torch.where(dy > 0, i // dy.clamp(min=1), 0)
        k_cols = torch.where(dx > 0, j // dx.clamp(min=1), torch.where(dx < 0, (size - 1 - j) // (-dx).clamp(min=1), big))
        k = torch.minimum(k_rows, k_cols)
    rows, cols = i - k * dy, j - k * dx  # 17×17×16×16
    within = (rows * w + cols).reshape(-1, 1, size * size)
    channels = (torch.arange(3) * (h * w)).view(1, 3, 1)
    return (within + channels).reshape(len(moves) ** 2, 3 * size * size).to(device)


def non_eccentricity_patch(x: Tensor, li: Tensor, gen: torch.Generator, copy: str = "atomic") -> Tensor:
    """pnum times, in order and in place: copy a 16×16 patch with top-left uniform in [16, size − 32]
    (``round(U·(max − min)) + min``) to a spot offset by round((U − 0.5)·16) px, i.e. −8..8.
    Later copies read earlier ones, so the copies run as a loop over patches (≤ 100), each one
    batched over the samples that still have copies to make.

    ``copy`` (:data:`PATCH_COPIES`): "atomic" copies each patch as a whole (the default here, which
    the Re-IQA bank uses); "arniqa", the ARNIQA model's setting unless changed, copies it row by
    row from the tensor being written, as the reference does (:func:`_patch_sources`): a patch
    moved down repeats its top rows, shifted sideways, which raises the mean change by 10–12 %.
    """
    _require_size(x, 2 * _NONECC_RADIUS + _NONECC_PATCH, "noneccpatch")
    n, c, h, w = x.shape
    most = max(NONECCPATCH)
    u = rng.rand((n, most, 4), gen, torch.device("cpu"), torch.float64)  # fixed layout per sample
    h_min, w_min = _NONECC_RADIUS, _NONECC_RADIUS
    h_max, w_max = h - _NONECC_PATCH - _NONECC_RADIUS, w - _NONECC_PATCH - _NONECC_RADIUS
    hs = torch.round(u[..., 0] * (h_max - h_min)) + h_min
    ws = torch.round(u[..., 1] * (w_max - w_min)) + w_min
    hd = torch.round((u[..., 2] - 0.5) * _NONECC_RADIUS + hs)
    wd = torch.round((u[..., 3] - 0.5) * _NONECC_RADIUS + ws)
    counts = torch.tensor(NONECCPATCH)[li]
    return copy_patches(x, torch.stack((hs, ws), -1).long(), torch.stack((hd, wd), -1).long(), counts, copy)


def copy_patches(x: Tensor, src: Tensor, dst: Tensor, counts: Tensor, copy: str) -> Tensor:
    """The copies of :func:`non_eccentricity_patch` given their positions: ``src``, ``dst`` N×P×2
    (top-left row, column; CPU int64, |dst − src| ≤ 8), the first ``counts[i]`` of them for image i."""
    if copy not in PATCH_COPIES:
        raise ValueError(f"noneccpatch copy must be one of {PATCH_COPIES}, got {copy!r}")
    n, c, h, w = x.shape
    plane = torch.arange(n).view(-1, 1) * (c * h * w)
    move = (dst - src + _MAX_MOVE)
    code = (move[..., 0] * (2 * _MAX_MOVE + 1) + move[..., 1]).to(x.device)  # N×P rows of the table
    src_flat = (plane + src[..., 0] * w + src[..., 1]).to(x.device)  # N×P flat top-left indices
    dst_flat = (plane + dst[..., 0] * w + dst[..., 1]).to(x.device)
    sources = _patch_sources(h, w, copy, x.device)
    offsets = _patch_offsets(h, w, _NONECC_PATCH, x.device).view(1, -1)
    y = x.contiguous().clone()
    flat = y.view(-1)
    for p in range(int(counts.max())):
        active = (counts > p).nonzero().squeeze(1).to(x.device)
        s = (src_flat[active, p].unsqueeze(1) + sources[code[active, p]]).view(-1)
        d = (dst_flat[active, p].unsqueeze(1) + offsets).view(-1)
        flat[d] = flat[s]
    return y


def pixelate(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Nearest-neighbour resize to int(z·H)×int(z·W) and back (torch 'nearest', as kornia's
    resize), z = 0.95 − s^0.6: 224 → 198, 175, 156, 127, 65."""
    h, w = x.shape[-2:]

    def run(xs: Tensor, level: int) -> Tensor:
        z = 0.95 - PIXELATE[level] ** 0.6
        small = F.interpolate(xs, size=(max(1, int(z * h)), max(1, int(z * w))), mode="nearest")
        return F.interpolate(small, size=(h, w), mode="nearest")

    return by_level(x, li, run)


def quantization(x: Tensor, li: Tensor, gen: torch.Generator | None) -> Tensor:
    """Uniform bucketing of every channel into L bins, then a global min-max stretch per image.

    The reference takes the bin edges of ``np.histogram(gray·255, L, range=[0, 255])`` (data
    independent: 255·k/L), int()-casts them to thresholds t_k = floor(255·k/L) and calls
    ``torch.bucketize(x·255, [0, t_1 … t_{L−1}, 256])`` (right=False): index = #{edges < v}, 0 only for
    v = 0. For integer edges, t_k < v ⇔ t_k < ceil(v) ⇔ k < L·ceil(v)/255, so the index is
    min(L, ceil(L·ceil(v)/255)) — computed here elementwise (exact in float: L·ceil(v) ≤ 5100 is an
    integer and the quotient is either an exact integer or ≥ 1/255 away from one), ~10× faster
    than bucketize on CPU. Not minimum-variance thresholding, no dithering (despite the
    reference's comment). ``mapmm`` then stretches the indices of all channels to [0, 1], leaving a
    constant image's index unchanged (clipped afterwards).
    """
    levels = per_sample(QUANTIZATION, li, x)
    index = torch.ceil(x * 255.0).mul_(levels).div_(255.0).ceil_()
    index = torch.minimum(index, levels)
    lo = index.amin((1, 2, 3), keepdim=True)
    span = index.amax((1, 2, 3), keepdim=True) - lo
    flat = span <= 0
    return (index - torch.where(flat, 0.0, lo)) / torch.where(flat, 1.0, span)


def color_block(x: Tensor, li: Tensor, gen: torch.Generator) -> Tensor:
    """pnum solid 32×32 blocks, colour U[0,1)³, top-left floor(U·(H − 32)), floor(U·(W − 32)),
    painted in order (later blocks cover earlier ones)."""
    _require_size(x, _BLOCK, "colorblock")
    n, c, h, w = x.shape
    most = max(COLORBLOCK)
    u = rng.rand((n, most, 5), gen, torch.device("cpu"), torch.float64)  # fixed layout per sample
    top = torch.floor(u[..., 3] * (h - _BLOCK)).long()
    left = torch.floor(u[..., 4] * (w - _BLOCK)).long()
    plane = torch.arange(n).view(-1, 1) * (c * h * w)
    corner = (plane + top * w + left).to(x.device)
    colours = u[..., :3].to(device=x.device, dtype=x.dtype)  # N×P×3
    offsets = _patch_offsets(h, w, _BLOCK, x.device).view(1, 3, -1)
    counts = torch.tensor(COLORBLOCK)[li]
    y = x.contiguous().clone()
    flat = y.view(-1)
    for p in range(int(counts.max())):
        active = (counts > p).nonzero().squeeze(1).to(x.device)
        idx = corner[active, p].view(-1, 1, 1) + offsets
        flat[idx.view(-1)] = colours[active, p].unsqueeze(2).expand_as(idx).reshape(-1)
    return y
