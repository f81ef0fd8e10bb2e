"""Run a protocol: build methods and datasets from names, run, write each result. Used by ``run`` and ``demo``."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import registry
from .comparability import assess
from .errors import IQABenchError
from .paths import data_root as resolve_data_root
from .protocol import RunContext
from .results import Result, write_run
from .sharding import Shards
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


def default_cache(enabled: bool, verify: bool = False):
    if not enabled:
        return None
    try:
        from .cache import FeatureCache
    except ImportError:  # the persistent cache is optional
        return None
    return FeatureCache.default(verify=verify)


def check_runs_dir(runs_dir: str | Path) -> Path:
    """Prove before any work that the ``--runs`` folder can receive results (nothing is left behind).

    The folder itself, or the nearest existing folder above it (where it will be created), must
    accept a new file."""
    p = Path(runs_dir).expanduser()
    if p.exists() and not p.is_dir():
        raise IQABenchError(f"--runs {str(p)!r} is a file, not a folder")
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise IQABenchError(f"--runs {str(p)!r} is not a writable folder: {str(probe)!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise IQABenchError(f"--runs {str(p)!r} is not a writable folder: {exc.strerror or exc}") from None
    return p


def default_workers(device: str) -> int:
    """Image-decoding processes of an extraction without ``--workers``: on CUDA every core this process
    may use but one (the encoder outruns a core's decoding many times over; under torchrun the host's
    cores are shared among its processes); on the CPU none (the encoder's threads use the cores)."""
    if not str(device).startswith("cuda"):
        return 0
    from .devices import host_cores

    return max(1, host_cores() - 1)


def check_run_options(seed: int, batch_size: int | None, workers: int | None, on_error: str) -> None:
    """One-line errors for run options out of range, before anything is loaded or computed."""
    from .features import ON_ERROR

    if not isinstance(seed, int) or seed < 0:
        raise IQABenchError(f"--seed must be a non-negative integer, got {seed!r}")
    if batch_size is not None and batch_size < 1:
        raise IQABenchError(f"--batch-size must be at least 1, got {batch_size}")
    if workers is not None and workers < 0:
        raise IQABenchError(f"--workers must be 0 (decode in the main process) or more, got {workers}")
    if on_error not in ON_ERROR:
        raise IQABenchError(f"--on-error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")


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
    other_datasets: list[DatasetSpec] | None = None,
    verify_cache: bool = False,
    command: list[str] | None = None,
    shards: Shards | None = None,
) -> list[tuple[Path, Result]]:
    """Run ``protocol`` and write its results. ``shards`` (:func:`iqabench.sharding.join`, under torchrun):
    every process extracts a share of the images; rank 0 runs the protocol and writes the results, the
    others return ``[]`` once it has finished."""
    started = time.time()
    check_run_options(seed, batch_size, workers, on_error)
    check_runs_dir(runs_dir)
    if shards is not None:
        if not use_cache:
            raise IQABenchError("--no-cache: under torchrun the processes hand their features to each other through "
                                "the feature cache; drop --no-cache (or run a single process)")
        device = shards.device(device)
    root = resolve_data_root(data_root)  # --data-root, else $IQABENCH_DATA: resolved once for every dataset of the run
    proto_cls = registry.protocols.get(protocol)
    method_classes = [registry.methods.get(m.name) for m in methods]
    dataset_classes = [registry.datasets.get(d.name) for d in datasets]
    if len({m.name for m in methods}) != len(methods) or len({d.name for d in datasets}) != len(datasets):
        raise IQABenchError("each --method and --dataset may be given once per run")

    proto = proto_cls(**(protocol_options or {}))
    ds_objs = [cls(root=root, label=d.label, **d.options) for cls, d in zip(dataset_classes, datasets)]
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
        workers=workers if workers is not None else default_workers(device),
        batch_size=batch_size,
        split_choice=split_choice,
        dataset_labels={d.name: d.label for d in other_datasets or [] if d.label},  # by role or name
        dataset_options={d.name: d.options for d in other_datasets or []},
        cache=default_cache(use_cache, verify_cache),
        data_root=root,
        shards=shards,
    )
    proto.check(ctx)
    if shards is not None and not shards.is_main:
        shards.serve(ctx)  # extract the shares rank 0 asks for; rank 0 alone writes the results
        return []
    try:
        results = proto.run(ctx)
    finally:
        if shards is not None:
            shards.finish()
    used = ctx.splits_used()
    by_name = {m.name: m for m in m_objs}
    datasets_by_name = {d.name: d for d in ds_objs}
    for r in results:  # which splits each dataset of a result was evaluated or trained with, and comparability
        r.split_sets = {d["name"]: split_record(used[d["name"]]) for d in r.datasets if d["name"] in used}
        r.comparability = assess(
            r,
            [by_name[m["name"]] for m in r.methods],
            [datasets_by_name[d["name"]] for d in r.datasets if d["name"] in datasets_by_name],
        )
    return [(write_run(r, runs_dir, command=command or [], started=started), r) for r in results]


def skipped_summary(written: list[tuple[Path, Result]], shown: int = 5) -> str | None:
    """The end-of-run line for ``--on-error skip``: how many images were left out, and the first few."""
    names: list[str] = []
    runs = 0
    for _, result in written:
        failures = [f.get("image_id", "?") for f in result.images.get("failures", [])]
        if failures or result.images.get("failed"):
            runs += 1
            names += [n for n in failures if n not in names]
    if not runs:
        return None
    first = ", ".join(repr(n) for n in names[:shown]) + (" …" if len(names) > shown else "")
    return (
        f"{len(names)} image(s) skipped (--on-error skip) in {runs} result(s): {first}; those results leave them "
        "out, are marked in the report and are not comparable with published numbers (reasons in result.json)"
    )


def headline(result: Result) -> str:
    """``<methods> on <datasets>: <the summary's headline>``, the line ``run`` prints per result."""
    who = " + ".join(m.get("display_name", m["name"]) for m in result.methods)
    where = " + ".join(d["name"] for d in result.datasets)
    line = result.summary.get("headline")
    return f"{who} on {where}" + (f": {line}" if line else "")
