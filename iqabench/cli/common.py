"""Options and helpers shared by several commands."""

from __future__ import annotations

import click

from ..devices import resolve_device  # noqa: F401  (the commands' --device, checked in core)
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
