"""Dataset splits: shipped files, the generator's reproducibility, official splits, ARNIQA import."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from iqabench import registry
from iqabench.errors import IQABenchError
from iqabench.splits import Splits, generate_splits, read_splits_csv
from tests.fixtures.dataset_fixtures import FLIVE_ABSENT_ROWS, build, install

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))


def ds_of(name, fx, **kw):
    return registry.datasets.get(name)(root=fx.data_root, **kw)


def assert_reference_disjoint(splits: Splits, ref_of: dict[str, str]) -> None:
    for k in range(len(splits)):
        parts = [{ref_of[i] for i in part} for part in splits.parts(k)]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])


# -- shipped files ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,refs,images",
    [("kadid10k", (57, 8, 16), (7125, 1000, 2000)), ("tid2013", (18, 2, 5), (2160, 240, 600))],
)
def test_shipped_split_files_are_the_generator_output(name, refs, images):
    from iqabench.datasets import _shipped

    shipped = resources.files("iqabench.datasets").joinpath("splits", f"{name}.csv").read_text()
    made = _shipped.build(name)
    assert shipped == made.to_csv()
    table = read_splits_csv(resources.files("iqabench.datasets").joinpath("splits", f"{name}.csv"))
    full = _shipped.FULL_ID_INDEX[name]()
    assert len(table.table) == len(full) and set(table.table["image_id"]) == set(full["image_id"])
    ref_of = dict(zip(full["image_id"], full["ref"]))
    assert_reference_disjoint(table, ref_of)
    assert len(table) == 10
    for k in range(10):
        parts = table.parts(k)
        assert tuple(len(p) for p in parts) == images
        assert tuple(len({ref_of[i] for i in p}) for p in parts) == refs
    # the documented naming schemes
    assert full["image_id"].iloc[0] == (
        "images/I01_01_01.png" if name == "kadid10k" else "distorted_images/i01_01_1.bmp"
    )
    assert len(full) == (10125 if name == "kadid10k" else 3000)


# Imports only iqabench.splits (no torch), so that the two interpreters start fast.
HASH_SCRIPT = """
import hashlib
import pandas as pd
from iqabench.splits import generate_splits
ids = [f"images/I{r:02d}_{t:02d}_{lev:02d}.png" for r in range(1, 82) for t in range(1, 26) for lev in range(1, 6)]
full = pd.DataFrame({"image_id": ids, "ref": [i[7:10] for i in ids]})
authentic = pd.DataFrame({"image_id": [f"img/{i * 7919 % 1000:04d}.jpg" for i in range(1000)], "ref": None})
a = generate_splits(full, seed=3).to_csv()
b = generate_splits(authentic, seed=5, by_reference=False).to_csv()
print(hashlib.sha256((a + b).encode()).hexdigest())
"""


def test_generated_splits_do_not_depend_on_the_hash_seed():
    digests = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT], env=env, capture_output=True, text=True, cwd=REPO
        )
        assert out.returncode == 0, out.stderr
        digests.append(out.stdout.strip())
    assert digests[0] == digests[1]


def test_adapter_takes_seed_0_from_the_shipped_file(tmp_path, monkeypatch):
    from iqabench.datasets import _common

    fx = install("kadid10k", tmp_path / "data", monkeypatch, complete=True)
    ds = ds_of("kadid10k", fx)
    shipped = tmp_path / "kadid10k.csv"
    shipped.write_text(generate_splits(ds.index(), seed=0).to_csv())
    def read(name):
        splits = read_splits_csv(shipped, source=f"shipped datasets/splits/{name}")
        splits.meta["shipped"] = name
        return splits

    monkeypatch.setattr(_common, "read_shipped_splits", read)
    s = ds.splits(seed=0)
    assert s.source == "shipped datasets/splits/kadid10k.csv" and len(s) == 10  # (the test's own reader)
    assert len(ds.splits(seed=0, n_splits=3)) == 3
    other = ds.splits(seed=1)
    assert other.source.startswith("generated (iqabench-splits-v1, seed=1, by reference")
    assert_reference_disjoint(other, dict(zip(ds.index()["image_id"], ds.index()["ref"])))
    # a shipped file that lacks an image of the index is refused
    table = pd.read_csv(shipped, dtype=str, keep_default_na=False)
    table.iloc[1:].to_csv(shipped, index=False)
    with pytest.raises(
        IQABenchError, match=r"image 'images/I01_01_01.png' is not in the split file \(shipped"
    ):
        registry.datasets.get("kadid10k")(root=fx.data_root).splits(seed=0)


@pytest.mark.parametrize("name", ["kadid10k", "tid2013"])
def test_partial_copy_gets_generated_splits_not_the_shipped_file(tmp_path, name):
    fx = build(name, tmp_path)  # 6 references: a subset
    ds = ds_of(name, fx)
    s = ds.splits(seed=0)
    assert s.source.startswith("generated (iqabench-splits-v1, seed=0, by reference") and len(s) == 10
    assert s.table["image_id"].tolist() == sorted(ds.index()["image_id"])
    assert ds.card()["subset"]["complete"] is False


@pytest.mark.parametrize("name", ["kadid10k", "tid2013"])
def test_shipped_split_on_a_copy_of_full_size_with_other_ids_names_the_first_missing_id(tmp_path, monkeypatch, name):
    fx = install(name, tmp_path, monkeypatch, complete=True)  # counts as complete; its ids are not the release's
    with pytest.raises(IQABenchError) as exc:
        ds_of(name, fx).splits(seed=0)
    first = "images/I01_01_02.png" if name == "kadid10k" else "distorted_images/i01_01_2.bmp"
    assert str(exc.value).startswith(
        f"dataset {name!r}: split id {first!r} (generated (iqabench-splits-v1, seed=0, by reference), shipped as "
        f"datasets/splits/{name}.csv) is not in"
    )
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["live", "csiq", "tid2013", "kadid10k"])
def test_synthetic_splits_are_by_reference(tmp_path, monkeypatch, name):
    fx = install(name, tmp_path, monkeypatch)
    ds = ds_of(name, fx)
    s = ds.splits(seed=7)
    idx = ds.index()
    assert_reference_disjoint(s, dict(zip(idx["image_id"], idx["ref"])))
    assert s.meta["by_reference"] and s.meta["n_groups"] == 6


@pytest.mark.parametrize("name", ["koniq10k", "spaq", "clive"])
def test_authentic_splits_are_by_image(tmp_path, name):
    fx = build(name, tmp_path)
    s = ds_of(name, fx).splits(seed=2)
    assert "by image" in s.source and [len(p) for p in s.parts(0)] == [14, 2, 4]


# -- official splits -------------------------------------------------------------------------------
def test_flive_official_split_is_the_default(tmp_path):
    fx = build("flive", tmp_path)
    s = ds_of("flive", fx).splits()
    assert s.source == "official (labels=640_padded.csv is_valid, labels640.csv)" and len(s) == 1
    train, val, test = s.parts(0)
    assert (len(train), len(val), len(test)) == (14, 3, 3)
    unused = s.table.loc[s.table["split_01"] == "", "image_id"].tolist()
    assert unused == ["database/EE371R/1020.jpg"]
    assert "database/voc_emotic_ava/AVA__1016.jpg" in val
    random = ds_of("flive", fx, split="random").splits(seed=0)
    assert len(random) == 10 and "by image" in random.source



def test_flive_images_common_preparations_lack_are_in_no_split(tmp_path, monkeypatch):
    fx = install("flive", tmp_path, monkeypatch, common=True)
    fx.annotations[2].write_text(fx.annotations[2].read_text() + "EE371R/rq59.jpg,50\n")  # listed in test
    ds = ds_of("flive", fx)
    official = ds.splits()
    assert not official.table["image_id"].str.contains("/rq").any()
    assert [len(p) for p in official.parts(0)] == [14, 3, 3]
    random = ds_of("flive", fx, split="random").splits(seed=3)
    assert len(random.table) == fx.n_images and not random.table["image_id"].str.contains("/rq").any()
    # only those three are tolerated: another missing image stops the run when it is read
    assert ds.absent_tolerated().keys() == {f"database/{n}" for n in FLIVE_ABSENT_ROWS}


def test_flive_official_split_errors(tmp_path):
    fx = build("flive", tmp_path)
    test_file = fx.annotations[2]
    test_file.write_text(test_file.read_text() + "EE371R/9999.jpg,50\n")
    with pytest.raises(
        IQABenchError, match=r"labels640.csv' line 5: image 'EE371R/9999.jpg' is not in labels_image.csv"
    ):
        ds_of("flive", fx).splits()
    fx = build("flive", tmp_path / "b")
    fx.annotations[2].write_text(fx.annotations[2].read_text() + "blur_dataset/1000.jpg,50\n")
    with pytest.raises(IQABenchError, match=r"image 'blur_dataset/1000.jpg' is in both train and test"):
        ds_of("flive", fx).splits()
    fx = build("flive", tmp_path / "c")
    fx.annotations[1].write_text(fx.annotations[1].read_text().replace("False", "maybe", 1))
    with pytest.raises(
        IQABenchError, match=r"labels=640_padded.csv' line 2: is_valid 'maybe' is not True or False"
    ):
        ds_of("flive", fx).splits()


def test_koniq_random_by_default_and_official_on_request(tmp_path):
    fx = build("koniq10k", tmp_path)
    assert "by image" in ds_of("koniq10k", fx).splits().source
    official = ds_of("koniq10k", fx, split="official").splits()
    assert official.source.startswith("official") and [len(p) for p in official.parts(0)] == [14, 2, 4]
    sets = fx.annotations[1]
    sets.write_text(sets.read_text().replace(",test\n", ",testing\n", 1))
    with pytest.raises(
        IQABenchError, match=r"distributions_sets.csv' line 18: set 'testing' is not one of training"
    ):
        ds_of("koniq10k", fx, split="official").splits()
    os.remove(sets)
    with pytest.raises(
        IQABenchError, match=r"annotation file '.*koniq10k_distributions_sets.csv' does not exist"
    ):
        ds_of("koniq10k", fx, split="official").splits()


# -- ARNIQA import ---------------------------------------------------------------------------------
def arniqa_arrays(refs: list[str], n_splits: int = 10, pad: bool = True) -> dict[str, np.ndarray]:
    """Official-format arrays: rows = splits, reference-disjoint parts, -1 padded to equal length."""
    names = sorted(set(refs))
    rng = np.random.default_rng(11)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for _ in range(n_splits):
        order = rng.permutation(len(names))
        chosen = {"train": order[:4], "val": order[4:5], "test": order[5:]}
        for part, which in chosen.items():
            keep = {names[i] for i in which}
            parts[part].append(np.array([r for r, ref in enumerate(refs) if ref in keep], dtype=np.int64))
    out = {}
    for part, rows in parts.items():
        width = max(len(r) for r in rows) + (2 if pad else 0)
        out[part] = np.stack([np.concatenate([r, np.full(width - len(r), -1, dtype=np.int64)]) for r in rows])
    return out


def write_arniqa(folder, arrays) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part, arr in arrays.items():
        np.save(folder / f"{part}.npy", arr)


def expected_csv(ids: list[str], arrays: dict[str, np.ndarray]) -> str:
    n_splits = arrays["train"].shape[0]
    table = pd.DataFrame({"image_id": ids})
    for k in range(n_splits):
        col = [""] * len(ids)
        for part, arr in arrays.items():
            for r in arr[k]:
                if r != -1:
                    col[r] = part
        table[f"split_{k + 1:02d}"] = col
    return table.sort_values("image_id").to_csv(index=False, lineterminator="\n")


@pytest.mark.parametrize("layout", ["txt", "mat"])
def test_import_arniqa_splits_live(cli, tmp_path, monkeypatch, layout):
    fx = install("live", tmp_path / "data", monkeypatch, layout=layout, complete=True)
    idx = ds_of("live", fx).index()
    arrays = arniqa_arrays(idx["ref"].tolist())
    write_arniqa(tmp_path / "ARNIQA" / "LIVE" / "splits", arrays)
    out = tmp_path / "live_arniqa.csv"
    r = cli(
        "datasets",
        "import-splits",
        "live",
        "--arniqa",
        str(tmp_path / "ARNIQA" / "LIVE"),
        "--data-root",
        str(fx.data_root),
        "--out",
        str(out),
    )
    assert r.code == 0, r
    assert out.read_text() == expected_csv(idx["image_id"].tolist(), arrays)
    n_pad = sum(int((a == -1).sum()) for a in arrays.values())
    assert (
        f"wrote 10 split(s) of 'live' to {out}" in r.out and f"{n_pad} padding entries (-1) dropped" in r.out
    )
    splits = read_splits_csv(out)
    splits.check_against(idx, "live")
    assert_reference_disjoint(splits, dict(zip(idx["image_id"], idx["ref"])))


def _flive_arniqa(folder, n_rows: int, left_out: set[int]) -> dict[str, np.ndarray]:
    """ARNIQA-style 1-D FLIVE split files over ``n_rows`` released rows, leaving ``left_out`` in no part."""
    used = [r for r in range(n_rows) if r not in left_out]
    arrays = {"train": np.array(used[:14]), "val": np.array(used[14:17]), "test": np.array(used[17:])}
    write_arniqa(folder, arrays)
    return arrays


def _import_flive(cli, tmp_path, fx, folder):
    out = tmp_path / "flive.csv"
    r = cli("datasets", "import-splits", "flive", "--arniqa", str(folder), "--data-root", str(fx.data_root),
            "--out", str(out))
    return out, r


def test_import_arniqa_flive_on_a_common_preparation(cli, tmp_path, monkeypatch):
    fx = install("flive", tmp_path / "data", monkeypatch, complete=True, common=True)
    absent = set(FLIVE_ABSENT_ROWS.values())
    arrays = _flive_arniqa(tmp_path / "s", fx.n_listed, absent)
    released = registry.datasets.get("flive")(root=fx.data_root).read_index()["image_id"].tolist()
    out, r = _import_flive(cli, tmp_path, fx, tmp_path / "s")
    assert r.code == 0, r
    table = read_splits_csv(out).table
    assert len(table) == fx.n_images and not table["image_id"].str.contains("/rq").any()
    part_of = dict(zip(table["image_id"], table["split_01"]))
    assert all(part_of[released[i]] == part for part, rows in arrays.items() for i in rows)
    # the same file without the three rows (as some preparations write it): the indices still land right
    text = fx.annotations[0].read_text()
    fx.annotations[0].write_text("".join(x for x in text.splitlines(True) if "/rq" not in x))
    out2, r = _import_flive(cli, tmp_path, fx, tmp_path / "s")
    assert r.code == 0, r
    assert read_splits_csv(out2).table.equals(table)


def test_import_arniqa_flive_refuses_a_file_that_would_shift_the_rows(cli, tmp_path, monkeypatch):
    fx = install("flive", tmp_path / "data", monkeypatch, complete=True, common=True)
    absent = set(FLIVE_ABSENT_ROWS.values())
    _flive_arniqa(tmp_path / "s", fx.n_listed, absent)
    lines = fx.annotations[0].read_text().splitlines(True)
    # one row fewer (not the three): every later index would point at the next image
    fx.annotations[0].write_text("".join(lines[:3] + lines[4:]))
    _, r = _import_flive(cli, tmp_path, fx, tmp_path / "s")
    assert r.code == 1 and len(r.err.strip().splitlines()) == 1, r
    assert "labels_image.csv' lists 23 images; ARNIQA's FLIVE split indexes the 24 rows of the released file" in r.err
    assert "refusing, the row indices would point at other images" in r.err
    # the right count but the rows in another order: the three are not where the released file has them
    swapped = lines[:6] + [lines[7], lines[6]] + lines[8:]  # rq85 (row 5) moves to row 6
    fx.annotations[0].write_text("".join(swapped))
    _, r = _import_flive(cli, tmp_path, fx, tmp_path / "s")
    assert r.code == 1 and "row 5 (counted from 0) is 'database/blur_dataset/1006.jpg', not 'database/EE371R/rq85.jpg'" in r.err
    # split files that leave out other rows are not ARNIQA's FLIVE files for this annotation file
    fx.annotations[0].write_text("".join(lines))
    _flive_arniqa(tmp_path / "s", fx.n_listed, {0, 11, 18})
    _, r = _import_flive(cli, tmp_path, fx, tmp_path / "s")
    assert r.code == 1 and "split 1: row 5 ('database/EE371R/rq85.jpg') is in train, but that image is absent" in r.err
    _flive_arniqa(tmp_path / "s", fx.n_listed, {0, *absent})
    _, r = _import_flive(cli, tmp_path, fx, tmp_path / "s")
    assert r.code == 1 and "split 1 leave out rows 0, 5, 11, 18; ARNIQA's 'flive' split leaves out rows 5, 11, 18" in r.err


def test_import_arniqa_errors(cli, tmp_path, monkeypatch):
    fx = install("kadid10k", tmp_path / "data", monkeypatch, complete=True)
    idx = ds_of("kadid10k", fx).index()
    arrays = arniqa_arrays(idx["ref"].tolist(), pad=False)
    folder = tmp_path / "splits"

    def run(arrs, name="kadid10k", root=fx.data_root):
        write_arniqa(folder, arrs)
        r = cli(
            "datasets",
            "import-splits",
            name,
            "--arniqa",
            str(folder),
            "--data-root",
            str(root),
            "--out",
            str(tmp_path / "o.csv"),
        )
        assert r.code == 1 and len(r.err.strip().splitlines()) == 1, r
        return r.err

    bad = {**arrays, "test": arrays["test"].copy()}
    bad["test"][2, 0] = 60
    assert "test.npy' split 3: row index 60 is outside 0..59 ('kadid10k' has 60 rows)" in run(bad)
    clash = {**arrays, "val": arrays["val"].copy()}
    clash["val"][0, 0] = arrays["train"][0, 0]
    assert f"split 1: row {arrays['train'][0, 0]} ('images/" in run(
        clash
    ) and "is in both train and val" in run(clash)
    assert "hold different numbers of splits (train.npy 10, val.npy 10, test.npy 9)" in run(
        {**arrays, "test": arrays["test"][:9]}
    )
    assert "holds float64 values, not integer row indices" in run(
        {**arrays, "val": arrays["val"].astype(float)}
    )
    os.remove(folder / "val.npy")
    r = cli(
        "datasets",
        "import-splits",
        "kadid10k",
        "--arniqa",
        str(folder),
        "--data-root",
        str(fx.data_root),
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert r.code == 1 and "lacks val.npy" in r.err
    # a copy with another number of images: row indices would point at the wrong images
    monkeypatch.setattr(registry.datasets.get("kadid10k"), "expected_count", 10125)
    assert "the copy lists 60 images, a complete copy 10125" in run(arrays)
    # CSIQ read from the .xlsx: ARNIQA indexes CSIQ.txt, whose order the .xlsx is not known to share
    csiq = install("csiq", tmp_path / "csiq", monkeypatch, complete=True)
    assert "ARNIQA's CSIQ splits index the rows of icbcbicc's CSIQ.txt; put CSIQ.txt in" in run(
        arrays, "csiq", csiq.data_root
    )
    kadis = build("kadis700k", tmp_path / "kadis")
    assert "ARNIQA publishes no split files for it" in run(arrays, "kadis700k", kadis.data_root)


def test_import_arniqa_warns_where_the_row_order_is_undocumented(cli, tmp_path, monkeypatch):
    fx = install("koniq10k", tmp_path / "data", monkeypatch, complete=True)
    rows = {"train": np.arange(0, 14)[None], "val": np.arange(14, 16)[None], "test": np.arange(16, 20)[None]}
    write_arniqa(tmp_path / "s", rows)
    r = cli(
        "datasets",
        "import-splits",
        "koniq10k",
        "--arniqa",
        str(tmp_path / "s"),
        "--data-root",
        str(fx.data_root),
        "--out",
        str(tmp_path / "k.csv"),
    )
    assert r.code == 0
    assert (
        "warning: koniq10k: koniq10k_scores_and_distributions.csv row order (ARNIQA does not document"
        in r.err
    )


def test_import_arniqa_spaq_does_not_resize(cli, tmp_path, monkeypatch):
    fx = install("spaq", tmp_path / "data", monkeypatch, complete=True)
    rows = {"train": np.arange(0, 14)[None], "val": np.arange(14, 16)[None], "test": np.arange(16, 20)[None]}
    write_arniqa(tmp_path / "s", rows)
    out = tmp_path / "spaq.csv"
    r = cli(
        "datasets",
        "import-splits",
        "spaq",
        "--arniqa",
        str(tmp_path / "s"),
        "--data-root",
        str(fx.data_root),
        "--out",
        str(out),
    )
    assert r.code == 0 and r.err == "", r
    assert not (tmp_path / "home" / "prepared").exists()
    assert out.read_text() == expected_csv([f"TestImage/{i:05d}.jpg" for i in range(1, 21)], rows)
