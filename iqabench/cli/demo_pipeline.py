"""What ``iqabench demo`` / ``make demo`` runs: every offline-capable method through every protocol
on the synthetic demo data, then the report.

* Table 1: ``within_dataset`` on ``demo`` for every method variant (e.g. ARNIQA trained with the
  demo config and the same network untrained).
* Table 2: ``cross_dataset`` between ``demo-a`` (blur, noise, JPEG, pixelation) and ``demo-b``
  (darkening, colour shift, contrast change): same images, disjoint distortion groups.
* Figure 1: ``tsne`` of every method's embedding of ``demo``.
* Figure 4: ``gmad`` between the methods (one variant each) on ``demo`` with its 20 pristine
  references in the pool; feature methods are scored by a ridge regressor trained on ``demo``.
* ``waterloo``: the D and L tests on the same pool.

Features are extracted once per method and image (the feature cache), so the later protocols
reuse what Table 1 extracted. The demo ends with :func:`headline_table` (Tables 1 and 2 in a few
aligned lines) for the terminal. It lives with the CLI because it writes the report.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import registry
from ..demo import ensure_demo
from ..results import Result
from ..runner import DatasetSpec, MethodSpec, execute, headline

log = logging.getLogger("iqabench")

POOL = DatasetSpec("demo", options={"pristine": True})


def demo_methods(device: str) -> list[MethodSpec]:
    """Each registered method's demo variants (a method that needs user-supplied weights has none)."""
    specs: list[MethodSpec] = []
    for name in registry.methods.names():
        cls = registry.methods.get(name)
        for variant in cls.demo_variants(device=device):
            specs.append(MethodSpec(name, variant.get("weights"), variant.get("options", {})))
    return specs


@dataclass
class DemoOutcome:
    report: Path
    within: list[Result] = field(default_factory=list)  # Table 1 rows, in method order
    cross: list[Result] = field(default_factory=list)  # Table 2 rows


def run_demo(*, runs_dir: str | Path, out: str | Path, device: str = "cpu", use_cache: bool = True) -> DemoOutcome:
    from ..reports.html import write_report

    started = time.time()
    ensure_demo()
    specs = demo_methods(device)
    common = {"device": device, "runs_dir": runs_dir, "use_cache": use_cache, "command": ["iqabench", "demo"]}

    def run(methods, protocol, datasets, **options) -> list[Result]:
        results = []
        for path, result in execute(methods, protocol, datasets, protocol_options=options or None, **common):
            log.info(f"{path.name}: {headline(result)}")
            results.append(result)
        return results

    within = [r for spec in specs for r in run([spec], "within_dataset", [DatasetSpec("demo")])]
    cross = [r for spec in specs for r in run([spec], "cross_dataset", [DatasetSpec("demo-a"), DatasetSpec("demo-b")])]
    for spec in specs:
        run([spec], "tsne", [DatasetSpec("demo")])
    one_each: dict[str, MethodSpec] = {}
    for spec in specs:  # gMAD and Waterloo compare methods: the first variant of each (ARNIQA: trained)
        one_each.setdefault(spec.name, spec)
    first_variant = list(one_each.values())
    if len(first_variant) >= 2:
        run(first_variant, "gmad", [POOL], regressor_dataset="demo")
    run(first_variant, "waterloo", [POOL], regressor_dataset="demo")
    report = write_report(runs_dir, out)[0]
    log.info(f"demo finished in {time.time() - started:.0f} s")
    return DemoOutcome(report, within, cross)


def _num(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3f}"


def _label(result: Result) -> str:
    m = result.methods[0]
    return m.get("display_name") or m["name"]


def headline_table(within: list[Result], cross: list[Result]) -> str:
    """Table 1 (median SRCC/PLCC on ``demo``) and Table 2 (cross-dataset SRCC) as aligned text."""
    width = max([len(_label(r)) for r in within + cross] + [6])
    lines = []
    if within:
        lines.append("Table 1: within_dataset on demo (synthetic labels), median over the splits")
        lines.append(f"  {'method':<{width}}  {'SRCC':>6}  {'PLCC':>6}")
        for r in within:
            lines.append(f"  {_label(r):<{width}}  {_num(r.summary.get('srcc')):>6}  {_num(r.summary.get('plcc')):>6}")
    if cross:
        pairs = [(a, b) for a, row in cross[0].summary["srcc_matrix"].items() for b in row if a != b]
        heads = "  ".join(f"{f'{a}→{b}':>13}" for a, b in pairs)
        lines.append("Table 2: cross_dataset SRCC (trained on one dataset, tested on the other)")
        lines.append(f"  {'method':<{width}}  {heads}")
        for r in cross:
            m = r.summary["srcc_matrix"]
            lines.append(f"  {_label(r):<{width}}  " + "  ".join(f"{_num(m[a][b]):>13}" for a, b in pairs))
    return "\n".join(lines)
