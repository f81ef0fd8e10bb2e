"""What every ``iqabench train <method>`` command does with its options: resolve the configuration
(packaged or user YAML, or a checkpoint's own on ``--resume``), apply the flags, pick the run folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import IQABenchError

# On --resume only these keys may change: the rest would make the continued run a different one.
RESUMABLE = {"data.workers", "data.jpeg2000_workers", "training.epochs", "training.max_steps"}


def resolve_run(trainer: str, family: str, config_name: str | None, resume: str | None, out_dir: str | None,
                flags: dict[str, Any], *, wrong_trainer: Callable[[str, Any], str],
                ) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """(config, checkpoint to resume or None, run folder).

    ``trainer`` is the name checkpoints record, ``family`` the packaged config family, ``flags``
    config key → value from the command line; ``wrong_trainer(path, found)`` words the error for a
    checkpoint written by another trainer."""
    from ..training.checkpoint import load_checkpoint
    from ..training.config import get_key, load_config, set_key

    ckpt = None
    if resume is not None:
        path = Path(resume).expanduser()
        if path.is_dir():
            out_dir, path = out_dir or str(path), path / "last.pt"
        elif out_dir is None:
            out_dir = str(path.parent)
        if not path.is_file():
            raise IQABenchError(f"--resume {resume!r}: no checkpoint {str(path)!r}")
        if config_name is not None:
            raise IQABenchError("--resume continues with the checkpoint's own configuration; drop --config")
        ckpt = load_checkpoint(path)
        if ckpt.get("trainer") != trainer:
            raise IQABenchError(wrong_trainer(str(path), ckpt.get("trainer")))
        cfg = ckpt["config"]
        for key, value in flags.items():
            if key not in RESUMABLE and get_key(cfg, key) != value:
                raise IQABenchError(f"cannot change {key} when resuming (only {', '.join(sorted(RESUMABLE))})")
    else:
        cfg = load_config(family, config_name)
    for key, value in flags.items():
        set_key(cfg, key, value, "option")
    if out_dir is None:
        out_dir = str(Path("runs") / "train" / f"{trainer}-{cfg['name']}-{time.strftime('%Y%m%d-%H%M%S')}")
    return cfg, ckpt, out_dir
