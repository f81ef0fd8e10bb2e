"""JPEG 2000 round trips in worker processes, for training on a GPU.

JPEG 2000 is the one type of the model that runs only on the CPU (Pillow/OpenJPEG, ~14 ms encode
per 224² view), and its encoder holds the GIL, so threads do not run it in parallel: processes do.
:func:`~iqabench.degradation.apply_compositions` given a pool submits each round's JPEG 2000
samples first, runs the round's other types on the device meanwhile, then collects them. The
workers run :func:`iqabench.jpeg2000.round_trip` on the same uint8 images the in-process path
encodes, so the output is identical, bit for bit, whichever process encodes.

Workers are started with ``spawn`` (safe after CUDA is initialised, and with threads running),
import only numpy and Pillow, and ignore Ctrl-C (the training process handles it and stops them).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from torch import Tensor

from ..errors import IQABenchError
from ..jpeg2000 import round_trip
from .catalog import check_batch, level_indices
from .compression import jpeg2000_jobs, jpeg2000_tensor


class PendingJPEG2000:
    """Round trips under way; :meth:`result` is ``distort(x, "jpeg2000", level)``."""

    def __init__(self, futures: list[Future], like: Tensor):
        self._futures, self._like = futures, like

    def result(self) -> Tensor:
        try:
            images: list[np.ndarray] = [f.result() for f in self._futures]
        except BrokenProcessPool:
            raise IQABenchError("a JPEG 2000 worker process died (out of memory, or killed); the degradation "
                                "cannot continue (set data.jpeg2000_workers=0 to encode in the training process)") from None
        # distort()'s finish: its dtype, clipped (a no-op on these values, kept for identity with it).
        return jpeg2000_tensor(images, self._like).clamp_(0.0, 1.0)


class JPEG2000Pool:
    """``workers`` processes running JPEG 2000 round trips; a context manager (:meth:`close` on exit)."""

    def __init__(self, workers: int):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise IQABenchError(f"JPEG 2000 worker processes: expected a positive integer, got {workers!r}")
        self.workers = workers
        # Started on the first submit, one image per task, so each step's images spread over all of them.
        # The initializer is signal.signal itself: a function of this module would make each worker import torch.
        self._executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def submit(self, x: Tensor, level: int | Sequence[int] | Tensor) -> PendingJPEG2000:
        """Start ``distort(x, "jpeg2000", level)`` (``x`` N×3×H×W in [0, 1], any device) and return at once."""
        check_batch(x)
        jobs = jpeg2000_jobs(x, level_indices(level, x.shape[0]))
        try:
            futures = [self._executor.submit(round_trip, *job) for job in jobs]
        except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: submitted after close()
            raise IQABenchError(f"the JPEG 2000 worker processes are not running ({exc})") from None
        return PendingJPEG2000(futures, x)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> JPEG2000Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

