"""The generic training loop around a method-specific :class:`Task`.

Per step: the task prepares the batch on the device (outside autocast: data augmentation and
degradations keep float32; one step ahead in a background thread when the task allows it,
:mod:`~.prefetch`), computes the loss under fp16 autocast on CUDA, the loss is scaled
(GradScaler), the optimiser steps, and the scheduler is stepped with the fractional epoch
(:func:`~.optim.fractional_epoch`). A non-finite loss stops training with an error naming the step.

Position and resume: a checkpoint stores the epoch in progress and the number of its batches
done. Tasks make batch ``i`` of epoch ``e`` a pure function of (seed, e, i, rank), so resuming at
any step continues exactly as an uninterrupted run would.

Files in the run folder (rank 0 only): ``config.yaml``; ``metrics.csv`` (one row per step: loss,
lr, samples/s and the time split: ``data_s`` taking the batch from the loader and ``prepare_s``
preparing it, wherever they ran, ``wait_s`` the part of the step spent waiting for its inputs
(all of those two without look-ahead; what the model's work did not hide with it), ``step_s``; rows are appended and flushed, and rows past the resumed
checkpoint are dropped on resume); ``validation.csv`` (one row per validation); ``last.pt`` (every
``checkpoint.every_steps`` steps, at every epoch end, at the end and on Ctrl-C) and ``best.pt``
(best validation score so far).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import closing, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .. import progress
from ..errors import IQABenchError
from ..fileio import atomic_write_text
from ..models.encoders import arch_from_model_info
from . import distributed
from .checkpoint import capture_rng, restore_rng, save_checkpoint
from .config import dump_yaml
from .distributed import DistEnv
from .optim import build_optimizer, build_scheduler, fractional_epoch
from .prefetch import PreparedInputs

log = logging.getLogger("iqabench")

METRIC_COLUMNS = ("epoch", "iteration", "step", "loss", "lr", "samples_per_s", "data_s", "prepare_s", "wait_s", "step_s",
                  "wall_s")


def _as_is(batch):
    return batch


class PlannedItems(torch.utils.data.Dataset):
    """Item ``j`` = iteration ``j``'s images, ``[task.load_planned(spec) for spec in specs[j]]`` (stacked
    into one tensor with ``stack``): the specs, drawn beforehand from the epoch's seed, fix everything
    random, so the number of loader workers changes nothing."""

    def __init__(self, task: Task, specs: list[list[tuple]], *, stack: bool = False):
        self.task, self.specs, self.stack = task, specs, stack

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, j: int) -> Any:
        items = [self.task.load_planned(spec) for spec in self.specs[j]]
        return torch.stack(items) if self.stack else items


class Task:
    """What a method's trainer supplies to :class:`Trainer` (ARNIQA: :class:`iqabench.training.arniqa.ARNIQATask`)."""

    name: str = ""
    # True when prepare() is a function of (batch, epoch, iteration) alone, drawing from its own
    # generators only: the loop then runs it one step ahead in a background thread (.prefetch).
    prepare_ahead: bool = False

    def read_common(self, cfg: dict[str, Any], env: DistEnv, backbones: Iterable[str]) -> None:
        """The settings every trainer reads alike: the config and process environment, the backbone
        (one of ``backbones``), the seed, the epoch repeats and the loader's worker processes."""
        self.cfg, self.env = cfg, env
        self.backbone = str(cfg["model"]["backbone"])
        if self.backbone not in backbones:
            raise IQABenchError(f"config model.backbone: {self.backbone!r} is not one of {', '.join(backbones)}")
        self.seed = int(cfg["training"]["seed"])
        self.repeats = int(cfg["data"].get("epoch_repeats") or 1)
        self.workers = int(cfg["data"].get("workers") or 0)

    def read_downscale(self) -> float:
        """``data.downscale``: the factor training images are resized by when they are read, in (0, 1]."""
        value = float(self.cfg["data"].get("downscale") or 1.0)
        if not 0 < value <= 1:
            raise IQABenchError(f"config data.downscale must be in (0, 1], got {value}")
        return value

    def build_model(self) -> nn.Module:
        """The training module (random or ``init`` weights), on the CPU."""
        raise NotImplementedError

    def iterations_per_epoch(self) -> int:
        raise NotImplementedError

    def optimizer_params(self, model: nn.Module) -> Iterable[Any]:
        """What the optimiser updates: ``model.parameters()``, or parameter groups with their own
        settings (e.g. no weight decay for some parameters)."""
        return model.parameters()

    def batches(self, epoch: int, start: int) -> Iterable[Any]:
        """This process's CPU batches of ``epoch`` for iterations ``start, start + 1, …``."""
        raise NotImplementedError

    def loader(self, items: torch.utils.data.Dataset, workers: int, *, as_list: bool = False) -> Iterable[Any]:
        """The loader of :meth:`batches`: item ``j`` of ``items`` is iteration ``j``'s whole batch,
        read in order by ``workers`` processes; tensors in pinned memory for a CUDA device, or the
        item as it is (``as_list``: a list of per-image samples)."""
        return torch.utils.data.DataLoader(
            items, batch_size=None, shuffle=False, num_workers=workers,
            collate_fn=_as_is if as_list else None,
            pin_memory=not as_list and self.env.device.type == "cuda",
            prefetch_factor=2 if workers else None,
        )

    def load_planned(self, spec: tuple) -> Any:
        """One image of a :class:`PlannedItems` iteration (e.g. the uint8 image and what ``prepare``
        needs of it)."""
        raise NotImplementedError

    def prepare(self, batch: Any, epoch: int, iteration: int) -> tuple[Any, dict[str, float]]:
        """Device work before the forward pass (e.g. degradations), outside autocast."""
        return batch, {}

    def loss(self, model: nn.Module, inputs: Any) -> Tensor:
        raise NotImplementedError

    def samples_per_step(self) -> int:
        """Training samples per step and process (for samples/s)."""
        raise NotImplementedError

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        """``{"score": …, …}`` (higher = better) on rank 0, or None when not configured."""
        return None

    def model_info(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Release what the task started (worker processes); called once training ends, however it ends."""


class Trainer:
    def __init__(
        self,
        task: Task,
        cfg: dict[str, Any],
        out_dir: str | Path,
        env: DistEnv,
        *,
        resume: dict[str, Any] | None = None,
        on_step: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.task, self.cfg, self.env = task, cfg, env
        self.out_dir = Path(out_dir)
        self.on_step = on_step
        train = cfg["training"]
        self.epochs = int(train["epochs"])
        self.max_steps = train.get("max_steps")
        self.every_steps = int(cfg.get("checkpoint", {}).get("every_steps") or 0)
        self.val_every = int(cfg.get("validation", {}).get("every_epochs") or 1)
        self.amp = bool(train.get("amp", True)) and env.device.type == "cuda"

        torch.manual_seed(int(train["seed"]))  # the random initialisation (also the untrained demo row's)
        self.model = task.build_model().to(env.device)
        self.ddp_model = distributed.wrap(self.model, env)
        self.iters = task.iterations_per_epoch()
        if self.iters < 1:
            raise IQABenchError("training: an epoch has no complete batch (fewer images than the batch size × processes)")
        self.optimizer = build_optimizer(cfg["optimizer"], task.optimizer_params(self.model))
        # Schedules defined over the whole run (cosine_warmup) need its length; the others ignore it.
        self.scheduler = build_scheduler(cfg["scheduler"], self.optimizer, epochs=self.epochs,
                                         iterations_per_epoch=self.iters)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch, self.iteration, self.global_step = 0, 0, 0
        self.validation: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self._updating = False
        if resume is not None:
            self._restore(resume)

    # -- state ----------------------------------------------------------------------------------
    def state(self, kind: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "trainer": self.task.name,
            "config": self.cfg,
            "model": self.model.state_dict(),
            "model_info": self.task.model_info(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": capture_rng(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "global_step": self.global_step,
            "iterations_per_epoch": self.iters,
            "validation": self.validation,
            "best": self.best,
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        # Same keys, other numbers: an SE-ResNet-50 must continue with the gate and layout it was trained with.
        saved = arch_from_model_info(ckpt.get("model_info") or {}, "resumed checkpoint")
        built = arch_from_model_info(self.task.model_info(), "this run")
        if saved != built:
            raise IQABenchError(f"cannot resume: the checkpoint's encoder was built with {saved}, this run builds {built}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt["scaler"]:
            self.scaler.load_state_dict(ckpt["scaler"])
        if "rng" in ckpt:
            restore_rng(ckpt["rng"])
        saved_iters = ckpt.get("iterations_per_epoch", self.iters)
        if saved_iters != self.iters:
            raise IQABenchError(
                f"cannot resume: the checkpoint has {saved_iters} iterations per epoch, this run {self.iters} "
                "(different images, batch size or number of processes)"
            )
        self.epoch, self.iteration, self.global_step = int(ckpt["epoch"]), int(ckpt["iteration"]), int(ckpt["global_step"])
        self.validation = list(ckpt.get("validation") or [])
        self.best = ckpt.get("best")

    def save(self, name: str, kind: str) -> Path | None:
        if not self.env.is_main:
            return None
        path = self.out_dir / name
        save_checkpoint(path, self.state(kind))
        return path

    # -- logging --------------------------------------------------------------------------------
    def _open_metrics(self) -> None:
        self._metrics = None
        if not self.env.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "metrics.csv"
        kept: list[dict[str, str]] = []
        if path.is_file():  # drop rows of steps the resumed checkpoint does not contain
            with open(path, newline="") as f:
                kept = [r for r in csv.DictReader(f) if r.get("step", "").isdigit() and int(r["step"]) <= self.global_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(path, buf.getvalue())
        self._metrics = open(path, "a", newline="")
        self._writer = csv.DictWriter(self._metrics, fieldnames=METRIC_COLUMNS, lineterminator="\n", extrasaction="ignore")

    def _log_step(self, row: dict[str, Any]) -> None:
        if self._metrics is not None:
            self._writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
            self._metrics.flush()

    def _write_validation(self) -> None:
        if not self.env.is_main or not self.validation:
            return
        cols = list(dict.fromkeys(k for r in self.validation for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.validation)
        atomic_write_text(self.out_dir / "validation.csv", buf.getvalue())

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        if self.env.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out_dir / "config.yaml", dump_yaml(self.cfg))
        self._open_metrics()
        started = time.time()
        stopped = False
        try:
            while self.epoch < self.epochs and not stopped:
                stopped = self._run_epoch(started)
                if self.iteration >= self.iters:  # epoch complete
                    self._end_epoch()
        except KeyboardInterrupt:
            if self._updating:
                log.warning("interrupted during a weight update: resume from the last periodic checkpoint")
            elif self.save("last.pt", "interrupted") is not None:
                log.warning(f"interrupted: saved {self.out_dir / 'last.pt'} (resume with --resume {self.out_dir})")
            raise
        finally:
            if self._metrics is not None:
                self._metrics.close()
        if stopped:  # max_steps: the position mid-run (completed epochs were saved by _end_epoch)
            self.save("last.pt", "last")
        return {"epoch": self.epoch, "global_step": self.global_step, "best": self.best, "seconds": time.time() - started}

    def _run_epoch(self, started: float) -> bool:
        env, model = self.env, self.ddp_model
        model.train()
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
        ema = None
        batches = iter(self.task.batches(self.epoch, self.iteration))  # in this thread: iter() draws from the global RNG
        inputs_of = PreparedInputs(self.task, batches, self.epoch, self.iters, env.device, self.task.prepare_ahead)
        with progress.bar(total=self.iters, initial=self.iteration, desc=f"epoch {self.epoch + 1}/{self.epochs}",
                          unit="step") as pbar, closing(inputs_of):
            while self.iteration < self.iters:
                if self.max_steps is not None and self.global_step >= int(self.max_steps):
                    return True
                t0 = time.perf_counter()
                more = self.iteration + 1 < self.iters and (self.max_steps is None or self.global_step + 1 < int(self.max_steps))
                inputs, times = inputs_of.get(self.iteration, prepare_next=more)
                t2 = time.perf_counter()
                with autocast:
                    loss = self.task.loss(model, inputs)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise IQABenchError(
                        f"training: the loss is {value} at epoch {self.epoch + 1}, iteration {self.iteration} (step "
                        f"{self.global_step + 1}); lower the learning rate or check the data"
                    )
                lr = self.optimizer.param_groups[0]["lr"]
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self._updating = True
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step(fractional_epoch(self.epoch, self.iteration, self.iters))
                self.iteration += 1
                self.global_step += 1
                self._updating = False
                if env.device.type == "cuda":
                    torch.cuda.synchronize(env.device)
                t3 = time.perf_counter()
                value = distributed.mean_over_ranks(value, env)
                rate = self.task.samples_per_step() * env.world_size / max(t3 - t0, 1e-9)
                ema = rate if ema is None else 0.9 * ema + 0.1 * rate
                row = {
                    "epoch": self.epoch + 1,
                    "iteration": self.iteration,
                    "step": self.global_step,
                    "loss": value,
                    "lr": lr,
                    "samples_per_s": rate,
                    "data_s": times["data_s"],
                    "prepare_s": times["prepare_s"],
                    "wait_s": t2 - t0,
                    "step_s": t3 - t0,
                    "wall_s": time.time() - started,
                }
                self._log_step(row)
                pbar.update(1)
                pbar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}", samples_s=f"{ema:.1f}")
                if self.on_step is not None:
                    self.on_step(row)
                if self.every_steps and self.global_step % self.every_steps == 0 and self.iteration < self.iters:
                    self.save("last.pt", "last")
        return False

    def _end_epoch(self) -> None:
        done = self.epoch + 1
        if done % self.val_every == 0 or done == self.epochs:
            result = None
            if self.env.is_main:
                result = self.task.validate(self.model)
            distributed.barrier(self.env)
            if result is not None:
                self.validation.append({"epoch": done, "step": self.global_step, **result})
                self._write_validation()
                log.info(f"epoch {done}: validation score {result['score']:.4f} (" +
                         ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "score") + ")")
                if self.best is None or result["score"] > self.best["score"]:
                    self.best = {"epoch": done, "step": self.global_step, "score": float(result["score"])}
                    self.epoch, self.iteration = done, 0
                    self.save("best.pt", "best")
        self.epoch, self.iteration = done, 0
        self.save("last.pt", "final" if done == self.epochs else "last")


def run(
    make_task: Callable[[DistEnv], Task],
    cfg: dict[str, Any],
    out_dir: str | Path,
    *,
    device: str = "auto",
    resume: dict[str, Any] | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Join the process group (under torchrun), build the task and trainer, train, leave the group."""
    env = distributed.setup(device)
    task = None
    try:
        if not env.is_main:
            progress.set_enabled(False)
        task = make_task(env)
        trainer = Trainer(task, cfg, out_dir, env, resume=resume, on_step=on_step)
        summary = trainer.fit()
        summary["out_dir"] = str(out_dir)
        return summary
    finally:
        if task is not None:
            task.close()
        distributed.teardown(env)
