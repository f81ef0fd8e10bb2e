"""The Protocol contract and the context a protocol runs in.

A protocol receives methods and datasets through a :class:`RunContext` and returns
:class:`iqabench.results.Result` objects; the CLI writes each to its own run folder. Protocols
never read files: features come from :meth:`RunContext.features` (the extraction loop and the
feature cache), labels and splits from the datasets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .dataset import Dataset
from .errors import IQABenchError
from .features import FeatureTable, extract_features
from .method import Method
from .options import parse_options
from .splits import Splits

log = logging.getLogger("iqabench")


class Protocol:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    option_defaults: ClassVar[dict[str, Any]] = {}
    # Validation of what the protocol can work with; checked before any extraction starts.
    min_datasets: ClassVar[int] = 1
    max_datasets: ClassVar[int | None] = None
    min_methods: ClassVar[int] = 1
    needs_labels: ClassVar[bool] = True

    def __init__(self, **options: Any):
        self.options = parse_options(f"protocol {self.name!r}", options, self.option_defaults)

    def check(self, ctx: RunContext) -> None:
        n = len(ctx.datasets)
        if n < self.min_datasets or (self.max_datasets is not None and n > self.max_datasets):
            want = (
                f"exactly {self.min_datasets}"
                if self.max_datasets == self.min_datasets
                else f"at least {self.min_datasets}" + (f" and at most {self.max_datasets}" if self.max_datasets else "")
            )
            raise IQABenchError(f"protocol {self.name!r} takes {want} --dataset, got {n}")
        if len(ctx.methods) < self.min_methods:
            raise IQABenchError(f"protocol {self.name!r} takes at least {self.min_methods} --method, got {len(ctx.methods)}")
        if self.needs_labels:
            for ds in ctx.datasets:
                if not ds.labelled:
                    raise IQABenchError(f"protocol {self.name!r} needs labelled data; dataset {ds.name!r} has no labels")

    def run(self, ctx: RunContext) -> list:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"protocol": self.name, **self.options}


@dataclass
class RunContext:
    methods: list[Method]
    datasets: list[Dataset]
    seed: int = 0
    on_error: str = "raise"
    workers: int = 0
    batch_size: int | None = None
    splits_file: Splits | None = None  # --splits FILE, for a single dataset
    cache: Any = None  # iqabench.cache.FeatureCache factory, or None to extract every time
    data_root: str | None = None  # --data-root, for datasets a protocol builds itself (e.g. gmad's regressor data)
    _features: dict[tuple[int, int], FeatureTable] = field(default_factory=dict)

    def features(self, method: Method, dataset: Dataset) -> FeatureTable:
        """Rows of ``method`` on every image of ``dataset``: extracted once per run (and cached)."""
        key = (id(method), id(dataset))
        if key not in self._features:
            store = self.cache.for_pair(method, dataset) if self.cache is not None else None
            self._features[key] = extract_features(
                method,
                dataset.index(),
                on_error=self.on_error,
                batch_size=self.batch_size,
                workers=self.workers,
                cache=store,
                desc=f"{method.name} on {dataset.name}",
            )
        return self._features[key]

    def splits(self, dataset: Dataset) -> Splits:
        splits = self.splits_file if self.splits_file is not None else dataset.splits(seed=self.seed)
        splits.check_against(dataset.index(), dataset.name)
        return splits
