"""Shared checks for the trainers (ARNIQA, Re-IQA, CONTRIQUE) on the shared training loop."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch


class _Stop(KeyboardInterrupt):
    pass


def check_exact_resume(train: Callable[..., object], cfg: dict, tmp_path: Path, stop_at: int = 4) -> tuple[dict, dict]:
    """Train ``cfg`` through (``full``), and again interrupted after step ``stop_at`` then resumed from
    the interrupted checkpoint (``cut``): every step's loss and learning rate, and the final weights,
    must be identical. Returns (the interrupted checkpoint, the full run's final checkpoint)."""
    from iqabench.training.checkpoint import load_checkpoint

    full: list[dict] = []
    train(cfg, tmp_path / "full", device="cpu", on_step=full.append)
    assert [r["step"] for r in full] == list(range(1, len(full) + 1)) and len(full) > stop_at
    assert all(math.isfinite(r["loss"]) for r in full)
    first: list[dict] = []

    def interrupt(row):
        first.append(row)
        if row["step"] == stop_at:
            raise _Stop()

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", device="cpu", on_step=interrupt)
    cut = load_checkpoint(tmp_path / "cut" / "last.pt")
    rest: list[dict] = []
    train(cut["config"], tmp_path / "cut", device="cpu", resume=cut, on_step=rest.append)
    assert [r["loss"] for r in first + rest] == [r["loss"] for r in full]
    assert [r["lr"] for r in first + rest] == [r["lr"] for r in full]
    end_full, end_cut = (load_checkpoint(tmp_path / d / "last.pt") for d in ("full", "cut"))
    for key, value in end_full["model"].items():
        assert torch.equal(value, end_cut["model"][key]), key
    return cut, end_full
