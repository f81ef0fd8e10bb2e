"""``iqabench demo``: the whole pipeline on the built-in synthetic demo data, ending with a report."""

from __future__ import annotations

import click

from .common import resolve_device


@click.command("demo")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs/demo", show_default=True,
              metavar="DIR", help="Folder receiving the demo's run results.")
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              metavar="FILE.html", help="Where to write the report.")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
              help="Where methods run; auto picks CUDA when available.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the feature cache.")
def demo_cmd(runs_dir: str, out: str, device: str, no_cache: bool) -> None:
    """Run every offline method through every protocol on the built-in demo data; write the report.

    The demo dataset is synthetic: 20 photographs bundled in installed packages, degraded by
    iqabench's degradation model, labelled with a full-reference pseudo-DMOS (GMSD). It needs
    no download. Self-supervised methods train a small demo model on other bundled photographs
    first (once; cached). Runs: within_dataset (Table 1), cross_dataset between demo-a and
    demo-b (Table 2), tsne (Figure 1), gmad (Figure 4) and the Waterloo D/L tests on the demo
    pool. The headline numbers (Tables 1 and 2) and the report path are printed last.
    """
    from .demo_pipeline import headline_table, run_demo

    outcome = run_demo(runs_dir=runs_dir, out=out, device=resolve_device(device), use_cache=not no_cache)
    click.echo(headline_table(outcome.within, outcome.cross))
    click.echo(str(outcome.report.resolve()))
