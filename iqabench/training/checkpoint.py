"""Training checkpoints: complete, atomic, and readable with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors and Python scalars/containers::

    format        "iqabench-checkpoint"     format_version  1
    kind          "last" | "best" | "final" | "interrupted" | "weights"
    trainer       "arniqa"                   config          the resolved YAML config
    model         model state dict           model_info      backbone, crop size, init, ...
    optimizer     optimiser state dict       scheduler       scheduler state dict
    scaler        GradScaler state dict      rng             torch / CUDA / numpy / random states
    epoch         epoch in progress (0-based)
    iteration     batches of that epoch already done (resume starts there)
    global_step   optimiser steps done
    validation    per-epoch validation history; best: {"epoch", "score"}

``slim`` keeps what evaluation needs (model, model_info, config, position): a small file for
``--weights``. NumPy's RNG state is stored as lists so no pickled NumPy object is needed.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import IQABenchError
from ..fileio import atomic_write_bytes
from ..models.arniqa import CHECKPOINT_FORMAT, load_file

FORMAT_VERSION = 1
SLIM_KEYS = ("format", "format_version", "trainer", "config", "model", "model_info", "epoch", "iteration",
             "global_step", "validation", "best")


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuplify(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Serialise in memory, then write atomically (a crash never leaves a torn checkpoint)."""
    state = {"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION, **state}
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    obj = load_file(path, "checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise IQABenchError(f"checkpoint {str(path)!r} is not an iqabench training checkpoint")
    if int(obj.get("format_version", 0)) > FORMAT_VERSION:
        raise IQABenchError(
            f"checkpoint {str(path)!r} has format version {obj['format_version']}; this iqabench reads up to {FORMAT_VERSION}"
        )
    missing = [k for k in ("model", "optimizer", "scheduler", "scaler", "epoch", "iteration", "global_step", "config")
               if k not in obj]
    if missing:
        raise IQABenchError(f"checkpoint {str(path)!r} cannot be resumed: it lacks {', '.join(missing)} (a slim weights file?)")
    return obj


def slim(state: dict[str, Any], kind: str = "weights") -> dict[str, Any]:
    out = {k: state[k] for k in SLIM_KEYS if k in state}
    out["kind"] = kind
    return out
