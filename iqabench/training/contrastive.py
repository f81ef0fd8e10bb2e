"""NT-Xent (SimCLR's normalised temperature-scaled cross entropy), the ARNIQA loss.

For ``a`` and ``b`` of ``n`` embeddings each, where ``a[k]`` and ``b[k]`` are a positive pair, the
``2n`` rows ``z = [a; b]`` are L2-normalised and every row ``k`` contributes

    ℓ_k = −log( exp(cos(z_k, z_pos(k)) / τ) / Σ_{j ≠ k} exp(cos(z_k, z_j) / τ) )

(the denominator holds the positive and every other row, only the row itself is excluded); the
loss is the mean over the ``2n`` rows. ARNIQA puts the full- and half-scale views of the same
images in ``a`` (and ``b``), so each anchor's other-scale view, same content and same degradation,
sits in its denominator as a hard negative (paper Eq. 3–4).
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
