"""MoCo-v2 (He et al. 2020; Chen et al. 2020) as Re-IQA trains both of its encoders (PyContrast).

:class:`MoCo` holds a *query* encoder (ResNet, classifier removed) with the MoCo-v2 head
``Linear(d, d) → ReLU → Linear(d, 128)`` and L2-normalised output, a *key* (momentum) encoder of
the same shape whose parameters follow the query's, ``θ_k ← m·θ_k + (1 − m)·θ_q``, and a queue of
``K`` negative keys. For queries ``q`` and their positive keys ``k`` (the key encoder's view of
the other crop), the logits are ``[q·k, q·queue₁, …, q·queue_K] / τ`` and the loss is the cross
entropy with label 0 (InfoNCE). After the logits, the step's keys (of every process) replace the
oldest queue entries (a ring buffer that wraps around, as PyContrast's memory: ``K`` need not be a
multiple of the keys per step; if a step has more than ``K`` keys only the last ``K`` are kept).

Everything the next step depends on lives in the module's state dict, so a training checkpoint
restores it exactly: the key encoder (parameters and batch-norm statistics), the queue, the queue
position and a step counter. The momentum update runs at the start of each forward pass, before
the keys are computed (MoCo's order; the same as updating after the previous optimiser step).

Under DDP (several processes) the keys use MoCo's *ShuffleBN*: the key crops of all processes
are gathered, permuted (the permutation is a function of the seed and the step counter, so every
process draws the same one), each process encodes its share, and the keys are gathered and
un-permuted, so batch-norm statistics never come from the queries' own batch. In one process
this is the identity and is skipped. Inputs are RGB in [0, 1]; ``input_norm="imagenet"``
normalises them inside the encoder (the content encoder), ``"none"`` feeds them raw (the quality
encoder).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import IQABenchError
from ..models.arniqa import IMAGENET_MEAN, IMAGENET_STD
from ..models.encoders import FEATURE_DIMS, build_encoder

INPUT_NORMS = ("none", "imagenet")


class EncoderHead(nn.Module):
    """A ResNet encoder (torchvision layout, ``fc`` removed) and the MoCo-v2 MLP head."""

    def __init__(self, backbone: str, feat_dim: int = 128, input_norm: str = "none"):
        super().__init__()
        if input_norm not in INPUT_NORMS:
            raise IQABenchError(f"input normalisation {input_norm!r} is not one of {', '.join(INPUT_NORMS)}")
        self.backbone, self.input_norm = backbone, input_norm
        self.encoder = build_encoder(backbone)
        d = FEATURE_DIMS[backbone]
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, feat_dim))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: Tensor) -> Tensor:
        """The pooled encoder feature (``d``-d, not normalised): what Re-IQA's regressor sees."""
        if self.input_norm == "imagenet":
            x = (x - self.mean) / self.std
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.head(self.features(x)).float(), dim=1)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@torch.no_grad()
def gather_all(x: Tensor) -> Tensor:
    """Concatenation of ``x`` over the processes in rank order (no gradient); ``x`` alone in one process."""
    rank, world = _world()
    if world == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class MoCo(nn.Module):
    def __init__(self, backbone: str, *, feat_dim: int = 128, queue_size: int = 65536, momentum: float = 0.999,
                 temperature: float = 0.2, input_norm: str = "none", shuffle_seed: int = 0,
                 shuffle_bn: bool = True):
        super().__init__()
        if queue_size < 1:
            raise IQABenchError(f"config moco.queue_size must be positive, got {queue_size}")
        if not 0.0 <= momentum <= 1.0:
            raise IQABenchError(f"config moco.momentum must be in [0, 1], got {momentum}")
        if temperature <= 0:
            raise IQABenchError(f"config moco.temperature must be positive, got {temperature}")
        self.backbone = backbone
        self.momentum, self.temperature = float(momentum), float(temperature)
        self.shuffle_seed, self.shuffle_bn = int(shuffle_seed), bool(shuffle_bn)
        self.query = EncoderHead(backbone, feat_dim, input_norm)
        self.key = EncoderHead(backbone, feat_dim, input_norm)
        self.key.load_state_dict(self.query.state_dict())
        for p in self.key.parameters():
            p.requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, feat_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @property
    def queue_size(self) -> int:
        return int(self.queue.shape[0])

    @torch.no_grad()
    def momentum_update(self) -> None:
        for pq, pk in zip(self.query.parameters(), self.key.parameters()):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def _keys(self, k_in: Tensor) -> tuple[Tensor, Tensor]:
        """(this process's keys, every process's keys in rank order)."""
        rank, world = _world()
        if world == 1 or not self.shuffle_bn:
            k = self.key(k_in)
            return k, gather_all(k)
        n = k_in.shape[0]
        everything = gather_all(k_in)
        seed = int(np.random.SeedSequence([self.shuffle_seed, int(self.steps)]).generate_state(1)[0])
        perm = torch.randperm(n * world, generator=torch.Generator().manual_seed(seed)).to(k_in.device)
        mine = self.key(everything[perm.view(world, n)[rank]])
        shuffled = gather_all(mine)
        keys = torch.empty_like(shuffled)
        keys[perm] = shuffled  # un-permute: row perm[j] of the original order is shuffled[j]
        return keys[rank * n : (rank + 1) * n], keys

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        keys = keys.detach().to(self.queue.dtype)[-self.queue_size :]
        ptr = int(self.queue_ptr)
        idx = torch.remainder(torch.arange(keys.shape[0], device=keys.device) + ptr, self.queue_size)
        self.queue.index_copy_(0, idx, keys)
        self.queue_ptr.fill_((ptr + keys.shape[0]) % self.queue_size)

    def forward(self, q_in: Tensor, k_in: Tensor) -> Tensor:
        """Queries and key crops (``N×3×H×W`` each, row ``i`` of one the positive of the other) → logits
        ``N×(1 + K)`` (positive first), already divided by τ."""
        q = self.query(q_in)
        with torch.no_grad():
            self.momentum_update()
            k, k_all = self._keys(k_in)
            negatives = self.queue.clone()
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ negatives.to(q.dtype).T
        logits = torch.cat([l_pos, l_neg], dim=1).float() / self.temperature
        self.enqueue(k_all)
        with torch.no_grad():
            self.steps.add_(1)
        return logits


def info_nce(logits: Tensor) -> Tensor:
    """Cross entropy with the positive (column 0) as the label."""
    return F.cross_entropy(logits.float(), torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device))
