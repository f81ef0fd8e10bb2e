"""``iqabench cache``: list and clear the feature cache ($IQABENCH_HOME/cache)."""

from __future__ import annotations

import click


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@click.group("cache")
def cache_cmd() -> None:
    """Inspect or clear the feature cache that lets runs skip extraction and resume after a kill.

    \b
    Examples:
      iqabench cache ls
      iqabench cache clear --method brisque
      iqabench cache clear --dataset demo
    """


@cache_cmd.command("ls")
def ls_cmd() -> None:
    """What is cached: method, weights, views, options, images, size on disk, datasets that used it."""
    from ..cache import FeatureCache

    cache = FeatureCache.default()
    entries = cache.entries()
    if not entries:
        click.echo(f"the feature cache is empty ({cache.root})")
        return
    click.echo(f"feature cache: {cache.root}")
    header = ("method", "weights", "views", "options", "images", "size", "datasets")
    rows = []
    for e in entries:
        ident = e.identity
        views = ident.get("views") or {}
        crops = views.get("crops", 0)
        where = "whole" if not crops else f"{crops}x{views.get('crop_size')}"
        scales = "+".join("full" if s == 1.0 else "half" for s in views.get("scales", []))
        weights = ident.get("weights_sha256") or ident.get("weights_identity") or "none"
        opts = ",".join(f"{k}={v}" for k, v in (ident.get("options") or {}).items()) or "-"
        rows.append(
            (
                ident.get("display_name") or ident.get("name", e.path.name),
                weights[:12],
                f"{where}@{scales}",
                opts,
                str(e.n_images),
                _size(e.bytes),
                ",".join(e.datasets) or "-",
            )
        )
        if e.corrupt:
            rows.append(("", "", "", "", f"{len(e.corrupt)} corrupt shard(s)", "", ""))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


@cache_cmd.command("clear")
@click.option("--method", default=None, metavar="NAME", help="Only this method's features.")
@click.option("--dataset", default=None, metavar="NAME",
              help="Only the images this dataset used (images it shares with other datasets included).")
def clear_cmd(method: str | None, dataset: str | None) -> None:
    """Remove cached features: everything, or one method's, or the images of one dataset."""
    from ..cache import FeatureCache

    removed = FeatureCache.default().clear(method=method, dataset=dataset)
    what = " ".join(filter(None, [f"method {method}" if method else "", f"dataset {dataset}" if dataset else ""]))
    click.echo(
        f"cleared {removed['images']} cached image(s) in {removed['methods']} method folder(s), "
        f"{_size(removed['bytes'])}" + (f" ({what})" if what else "")
    )
