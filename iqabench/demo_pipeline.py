"""What ``iqabench demo`` / ``make demo`` runs: every offline-capable method on the demo data, then the report."""

from __future__ import annotations

import logging
from pathlib import Path

from . import registry
from .demo import ensure_demo
from .runner import MethodSpec, execute, headline

log = logging.getLogger("iqabench")


def demo_methods(device: str) -> list[MethodSpec]:
    """Each registered method's demo variants (a method that needs user-supplied weights has none)."""
    specs: list[MethodSpec] = []
    for name in registry.methods.names():
        cls = registry.methods.get(name)
        for variant in cls.demo_variants(device=device):
            specs.append(MethodSpec(name, variant.get("weights"), variant.get("options", {})))
    return specs


def run_demo(*, runs_dir: str | Path, out: str | Path, device: str = "cpu", use_cache: bool = True) -> Path:
    from .reports.html import write_report
    from .runner import DatasetSpec

    ensure_demo()
    for spec in demo_methods(device):
        for path, result in execute(
            [spec], "within_dataset", [DatasetSpec("demo")], device=device, runs_dir=runs_dir, use_cache=use_cache,
            command=["iqabench", "demo"],
        ):
            log.info(f"{path.name}: {headline(result)}")
    return write_report(runs_dir, out)
