"""Evaluation sharded over the processes of ``torchrun``: each extracts a share of the images.

``torchrun --nproc-per-node N -m iqabench run ...`` starts N copies of the run; :func:`join` puts
them in one process group (gloo: only small control messages pass through it; the features pass
through the feature cache, which any number of processes may write, :mod:`iqabench.cache`). Rank
0 runs the protocol. Whenever it needs a method's features on a dataset
(:meth:`iqabench.protocol.RunContext.features`), every process extracts its share of the images
(the index cut into N contiguous blocks) into the cache, all wait until every share is done, and
rank 0 reads the whole table from the cache. The other ranks serve these requests until rank 0
has finished (:meth:`Shards.serve`), then exit without writing results.

The result is that of a single process: the protocol runs once, on rank 0, and features are
stored as float32 and read back exactly. One caveat: the shares cut the stream of images at
other places, so some images share a forward pass with other images than in a single process. A
method whose output for an image depends on its batch companions (none should, in evaluation
mode) or a backend that picks other kernels for other batch sizes (cuDNN may) could then differ
in the last bits; ARNIQA's ResNet-50 gave bit-identical features for any batch split on the CPU.

On CUDA each process uses the GPU of its ``LOCAL_RANK``. A failure in any process stops every
process with that process's one-line error.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import IQABenchError

log = logging.getLogger("iqabench")

# Serving ranks wait for rank 0's next request while it runs the protocol's own computations
# (a ridge search over 50,000 images takes minutes; several datasets, longer).
TIMEOUT = datetime.timedelta(hours=24)


@dataclass
class Shards:
    rank: int
    world_size: int
    local_rank: int
    _serving: bool = True  # False once rank 0 said "done" or a share failed everywhere

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: str) -> str:
        """Each process's own GPU (its ``LOCAL_RANK``) for a CUDA device; others unchanged."""
        return f"cuda:{self.local_rank}" if str(device).startswith("cuda") else device

    # -- rank 0 --------------------------------------------------------------------------------
    def extract(self, ctx, method, dataset) -> int | None:
        """Rank 0: every process extracts its share of ``method`` on ``dataset`` into the cache.
        Returns how many images the shares hold in the cache, or None when the pair cannot be
        named to the other processes (a method or dataset the protocol made itself): rank 0 then
        extracts it alone."""
        request = _request(ctx, method, dataset)
        if request is None:
            log.info(f"{method.name} on {dataset.name}: extracted by this process alone (not one of the run's "
                     "methods and datasets, which the other processes know)")
            return None
        _broadcast({"op": "extract", **request})
        return self._extract_share(ctx, lambda: (method, dataset))

    def finish(self) -> None:
        """Rank 0: release the serving processes (they exit without writing results)."""
        if self._serving:
            self._serving = False
            _broadcast({"op": "done"})

    # -- the other ranks -----------------------------------------------------------------------
    def serve(self, ctx) -> None:
        """Ranks ≥ 1: extract the requested shares until rank 0 has finished."""
        while self._serving:
            request = _broadcast(None)
            if request["op"] == "done":
                return
            self._extract_share(ctx, functools.partial(_resolve, ctx, request))

    # -- every rank ----------------------------------------------------------------------------
    def _extract_share(self, ctx, pair: Callable[[], tuple[Any, Any]]) -> int:
        from .features import extract_features

        status: dict[str, Any] = {"ok": True, "stored": 0}
        try:
            method, dataset = pair()
            index = dataset.index()
            share = np.array_split(np.arange(len(index)), self.world_size)[self.rank]
            if len(share):
                table = extract_features(method, index.iloc[share], on_error=ctx.on_error, batch_size=ctx.batch_size,
                                         workers=ctx.workers, cache=ctx.cache.for_pair(method, dataset),
                                         desc=f"{method.name} on {dataset.name} (process {self.rank + 1}/{self.world_size})")
                status["stored"] = table.n_images
        except IQABenchError as exc:
            # With --on-error skip only a share without one readable image gets here: rank 0 extracts
            # its images again and records their failures.
            status = {"ok": ctx.on_error == "skip", "stored": 0, "error": str(exc)}
        except Exception as exc:  # CUDA out of memory, a method's bug: every process stops with it
            status = {"ok": False, "stored": 0, "error": f"{type(exc).__name__}: {exc}"}
        statuses = _all_gather(status)
        for rank, s in enumerate(statuses):
            if not s["ok"]:
                self._serving = False
                where = "" if rank == self.rank else f"process {rank + 1} of {self.world_size}: "
                raise IQABenchError(f"{where}{s['error']}")
        return sum(s["stored"] for s in statuses)


def join() -> Shards | None:
    """This process's place among torchrun's processes, or None when it runs alone."""
    world = int(os.environ.get("WORLD_SIZE") or 1)
    if world <= 1:
        return None
    import torch.distributed as dist

    from . import progress

    rank, local = int(os.environ.get("RANK") or 0), int(os.environ.get("LOCAL_RANK") or 0)
    if not dist.is_initialized():
        dist.init_process_group("gloo", rank=rank, world_size=world, timeout=TIMEOUT)
    if rank:  # one progress display and one set of log lines: rank 0's
        progress.set_enabled(False)
        log.setLevel(logging.WARNING)
    return Shards(rank, world, local)


def leave(shards: Shards | None) -> None:
    if shards is not None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _request(ctx, method, dataset) -> dict[str, Any] | None:
    """How the other processes find ``method`` and ``dataset`` in their own run context."""
    m = next((i for i, other in enumerate(ctx.methods) if other is method), None)
    d = next((["run", i] for i, other in enumerate(ctx.datasets) if other is dataset), None)
    if d is None:  # a dataset a protocol built for one of its roles (ctx.dataset), e.g. gMAD's regressor data
        d = next((["role", role, other.name] for role, other in ctx.built_datasets().items() if other is dataset), None)
    return None if m is None or d is None else {"method": m, "dataset": d}


def _resolve(ctx, request: dict[str, Any]):
    kind, *where = request["dataset"]
    dataset = ctx.datasets[where[0]] if kind == "run" else ctx.dataset(*where)
    return ctx.methods[request["method"]], dataset


# -- messages: JSON through gloo (no pickle) -----------------------------------------------------
def _broadcast(message: dict[str, Any] | None) -> dict[str, Any]:
    """Rank 0's ``message`` on every rank."""
    import torch
    import torch.distributed as dist

    data = json.dumps(message).encode() if dist.get_rank() == 0 else b""
    size = torch.tensor([len(data)], dtype=torch.int64)
    dist.broadcast(size, src=0)
    buf = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(int(size), dtype=torch.uint8)
    dist.broadcast(buf, src=0)
    return json.loads(buf.numpy().tobytes())


def _all_gather(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rank's ``message``, in rank order, on every rank."""
    import torch
    import torch.distributed as dist

    data = json.dumps(message).encode()
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([len(data)], dtype=torch.int64))
    longest = max(int(s) for s in sizes)
    padded = torch.zeros(longest, dtype=torch.uint8)
    padded[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    bufs = [torch.zeros(longest, dtype=torch.uint8) for _ in sizes]
    dist.all_gather(bufs, padded)
    return [json.loads(b[: int(n)].numpy().tobytes()) for b, n in zip(bufs, sizes)]
