"""Named split sets: ARNIQA's splits imported once and used by every protocol; reference-disjointness."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from iqabench import registry
from tests.fixtures.dataset_fixtures import install
from tests.test_dataset_splits import arniqa_arrays, write_arniqa

PLUGIN = str(Path(__file__).with_name("protocol_plugins.py"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _result(runs: Path, protocol: str) -> dict:
    found = [json.loads(p.read_text()) for p in runs.rglob("result.json")]
    found = [r for r in found if r["protocol"] == protocol]
    assert len(found) == 1, found
    return found[0]


def _arniqa_repo(tmp_path, ds_refs: dict[str, list[str]]) -> Path:
    """A checkout laid out as github.com/miccunifi/ARNIQA: datasets/<NAME>/splits/{train,val,test}.npy."""
    repo = tmp_path / "ARNIQA"
    for folder, refs in ds_refs.items():
        write_arniqa(repo / "datasets" / folder / "splits", arniqa_arrays(refs))
    (repo / "datasets" / "CSIQ" / "splits").mkdir(parents=True)  # a dataset the data root lacks
    return repo


def test_imported_arniqa_splits_are_used_by_every_protocol(cli, tmp_path, monkeypatch, home):
    kadid = install("kadid10k", tmp_path / "data", monkeypatch, complete=True)
    live = install("live", tmp_path / "data", monkeypatch, layout="txt", complete=True)
    registry.load_plugin_file(PLUGIN).make_waterloo(tmp_path / "data")
    idx = {n: registry.datasets.get(n)(root=tmp_path / "data").index() for n in ("kadid10k", "live")}
    repo = _arniqa_repo(tmp_path, {"KADID10K": idx["kadid10k"]["ref"].tolist(), "LIVE": idx["live"]["ref"].tolist()})
    assert kadid.data_root == live.data_root == tmp_path / "data"

    r = cli("datasets", "import-splits", "--arniqa-repo", str(repo), "--data-root", str(tmp_path / "data"))
    assert r.code == 0, r
    assert "kadid10k: 10 split(s) stored as split set 'arniqa'" in r.out and "live: 10 split(s)" in r.out
    assert "csiq: not imported" in r.err
    stored = {n: (home / "splits" / "arniqa" / f"{n}.csv").read_text() for n in ("kadid10k", "live")}
    sha = {n: hashlib.sha256(t.encode()).hexdigest() for n, t in stored.items()}

    common = ["--plugin", PLUGIN, "-m", "tiny-stats", "--data-root", str(tmp_path / "data")]
    runs = tmp_path / "runs"
    for protocol, extra in (
        ("within_dataset", ["-d", "kadid10k"]),
        ("cross_dataset", ["-d", "kadid10k", "-d", "live"]),
        ("gmad", ["-m", "tiny-sharp", "-d", "waterloo", "--protocol-option", "regressor_dataset=kadid10k"]),
        ("waterloo", ["-d", "waterloo", "--protocol-option", "regressor_dataset=kadid10k"]),
        ("tsne", ["-d", "kadid10k", "--protocol-option", "subset=val", "--protocol-option", "perplexity=5",
                  "--protocol-option", "cv_folds=2", "--protocol-option", "knn_k=1"]),
    ):
        r = cli("run", *common, "-p", protocol, *extra, "--runs", str(runs / protocol))
        assert r.code == 0, (protocol, r)
        result = _result(runs / protocol, protocol)
        used = result["split_sets"]
        assert used["kadid10k"]["set"] == "arniqa" and used["kadid10k"]["sha256"] == sha["kadid10k"], protocol
        if protocol == "cross_dataset":
            assert used["live"]["set"] == "arniqa" and used["live"]["sha256"] == sha["live"]
    within = _result(runs / "within_dataset", "within_dataset")
    assert within["splits"]["set"] == "arniqa" and within["splits"]["reference_disjoint"] is True
    split_csv = next((runs / "within_dataset").rglob("splits.csv")).read_text()
    assert split_csv == stored["kadid10k"]
    # tsne subset=val: exactly the validation images of the first imported split
    emb = pd.read_csv(next((runs / "tsne").rglob("embedding.csv")))
    table = pd.read_csv(home / "splits" / "arniqa" / "kadid10k.csv", dtype=str, keep_default_na=False)
    assert sorted(emb["image_id"]) == sorted(table.loc[table["split_01"] == "val", "image_id"])


def test_split_set_choice_errors_and_fallbacks(cli, tmp_path, monkeypatch, home):
    install("kadid10k", tmp_path / "data", monkeypatch, complete=True)
    common = ["run", "--plugin", PLUGIN, "-m", "tiny-stats", "-p", "within_dataset", "-d", "kadid10k",
              "--data-root", str(tmp_path / "data"), "--runs", str(tmp_path / "runs")]
    r = cli(*common, "--split-set", "arniqa")
    assert r.code == 1 and "split set 'arniqa' has no splits for dataset 'kadid10k'" in r.err
    assert "import-splits --arniqa-repo" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli(*common, "--split-set", "generated", "--seed", "3")
    assert r.code == 0, r
    assert _result(tmp_path / "runs", "within_dataset")["splits"]["set"] == "generated"
    r = cli(*common, "--split-set", "../evil")
    assert r.code == 1 and "split set name" in r.err


def test_default_falls_back_to_generated_when_the_copy_lacks_imported_images(cli, tmp_path, monkeypatch, home, caplog):
    from iqabench.split_sets import SplitChoice, store
    from iqabench.splits import Splits

    install("kadid10k", tmp_path / "data", monkeypatch, complete=True)
    ds = registry.datasets.get("kadid10k")(root=tmp_path / "data")
    ids = ds.index()["image_id"].tolist()
    table = pd.DataFrame({"image_id": ids + ["images/I99_01_01.png"], "split_01": ["train"] * len(ids) + ["test"]})
    store("arniqa", "kadid10k", Splits(table, "test"))
    splits = SplitChoice().resolve(ds, seed=3)
    assert splits.meta["set"] == "generated" and "list 1 image(s) this copy lacks" in caplog.text
    with pytest.raises(Exception, match="I99_01_01"):
        SplitChoice("arniqa").resolve(ds, seed=0)


def _overlapping_split_file(tmp_path, ds) -> Path:
    index = ds.index()
    refs = sorted(index["ref"].unique())
    part = {refs[0]: "test", refs[1]: "val"}
    col = [part.get(r, "train") for r in index["ref"]]
    col[list(index["ref"]).index(refs[0])] = "train"  # one image of the test reference goes to train
    path = tmp_path / "overlap.csv"
    pd.DataFrame({"image_id": index["image_id"], "split_01": col}).to_csv(path, index=False)
    return path


def test_split_file_sharing_a_reference_is_refused_unless_allowed(cli, tmp_path, monkeypatch, home):
    install("kadid10k", tmp_path / "data", monkeypatch, complete=True)
    ds = registry.datasets.get("kadid10k")(root=tmp_path / "data")
    path = _overlapping_split_file(tmp_path, ds)
    common = ["run", "--plugin", PLUGIN, "-m", "tiny-stats", "-p", "within_dataset", "-d", "kadid10k",
              "--data-root", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"), "--splits", str(path)]
    r = cli(*common)
    assert r.code == 1 and "not reference-disjoint" in r.err and "split 1 shares reference(s) I01" in r.err
    assert "--allow-reference-overlap" in r.err
    r = cli(*common, "--allow-reference-overlap")
    assert r.code == 0, r
    result = _result(tmp_path / "runs", "within_dataset")
    assert result["splits"]["reference_disjoint"] is False and result["splits"]["set"] == "file"
    assert result["splits"]["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result["splits"]["reference_overlaps"] == ["split 1 shares reference(s) I01"]


def test_reference_overlaps_lists_each_split():
    from iqabench.split_sets import reference_overlaps
    from iqabench.splits import Splits

    index = pd.DataFrame({"image_id": list("abcd"), "ref": ["x", "x", "y", "z"]})
    table = pd.DataFrame({"image_id": list("abcd"), "split_01": ["train", "test", "val", "test"],
                          "split_02": ["train", "train", "val", "test"]})
    assert reference_overlaps(Splits(table, "t"), index) == ["split 1 shares reference(s) x"]
    no_refs = index.assign(ref=None)
    assert reference_overlaps(Splits(table, "t"), no_refs) == []
