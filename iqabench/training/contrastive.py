"""NT-Xent (SimCLR's normalised temperature-scaled cross entropy): ARNIQA's pairwise form and
CONTRIQUE's multi-class form.

For ``a`` and ``b`` of ``n`` embeddings each, where ``a[k]`` and ``b[k]`` are a positive pair, the
``2n`` rows ``z = [a; b]`` are L2-normalised and every row ``k`` contributes

    ℓ_k = −log( exp(cos(z_k, z_pos(k)) / τ) / Σ_{j ≠ k} exp(cos(z_k, z_j) / τ) )

(the denominator holds the positive and every other row, only the row itself is excluded); the
loss is the mean over the ``2n`` rows. ARNIQA puts the full- and half-scale views of the same
images in ``a`` (and ``b``), so each anchor's other-scale view, same content and same degradation,
sits in its denominator as a hard negative (paper Eq. 3–4).

:func:`nt_xent_multiclass` is CONTRIQUE's (``modules/nt_xent_multiclass.py``): rows ``z_i`` with
class ids, positives every *other* row of the same class, and per row

    ℓ_i = log Σ_{k ≠ i} exp(s_ik) − mean_{p ∈ P(i)} s_ip,     s_ik = cos(z_i, z_k) / τ

(the denominator holds every other row, positives included); the loss is the mean over the rows.
The reference builds the positives from label vectors (``L·Lᵀ`` without the diagonal); with one
class per row, as here, that is the same-class mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"nt_xent needs two n×d tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    n = a.shape[0]
    z = F.normalize(torch.cat([a, b]).float(), dim=1)
    logits = z @ z.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, positives)


def nt_xent_multiclass(z: Tensor, classes: Tensor, temperature: float) -> Tensor:
    if z.ndim != 2 or classes.shape != (z.shape[0],):
        raise ValueError(f"nt_xent_multiclass needs n×d rows and n class ids, got {tuple(z.shape)} and {tuple(classes.shape)}")
    z = F.normalize(z.float(), dim=1)
    sim = z @ z.T / temperature
    others = ~torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    positives = (classes.view(-1, 1) == classes.view(1, -1)) & others
    counts = positives.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError("nt_xent_multiclass: a row has no positive (every class needs at least two rows)")
    log_denominator = torch.logsumexp(sim.masked_fill(~others, float("-inf")), dim=1)
    positive_mean = (sim * positives).sum(dim=1) / counts
    return (log_denominator - positive_mean).mean()
