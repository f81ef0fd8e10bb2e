"""The Protocol contract and the context a protocol runs in.

A protocol receives methods and datasets through a :class:`RunContext` and returns
:class:`iqabench.results.Result` objects; the CLI writes each to its own run folder. Protocols
never read files: features come from :meth:`RunContext.features` (the extraction loop and the
feature cache), labels from the datasets, splits from :meth:`RunContext.splits` (the run's split
set), quality models from :meth:`RunContext.train` and :mod:`iqabench.quality_models`.

Options are declared in ``option_defaults`` (their types) and checked by ``option_rules``, both
when the protocol is constructed — before any dataset is read or image extracted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .dataset import Dataset
from .errors import IQABenchError
from .evaluation import Labelled
from .features import FeatureTable, extract_features
from .method import Method
from .options import Rule, parse_options
from .quality_models import (
    Fitted,
    QualityModel,
    Selection,
    family_from_options,
    model_for,
    predict_images,
    refit,
    select,
)
from .split_sets import SplitChoice
from .splits import Splits

log = logging.getLogger("iqabench")


class Protocol:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    option_defaults: ClassVar[dict[str, Any]] = {}
    option_rules: ClassVar[dict[str, Rule]] = {}
    # Validation of what the protocol can work with; checked before any extraction starts.
    min_datasets: ClassVar[int] = 1
    max_datasets: ClassVar[int | None] = None
    min_methods: ClassVar[int] = 1
    needs_labels: ClassVar[bool] = True
    # Options naming a dataset the protocol builds itself (e.g. "regressor_dataset"): the run's
    # --label ROLE=LABEL and --dataset-option ROLE:KEY=VALUE configure it.
    dataset_roles: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any):
        self.options = parse_options(f"protocol {self.name!r}", options, self.option_defaults, self.option_rules)
        # Protocols that fit quality models share MODEL_OPTIONS; their grids are validated here.
        self.families = family_from_options(self.options) if "regressor" in self.option_defaults else {}

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
        for method in ctx.methods:
            for ds in ctx.datasets:
                if ds.name in method.fitted_on():
                    log.warning(
                        f"{method.display_name()} was fitted on {ds.name}'s images (its training data included the test "
                        f"images): its numbers on {ds.name} are not a held-out evaluation"
                    )

    def run(self, ctx: RunContext) -> list:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"protocol": self.name, **self.options}

    @classmethod
    def report_sections(cls, runs: list, ctx: Any) -> list | None:
        """This protocol's part of ``iqabench report``: sections (``iqabench.reports.sections``) built from
        ``runs``, its run records. None (the default): a generic table of each run's headline."""
        return None

    def quality_model(self, method: Method, higher_better: bool) -> QualityModel:
        """The quality model of ``method`` in this protocol, for a label of direction ``higher_better``."""
        if not self.families:
            raise IQABenchError(f"internal error: protocol {self.name!r} declares no quality-model options")
        return model_for(method, self.options, self.families, higher_better)


@dataclass
class Trained:
    """A method's quality model chosen on a dataset's splits, then refitted on all its images."""

    dataset: Dataset
    selection: Selection
    fitted: Fitted  # every image of the dataset, at the chosen grid point
    n_images: int

    def predict(self, table: FeatureTable):
        """Per-image quality for every image of ``table`` (aligned with ``table.image_ids``), higher = better."""
        return predict_images(self.fitted, table)

    def record(self) -> dict[str, Any]:
        s = self.selection
        return {
            "dataset": self.dataset.name,
            "label": self.dataset.label,
            "label_higher_better": self.dataset.score_spec.higher_better,
            "regressor": s.model.name,
            "params": s.params,
            "val_srcc_median": s.val_srcc_median if s.model.trains else None,
            "n_train_images": self.n_images,
            "rule": "hyper-parameters = argmax of the median validation SRCC over the dataset's splits; "
            "then refitted on all its images",
        }


@dataclass
class RunContext:
    methods: list[Method]
    datasets: list[Dataset]
    seed: int = 0
    on_error: str = "raise"
    workers: int = 0
    batch_size: int | None = None
    split_choice: SplitChoice = field(default_factory=SplitChoice)
    cache: Any = None  # iqabench.cache.FeatureCache, or None to extract every time
    data_root: Any = None  # the run's data root (resolved), for datasets a protocol builds itself (gmad's regressor data)
    # --label NAME=LABEL and --dataset-option NAME:KEY=VALUE of datasets a protocol builds itself
    dataset_labels: dict[str, str] = field(default_factory=dict)
    dataset_options: dict[str, dict[str, str]] = field(default_factory=dict)
    shards: Any = None  # iqabench.sharding.Shards under torchrun: every process extracts a share of the images
    _features: dict[tuple[int, int], FeatureTable] = field(default_factory=dict)
    _splits: dict[int, tuple[str, Splits]] = field(default_factory=dict)
    _built: dict[str, Dataset] = field(default_factory=dict)

    def features(self, method: Method, dataset: Dataset) -> FeatureTable:
        """Rows of ``method`` on every image of ``dataset``: extracted once per run (and cached). Under
        torchrun every process first extracts its share into the cache (:mod:`iqabench.sharding`)."""
        key = (id(method), id(dataset))
        if key not in self._features:
            shared = self.shards.extract(self, method, dataset) if self.shards is not None else None
            store = self.cache.for_pair(method, dataset) if self.cache is not None else None
            table = extract_features(
                method,
                dataset.index(),
                on_error=self.on_error,
                batch_size=self.batch_size,
                workers=self.workers,
                cache=store,
                desc=f"{method.name} on {dataset.name}",
            )
            if shared is not None and table.from_cache < shared:
                log.warning(
                    f"{method.name} on {dataset.name}: {shared - table.from_cache} image(s) extracted by the other "
                    "processes were not in this process's feature cache and were extracted again (do all processes "
                    "share $IQABENCH_CACHE?)"
                )
            self._features[key] = table
        return self._features[key]

    def dataset(self, role: str, name: str) -> Dataset:
        """The dataset a protocol builds for one of its :attr:`Protocol.dataset_roles` (e.g. gMAD's
        ``regressor_dataset=NAME``), from the registry with the run's data root. ``--label ROLE=LABEL`` and
        ``--dataset-option ROLE:KEY=VALUE`` apply to it (or ``NAME=``/``NAME:`` when NAME is not a dataset of
        the run), so a pool and a training set of the same dataset can differ (the demo's pristine pool)."""
        from . import registry

        if role not in self._built:
            own = {d.name for d in self.datasets}
            label = self.dataset_labels.get(role) or (self.dataset_labels.get(name) if name not in own else None)
            options = self.dataset_options.get(role) or (self.dataset_options.get(name, {}) if name not in own else {})
            self._built[role] = registry.datasets.get(name)(root=self.data_root, label=label, **options)
        return self._built[role]

    def built_datasets(self) -> dict[str, Dataset]:
        """The datasets built so far by :meth:`dataset`, by role."""
        return dict(self._built)

    def splits(self, dataset: Dataset) -> Splits:
        """The splits of ``dataset`` in this run's split set (checked against its index; see :mod:`iqabench.split_sets`)."""
        if id(dataset) not in self._splits:
            self._splits[id(dataset)] = (dataset.name, self.split_choice.resolve(dataset, self.seed))
        return self._splits[id(dataset)][1]

    def splits_used(self) -> dict[str, Splits]:
        """Every dataset's splits used so far in this run (recorded in each result that names the dataset)."""
        return dict(self._splits.values())

    def labelled(self, method: Method, dataset: Dataset) -> Labelled:
        if not dataset.labelled:
            raise IQABenchError(f"dataset {dataset.name!r} has no labels")
        return Labelled.join(self.features(method, dataset), dataset.index(), dataset.score_spec.higher_better)

    def train(self, protocol: Protocol, method: Method, dataset: Dataset) -> Trained:
        """``method``'s quality model chosen on ``dataset``'s splits by the validation rule, refitted on all its images."""
        data = self.labelled(method, dataset)
        model = protocol.quality_model(method, dataset.score_spec.higher_better)
        selection = select(model, data, self.splits(dataset)) if model.trains else _untrained(model)
        trained = Trained(dataset, selection, refit(model, data, selection.params), data.table.n_images)
        if model.trains:
            log.info(
                f"{method.display_name()}: {model.name} trained on {dataset.name} ({data.table.n_images} images, "
                f"{_params(selection.params)} chosen on validation, median val SRCC {selection.val_srcc_median:.4f})"
            )
        return trained


def _untrained(model: QualityModel) -> Selection:
    import numpy as np

    return Selection(model, 0, np.full((0, 1), np.nan), [])


def _params(params: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in params.items()) or "no parameters"
