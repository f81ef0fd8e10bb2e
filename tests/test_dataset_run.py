"""`iqabench run --protocol within_dataset` on every labelled fixture dataset, with a cheap plugin method."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.fixtures.dataset_fixtures import build, install

PLUGIN = """
import torch
from iqabench import Method, Views, register_method

@register_method("chanstats")
class ChannelStats(Method):
    description = "Per-channel mean and standard deviation (test method)"
    views = Views(crops=0, scales=(1.0,))

    def extract(self, batch):
        return torch.cat([batch.mean(dim=(2, 3)), batch.std(dim=(2, 3))], dim=1)
"""

RUNS = [
    ("live", {"layout": "mat"}, 1),
    ("live", {"layout": "txt"}, 1),
    ("csiq", {}, 1),
    ("tid2013", {}, 1),  # seed 0 would use the shipped split of the complete dataset
    ("kadid10k", {}, 1),
    ("koniq10k", {}, 0),
    ("spaq", {}, 0),
    ("flive", {}, 0),
    ("clive", {}, 0),
    ("agiqa3k", {}, 0),
    ("pipal", {}, 0),
]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def plugin(tmp_path_factory):
    # One file per session: the registry keys a plugin module by its path.
    path = tmp_path_factory.mktemp("plugin") / "chanstats.py"
    path.write_text(PLUGIN)
    return path


def run_chanstats(cli, plugin, dataset: str, data_root, runs, *extra: str):
    """``iqabench run`` of the chanstats plugin through within_dataset on one dataset, without the cache."""
    return cli("run", "--plugin", str(plugin), "-m", "chanstats", "-p", "within_dataset", "-d", dataset,
               "--data-root", str(data_root), "--runs", str(runs), "--no-cache", *extra)


def only_result(runs) -> dict:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return json.loads((run / "result.json").read_text())


@pytest.mark.parametrize(
    "name,kw,seed", RUNS, ids=[f"{n}-{kw.get('layout', 'default')}" for n, kw, _ in RUNS]
)
def test_within_dataset_runs_on_each_fixture_dataset(cli, tmp_path, monkeypatch, plugin, name, kw, seed):
    fx = install(name, tmp_path / "data", monkeypatch, **kw)
    runs = tmp_path / "runs"
    r = run_chanstats(cli, plugin, name, fx.data_root, runs, "--seed", str(seed))
    assert r.code == 0, r
    result = only_result(runs)
    card = result["datasets"][0]
    assert card["name"] == name and card["n_images"] == fx.n_images
    assert result["images"]["scored"] == fx.n_images and result["images"]["failed"] == 0
    summary = result["summary"]
    assert summary["n_splits"] == (1 if name == "flive" else 10)
    assert -1.0 <= summary["srcc"] <= 1.0
    if name == "spaq":
        assert card["preprocessing"]["rule"].startswith("short512")


def test_partial_copy_runs_with_generated_splits_a_notice_and_a_subset_mark(cli, tmp_path, plugin):
    fx = build("kadid10k", tmp_path / "data")  # 6 of the 81 references
    runs = tmp_path / "runs"
    r = run_chanstats(cli, plugin, "kadid10k", fx.data_root, runs)
    assert r.code == 0, r
    notices = [x for x in r.err.splitlines() if "subset" in x]
    assert notices == [
        "kadid10k: this copy is a subset (60 of 10,125 images, 6 of 81 references); splits generated "
        "(iqabench-splits-v1, seed=0, by reference, 70/10/20) instead of the shipped "
        "datasets/splits/kadid10k.csv; results are marked as a subset"
    ]
    result = only_result(runs)
    assert result["datasets"][0]["subset"] == {
        "complete": False,
        "n_images": 60,
        "n_images_complete": 10125,
        "n_references": 6,
        "n_references_complete": 81,
    }
    assert result["summary"]["n_splits"] == 10


def test_run_with_a_split_file_naming_an_unknown_image(cli, tmp_path, plugin):
    fx = build("koniq10k", tmp_path / "data")
    from iqabench import registry

    splits = registry.datasets.get("koniq10k")(root=fx.data_root).splits(seed=0)
    table = pd.concat(
        [
            splits.table,
            pd.DataFrame([{"image_id": "1024x768/nope.jpg", **{c: "test" for c in splits.columns}}]),
        ]
    )
    bad = tmp_path / "bad.csv"
    table.to_csv(bad, index=False)
    r = run_chanstats(cli, plugin, "koniq10k", fx.data_root, tmp_path / "runs", "--splits", str(bad))
    assert r.code == 1 and len(r.err.strip().splitlines()) == 1
    assert "split id '1024x768/nope.jpg'" in r.err and "is not in the dataset index" in r.err


def test_run_with_imported_arniqa_splits(cli, tmp_path, monkeypatch, plugin):
    import numpy as np

    fx = install("live", tmp_path / "data", monkeypatch, layout="txt", complete=True)
    from iqabench import registry

    refs = registry.datasets.get("live")(root=fx.data_root).index()["ref"].tolist()
    names = sorted(set(refs))
    folder = tmp_path / "arniqa"
    folder.mkdir()
    for part, keep in {"train": names[:4], "val": names[4:5], "test": names[5:]}.items():
        rows = [i for i, ref in enumerate(refs) if ref in keep]
        np.save(folder / f"{part}.npy", np.array([rows + [-1]] * 10, dtype=np.int64))
    out = tmp_path / "live.csv"
    assert (
        cli(
            "datasets",
            "import-splits",
            "live",
            "--arniqa",
            str(folder),
            "--data-root",
            str(fx.data_root),
            "--out",
            str(out),
        ).code
        == 0
    )
    runs = tmp_path / "runs"
    r = run_chanstats(cli, plugin, "live", fx.data_root, runs, "--splits", str(out))
    assert r.code == 0, r
    per_split = only_result(runs)
    assert per_split["summary"]["n_splits"] == 10


# -- the layouts the releases unpack to, through `datasets check` and a BRISQUE run -------------
# (dataset, builder options, seed, run options, conversions expected in result.json). A 16-bit
# greyscale file is left out of the run: PIL's convert("RGB") clips it to a white image, on which
# BRISQUE is undefined (tests/test_dataset_images.py covers it).
KADID_MODES = {1: "L", 2: "LA", 3: "RGBA", 4: "P", 5: "PT", 7: "RGB;16"}
LAYOUT_RUNS = [
    ("csiq", {"layout": "xlsx"}, 1, (), {}),
    ("live", {"layout": "release+txt"}, 1, (), {}),
    ("koniq10k", {"layout": "zips", "modes": {2: "L", 5: "CMYK"}}, 0, (), {"CMYK": 1, "L": 1}),
    ("spaq", {"layout": "nested"}, 0, ("--dataset-option", "resize=false"), {}),  # tiny images stay tiny
    ("flive", {"common": True, "modes": {1: "L", 7: "CMYK"}}, 0, (), {"CMYK": 1, "L": 1}),
    ("kadid10k", {"modes": KADID_MODES}, 0, (), {"L": 1, "LA": 1, "P": 2, "RGB;16": 1, "RGBA": 1}),
]


def run_brisque(cli, dataset: str, data_root, runs, seed: int, *extra: str):
    return cli("run", "-m", "brisque", "-p", "within_dataset", "-d", dataset, "--data-root", str(data_root),
               "--runs", str(runs), "--seed", str(seed), *extra)


@pytest.mark.parametrize(
    "name,kw,seed,options,conversions",
    LAYOUT_RUNS,
    ids=[f"{n}-{'-'.join(map(str, kw))}" for n, kw, *_ in LAYOUT_RUNS],
)
def test_release_layout_passes_check_and_runs_brisque(
    cli, tmp_path, monkeypatch, name, kw, seed, options, conversions
):
    fx = install(name, tmp_path / "data", monkeypatch, **kw)
    r = cli("datasets", "check", name, "--data-root", str(fx.data_root), *options)
    kinds = {x.split(":", 1)[0] for x in r.out.splitlines()[1:-1]}
    assert kinds <= {"count", "conversions", "note"} and "count" in kinds, r  # only the count of a tiny copy
    if name == "flive":
        assert "note: 3 image(s) absent that usual copies lack, left out of every split: database/EE371R/rq85.jpg " \
               "(row 5), database/EE371R/rq59.jpg (row 11), database/EE371R/rq73.jpg (row 18)" in r.out
    converted = [x for x in r.out.splitlines() if x.startswith("conversions: ")]
    n_converted = sum(conversions.values())
    assert [x.split(" to 8-bit")[0] for x in converted] == (
        [f"conversions: {n_converted} image file(s) converted"] if conversions else []
    ), r.out
    runs = tmp_path / "runs"
    r = run_brisque(cli, name, fx.data_root, runs, seed, *options)  # with the feature cache
    assert r.code == 0, r
    result = only_result(runs)
    card = result["datasets"][0]
    assert result["images"]["scored"] == fx.n_images and result["images"]["failed"] == 0
    assert result["images"]["conversions"] == conversions
    assert card["subset"]["complete"] is False  # a tiny copy
    assert -1.0 <= result["summary"]["srcc"] <= 1.0
    if name == "flive":
        assert "3 image(s) that common FLIVE preparations lack are absent" in r.err
        assert [x["image_id"] for x in card["left_out"]] == [
            "database/EE371R/rq85.jpg", "database/EE371R/rq59.jpg", "database/EE371R/rq73.jpg"
        ]
        assert card["left_out"][0]["why"].startswith("absent from this copy (labels_image.csv row 5); missing from")
        assert card["subset"]["n_images"] == fx.n_images
    if conversions:  # images served from the feature cache are counted from their headers
        again = tmp_path / "again"
        assert run_brisque(cli, name, fx.data_root, again, seed, *options).code == 0
        second = only_result(again)["images"]
        assert second["from_cache"] == fx.n_images and second["conversions"] == conversions
