"""Each training step's inputs, optionally prepared one step ahead while the model runs.

Without look-ahead, step ``i`` takes its CPU batch from the loader and calls ``task.prepare`` on
it, then runs the model. With it (``Task.prepare_ahead``), one background thread takes batch
``i + 1`` and prepares it while step ``i`` runs the model: the JPEG 2000 worker processes, the
DataLoader and, on CUDA, the degradations (in a stream of their own) overlap the model's forward
and backward passes; step ``i + 1`` then waits only for what was not hidden.

The inputs are the same either way: ``prepare`` must be a function of (batch, epoch, iteration)
that draws only from its own generators (not torch's global random state), and the batches are
taken from the loader in order, by one thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from ..errors import IQABenchError


class PreparedInputs:
    """``get(i)``: (inputs of iteration ``i``, {"data_s", "prepare_s"}), the durations of taking the
    batch from the loader and of preparing it, wherever they ran."""

    def __init__(self, task, batches: Iterator, epoch: int, iterations: int, device: torch.device, ahead: bool):
        self.task, self.batches, self.epoch, self.iterations, self.device = task, batches, epoch, iterations, device
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="iqabench-prepare") if ahead else None
        self._stream = torch.cuda.Stream(device) if ahead and device.type == "cuda" else None
        self._next: tuple[int, Future] | None = None

    def _make(self, iteration: int) -> tuple[Any, dict[str, float]]:
        t0 = time.perf_counter()
        try:
            batch = next(self.batches)
        except StopIteration:
            raise IQABenchError(f"training: the data ran out at iteration {iteration} of {self.iterations}") from None
        t1 = time.perf_counter()
        if self._stream is None:
            inputs, stats = self.task.prepare(batch, self.epoch, iteration)
        else:  # beside the model's stream; complete before the step that uses it is handed the inputs
            with torch.cuda.stream(self._stream):
                inputs, stats = self.task.prepare(batch, self.epoch, iteration)
            self._stream.synchronize()
        return inputs, {"data_s": t1 - t0, "prepare_s": stats.get("prepare_s", time.perf_counter() - t1)}

    def get(self, iteration: int, prepare_next: bool) -> tuple[Any, dict[str, float]]:
        """The inputs of ``iteration``; with look-ahead, ``prepare_next`` starts ``iteration + 1`` meanwhile."""
        if self._thread is None:
            return self._make(iteration)
        if self._next is not None and self._next[0] == iteration:
            job = self._next[1]
        else:
            job = self._thread.submit(self._make, iteration)
        self._next = (iteration + 1, self._thread.submit(self._make, iteration + 1)) if prepare_next else None
        inputs, times = job.result()
        if self._stream is not None:  # made in the side stream, used in this one: keep the memory until it is done
            _record_stream(inputs, torch.cuda.current_stream(self.device))
        return inputs, times

    def close(self) -> None:
        """Stop the look-ahead (a preparation under way is finished and dropped)."""
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._next = None


def _record_stream(inputs: Any, stream: torch.cuda.Stream) -> None:
    if isinstance(inputs, torch.Tensor):
        if inputs.is_cuda:
            inputs.record_stream(stream)
    elif isinstance(inputs, dict):
        for value in inputs.values():
            _record_stream(value, stream)
    elif isinstance(inputs, (list, tuple)):
        for value in inputs:
            _record_stream(value, stream)
