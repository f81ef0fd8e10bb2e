"""Learning-rate schedules defined over the whole run: Re-IQA's (PyContrast's cosine with warm-up)
and CONTRIQUE's (linear warm-up, then cosine annealing to zero, per iteration).

:class:`CosineWarmup`: with base rate ``lr``, ``T`` epochs and ``η_min = lr · final_factor``
(Re-IQA: 0.1³), the cosine value at epoch ``s`` is ``c(s) = η_min + (lr − η_min)(1 + cos(π s / T)) / 2``.

* warm-up (``warmup_epochs`` W > 0): linear per iteration from ``warmup_from`` to ``c(W)`` over the
  first W epochs (PyContrast forces W = 5 from 0.01 when the batch exceeds 256);
* then ``c(e + 1)`` for the whole of 0-based epoch ``e`` (PyContrast sets the rate once per epoch
  with its 1-based epoch number, so the last epoch runs at ``η_min``), or, with
  ``per_iteration: true``, ``c(t)`` at the fractional epoch ``t`` of each batch.

The trainer steps the schedule after every batch with the fractional epoch just completed
(:func:`~.optim.fractional_epoch`); knowing the iterations per epoch, the schedule sets the rate of
the *next* batch, so batch ``i`` of epoch ``e`` runs exactly at the rate of position ``e + i/n``.

:class:`LinearWarmupCosine` (CONTRIQUE's ``LinearWarmupAndCosineAnneal``, written there as a
recursive ratio; this is its closed form): with ``T`` iterations in the run and
``W = int(warmup_fraction · T)``, global iteration ``t`` (0-based) runs at ``lr · (t + 1)/(W + 1)``
for ``t ≤ W`` and at ``lr · (1 + cos(π (t − W)/(T − W)))/2`` after.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import IQABenchError


class CosineWarmup:
    def __init__(self, optimizer: torch.optim.Optimizer, *, epochs: int, iterations_per_epoch: int,
                 final_factor: float = 0.001, warmup_epochs: float = 0.0, warmup_from: float = 0.01,
                 per_iteration: bool = False):
        if epochs < 1 or iterations_per_epoch < 1:
            raise IQABenchError("scheduler cosine_warmup: the run needs at least one epoch of one iteration")
        if warmup_epochs < 0 or warmup_epochs > epochs:
            raise IQABenchError(f"config scheduler.warmup_epochs must be in [0, {epochs}] (the run's epochs), "
                                f"got {warmup_epochs}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self.epochs, self.n = int(epochs), int(iterations_per_epoch)
        self.final_factor, self.warmup_epochs = float(final_factor), float(warmup_epochs)
        self.warmup_from, self.per_iteration = float(warmup_from), bool(per_iteration)
        self.position = 0.0
        self._apply()

    def cosine(self, base: float, s: float) -> float:
        eta_min = base * self.final_factor
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * min(s, self.epochs) / self.epochs)) / 2

    def lr_at(self, base: float, t: float) -> float:
        """The rate of the batch at fractional epoch ``t`` (0-based)."""
        if self.warmup_epochs > 0 and t < self.warmup_epochs:
            target = self.cosine(base, self.warmup_epochs)
            return self.warmup_from + (t / self.warmup_epochs) * (target - self.warmup_from)
        if self.per_iteration:
            return self.cosine(base, t)
        return self.cosine(base, math.floor(t + 1e-9) + 1)

    def _apply(self) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.lr_at(base, self.position)

    def step(self, completed: float) -> None:
        """Called after the batch at fractional epoch ``completed``: set the next batch's rate."""
        self.position = (round(float(completed) * self.n) + 1) / self.n
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = [float(v) for v in state["base_lrs"]]
        self.position = float(state["position"])
        self._apply()


class LinearWarmupCosine:
    def __init__(self, optimizer: torch.optim.Optimizer, *, epochs: int, iterations_per_epoch: int,
                 warmup_fraction: float = 0.1):
        if epochs < 1 or iterations_per_epoch < 1:
            raise IQABenchError("scheduler warmup_cosine: the run needs at least one epoch of one iteration")
        if not 0.0 <= warmup_fraction < 1.0:
            raise IQABenchError(f"config scheduler.warmup_fraction must be in [0, 1), got {warmup_fraction}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self.n = int(iterations_per_epoch)
        self.total = int(epochs) * self.n
        self.warmup = int(warmup_fraction * self.total)
        self.iteration = 0
        self._apply()

    def factor(self, t: int) -> float:
        if t <= self.warmup:
            return (t + 1) / (self.warmup + 1)
        return (1 + math.cos(math.pi * (t - self.warmup) / (self.total - self.warmup))) / 2

    def _apply(self) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * self.factor(self.iteration)

    def step(self, completed: float) -> None:
        """Called after the batch at fractional epoch ``completed``: set the next batch's rate."""
        self.iteration = round(float(completed) * self.n) + 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = [float(v) for v in state["base_lrs"]]
        self.iteration = int(state["iteration"])
        self._apply()
