"""The real-dataset adapters on tiny copies in the original formats: index content, check, describe."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from iqabench import registry
from iqabench.dataset import DIST_GROUPS
from iqabench.errors import IQABenchError
from tests.fixtures.dataset_fixtures import BUILDERS, LABELLED, LIVE_REFS, build, install

VARIANTS = [
    ("live", {"layout": "mat"}),
    ("live", {"layout": "txt"}),
    ("live", {"layout": "release+txt"}),
    ("csiq", {"layout": "xlsx"}),
    ("csiq", {"layout": "txt"}),
    ("tid2013", {}),
    ("kadid10k", {}),
    ("koniq10k", {"layout": "flat"}),
    ("koniq10k", {"layout": "zips"}),
    ("koniq10k", {"layout": "zips", "images": "512x384"}),
    ("spaq", {"layout": "flat"}),
    ("spaq", {"layout": "nested"}),
    ("flive", {"layout": "root"}),
    ("flive", {"layout": "database"}),
    ("flive", {"layout": "root", "common": True}),
    ("clive", {}),
    ("kadis700k", {}),
    ("waterloo", {"layout": "a"}),
    ("waterloo", {"layout": "b"}),
    ("agiqa3k", {"layout": "flat"}),
    ("agiqa3k", {"layout": "images"}),
    ("pipal", {"layout": "release"}),
    ("pipal", {"layout": "pyiqa"}),
]
IDS = ["-".join([n, *(str(v) for v in kw.values())]) if kw else n for n, kw in VARIANTS]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "IQABENCH_HOME", str(tmp_path / "home")
    )  # SPAQ's prepared copies stay in the test folder


def dataset(name, fx, **kw):
    return registry.datasets.get(name)(root=fx.data_root, **kw)


def problem_lines(out: str) -> list[str]:
    return [
        line
        for line in out.splitlines()
        if line.split(":", 1)[0] in ("root", "annotation", "index", "count", "duplicate", "label", "image", "types")
    ]


def expected_count_lines(name, fx) -> list[str]:
    cls = registry.datasets.get(name)
    if name == "waterloo":
        return [
            "count: the copy has 4 pristine images; a complete copy has 4744",
            "count: the copy lists 80 distorted images; a complete copy has 94880",
        ]
    lines = []
    if cls.expected_count is not None:
        n = fx.n_listed or fx.n_images
        lines.append(f"count: the copy lists {n} images; a complete copy has {cls.expected_count}")
    if fx.n_refs and getattr(cls, "expected_refs", None):
        lines.append(f"count: the copy has {fx.n_refs} references; a complete copy has {cls.expected_refs}")
    return lines


@pytest.mark.parametrize("name,kw", VARIANTS, ids=IDS)
def test_check_reports_a_tiny_copy_by_its_count_only(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path / "data", monkeypatch, **kw)
    r = cli("datasets", "check", name, "--data-root", str(fx.data_root))
    expected = expected_count_lines(name, fx)
    assert problem_lines(r.out) == expected, r
    assert r.code == (1 if expected else 0), r
    verdict = r.out.strip().splitlines()[-1]
    assert verdict.startswith(f"{name}: BROKEN" if expected else f"{name}: OK"), r


@pytest.mark.parametrize("name,kw", VARIANTS, ids=IDS)
def test_check_passes_when_the_copy_is_declared_complete(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path / "data", monkeypatch, complete=True, **kw)
    r = cli("datasets", "check", name, "--data-root", str(fx.data_root))
    assert r.code == 0, r
    assert problem_lines(r.out) == []
    n_files = len(set(map(str, fx.image_paths))) + (fx.n_refs or 0) * fx.ref_images * (name != "waterloo")
    assert r.out.strip().splitlines()[-1].startswith(f"{name}: OK: {fx.n_listed or fx.n_images} images")
    assert f"all {n_files} image files decoded" in r.out, r
    assert not [x for x in r.out.splitlines() if x.startswith("conversions: ")]  # the fixtures are 8-bit RGB


@pytest.mark.parametrize("name,kw", VARIANTS, ids=IDS)
def test_index_contract_and_image_order(tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path / "data", monkeypatch, **kw)
    ds = dataset(name, fx)
    idx = ds.index()
    assert len(idx) == fx.n_images
    paths = idx["source_path"] if name == "spaq" else idx["path"]  # SPAQ's paths point at resized copies
    assert [os.path.realpath(p) for p in paths] == [os.path.realpath(p) for p in fx.image_paths]
    assert all(Image.open(p).size for p in idx["path"])  # every indexed file exists and opens
    assert idx["image_id"].is_unique
    assert set(idx["dist_group"].dropna()) <= set(DIST_GROUPS)
    assert [c for c in idx.columns if c.startswith("_")] == []
    if name in LABELLED:
        assert idx["score"].notna().all() and ds.labelled
        lo, hi = ds.score_spec.range
        assert idx["score"].between(lo, hi).all()
    else:
        assert idx["score"].isna().all() and not ds.labelled
    if fx.n_refs:
        assert idx["ref"].nunique() == fx.n_refs
        assert idx["ref_path"].dropna().map(os.path.isfile).all()


def test_live_mat_and_txt_layouts_agree_and_drop_reference_copies(tmp_path, monkeypatch):
    mat = install("live", tmp_path / "m", monkeypatch, layout="mat")
    txt = build("live", tmp_path / "t", layout="txt")
    a = dataset("live", mat).index()
    b = dataset("live", txt).index()
    assert a["image_id"].tolist() == b["image_id"].tolist()
    assert np.allclose(a["score"], b["score"])
    assert a["ref"].tolist() == b["ref"].tolist()
    # jp2k entry 3 and jpeg entry 7 and fastfading entry 7 are reference copies (orgs == 1)
    assert a["image_id"].tolist()[:7] == [
        "jp2k/img1.bmp",
        "jp2k/img2.bmp",
        "jp2k/img4.bmp",
        "jp2k/img5.bmp",
        "jp2k/img6.bmp",
        "jp2k/img7.bmp",
        "jpeg/img1.bmp",
    ]
    assert a["image_id"].iloc[-1] == "fastfading/img6.bmp"
    assert a["ref"].tolist()[:6] == LIVE_REFS
    assert a["dist_type"].unique().tolist() == ["jp2k", "jpeg", "wn", "gblur", "fastfading"]
    assert a.groupby("dist_type", sort=False)["dist_group"].first().to_dict() == {
        "jp2k": "jpeg",
        "jpeg": "jpeg",
        "wn": "noise",
        "gblur": "blur",
        "fastfading": "jpeg",
    }
    live = registry.datasets.get("live")
    assert live.default_label == "dmos_realigned" and not live.labels["dmos_realigned"].higher_better
    # --label dmos reads the original DMOS of dmos.mat
    original = dataset("live", mat, label="dmos").index()
    realigned = np.round(original["score"] * 1.1 - 3, 4)
    assert np.allclose(realigned, a["score"])
    with pytest.raises(IQABenchError, match="label 'dmos' .* needs dmos.mat"):
        dataset("live", txt, label="dmos").index()


def test_csiq_canonical_ids_whatever_the_case_on_disk(tmp_path):
    x = build("csiq", tmp_path / "x", layout="xlsx")
    t = build("csiq", tmp_path / "t", layout="txt")  # dst_imgs/AWGN/, dst_imgs/BLUR/, ...
    a, b = dataset("csiq", x).index(), dataset("csiq", t).index()
    assert a["image_id"].tolist() == b["image_id"].tolist()
    assert a["image_id"].iloc[0] == "dst_imgs/awgn/1600.AWGN.1.png"
    assert b["path"].iloc[0].endswith("dst_imgs/AWGN/1600.AWGN.1.png")
    assert a["ref"].iloc[0] == "1600"  # numeric in the .xlsx
    assert dict(zip(a["dist_type"], a["dist_group"])) == {
        "awgn": "noise",
        "jpeg": "jpeg",
        "jpeg2000": "jpeg",
        "fnoise": "noise",
        "blur": "blur",
        "contrast": "sharpness_contrast",
    }
    assert set(a["level"]) == {1, 2}
    assert not registry.datasets.get("csiq").labels["dmos"].higher_better
    # the .xlsx's first sheet (all_by_distortion) is not the one read
    assert a["dist_type"].iloc[:8].tolist() == [
        "awgn",
        "awgn",
        "jpeg",
        "jpeg2000",
        "fnoise",
        "blur",
        "blur",
        "contrast",
    ]


def test_tid2013_ids_are_normalised_to_lower_case(tmp_path):
    fx = build("tid2013", tmp_path)
    idx = dataset("tid2013", fx).index()
    assert idx["image_id"].str.fullmatch(r"distorted_images/i\d\d_\d\d_\d\.bmp").all()
    row = idx.set_index("image_id")
    assert row.loc["distorted_images/i03_08_1.bmp", "path"].endswith("I03_08_1.bmp")  # upper-case file
    assert row.loc["distorted_images/i04_10_5.bmp", "path"].endswith("i04_10_5.bmp")  # upper-case listed name
    assert row.loc["distorted_images/i06_01_1.bmp", "ref_path"].endswith("reference_images/i06.bmp")
    assert row.loc["distorted_images/i06_01_1.bmp", "ref"] == "I06"
    assert row.loc["distorted_images/i01_16_5.bmp", ["dist_type", "dist_group", "level"]].tolist() == [
        "mean_shift",
        "brightness_change",
        5,
    ]


def test_kadid_names_types_and_direction(tmp_path):
    fx = build("kadid10k", tmp_path)
    idx = dataset("kadid10k", fx).index()
    first = idx.iloc[0]
    assert (first["image_id"], first["ref"], first["dist_type"], first["dist_group"], first["level"]) == (
        "images/I01_01_01.png",
        "I01",
        "gaussian_blur",
        "blur",
        1,
    )
    raw = pd.read_csv(fx.annotations[0])
    assert np.allclose(idx["score"], raw["dmos"])  # the "dmos" column, unchanged
    assert registry.datasets.get("kadid10k").labels["mos"].higher_better


def test_type_group_tables_cover_every_type():
    from iqabench.datasets import csiq, kadid10k, live, tid2013, waterloo

    assert len(kadid10k.TYPES) == 25 and len(tid2013.TYPES) == 24
    for table in (
        kadid10k.TYPE_GROUPS,
        tid2013.TYPE_GROUPS,
        live.TYPE_GROUPS,
        csiq.TYPE_GROUPS,
        waterloo.TYPE_GROUPS,
    ):
        assert set(table.values()) <= set(DIST_GROUPS)
    assert set(kadid10k.TYPE_GROUPS.values()) == set(DIST_GROUPS)  # KADID defines the 7 groups


def test_koniq_resolution_and_official_split(tmp_path):
    fx = build("koniq10k", tmp_path)
    os.rename(fx.root / "1024x768", fx.root / "512x384")
    ds = registry.datasets.get("koniq10k")(root=fx.data_root, split="official")
    idx = ds.index()
    assert idx["image_id"].str.startswith("512x384/").all()
    assert np.allclose(
        idx["score"], pd.read_csv(fx.annotations[0])["MOS"]
    )  # 1-5, not the 0-100 of the sets file
    splits = ds.splits()
    assert len(splits) == 1 and splits.source == "official (koniq10k_distributions_sets.csv set column)"
    assert [len(p) for p in splits.parts(0)] == [14, 2, 4]
    with pytest.raises(IQABenchError, match="option 'images' must be one of"):
        registry.datasets.get("koniq10k")(root=fx.data_root, images="2048").index()


def test_clive_drops_the_seven_training_images(tmp_path):
    fx = build("clive", tmp_path)
    idx = dataset("clive", fx).index()
    assert len(idx) == 20 and not idx["image_id"].str.contains("t[1-7].bmp").any()
    assert idx["image_id"].iloc[0] == "Images/3.bmp"


def test_kadis_is_an_unlabelled_sorted_pool(tmp_path):
    fx = build("kadis700k", tmp_path)
    ds = dataset("kadis700k", fx)
    ids = ds.index()["image_id"].tolist()
    assert ids == sorted(ids) and ids[0] == "ref_imgs/abandoned-1.png"
    with pytest.raises(IQABenchError, match="no labels"):
        ds.splits()
    with pytest.raises(IQABenchError, match="has no labels; --label does not apply"):
        registry.datasets.get("kadis700k")(root=fx.data_root, label="mos")


def test_waterloo_layouts_give_the_gmad_order(tmp_path):
    a = dataset("waterloo", build("waterloo", tmp_path / "a", layout="a")).index()
    b = dataset("waterloo", build("waterloo", tmp_path / "b", layout="b")).index()
    key = ["ref", "dist_type", "level"]
    assert a[key].astype(str).values.tolist() == b[key].astype(str).values.tolist()
    first = a.iloc[:6]
    assert first["level"].tolist() == [0, 1, 2, 3, 4, 5]
    assert first["dist_type"].tolist()[1:] == ["jpeg"] * 5
    assert a["dist_type"].iloc[1:21:5].tolist() == ["jpeg", "jp2k", "wn", "gblur"]
    assert a["image_id"].iloc[1] == "distorted_images/jpeg/00001_1.bmp"
    assert b["image_id"].iloc[1] == "distorted_images/1/1/00001.bmp"
    assert a["ref"].iloc[21] == "00002"


def test_waterloo_unknown_layout_is_refused(tmp_path):
    fx = build("waterloo", tmp_path)
    os.rename(fx.root / "distorted_images" / "wn", fx.root / "distorted_images" / "noise")
    with pytest.raises(IQABenchError, match=r"holds neither known layout.*found: gblur, jp2k, jpeg, noise"):
        dataset("waterloo", fx).index()


def test_spaq_resizes_once_to_a_512_short_side(tmp_path):
    fx = build("spaq", tmp_path / "data")
    idx = dataset("spaq", fx).index()
    sizes = [Image.open(p).size for p in idx["path"]]
    assert all(min(s) == 512 for s in sizes)
    assert sizes[0] == (int(64 * 512 / 48), 512) and sizes[2] == (512, int(65 * 512 / 50))
    assert idx["source_path"].iloc[0] == str(fx.root / "TestImage" / "00001.jpg")
    assert str(tmp_path / "home" / "prepared" / "spaq") in idx["path"].iloc[0]
    # the resize is PIL bicubic of the decoded original
    want = Image.open(fx.image_paths[0]).convert("RGB").resize(sizes[0], Image.Resampling.BICUBIC)
    assert np.array_equal(np.asarray(want), np.asarray(Image.open(idx["path"].iloc[0])))
    stamp = os.stat(idx["path"].iloc[1]).st_mtime_ns
    again = dataset("spaq", fx).index()
    assert (
        again["path"].tolist() == idx["path"].tolist() and os.stat(again["path"].iloc[1]).st_mtime_ns == stamp
    )
    # a changed photograph is prepared again
    Image.open(fx.image_paths[1]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(fx.image_paths[1])
    changed = dataset("spaq", fx).index()
    assert changed["path"].iloc[1] != idx["path"].iloc[1] and changed["path"].iloc[0] == idx["path"].iloc[0]
    plain = registry.datasets.get("spaq")(root=fx.data_root, resize="false").index()
    assert plain["path"].tolist() == [str(p) for p in fx.image_paths]
    card = dataset("spaq", fx).card()
    assert card["preprocessing"]["rule"].startswith("short512")


def test_spaq_unreadable_photograph_keeps_its_original_path(tmp_path):
    fx = build("spaq", tmp_path / "data")
    fx.image_paths[3].write_bytes(b"not a jpeg")
    idx = dataset("spaq", fx).index()
    assert idx["path"].iloc[3] == str(fx.image_paths[3])  # reading it reports the error
    assert "prepared" in idx["path"].iloc[2]


@pytest.mark.parametrize("name", list(BUILDERS))
def test_describe_with_and_without_a_copy(cli, tmp_path, monkeypatch, name):
    static = cli("datasets", "describe", name)
    assert static.code == 0, static
    cls = registry.datasets.get(name)
    assert f"folder names:  {', '.join(cls.folder_names)}" in static.out
    if cls.labels:
        spec = cls.labels[cls.default_label or next(iter(cls.labels))]
        direction = "higher = better" if spec.higher_better else "lower = better"
        assert f"(selected): {direction}, nominal range {spec.range[0]:g}..{spec.range[1]:g}" in static.out
    assert "copy:          none given" in static.out
    fx = install(name, tmp_path / "data", monkeypatch)
    r = cli("datasets", "describe", name, "--data-root", str(fx.data_root), "--seed", "1")
    assert r.code == 0, r
    assert f"images:        {fx.n_images}" in r.out
    if fx.n_refs:
        assert f"references:    {fx.n_refs}" in r.out
    if name in LABELLED:
        line = next(x for x in r.out.splitlines() if x.strip().startswith("splits:"))
        assert "train" in line and "unavailable" not in line, line
    else:
        assert "splits:        none (no labels)" in r.out


def test_describe_shows_types_levels_and_the_splits_of_a_subset(cli, tmp_path):
    fx = build("kadid10k", tmp_path)
    r = cli("datasets", "describe", "kadid10k", "--data-root", str(fx.data_root))
    assert r.code == 0, r
    assert "distortions:   5 types: gaussian_blur 12 [blur], jpeg2000 12 [jpeg]" in r.out
    assert "levels:        1..3" in r.out
    assert "splits:        10 x generated (iqabench-splits-v1, seed=0, by reference" in r.out
    assert r.err.strip() == (
        "kadid10k: this copy is a subset (60 of 10,125 images, 6 of 81 references); splits generated "
        "(iqabench-splits-v1, seed=0, by reference, 70/10/20) instead of the shipped "
        "datasets/splits/kadid10k.csv; results are marked as a subset"
    )


def test_datasets_help_explains_every_option(cli):
    for sub in ("check", "describe", "import-splits"):
        r = cli("datasets", sub, "--help")
        assert r.code == 0
        for option in ("--data-root", "--label", "--dataset-option", "--plugin"):
            assert option in r.out
    assert "--arniqa" in cli("datasets", "import-splits", "--help").out
    assert "--no-decode" in cli("datasets", "check", "--help").out


def test_check_no_decode_and_problem_cap(cli, tmp_path, monkeypatch):
    fx = install("waterloo", tmp_path / "data", monkeypatch, complete=True)
    for p in fx.image_paths[1:21] + fx.image_paths[22:27]:  # 25 distorted images (index 21 is pristine 00002)
        p.unlink()
    r = cli("datasets", "check", "waterloo", "--data-root", str(fx.data_root), "--no-decode")
    assert r.code == 1
    images = [x for x in r.out.splitlines() if x.startswith("image: ")]
    assert len(images) == 21 and images[-1] == "image: … and 5 more image problem(s) (--all prints every one)"
    assert "waterloo: BROKEN: 25 problem(s) (25 image)" in r.out
    r = cli("datasets", "check", "waterloo", "--data-root", str(fx.data_root), "--no-decode", "--all")
    assert len([x for x in r.out.splitlines() if x.startswith("image: ")]) == 25


GENERIC_PLUGIN = """
import pandas as pd
from pathlib import Path
from iqabench import Dataset, ScoreSpec, register_dataset

@register_dataset("folder_of_jpegs")
class FolderOfJpegs(Dataset):
    description = "A plugin dataset without any of the check hooks"
    labels = {"mos": ScoreSpec("mos", True, (0.0, 10.0))}
    expected_count = 4

    def load_index(self):
        rows = [line.split(",") for line in (self.root / "scores.csv").read_text().split()]
        return pd.DataFrame({"image_id": [r[0] for r in rows], "path": [str(self.root / r[0]) for r in rows],
                             "score": [r[1] for r in rows]})
"""


def test_check_works_on_any_dataset(cli, tmp_path):
    from tests.fixtures.dataset_fixtures import write_image

    root = tmp_path / "folder"
    for i in range(3):
        write_image(root / f"{i}.jpg", i)
    (root / "scores.csv").write_text("0.jpg,1.5\n1.jpg,12\n2.jpg,3\n0.jpg,4\n")
    plugin = tmp_path / "plugin_ds.py"
    plugin.write_text(GENERIC_PLUGIN)
    r = cli("datasets", "check", "folder_of_jpegs", "--plugin", str(plugin), "--data-root", str(root))
    assert r.code == 1
    assert problem_lines(r.out) == [
        "duplicate: row 4 repeats image '0.jpg' (first at row 1)",
        "label: image '1.jpg': mos 12 is outside 0..10",
    ], r
    (root / "scores.csv").write_text("0.jpg,1.5\n1.jpg,2\n2.jpg,3\n3.jpg,4\n")
    r = cli("datasets", "check", "folder_of_jpegs", "--plugin", str(plugin), "--data-root", str(root))
    assert problem_lines(r.out) == [f"image: image '{root / '3.jpg'}': file does not exist"], r


# -- the layouts the releases unpack to ----------------------------------------------------------
def test_csiq_workbook_header_is_found_below_its_title_rows(tmp_path):
    fx = build("csiq", tmp_path, layout="xlsx")
    import openpyxl

    sheet = openpyxl.load_workbook(fx.annotations[0])["all_by_image"]
    assert sheet["D4"].value == "image" and sheet["I4"].value == "dmos" and sheet["A4"].value is None
    idx = dataset("csiq", fx).index()
    assert len(idx) == fx.n_images and idx["image_id"].iloc[0] == "dst_imgs/awgn/1600.AWGN.1.png"
    rows = dataset("csiq", fx).read_index()["_loc"]
    assert rows.iloc[0].endswith("sheet 'all_by_image' row 5") and rows.iloc[-1].endswith(f"row {4 + fx.n_images}")


def test_live_release_without_the_realigned_dmos_reads_live_txt(tmp_path, monkeypatch):
    fx = install("live", tmp_path, monkeypatch, layout="release+txt")
    assert (fx.root / "refnames_all.mat").is_file() and not (fx.root / "dmos_realigned.mat").exists()
    ds = dataset("live", fx)
    assert ds.annotation_files() == [fx.root / "LIVE.txt"]
    assert ds.index()["image_id"].tolist() == dataset("live", build("live", tmp_path / "t", layout="txt")).index()[
        "image_id"
    ].tolist()
    assert dataset("live", fx, label="dmos").annotation_files()[0].name == "dmos.mat"  # the original DMOS


@pytest.mark.parametrize("images", ["1024x768", "512x384"])
def test_koniq_official_zips_as_unpacked(tmp_path, images):
    fx = build("koniq10k", tmp_path, layout="zips", images=images)
    assert (fx.root / "koniq10k_scores_and_distributions" / "koniq10k_scores_and_distributions.csv").is_file()
    ds = dataset("koniq10k", fx, split="official")
    idx = ds.index()
    assert idx["image_id"].iloc[0] == f"{images}/10004473376.jpg"  # the same ids as the flat layout
    assert idx["path"].iloc[0] == str(fx.root / f"koniq10k_{images}" / images / "10004473376.jpg")
    assert [len(p) for p in ds.splits().parts(0)] == [14, 2, 4]  # the sets file from metadata/


def test_koniq_mos_zscore_label(tmp_path):
    fx = build("koniq10k", tmp_path)
    raw = pd.read_csv(fx.annotations[0])
    ds = dataset("koniq10k", fx, label="mos_zscore")
    assert np.allclose(ds.index()["score"], raw["MOS_zscore"]) and ds.score_spec.range == (0.0, 100.0)
    assert "ARNIQA's released KonIQ regressor range implies" in ds.score_spec.description
    assert np.allclose(dataset("koniq10k", fx).index()["score"], raw["MOS"])


def test_spaq_nested_dataset_folder(tmp_path):
    fx = build("spaq", tmp_path / "data", layout="nested")
    ds = registry.datasets.get("spaq")(root=fx.data_root, resize="false")
    idx = ds.index()
    assert idx["image_id"].iloc[0] == "TestImage/00001.jpg"
    assert idx["path"].tolist() == [str(p) for p in fx.image_paths]


# -- Waterloo: the type order from image evidence -------------------------------------------------
def test_waterloo_check_verifies_the_type_order(cli, tmp_path, monkeypatch):
    fx = install("waterloo", tmp_path, monkeypatch, complete=True, layout="b")
    r = cli("datasets", "check", "waterloo", "--data-root", str(fx.data_root))
    assert r.code == 0, r
    note = next(x for x in r.out.splitlines() if x.startswith("note: type order verified"))
    for k, kind in enumerate(("jpeg", "jp2k", "wn", "gblur"), start=1):
        assert f"folder {k} (taken as {kind}) looks like {kind}" in note


def test_waterloo_check_fails_when_the_images_contradict_the_order(cli, tmp_path, monkeypatch):
    fx = install("waterloo", tmp_path, monkeypatch, complete=True, layout="b", holds=("jp2k", "jpeg", "wn", "gblur"))
    r = cli("datasets", "check", "waterloo", "--data-root", str(fx.data_root))
    assert r.code == 1, r
    (line,) = problem_lines(r.out)
    assert line.startswith("types: the images contradict the type order jpeg,jp2k,wn,gblur (assumed: the paper's list)")
    assert "pass --dataset-option type_order=jp2k,jpeg,wn,gblur" in line
    assert "folder 1 (taken as jpeg) looks like jp2k" in line and "folder 2 (taken as jp2k) looks like jpeg" in line
    r = cli("datasets", "check", "waterloo", "--data-root", str(fx.data_root), "--dataset-option",
            "type_order=jp2k,jpeg,wn,gblur")
    assert r.code == 0, r
    idx = dataset("waterloo", fx, type_order="jp2k,jpeg,wn,gblur").index()
    assert idx.set_index("image_id").loc["distorted_images/1/1/00001.bmp", "dist_type"] == "jp2k"
    assert idx["image_id"].iloc[1:7].tolist()[:2] == ["distorted_images/1/1/00001.bmp", "distorted_images/1/2/00001.bmp"]


def test_waterloo_named_folders_holding_other_types_fail(cli, tmp_path, monkeypatch):
    fx = install("waterloo", tmp_path, monkeypatch, complete=True, layout="a", holds=("jpeg", "jp2k", "gblur", "wn"))
    r = cli("datasets", "check", "waterloo", "--data-root", str(fx.data_root))
    assert r.code == 1
    (line,) = problem_lines(r.out)
    assert line.startswith("types: the type folders do not hold the types they are named after")
    assert "folder wn looks like gblur" in line and "folder gblur looks like wn" in line


def test_waterloo_type_order_option_is_checked(tmp_path):
    fx = build("waterloo", tmp_path, layout="b")
    with pytest.raises(IQABenchError, match=r"option 'type_order' must name each of jpeg, jp2k, wn, gblur once"):
        dataset("waterloo", fx, type_order="jpeg,jpeg,wn,gblur").index()
    card = dataset("waterloo", fx, type_order="gblur,jp2k,wn,jpeg").card()
    assert card["type_order"]["types"] == ["gblur", "jp2k", "wn", "jpeg"]
    assert card["type_order"]["source"] == "option type_order" and card["type_order"]["layout"] == "b"


def test_gmad_toolbox_vector_follows_the_type_order(tmp_path):
    """Toolbox type k is folder k: with type_order the scores of folder 1 come first whatever it holds."""
    from types import SimpleNamespace

    from scipy.io import loadmat

    gmad = __import__(registry.protocols.get("gmad").__module__, fromlist=["toolbox_files"])
    fx = build("waterloo", tmp_path, layout="b")
    ds = dataset("waterloo", fx, type_order="jp2k,jpeg,wn,gblur")
    idx = ds.index()
    ids = list(reversed(idx["image_id"].tolist()))  # scores listed in any order
    pq = SimpleNamespace(image_ids=ids, scores={"m": np.arange(len(ids), dtype=float)})
    summary: dict = {}
    files = gmad.toolbox_files(idx, pq, summary, ds.type_order())
    import io

    vec = loadmat(io.BytesIO(files["gmad/m/gmad_scores.mat"]))["gmad"][:, 0]
    score_of = dict(zip(ids, pq.scores["m"]))
    expected = ["pristine_images/00001.bmp"] + [f"distorted_images/{t}/{lv}/00001.bmp" for t in range(1, 5) for lv in range(1, 6)]
    assert vec[:21].tolist() == [score_of[i] for i in expected]
    assert summary["toolbox"]["order"].startswith("per pristine image in sorted order: pristine, then jp2k, jpeg, wn, gblur")


# -- AGIQA-3K: prompt groups --------------------------------------------------------------------
def test_agiqa3k_layouts_labels_and_prompts(tmp_path):
    from tests.fixtures.dataset_fixtures import AGIQA_ABSENT, AGIQA_PROMPTS

    idx = {
        lay: dataset("agiqa3k", build("agiqa3k", tmp_path / lay, layout=lay)).index()
        for lay in ("flat", "images", "img")
    }
    flat = idx["flat"]
    for lay in ("images", "img"):  # the same ids, labels and prompts whichever folder holds the images
        assert idx[lay][["image_id", "score", "ref"]].equals(flat[["image_id", "score", "ref"]])
        assert idx[lay]["path"].iloc[0] == str(tmp_path / lay / "AGIQA-3K" / lay / "AttnGAN_normal_000.jpg")
    assert flat["path"].iloc[0] == str(tmp_path / "flat" / "AGIQA-3K" / "AttnGAN_normal_000.jpg")
    assert flat["image_id"].iloc[0] == "AttnGAN_normal_000.jpg" and AGIQA_ABSENT not in set(flat["image_id"])
    # ref = the prompt, quoted commas included: each prompt groups its generators' images
    assert sorted(flat["ref"].unique()) == sorted(p[0] for p in AGIQA_PROMPTS)
    assert flat.set_index("image_id").loc["DALLE2_normal_007.jpg", "ref"] == AGIQA_PROMPTS[7][0]
    assert flat["ref_path"].isna().all() and flat["dist_type"].isna().all()
    raw = pd.read_csv(tmp_path / "flat" / "AGIQA-3K" / "data.csv")
    assert np.allclose(flat["score"], raw["mos_quality"])
    fx = build("agiqa3k", tmp_path / "align")
    ds = dataset("agiqa3k", fx, label="mos_align")
    assert np.allclose(ds.index()["score"], raw["mos_align"]) and ds.score_spec.higher_better
    assert (
        registry.datasets.get("agiqa3k").default_label is None
        and dataset("agiqa3k", fx).label == "mos_quality"
    )


def test_agiqa3k_splits_keep_each_prompt_in_one_part(tmp_path):
    fx = build("agiqa3k", tmp_path)
    ds = dataset("agiqa3k", fx)
    idx = ds.index()
    splits = ds.splits(seed=3)
    assert "by reference" in splits.source and splits.meta["n_groups"] == 8
    prompt_of = dict(zip(idx["image_id"], idx["ref"]))
    for k in range(len(splits)):
        parts = [{prompt_of[i] for i in part} for part in splits.parts(k)]
        assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    # split=image: an ARNIQA-style split by image; no content grouping is claimed
    by_image = dataset("agiqa3k", fx, split="image")
    assert by_image.index()["ref"].isna().all() and not by_image.split_by_reference
    splits = by_image.splits(seed=3)
    assert "by image" in splits.source and splits.meta["n_groups"] == fx.n_images
    crossed = [
        k
        for k in range(len(splits))
        if len({prompt_of[i] for i in splits.part(k, "test")}) < len(splits.part(k, "test"))
        or {prompt_of[i] for i in splits.part(k, "train")} & {prompt_of[i] for i in splits.part(k, "test")}
    ]
    assert crossed  # prompts do cross parts in an image split
    with pytest.raises(IQABenchError, match="option 'split' must be one of prompt, image, got 'random'"):
        dataset("agiqa3k", fx, split="random").index()


def test_agiqa3k_rows_without_a_prompt_or_name_are_refused(tmp_path):
    fx = build(
        "agiqa3k", tmp_path / "a", edit=lambda recs: [*recs[:2], {**recs[2], "prompt": " "}, *recs[3:]]
    )
    with pytest.raises(
        IQABenchError, match=r"data.csv' line 4: image 'AttnGAN_normal_002.jpg' has no prompt.*split=image"
    ):
        dataset("agiqa3k", fx).index()
    assert (
        len(dataset("agiqa3k", fx, split="image").index()) == fx.n_images
    )  # not needed when splitting by image
    fx = build(
        "agiqa3k",
        tmp_path / "b",
        edit=lambda recs: [{**recs[0], "name": "../AttnGAN_normal_000.jpg"}, *recs[1:]],
    )
    with pytest.raises(
        IQABenchError, match=r"data.csv' line 2: name '../AttnGAN_normal_000.jpg' is not an image file name"
    ):
        dataset("agiqa3k", fx).index()


# -- PIPAL: release and pyiqa layouts -----------------------------------------------------------
def test_pipal_layouts_agree(tmp_path):
    from iqabench.datasets import pipal

    idx = {
        lay: dataset("pipal", build("pipal", tmp_path / lay, layout=lay)).index()
        for lay in ("release", "nested", "pyiqa")
    }
    crlf = dataset("pipal", build("pipal", tmp_path / "crlf", crlf=True)).index()
    release = idx["release"]
    for other in (idx["nested"], idx["pyiqa"], crlf):
        assert other[["image_id", "score", "ref", "dist_type"]].equals(
            release[["image_id", "score", "ref", "dist_type"]]
        )
    first = release.iloc[0]
    assert (first["image_id"], first["ref"], first["dist_type"], first["dist_group"]) == (
        "Distortion_1/A0001_00_00.bmp",
        "A0001",
        "trad",
        None,
    )
    assert first["ref_path"] == str(tmp_path / "release" / "PIPAL" / "Train_Ref" / "A0001.bmp")
    row = release.set_index("image_id")
    assert row.loc["Distortion_3/A0121_06_26.bmp", "dist_type"] == "sr_denoising"
    assert row.loc["Distortion_4/A0248_03_23.bmp", "path"] == str(
        tmp_path / "release" / "PIPAL" / "Distortion_4" / "A0248_03_23.bmp"
    )
    nested = idx["nested"].set_index("image_id")
    assert nested.loc["Distortion_2/A0060_01_15.bmp", "path"].endswith(
        "PIPAL/Distortion/Distortion_2/A0060_01_15.bmp"
    )
    assert idx["pyiqa"]["path"].iloc[0] == str(tmp_path / "pyiqa" / "PIPAL" / "Dist_Imgs" / "A0001_00_00.bmp")
    lines = (tmp_path / "release" / "PIPAL" / "Train_Label" / "A0001.txt").read_text().splitlines()
    assert np.allclose(release["score"].iloc[:4], [float(x.split(",")[1]) for x in lines])
    assert registry.datasets.get("pipal").labels["elo"].higher_better
    assert sum(n for _, n in pipal.TYPES.values()) == 116
    assert [pipal.release_folder(n) for n in (1, 59, 60, 120, 121, 184, 185, 248, 249, 0)] == [
        "Distortion_1",
        "Distortion_1",
        "Distortion_2",
        "Distortion_2",
        "Distortion_3",
        "Distortion_3",
        "Distortion_4",
        "Distortion_4",
        None,
        None,
    ]


def test_pipal_label_files_are_checked_against_the_references(cli, tmp_path):
    # a line filed under another reference's label file
    fx = build(
        "pipal", tmp_path / "a", edit=lambda recs: [*recs[:5], {**recs[5], "hq_name": "A0001.bmp"}, *recs[6:]]
    )
    with pytest.raises(
        IQABenchError,
        match=r"A0001.txt' line 5: image 'A0003_01_15.bmp' is listed under reference 'A0001.bmp' \(Train_Label file\)",
    ):
        dataset("pipal", fx).index()
    # a name outside the training part (type 07; a distortion index past its type's count)
    for bad in ("A0001_07_00.bmp", "A0001_02_10.bmp", "A0249_00_00.bmp"):
        fx = build(
            "pipal", tmp_path / bad, edit=lambda recs, bad=bad: [{**recs[0], "dist_name": bad}, *recs[1:]]
        )
        with pytest.raises(
            IQABenchError, match=rf"A0001.txt' line 1: '{bad}' is not one of PIPAL's training images"
        ):
            dataset("pipal", fx).index()
    # a reference image whose label file is missing: an annotation problem naming the file
    fx = build("pipal", tmp_path / "b")
    (fx.root / "Train_Label" / "A0060.txt").unlink()
    r = cli("datasets", "check", "pipal", "--data-root", str(fx.data_root))
    assert (
        r.code == 1
        and f"annotation: annotation file '{fx.root / 'Train_Label' / 'A0060.txt'}' does not exist" in r.out
    )
    # no labels in either layout
    for path in fx.annotations:
        path.unlink(missing_ok=True)
    (fx.root / "Train_Label").rmdir()
    with pytest.raises(
        IQABenchError,
        match=r"no labels under .*PIPAL': neither Train_Label/ \(the release\) nor meta_info_PIPALDataset.csv",
    ):
        dataset("pipal", fx).index()
