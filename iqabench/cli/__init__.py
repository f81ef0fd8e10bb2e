"""The ``iqabench`` command line.

Each subcommand lives in its own module and is imported only when used, so ``iqabench --help``
stays fast. Errors the user can fix (:class:`iqabench.errors.IQABenchError`) print one line and
exit 1; usage errors exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from .. import __version__

# command name -> "module:attribute" (one module per command).
COMMANDS = {
    "list": "iqabench.cli.list_cmd:list_cmd",
    "run": "iqabench.cli.run_cmd:run_cmd",
    "report": "iqabench.cli.report_cmd:report_cmd",
    "demo": "iqabench.cli.demo_cmd:demo_cmd",
    "degrade": "iqabench.cli.degrade_cmd:degrade_cmd",
    "datasets": "iqabench.cli.datasets_cmd:datasets_cmd",
    "train": "iqabench.cli.train_cmd:train_cmd",
    "cache": "iqabench.cli.cache_cmd:cache_cmd",
    "fit": "iqabench.cli.fit_cmd:fit_cmd",
    "score": "iqabench.cli.score_cmd:score_cmd",
}


# Library warnings about conditions iqabench handles and reports itself: never shown to the user.
QUIET_WARNINGS = (
    # nan-medians over undefined correlations (a constant prediction): the result says "n/a" / null
    (r"All-NaN slice encountered", RuntimeWarning),
    # torch.load(weights_only=True) of a file pickled with protocol != 2: read correctly all the same
    (r"Detected pickle protocol", UserWarning),
)


def quiet_library_warnings() -> None:
    """Drop :data:`QUIET_WARNINGS`; show any other warning as one line (no source file and line)."""
    import warnings

    for message, category in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    warnings.showwarning = _one_line_warning


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    logging.getLogger("iqabench").warning(f"warning: {category.__name__}: {text}")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="iqabench")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors (no progress bars or log lines).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """iqabench: benchmark no-reference image quality assessment methods.

    \b
    Quick start (no dataset download needed):
      iqabench demo
    Typical use:
      iqabench list methods
      iqabench run --method brisque --protocol within_dataset --dataset demo
      iqabench report --out report.html
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, handlers=[handler], force=True)
    from .. import progress

    progress.set_enabled(not quiet)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests capture and replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def main(argv: list[str] | None = None) -> None:
    from ..errors import IQABenchError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    quiet_library_warnings()
    try:
        code = cli.main(args=args, prog_name="iqabench", standalone_mode=False, obj={"argv": list(args)})
        if isinstance(code, int) and code != 0:  # ctx.exit(n) returns n when standalone_mode is off
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: exit 2 with click's message
        exc.show()
        sys.exit(exc.exit_code)
    except IQABenchError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)
