"""Multi-process training through ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N -m iqabench train arniqa ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` reads them and joins the group
(NCCL on CUDA, gloo on CPU). Each process trains on its own share of every step's samples; DDP
averages the gradients, so all processes hold the same weights after every step. Only rank 0
writes files (checkpoints, metrics) and validates; the others wait at a barrier.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import IQABenchError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistEnv:
    """The process's place in the group (a single process when not launched by torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise IQABenchError(f"--device {device}: CUDA is not available on this machine")
    if use_cuda:
        dev = torch.device(f"cuda:{local}" if world > 1 or device in ("auto", "cuda") else device)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        # Rank 0 validates alone after each epoch (minutes on the paper's six datasets): wait long enough.
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world, timeout=datetime.timedelta(hours=3)
        )
    return DistEnv(rank, world, local, dev)


def teardown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def wrap(model: torch.nn.Module, env: DistEnv) -> torch.nn.Module:
    """DDP around ``model`` when there are several processes (rank 0's weights are broadcast)."""
    if not env.distributed:
        return model
    ids = [env.device.index] if env.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def mean_over_ranks(value: float, env: DistEnv) -> float:
    """The mean of a scalar over the processes (for logging the loss of the whole step)."""
    if not env.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=env.device if env.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / env.world_size


def broadcast_flag(flag: bool, env: DistEnv) -> bool:
    """Rank 0's value of ``flag`` on every rank (e.g. "stop now")."""
    if not env.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], device=env.device if env.device.type == "cuda" else "cpu")
    dist.broadcast(t, src=0)
    return bool(t.item())
