"""Shared test fixtures. Everything runs offline; the demo data is built once per IQABENCH_HOME."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Offline and isolated: pyiqa must never try to download; iqabench's home is a test folder that
# persists between local runs (the demo data is built once), overridable with IQABENCH_TEST_HOME.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("IQABENCH_HOME", os.environ.get("IQABENCH_TEST_HOME", str(REPO / ".cache" / "test-home")))
os.environ.pop("IQABENCH_DATA", None)
os.environ.pop("IQABENCH_CACHE", None)  # the feature cache lives in the test home unless a test says otherwise


@pytest.fixture(scope="session")
def demo_root() -> Path:
    """The built demo dataset (built on first use, about a minute)."""
    from iqabench.demo import ensure_demo

    return ensure_demo()


@pytest.fixture
def fresh_plugins():
    """Start as a fresh process would: plugin files loaded by earlier tests (in-process CLI calls) are
    forgotten, so that the same plugin code loaded again from another path is not a name clash."""
    from iqabench import registry

    for reg in (registry.methods, registry.datasets, registry.protocols):
        for name, cls in list(reg._classes.items()):
            if cls.__module__.startswith("iqabench_plugin_"):
                del reg._classes[name], reg._sources[name]
    for module in [m for m in sys.modules if m.startswith("iqabench_plugin_")]:
        del sys.modules[module]


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-500:]!r}, err={self.err[-800:]!r})"


@pytest.fixture
def cli(capsys):
    """Run ``iqabench ARGS`` in-process through the real entry point (exit codes, one-line errors)."""
    from iqabench.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def iqabench_exe() -> list[str]:
    return [sys.executable, "-m", "iqabench"]
