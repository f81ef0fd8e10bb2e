"""What the benchmark scripts share: the machine options, the set-up, a timer and the bare-encoder pass.

Imported as ``from _bench import ...``: a script's own folder is on ``sys.path`` when it runs.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable

import torch


def machine_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def set_up(args: argparse.Namespace) -> str:
    """Offline, ``--threads``, no progress bars; returns the machine line the tables are headed with."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    from iqabench import progress

    progress.set_enabled(False)
    return f"{args.device}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"


def synchronizer(device: str) -> Callable[[], None]:
    """Waits for the device's queued work (CUDA), so that timings cover it; a no-op on the CPU."""
    return torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def views_by_scale(paths: Iterable[str], views) -> list[torch.Tensor]:
    """Every image's views made beforehand, stacked by scale (the order the extraction loop batches in)."""
    from iqabench.images import load_rgb
    from iqabench.views import make_views

    per_scale: list[list[torch.Tensor]] = [[] for _ in views.scales]
    for p in paths:
        for s, t in enumerate(make_views(load_rgb(p), views)):
            per_scale[s].append(t)
    return [torch.cat(v) for v in per_scale]


def encoder_pass(forward: Callable[[torch.Tensor], torch.Tensor], stacks: list[torch.Tensor], batch: int,
                 device: str) -> None:
    """``forward`` over the stacks in batches of ``batch``, as the loop would call it, then synchronised."""
    with torch.inference_mode():
        for stack in stacks:
            for i in range(0, len(stack), batch):
                forward(stack[i : i + batch].to(device)).cpu()
    synchronizer(device)()
