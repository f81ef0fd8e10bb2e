"""Options and helpers shared by several commands."""

from __future__ import annotations

import click

from ..errors import IQABenchError


def plugin_option(f):
    return click.option(
        "--plugin",
        "plugins",
        multiple=True,
        type=click.Path(dir_okay=False),
        metavar="FILE.py",
        help="Python file defining plugins (methods, datasets, protocols) to load first. Repeatable.",
    )(f)


def load_plugins(plugins: tuple[str, ...]) -> None:
    from ..registry import load_plugin_file

    for path in plugins:
        load_plugin_file(path)


def parse_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``("k=v", ...)`` → dict; one-line error naming the option for a malformed pair."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise IQABenchError(f"{option} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str) -> str:
    """``auto`` → cuda or cpu; anything else must name a device this machine has (one-line errors)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise IQABenchError(f"--device {device!r} is not a device iqabench runs on (use auto, cpu, cuda, cuda:N or mps)")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise IQABenchError(f"--device {device}: CUDA is not available on this machine (use --device cpu or auto)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise IQABenchError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise IQABenchError(f"--device {device}: MPS is not available on this machine (use --device cpu or auto)")
    return device
