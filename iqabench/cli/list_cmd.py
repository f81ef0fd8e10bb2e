"""``iqabench list``: the registered methods, datasets or protocols."""

from __future__ import annotations

import click

from ..errors import IQABenchError
from .common import load_plugins, plugin_option


@click.command("list")
@click.argument("what", type=click.Choice(["methods", "datasets", "protocols"]))
@click.argument("pattern", required=False)
@plugin_option
def list_cmd(what: str, pattern: str | None, plugins: tuple[str, ...]) -> None:
    """List the registered METHODS, DATASETS or PROTOCOLS with a one-line description each.

    PATTERN keeps the names it matches, with shell wildcards (quote it): 'reiqa*', '*niqe*'.
    Namespaced names (PREFIX:NAME) are listed when the pattern names the namespace:
    'pyiqa:*' lists every pyiqa no-reference metric.

    Plugins from installed packages (entry points) and from --plugin files are included; a
    plugin that fails to load is listed with its error.
    """
    from .. import registry

    load_plugins(plugins)
    reg = {"methods": registry.methods, "datasets": registry.datasets, "protocols": registry.protocols}[what]
    rows = reg.listing(pattern)
    if pattern is not None and not rows:
        raise IQABenchError(f"no {what} match {pattern!r} (iqabench list {what} shows them all)")
    width = max((len(r.name) for r in rows), default=0)
    for r in rows:
        text = r.description if r.error is None else f"FAILED TO LOAD: {r.error}"
        click.echo(f"{r.name.ljust(width)}  {text}")
