"""The wheel holds only iqabench* packages and the package data they need."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent


def _declared_packages():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return cfg["packages"], cfg["package-dir"]


def test_every_package_folder_is_declared():
    packages, package_dir = _declared_packages()
    roots = {name: REPO / path for name, path in package_dir.items()}
    found = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found == set(packages), "pyproject.toml [tool.setuptools] packages is out of date"


@pytest.mark.slow
def test_wheel_contents(tmp_path):
    # Build from a copy of the tracked tree, so the test leaves no build/ folder in the checkout.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", ".cache", "runs", "build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(src)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("iqabench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top <= {"iqabench", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, top
    for required in (
        "iqabench/methods/brisque.py",
        "iqabench/datasets/demo.py",
        "iqabench/protocols/within_dataset.py",
        "iqabench/reports/templates/report.html.j2",
        "iqabench/methods/data/niqe_pristine_iqabench.mat",
        "iqabench/methods/data/niqe_pristine_live.npz",
        "iqabench/methods/data/README.md",
    ):
        assert required in names, required
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    # The built-in plugins are discovered from their packages, not declared: only the console script.
    assert "iqabench = iqabench.cli:main" in text and "[iqabench.methods]" not in text
