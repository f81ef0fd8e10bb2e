"""``iqabench report``: the HTML report built from the run folders."""

from __future__ import annotations

import click


@click.command("report")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs", show_default=True,
              metavar="DIR", help="Folder of run results (written by 'iqabench run').")
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              metavar="FILE.html", help="Where to write the self-contained HTML report.")
def report_cmd(runs_dir: str, out: str) -> None:
    """Build the HTML report (Table 1: methods × datasets, with provenance) from the runs in DIR.

    The report is one self-contained file (no network access needed to view it) and is built
    only from the run folders: every number links to the run that produced it.
    """
    from ..reports.html import write_report

    path = write_report(runs_dir, out)
    click.echo(str(path.resolve()))
