"""Run a protocol: build methods and datasets from names, run, write each result. Used by ``run`` and ``demo``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import registry
from .comparability import assess
from .errors import IQABenchError
from .paths import data_root as check_root
from .protocol import RunContext
from .results import Result, write_run
from .split_sets import SplitChoice
from .split_sets import record as split_record

log = logging.getLogger("iqabench")


@dataclass
class MethodSpec:
    name: str
    weights: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DatasetSpec:
    name: str
    label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def default_cache(enabled: bool):
    if not enabled:
        return None
    try:
        from .cache import FeatureCache
    except ImportError:  # the persistent cache is optional
        return None
    return FeatureCache.default()


def execute(
    methods: list[MethodSpec],
    protocol: str,
    datasets: list[DatasetSpec],
    *,
    protocol_options: dict[str, Any] | None = None,
    data_root: str | None = None,
    device: str = "cpu",
    runs_dir: str | Path = "runs",
    seed: int = 0,
    on_error: str = "raise",
    batch_size: int | None = None,
    workers: int | None = None,
    splits_file: str | None = None,
    split_set: str | None = None,
    allow_reference_overlap: bool = False,
    use_cache: bool = True,
    published_as: str | None = None,
    command: list[str] | None = None,
) -> list[tuple[Path, Result]]:
    started = time.time()
    if data_root is not None:
        check_root(data_root)
    proto_cls = registry.protocols.get(protocol)
    method_classes = [registry.methods.get(m.name) for m in methods]
    dataset_classes = [registry.datasets.get(d.name) for d in datasets]
    if len({m.name for m in methods}) != len(methods) or len({d.name for d in datasets}) != len(datasets):
        raise IQABenchError("each --method and --dataset may be given once per run")

    proto = proto_cls(**(protocol_options or {}))
    ds_objs = [cls(root=data_root, label=d.label, **d.options) for cls, d in zip(dataset_classes, datasets)]
    m_objs = [cls(weights=m.weights, device=device, **m.options) for cls, m in zip(method_classes, methods)]
    if published_as is not None:
        claimed = [m for m in m_objs if m.published_weights == published_as]
        if not claimed:
            raise IQABenchError(f"--published-as {published_as}: no method of this run has published {published_as!r} "
                                "weights (e.g. --published-as arniqa with --method arniqa)")
        for m in claimed:
            m.published_as = published_as
    if splits_file is not None and len(ds_objs) != 1:
        raise IQABenchError("--splits applies to a single --dataset (use --split-set for several)")
    if splits_file is not None and split_set is not None:
        raise IQABenchError("give --splits FILE or --split-set NAME, not both")
    split_choice = SplitChoice(split_set, splits_file, allow_reference_overlap)

    ctx = RunContext(
        methods=m_objs,
        datasets=ds_objs,
        seed=seed,
        on_error=on_error,
        workers=workers if workers is not None else (4 if str(device).startswith("cuda") else 0),
        batch_size=batch_size,
        split_choice=split_choice,
        cache=default_cache(use_cache),
        data_root=data_root,
    )
    proto.check(ctx)
    results = proto.run(ctx)
    used = ctx.splits_used()
    by_name = {m.name: m for m in m_objs}
    datasets_by_name = {d.name: d for d in ds_objs}
    for r in results:  # which splits each dataset of a result was evaluated or trained with, and comparability
        r.split_sets = {d["name"]: split_record(used[d["name"]]) for d in r.datasets if d["name"] in used}
        r.comparability = assess(
            r.protocol,
            [by_name[m["name"]] for m in r.methods],
            [datasets_by_name[d["name"]] for d in r.datasets if d["name"] in datasets_by_name],
            r.summary,
            r.images,
            r.split_sets,
        )
    return [(write_run(r, runs_dir, command=command or [], started=started), r) for r in results]


def headline(result: Result) -> str:
    s = result.summary
    who = " + ".join(m.get("display_name", m["name"]) for m in result.methods)
    where = " + ".join(d["name"] for d in result.datasets)
    text = f"{who} on {where}"
    if "srcc" in s:
        text += f": SRCC {s['srcc']:.4f}" + (f" PLCC {s['plcc']:.4f}" if "plcc" in s else "")
    if s.get("headline"):
        text += f": {s['headline']}"
    return text
