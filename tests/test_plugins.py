"""Plugins: a file passed with --plugin, and an installed package's entry point, run like built-ins."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iqabench import registry
from iqabench.errors import IQABenchError

REPO = Path(__file__).resolve().parent.parent


def readme_plugin_code() -> str:
    """The README's method example (test_examples checks that the README prints this file verbatim)."""
    return (REPO / "docs" / "examples" / "gradstats.py").read_text()


def _result(runs: Path) -> dict:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return json.loads((run / "result.json").read_text())


def test_readme_plugin_example_runs_verbatim(fresh_plugins, cli, demo_root, tmp_path):
    code = readme_plugin_code()
    assert 20 <= len(code.strip().splitlines()) <= 40
    plugin = tmp_path / "gradstats.py"
    plugin.write_text(code)
    listed = cli("list", "methods", "--plugin", str(plugin))
    assert listed.code == 0 and re.search(r"^gradstats\s+Mean, spread", listed.out, re.M)
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(plugin), "-m", "gradstats", "-p", "within_dataset", "-d", "demo", "--runs", str(runs))
    assert r.code == 0, r
    result = _result(runs)
    assert result["methods"][0]["name"] == "gradstats"
    assert result["summary"]["n_splits"] == 10 and result["summary"]["srcc"] > 0.3


def test_plugin_file_errors(tmp_path):
    with pytest.raises(IQABenchError, match="does not exist"):
        registry.load_plugin_file(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n")
    with pytest.raises(IQABenchError, match=r"broken.py.*failed to import.*not_a_module_anywhere"):
        registry.load_plugin_file(broken)


ENTRY_POINT_PLUGIN = '''
import torch
from iqabench import Method, Views, register_method

@register_method("ep_contrast")
class Contrast(Method):
    description = "RMS contrast per channel (entry-point plugin)"
    views = Views(crops=0, scales=(1.0,))

    def extract(self, batch):
        return batch.std(dim=(2, 3))
'''


def test_entry_point_plugin(demo_root, tmp_path):
    site = tmp_path / "site"
    (site / "ep_plugin").mkdir(parents=True)
    (site / "ep_plugin" / "__init__.py").write_text(textwrap.dedent(ENTRY_POINT_PLUGIN))
    dist = site / "ep_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[iqabench.methods]\nep_contrast = ep_plugin:Contrast\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    exe = [sys.executable, "-m", "iqabench"]
    listed = subprocess.run([*exe, "list", "methods"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^ep_contrast\s+RMS contrast", listed.stdout, re.M)
    runs = tmp_path / "runs"
    ran = subprocess.run(
        [*exe, "-q", "run", "-m", "ep_contrast", "-p", "within_dataset", "-d", "demo", "--runs", str(runs)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert _result(runs)["summary"]["n_splits"] == 10


def test_broken_entry_point_is_reported_not_hidden(tmp_path):
    site = tmp_path / "site"
    dist = site / "bad_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[iqabench.methods]\nbadone = no_such_module:Thing\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "iqabench", "list", "methods"], env=env, capture_output=True, text=True)
    assert out.returncode == 0
    assert re.search(r"^badone\s+FAILED TO LOAD: .*no_such_module", out.stdout, re.M)
    ran = subprocess.run(
        [sys.executable, "-m", "iqabench", "run", "-m", "badone", "-p", "within_dataset", "-d", "demo"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 1 and "failed to load" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1
