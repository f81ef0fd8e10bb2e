"""Optimiser and learning-rate schedule from the config's ``optimizer`` and ``scheduler`` sections.

The schedule is torch's ``CosineAnnealingWarmRestarts``, stepped after every iteration with the
fractional epoch, as the reference does (``lr_scheduler.step(epoch + i / len(loader))`` after the
optimiser step of batch ``i``): batch 0 of the first epoch runs at the base rate, batch ``i > 0``
of epoch ``e`` at the rate of epoch ``e + (i − 1) / n``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..errors import IQABenchError


def build_optimizer(cfg: dict[str, Any], params: Iterable[Any]) -> torch.optim.Optimizer:
    """``params``: parameters, or (sgd) parameter groups whose own settings override the config's."""
    name = cfg.get("name", "sgd")
    if name == "lars":  # Re-IQA's (see .lars); parameters that never get a gradient are left out
        from .lars import LARS

        return LARS([p for p in params if p.requires_grad], lr=float(cfg["lr"]), momentum=float(cfg["momentum"]),
                    weight_decay=float(cfg["weight_decay"]), trust_coefficient=float(cfg["trust_coefficient"]))
    if name == "adamw":  # the demo configs: training from random weights in a few hundred steps
        return torch.optim.AdamW(params, lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    if name != "sgd":
        raise IQABenchError(f"config optimizer.name: {name!r} is not supported (sgd, adamw, lars)")
    return torch.optim.SGD(
        params, lr=float(cfg["lr"]), momentum=float(cfg["momentum"]), weight_decay=float(cfg["weight_decay"])
    )


def build_scheduler(cfg: dict[str, Any], optimizer: torch.optim.Optimizer, *, epochs: int | None = None,
                    iterations_per_epoch: int | None = None):
    """``epochs`` and ``iterations_per_epoch`` (the run's length) are used by ``cosine_warmup`` and
    ``warmup_cosine`` only."""
    name = cfg.get("name", "cosine_warm_restarts")
    if name == "cosine_warmup":  # Re-IQA's (see .schedules)
        from .schedules import CosineWarmup

        if epochs is None or iterations_per_epoch is None:
            raise IQABenchError("scheduler cosine_warmup needs the run's epochs and iterations per epoch")
        return CosineWarmup(optimizer, epochs=epochs, iterations_per_epoch=iterations_per_epoch,
                            final_factor=float(cfg["final_factor"]), warmup_epochs=float(cfg["warmup_epochs"]),
                            warmup_from=float(cfg["warmup_from"]), per_iteration=bool(cfg["per_iteration"]))
    if name == "warmup_cosine":  # CONTRIQUE's (see .schedules)
        from .schedules import LinearWarmupCosine

        if epochs is None or iterations_per_epoch is None:
            raise IQABenchError("scheduler warmup_cosine needs the run's epochs and iterations per epoch")
        return LinearWarmupCosine(optimizer, epochs=epochs, iterations_per_epoch=iterations_per_epoch,
                                  warmup_fraction=float(cfg["warmup_fraction"]))
    if name != "cosine_warm_restarts":
        raise IQABenchError(f"config scheduler.name: {name!r} is not supported "
                            "(cosine_warm_restarts, cosine_warmup, warmup_cosine)")
    return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=int(cfg["T_0"]), T_mult=int(cfg["T_mult"]), eta_min=float(cfg["eta_min"])
    )


def fractional_epoch(epoch: int, iteration: int, iterations_per_epoch: int) -> float:
    """The value the scheduler is stepped with after batch ``iteration`` of ``epoch``."""
    return epoch + iteration / iterations_per_epoch
