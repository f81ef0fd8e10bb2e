"""A file added to a built-in plugin folder is a plugin: listed and run with nothing declared anywhere."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from iqabench import registry

REPO = Path(__file__).resolve().parent.parent

METHOD = '''
"""A method dropped into methods/ by the discovery test."""
import torch

from iqabench import Method, Views, register_method


@register_method("zz-discovery-probe")
class Probe(Method):
    description = "discovery test: grey mean and spread"
    views = Views(crops=0)

    def extract(self, batch):
        g = batch.mean(1)
        return torch.stack([g.mean((1, 2)), g.std((1, 2))], dim=1)
'''

DATASET = '''
"""A dataset dropped into datasets/ by the discovery test (the conformance kit's noise levels)."""
from iqabench.registry import register_dataset
from iqabench.testing import kit_classes

register_dataset("zz-discovery-probe")(type("ProbeData", (kit_classes()[2],), {"seed": 7}))
'''


def test_a_file_in_the_builtin_folders_is_listed_and_runs(tmp_path):
    files = [REPO / "methods" / "zz_discovery_probe.py", REPO / "datasets" / "zz_discovery_probe.py"]
    try:
        for path, text in zip(files, (METHOD, DATASET)):
            path.write_text(textwrap.dedent(text))
        env = {"IQABENCH_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
        exe = [sys.executable, "-m", "iqabench", "--quiet"]
        listed = subprocess.run([*exe, "list", "methods"], capture_output=True, text=True, env=env, timeout=300)
        assert listed.returncode == 0 and "zz-discovery-probe" in listed.stdout, listed
        run = subprocess.run([*exe, "run", "-m", "zz-discovery-probe", "-p", "within_dataset", "-d", "zz-discovery-probe",
                              "--runs", str(tmp_path / "runs")], capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0 and "zz-discovery-probe on zz-discovery-probe: SRCC" in run.stdout, run
    finally:
        for path in files:
            path.unlink(missing_ok=True)


def test_private_modules_are_not_plugins_and_a_broken_module_is_reported(monkeypatch, tmp_path):
    assert "within_dataset" in registry.protocols.names() and registry.protocols.builtin("within_dataset")
    assert not any(r.name.startswith("_") for r in registry.protocols.listing())  # _within_report etc. are helpers
    pkg = tmp_path / "probe_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "broken.py").write_text("raise RuntimeError('no such thing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = registry.Registry("method", "iqabench.none", "probe_pkg")
    rows = broken.listing()
    assert [(r.name, r.error) for r in rows] == [("broken", "RuntimeError: no such thing")]
    import pytest

    from iqabench.errors import IQABenchError

    with pytest.raises(IQABenchError, match="probe_pkg.broken failed to import: RuntimeError: no such thing"):
        broken.get("anything")
