"""``iqabench report``: the HTML report (or CSV / LaTeX tables) built from the run folders."""

from __future__ import annotations

import click

from .common import load_plugins, plugin_option


@click.command("report")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs", show_default=True,
              metavar="DIR", help="Folder of run results (written by 'iqabench run'); searched recursively.")
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              metavar="FILE", help="The HTML file; for csv/latex, tables go to FILE-stem_table1.csv etc.")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "latex"]), default="html", show_default=True,
              help="html: the self-contained report with figures (PNG/PDF also saved in FILE-stem_files/); "
                   "csv / latex: each table as its own file (LaTeX with the same bold/underline marks, booktabs).")
@plugin_option
def report_cmd(runs_dir: str, out: str, fmt: str, plugins: tuple[str, ...]) -> None:
    """Build the report of Tables 1–3 and Figures 1 and 4 from the runs in DIR.

    The HTML report is one self-contained file (no network needed to view it), built only from
    the run folders: every number links to the run that produced it, missing cells show the
    command that would fill them, and synthetic (demo) data is labelled as such. Each protocol
    writes its own section; a plugin protocol's runs get its section with --plugin FILE.py (without
    it, a generic table of their headlines).
    """
    from ..reports.html import write_report

    load_plugins(plugins)  # a plugin protocol's own report section
    for path in write_report(runs_dir, out, fmt):
        click.echo(str(path.resolve()))
