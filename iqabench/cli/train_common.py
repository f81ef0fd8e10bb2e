"""What every ``iqabench train <method>`` command shares: its common options, turning flags into config
keys, resolving the configuration (packaged or user YAML, or a checkpoint's own on ``--resume``) and
the run folder, and the closing line."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import IQABenchError
from .common import parse_pairs

# Options every trainer has, and the config key each sets.
COMMON_KEYS = {
    "workers": "data.workers",
    "epochs": "training.epochs",
    "batch_size": "training.batch_size",
    "seed": "training.seed",
    "max_steps": "training.max_steps",
    "lr": "optimizer.lr",
}


def common_options(trainer: str, *, epochs: str, batch_size: str, lr: str, seed: str, set_example: str):
    """The options of every ``iqabench train <trainer>`` command; the strings describe the reference values."""

    def decorate(f):
        options = [
            click.option("--config", "config_name", default=None, metavar="NAME|FILE",
                         help="Packaged configuration (paper [default], demo) or a YAML file merged over the paper's."),
            click.option("--data-root", type=click.Path(file_okay=False), default=None, metavar="DIR",
                         help="Folder holding the datasets (default: $IQABENCH_DATA)."),
            click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                         help=f"Run folder (default: runs/train/{trainer}-<config>-<time>)."),
            click.option("--resume", default=None, metavar="DIR|CKPT",
                         help="Continue a run from its last.pt (or the given checkpoint), mid-epoch included."),
            click.option("--epochs", type=int, default=None, metavar="N", help=f"Training epochs ({epochs})."),
            click.option("--batch-size", type=int, default=None, metavar="N", help=f"Per step and process ({batch_size})."),
            click.option("--lr", type=float, default=None, metavar="X", help=f"Base learning rate ({lr})."),
            click.option("--seed", type=int, default=None, metavar="N", help=f"Seed of the initialisation and data ({seed})."),
            click.option("--max-steps", type=int, default=None, metavar="N", help="Stop after N steps in total."),
            click.option("--workers", type=int, default=None, metavar="N", help="Data-loading worker processes."),
            click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                         help=f"Any config key, dotted (e.g. {set_example}). Repeatable."),
            click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
                         help="Training device (under torchrun: each process its LOCAL_RANK GPU)."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def config_flags(values: dict[str, Any], keys: dict[str, str], sets: tuple[str, ...]) -> dict[str, Any]:
    """Config key → value from the flags given (``keys``: flag → config key, COMMON_KEYS included) and --set."""
    from ..training.config import parse_scalar

    flags = {({**COMMON_KEYS, **keys})[k]: v for k, v in values.items() if v is not None}
    for key, value in parse_pairs(sets, "--set").items():
        flags[key] = parse_scalar(value)
    return flags


def announce(out_dir: str, summary: dict[str, Any]) -> bool:
    """Print where the last checkpoint is (rank 0 only, under torchrun); whether this is rank 0."""
    if os.environ.get("RANK", "0") != "0":
        return False
    click.echo(f"{out_dir}/last.pt  step {summary['global_step']}, epoch {summary['epoch']}")
    return True

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
