"""LARS (You et al., 2017) as Re-IQA configures it (its ``moco/optimizer.py``, the MoCo v3 variant).

Per parameter tensor ``p`` with gradient ``g``, at every step:

* tensors with more than one dimension (convolution and linear weights): ``d = g + wd·p``, then
  ``d ← d · η·‖p‖/‖d‖`` (trust coefficient η; the factor is 1 when ``‖p‖`` or ``‖d‖`` is 0);
* one-dimensional tensors (biases, batch-norm scales and shifts): ``d = g``, no weight decay and no
  adaptation;
* momentum buffer ``μ ← m·μ + d`` and ``p ← p − lr·μ``.

Parameters without a gradient (e.g. a momentum encoder) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class LARS(torch.optim.Optimizer):
    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0,
                 momentum: float = 0.9, trust_coefficient: float = 0.001):
        if lr < 0 or weight_decay < 0 or momentum < 0 or trust_coefficient <= 0:
            raise ValueError("LARS: lr, weight_decay and momentum must be ≥ 0 and trust_coefficient > 0")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, trust_coefficient=trust_coefficient)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    d = d.add(p, alpha=group["weight_decay"])
                    p_norm, d_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(d)
                    one = torch.ones_like(p_norm)
                    ratio = torch.where(p_norm > 0, torch.where(d_norm > 0, group["trust_coefficient"] * p_norm / d_norm,
                                                                one), one)
                    d = d.mul(ratio)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(group["momentum"]).add_(d)
                p.add_(mu, alpha=-group["lr"])
        return loss
