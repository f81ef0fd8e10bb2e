"""Conformance checks for plugins: run them over your method, dataset or protocol (as scikit-learn's
``check_estimator``). iqabench's test suite runs them over every built-in plugin.

::

    from iqabench.testing import check_dataset, check_method, check_protocol

    check_method(MyMethod)                         # the class, or an instance; constructor options as kwargs
    check_method("arniqa", backbone="resnet18")    # a registered name
    check_dataset(MyDataset, root="~/iqa-data")    # on a copy of the dataset
    check_protocol(MyProtocol)                     # runs it on a tiny synthetic dataset

Each check raises :class:`AssertionError` naming the plugin and the broken rule, and returns None
when every rule holds. What is checked:

* **contract attributes**: a name, a one-line description, the declared kinds and types, typed
  ``option_defaults`` (and ``option_rules`` only for declared options);
* **shapes**: a method's output is ``N×D`` features (``N`` scores) for a batch of its views;
  a dataset's index has the documented columns, unique ids and numeric labels; a protocol returns
  results whose summary serialises to JSON;
* **determinism**: the same input gives the same output twice; splits are the same twice;
* **orientation**: a scores method rates a photograph above its heavily degraded copy once
  oriented by ``higher_better`` (``orientation=False`` skips it, e.g. for an untrained network);
* **error style**: an unknown option is refused by an :class:`~iqabench.errors.IQABenchError`
  of one line naming the option;
* **seeding without touching the global RNG**: constructing and running a method leaves
  ``torch``'s, NumPy's and Python's global random states as they were.
"""

from __future__ import annotations

import functools
import json
import random
from typing import Any

import numpy as np

from .errors import IQABenchError
from .options import Unset

OPTION_TYPES = (str, int, float, bool, type(None))


def _cls_and_instance(kind: str, plugin: Any, kwargs: dict[str, Any]):
    from . import registry

    reg = {"method": registry.methods, "dataset": registry.datasets, "protocol": registry.protocols}[kind]
    if isinstance(plugin, str):
        plugin = reg.get(plugin)
    if isinstance(plugin, type):
        return plugin, None
    return type(plugin), plugin


def _check_contract(kind: str, cls: type) -> None:
    who = f"{kind} {getattr(cls, 'name', '') or cls.__name__!r}"
    name = getattr(cls, "name", "")
    assert isinstance(name, str) and name and not any(c.isspace() for c in name), f"{who}: needs a name without spaces"
    description = getattr(cls, "description", "") or (cls.__doc__ or "")
    assert description.strip(), f"{who}: needs a description (the line `iqabench list` shows)"
    defaults = getattr(cls, "option_defaults", {})
    assert isinstance(defaults, dict), f"{who}: option_defaults must be a dict"
    for key, value in defaults.items():
        assert isinstance(value, (*OPTION_TYPES, Unset)), (
            f"{who}: option {key!r} default {value!r} is not str/int/float/bool/None or Unset(type)")
    for key in getattr(cls, "option_rules", {}) or {}:
        assert key in defaults, f"{who}: option_rules names {key!r}, which option_defaults lacks"


def _check_unknown_option(kind: str, make) -> None:
    try:
        make(definitely_not_an_option="1")
    except IQABenchError as exc:
        text = str(exc)
        assert "definitely_not_an_option" in text and "\n" not in text, f"{kind}: unknown option error {text!r}"
    else:
        raise AssertionError(f"{kind}: an unknown option was accepted")


def _global_rng_state() -> tuple:
    import torch

    return torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate()


def _same_rng(before: tuple, after: tuple) -> bool:
    return bool((before[0] == after[0]).all()) and np.array_equal(before[1], after[1]) and before[2] == after[2]


def photograph(width: int = 160, height: int = 120, seed: int = 0):
    """A small smooth colour picture with edges (a stand-in photograph, reproducible from ``seed``)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = 0.5 + 0.25 * np.sin(6 * xx + 3 * yy + rng.uniform(0, 6))[..., None] * np.array([1.0, 0.8, 0.6])
    base[height // 3 : 2 * height // 3, width // 4 : width // 2] = rng.uniform(0.1, 0.9, 3)  # a hard-edged block
    return Image.fromarray((np.clip(base, 0, 1) * 255).round().astype(np.uint8))


def natural_photograph(width: int = 256, height: int = 192, k: int = 0):
    """A crop of one of the natural photographs bundled in installed packages (:mod:`iqabench.photos`)."""
    from .photos import pristine_tiles

    tiles = pristine_tiles()
    img = tiles[k % len(tiles)][1]
    scale = max(width / img.width, height / img.height, 1.0)
    if scale > 1:
        from PIL import Image

        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return img.crop((left, top, left + width, top + height))


def degraded(img, seed: int = 0):
    """``img`` under heavy white noise and blur: clearly worse for any sensible quality measure."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), dtype=np.float64) / 255
    arr = np.clip(arr + rng.normal(0, 0.15, arr.shape), 0, 1)
    return Image.fromarray((arr * 255).round().astype(np.uint8))


def _rows(method, images) -> np.ndarray:
    import pandas as pd

    from .features import extract_features

    index = pd.DataFrame({"image_id": [f"i{k}" for k in range(len(images))], "path": images})
    return extract_features(method, index).rows


def check_method(method: Any, *, orientation: bool = True, **options: Any) -> None:
    """Check a method plugin (class, instance or registered name); ``options`` construct it (``weights=`` too)."""
    cls, instance = _cls_and_instance("method", method, options)
    _check_contract("method", cls)
    who = f"method {cls.name!r}"
    assert cls.kind in ("features", "scores"), f"{who}: kind must be 'features' or 'scores'"
    assert isinstance(cls.higher_better, bool), f"{who}: higher_better must be a bool"
    assert isinstance(cls.version, str) and cls.version, f"{who}: version must be a non-empty string"
    assert cls.default_regressor in ("ridge", "svr"), f"{who}: default_regressor must be 'ridge' or 'svr'"
    assert isinstance(cls.method_type, str) and cls.method_type, f"{who}: method_type must be a string"
    weights = options.pop("weights", None)

    def make(**extra):
        return cls(weights=weights, **{**{k: str(v) for k, v in options.items()}, **extra})

    _check_unknown_option("method " + repr(cls.name), make)
    before = _global_rng_state()
    m = instance if instance is not None else make()
    size = max(256, (m.views.crop_size + 16) if m.views.crops else 0)  # NIQE needs two 96-px blocks
    images = [natural_photograph(size, size * 3 // 4, k) for k in (0, 1)]
    first = _rows(m, images)
    second = _rows(m, images)
    assert _same_rng(before, _global_rng_state()), f"{who}: construction or extraction changed the global random state"
    rows = m.views.rows_per_image * len(images)
    assert first.shape[0] == rows, f"{who}: {first.shape[0]} rows for {len(images)} images, expected {rows}"
    assert np.isfinite(first).all(), f"{who}: non-finite output"
    assert np.array_equal(first, second), f"{who}: the same images gave different outputs"
    if m.kind == "scores":
        assert first.shape[1] == 1, f"{who}: a scores method must give one value per image"
        if orientation:
            pristine, bad = _rows(m, [images[0]]).mean(), _rows(m, [degraded(images[0])]).mean()
            sign = 1 if m.higher_better else -1
            assert sign * pristine > sign * bad, (
                f"{who}: with higher_better={m.higher_better} it rates a photograph ({pristine:.4g}) below its "
                f"heavily degraded copy ({bad:.4g}): check the direction"
            )
    ident = m.identity()
    json.dumps(ident, default=str)
    assert ident["name"] == cls.name and ident["version"] == cls.version, f"{who}: identity() lacks name/version"
    assert isinstance(m.display_name(), str) and m.display_name(), f"{who}: display_name() must be a string"


def check_dataset(dataset: Any, **options: Any) -> None:
    """Check a dataset plugin on a copy (``root=`` the data root or the dataset folder; ``label=``; options)."""
    from .dataset import DIST_GROUPS, INDEX_COLUMNS, ScoreSpec

    cls, instance = _cls_and_instance("dataset", dataset, options)
    _check_contract("dataset", cls)
    who = f"dataset {cls.name!r}"
    assert isinstance(cls.labels, dict) and all(isinstance(s, ScoreSpec) for s in cls.labels.values()), (
        f"{who}: labels must map names to ScoreSpec")
    if cls.default_label is not None:
        assert cls.default_label in cls.labels, f"{who}: default_label {cls.default_label!r} is not one of its labels"
    root, label = options.pop("root", None), options.pop("label", None)

    def make(**extra):
        return cls(root=root, label=label, **{**{k: str(v) for k, v in options.items()}, **extra})

    _check_unknown_option(who, make)
    ds = instance if instance is not None else make()
    assert isinstance(ds.split_by_reference, bool), f"{who}: split_by_reference must be a bool"
    index = ds.index()
    assert list(index.columns[: len(INDEX_COLUMNS)]) == list(INDEX_COLUMNS), f"{who}: index columns {list(index.columns)}"
    assert index["image_id"].is_unique, f"{who}: duplicate image ids"
    assert len(index) > 0, f"{who}: an empty index"
    if ds.labelled:
        assert index["score"].notna().all(), f"{who}: labelled, but some images have no label"
    assert set(index["dist_group"].dropna()) <= set(DIST_GROUPS), f"{who}: unknown distortion groups"
    assert index.equals(make().index()), f"{who}: reading the copy twice gave different indexes"
    json.dumps(ds.card(), default=str)
    if ds.labelled:
        splits = ds.splits()
        assert splits.to_csv() == make().splits().to_csv(), f"{who}: the splits differ between two reads"
        splits.check_against(index, cls.name)
        from .split_sets import reference_overlaps

        assert not reference_overlaps(splits, index), f"{who}: its splits share references between parts"
        for k in range(len(splits)):
            parts = splits.parts(k)
            assert all(parts), f"{who}: split {k + 1} has an empty part"


def check_protocol(protocol: Any, *, kinds: tuple[str, ...] = ("features", "scores"), **options: Any) -> None:
    """Check a protocol plugin: its contract, and a run on the kit's tiny data (two noise-level datasets of
    8 contents with pristine images; a features method and a scores method, or the ``kinds`` it takes).
    Protocol ``options`` are passed as given; the kit's datasets are registered as ``conformance-a`` and
    ``conformance-b`` so that an option naming a dataset (e.g. ``regressor_dataset=conformance-a``) finds them."""
    from . import registry
    from .protocol import RunContext

    cls, instance = _cls_and_instance("protocol", protocol, options)
    _check_contract("protocol", cls)
    who = f"protocol {cls.name!r}"
    _check_unknown_option(who, lambda **extra: cls(**{**options, **extra}))
    proto = instance if instance is not None else cls(**{k: str(v) for k, v in options.items()})
    tiny_features, tiny_scores, tiny_dataset = kit_classes()
    for name, seed in (("conformance-a", 0), ("conformance-b", 1)):
        if name not in registry.datasets:
            registry.datasets.register(name)(type(f"Conformance{seed}", (tiny_dataset,), {"seed": seed}))
    datasets = [registry.datasets.get(n)() for n in ("conformance-a", "conformance-b")[: max(cls.min_datasets, 1)]]
    methods = [m() for m, kind in ((tiny_features, "features"), (tiny_scores, "scores")) if kind in kinds]
    ctx = RunContext(methods=methods, datasets=datasets)
    proto.check(ctx)
    results = proto.run(ctx)
    assert isinstance(results, list) and results, f"{who}: run() returned no results"
    for r in results:
        summary = r.summary.to_dict() if hasattr(r.summary, "to_dict") else r.summary
        assert isinstance(summary, dict), f"{who}: a result's summary must be a Summary or a dict"
        json.dumps(summary, default=float)
        assert r.protocol == cls.name, f"{who}: a result names protocol {r.protocol!r}"


# -- the kit's own tiny data ---------------------------------------------------------------------------
@functools.cache
def kit_classes() -> tuple[type, type, type]:
    """(features method, scores method, dataset) of the kit; defined on first use (torch only when a check runs)."""
    import pandas as pd
    import torch

    from .dataset import Dataset, ScoreSpec
    from .method import Method
    from .paths import home
    from .views import Views

    class _TinyFeatures(Method):
        name = "conformance-features"
        description = "conformance kit: grey mean, spread and gradient energy"
        views = Views(crops=0)

        def extract(self, batch):
            g = batch.mean(1)
            grad = (g[:, :, 1:] - g[:, :, :-1]).abs().mean((1, 2))
            return torch.stack([g.mean((1, 2)), g.std((1, 2)), grad], dim=1)

    class _TinyScores(_TinyFeatures):
        name = "conformance-scores"
        description = "conformance kit: gradient energy (noise raises it: lower = better)"
        kind = "scores"
        higher_better = False

        def extract(self, batch):
            return super().extract(batch)[:, 2]

    class _TinyDataset(Dataset):
        """8 contents, each pristine (level 0) and under white noise at levels 1-5; MOS falls with the level."""

        description = "conformance kit: noise levels of 8 contents"
        labels = {"mos": ScoreSpec("mos", True, (0.0, 5.0))}
        needs_root = False
        seed = 0

        def locate_root(self, root):
            folder = home() / "conformance" / f"noise-{self.seed}"
            if not (folder / "index.csv").is_file():
                folder.mkdir(parents=True, exist_ok=True)
                rows = []
                for r in range(8):
                    img = photograph(64, 48, seed=100 * self.seed + r)
                    base = np.asarray(img, dtype=np.float64)
                    rng = np.random.default_rng(r)
                    for level in range(6):
                        arr = np.clip(base + rng.normal(0, 9 * level, base.shape), 0, 255)
                        name = f"r{r}_{level}.png"
                        from PIL import Image

                        Image.fromarray(arr.round().astype(np.uint8)).save(folder / name)
                        rows.append({"image_id": name, "score": 5.0 - 0.8 * level, "ref": f"r{r}",
                                     "dist_type": "whitenoise" if level else "pristine",
                                     "dist_group": "noise" if level else None, "level": level})
                pd.DataFrame(rows).to_csv(folder / "index.csv", index=False)
            return folder

        def load_index(self):
            frame = pd.read_csv(self.root / "index.csv")
            frame["path"] = [str(self.root / i) for i in frame["image_id"]]
            return frame

    return _TinyFeatures, _TinyScores, _TinyDataset
