"""Broken copies are refused loudly: one-line IQABenchErrors naming the file, row or id, and
`datasets check` lists every problem and exits 1."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from PIL import Image

from iqabench import registry
from iqabench.errors import IQABenchError
from iqabench.images import ImageError, load_rgb
from tests.fixtures.dataset_fixtures import build, first_indexed_record, install, nan_value

ANNOTATED = [
    ("live", {"layout": "mat"}),
    ("live", {"layout": "txt"}),
    ("csiq", {"layout": "xlsx"}),
    ("csiq", {"layout": "txt"}),
    ("tid2013", {}),
    ("kadid10k", {}),
    ("koniq10k", {}),
    ("spaq", {}),
    ("flive", {}),
    ("clive", {}),
    ("agiqa3k", {}),
    ("pipal", {"layout": "release"}),
    ("pipal", {"layout": "pyiqa"}),
]
ALL = [*ANNOTATED, ("kadis700k", {}), ("waterloo", {})]


def ids(variants):
    return [f"{n}-{kw['layout']}" if kw else n for n, kw in variants]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))


def check(cli, name, fx):
    r = cli("datasets", "check", name, "--data-root", str(fx.data_root))
    assert r.code == 1, r
    assert r.out.strip().splitlines()[-1].startswith(f"{name}: BROKEN"), r
    return [line for line in r.out.splitlines() if not line.startswith(("count: ", f"{name}: "))]


def load(name, fx, **kw):
    return registry.datasets.get(name)(root=fx.data_root, **kw).index()


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# -- annotation files ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", ANNOTATED, ids=ids(ANNOTATED))
def test_missing_annotation_file(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path / "data", monkeypatch, **kw)
    gone = fx.annotations[0]
    gone.unlink()
    lines = check(cli, name, fx)
    assert lines and lines[0].startswith("annotation: ") and gone.name in lines[0], lines
    with pytest.raises(IQABenchError) as exc:
        load(name, fx, **({"split": "random"} if name == "flive" else {}))
    assert gone.name in one_line(exc)


RENAMED = {
    "live-mat": (
        {"rename": {"dmos_new": "dmos_realigned"}},
        r"lacks variable\(s\) dmos_new \(variables: dmos_realigned",
    ),
    "live-txt": (
        {"rename": {"score": "dmos"}},
        r"LIVE.txt' lacks column\(s\) score \(columns: dis_img_path, dis_type",
    ),
    "csiq-xlsx": (
        {"rename": {"dmos": "DMOS"}},
        r"csiq.DMOS.xlsx' sheet 'all_by_image' lacks column\(s\) dmos \(columns: image, dst_idx",
    ),
    "csiq-txt": ({"rename": {"score": "mos"}}, r"CSIQ.txt' lacks column\(s\) score"),
    "tid2013": (
        {"edit": lambda recs: [{"name": r["name"], "mos": r["mos"]} for r in recs]},  # columns swapped
        r"mos_with_names.txt' line 1: 'i01_01_1.bmp' is not|mos_with_names.txt' line 1: '[0-9.]+' does not follow",
    ),
    "kadid10k": (
        {"rename": {"dmos": "mos"}},
        r"dmos.csv' lacks column\(s\) dmos \(columns: dist_img, ref_img, mos, var\)",
    ),
    "koniq10k": ({"rename": {"MOS": "mos"}}, r"koniq10k_scores_and_distributions.csv' lacks column\(s\) MOS"),
    "spaq": ({"rename": {"MOS": "Mos"}}, r"MOS and Image attribute scores.xlsx' lacks column\(s\) MOS"),
    "flive": ({"rename": {"mos": "MOS"}}, r"labels_image.csv' lacks column\(s\) mos \(columns: name, MOS\)"),
    "clive": (
        {"rename": {"AllMOS_release": "AllMOS"}},
        r"AllMOS_release.mat' lacks variable\(s\) AllMOS_release",
    ),
    "agiqa3k": ({"rename": {"mos_quality": "mos"}}, r"data.csv' lacks column\(s\) mos_quality \(columns: name, prompt"),
    "pipal-release": (
        {"edit": lambda recs: [{**r, "dist_name": r["elo"], "elo": r["dist_name"]} for r in recs]},  # fields swapped
        r"A0001.txt' line 1: '[0-9.]+' does not follow the PIPAL naming A<ref>_<type>_<index>.bmp",
    ),
    "pipal-pyiqa": (
        {"rename": {"elo_score": "elo"}},
        r"meta_info_PIPALDataset.csv' lacks column\(s\) elo_score \(columns: hq_name, dist_name, elo\)",
    ),
}


@pytest.mark.parametrize("name,kw", ANNOTATED, ids=ids(ANNOTATED))
def test_wrong_or_renamed_columns(cli, tmp_path, monkeypatch, name, kw):
    key = f"{name}-{kw['layout']}" if kw else name
    change, pattern = RENAMED[key]
    fx = install(name, tmp_path / "data", monkeypatch, **kw, **change)
    with pytest.raises(IQABenchError) as exc:
        load(name, fx)
    assert re.search(pattern, one_line(exc)), str(exc.value)
    lines = check(cli, name, fx)
    assert len(lines) == 1 and lines[0].startswith("index: ") and re.search(pattern, lines[0]), lines


def test_tid2013_line_with_wrong_fields(tmp_path):
    fx = build("tid2013", tmp_path, edit=lambda recs: [*recs[:3], {**recs[3], "std": "0.1"}, *recs[4:]])
    with pytest.raises(
        IQABenchError,
        match=r"mos_with_names.txt' line 4: expected '<mos> <file name>', got '[0-9.]+ i01_08_5.bmp 0.1'",
    ):
        load("tid2013", fx)


def test_live_mat_files_of_a_different_release_are_refused(tmp_path, monkeypatch):
    fx = install("live", tmp_path, monkeypatch, edit=lambda recs: recs[:-1])
    with pytest.raises(
        IQABenchError,
        match=r"dmos_realigned.mat' variable 'dmos_new' has 32 entries; LIVE Release 2 lists 33",
    ):
        load("live", fx)


# -- labels ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", ANNOTATED, ids=ids(ANNOTATED))
def test_nan_or_non_numeric_label(cli, tmp_path, monkeypatch, name, kw):
    probe = build(name, tmp_path / "probe", **kw)
    row = first_indexed_record(name)
    bad = nan_value(probe)
    key = probe.label_key

    # An empty cell where the format has cells; "NaN" text in TID2013's space-separated lines.
    missing = math.nan if not probe.text_labels else ("NaN" if name == "tid2013" else "")

    def damage(recs):
        recs[row][key] = bad
        recs[row + 3][key] = missing  # row + 3: not a LIVE reference copy (those are dropped)
        return recs

    fx = install(name, tmp_path / "data", monkeypatch, edit=damage, **kw)
    first = "label 'abc' is not a number" if probe.text_labels else "label is missing (NaN)"
    with pytest.raises(IQABenchError) as exc:
        load(name, fx)
    text = one_line(exc)
    assert text.startswith(f"dataset {name!r}: ") and first in text and "and 1 more problem(s)" in text, text
    assert fx.annotations[0].name in text
    lines = check(cli, name, fx)
    labels = [x for x in lines if x.startswith("label: ")]
    assert len(labels) == 2 and first in labels[0] and "label is missing" in labels[1], lines
    assert fx.annotations[0].name in labels[0] and "(image '" in labels[0]


def test_csiq_workbook_errors_name_the_spreadsheet_row(cli, tmp_path, monkeypatch):
    def damage(recs):
        recs[5]["dst_type"] = "ringing"  # the sixth data row: spreadsheet row 10 (header in row 4)
        return recs

    fx = install("csiq", tmp_path, monkeypatch, edit=damage)
    with pytest.raises(IQABenchError, match=r"csiq.DMOS.xlsx' sheet 'all_by_image' row 10: unknown dst_type 'ringing'"):
        load("csiq", fx)
    fx = install("csiq", tmp_path / "b", monkeypatch, edit=lambda recs: [{**recs[0], "dmos": "n/a"}, *recs[1:]])
    lines = check(cli, "csiq", fx)
    assert lines == [
        f"label: '{fx.annotations[0]}' sheet 'all_by_image' row 5 (image 'dst_imgs/awgn/1600.AWGN.1.png'): "
        "label is missing"
    ], lines


def test_labels_outside_the_nominal_range_are_reported(cli, tmp_path, monkeypatch):
    def damage(recs):
        recs[0]["dmos"] = 7.5  # a 1-5 label file holding a 0-9 value
        return recs

    fx = install("kadid10k", tmp_path, monkeypatch, edit=damage)
    lines = check(cli, "kadid10k", fx)
    assert lines == [
        f"label: '{fx.annotations[0]}' line 2 (image 'images/I01_01_01.png'): mos 7.5 is outside 1..5"
    ]
    assert load("kadid10k", fx)["score"].iloc[0] == 7.5  # loads: the range is a check, not a refusal


def test_live_realigned_dmos_may_leave_0_100(cli, tmp_path, monkeypatch):
    def damage(recs):
        recs[0]["dmos_new"] = -2.64  # observed in the release
        recs[1]["dmos_new"] = 130.0  # not plausible
        return recs

    fx = install("live", tmp_path, monkeypatch, edit=damage, complete=True)
    lines = check(cli, "live", fx)
    assert len(lines) == 1 and "dmos_realigned 130 is outside -5..115" in lines[0], lines


# -- duplicate rows --------------------------------------------------------------------------------
DUPLICABLE = [v for v in ANNOTATED if v != ("live", {"layout": "mat"})]  # LIVE .mat ids come from positions


@pytest.mark.parametrize("name,kw", DUPLICABLE, ids=ids(DUPLICABLE))
def test_duplicate_rows(cli, tmp_path, monkeypatch, name, kw):
    row = first_indexed_record(name)
    fx = install(name, tmp_path / "data", monkeypatch, edit=lambda recs: [*recs, recs[row]], **kw)
    with pytest.raises(IQABenchError) as exc:
        load(name, fx)
    text = one_line(exc)
    assert "repeats image" in text and fx.annotations[0].name in text, text
    lines = check(cli, name, fx)
    assert len(lines) == 1 and lines[0].startswith("duplicate: ") and "(first at " in lines[0], lines


# -- images ----------------------------------------------------------------------------------------
def _assert_image_problem(cli, name, fx, path, reason):
    lines = check(cli, name, fx)
    assert lines == [f"image: image '{path}': {reason}"] or (
        len(lines) == 1 and lines[0].startswith(f"image: image '{path}': ") and re.search(reason, lines[0])
    ), lines
    with pytest.raises(ImageError) as exc:
        load_rgb(path)
    assert str(path) in one_line(exc)


@pytest.mark.parametrize(
    "name,kw", [v for v in ALL if v[0] != "kadis700k"], ids=ids([v for v in ALL if v[0] != "kadis700k"])
)
def test_missing_image(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path, monkeypatch, **kw)
    victim = fx.image_paths[1]
    victim.unlink()
    _assert_image_problem(cli, name, fx, victim, "file does not exist")


def test_check_names_a_deleted_and_a_corrupt_image_together(cli, tmp_path, monkeypatch):
    fx = install("kadid10k", tmp_path, monkeypatch)
    deleted, corrupt = fx.image_paths[1], fx.image_paths[2]
    deleted.unlink()
    corrupt.write_bytes(b"not an image at all" * 100)
    lines = check(cli, "kadid10k", fx)  # exit code 1, BROKEN summary
    assert any(str(deleted) in x and "does not exist" in x for x in lines)
    assert any(str(corrupt) in x and "not a readable image" in x for x in lines)
    assert len(lines) == 2


def test_missing_image_of_a_pool_read_from_its_folder(cli, tmp_path, monkeypatch):
    # KADIS-700k has no annotation file: its index is the folder listing, so a lost file shows as a count.
    fx = install("kadis700k", tmp_path, monkeypatch, complete=True)
    fx.image_paths[1].unlink()
    r = cli("datasets", "check", "kadis700k", "--data-root", str(fx.data_root))
    assert r.code == 1 and "count: the copy lists 5 images; a complete copy has 6" in r.out.splitlines()


@pytest.mark.parametrize("name,kw", ALL, ids=ids(ALL))
def test_truncated_image(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path, monkeypatch, **kw)
    victim = fx.image_paths[2]
    data = victim.read_bytes()
    victim.write_bytes(data[: int(len(data) * 0.6)])
    _assert_image_problem(cli, name, fx, victim, r"[Tt]runcated")


@pytest.mark.parametrize("name,kw", ALL, ids=ids(ALL))
def test_corrupt_image(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path, monkeypatch, **kw)
    victim = fx.image_paths[0]
    victim.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    _assert_image_problem(cli, name, fx, victim, "not a readable image")


@pytest.mark.parametrize("name,kw", ALL, ids=ids(ALL))
def test_greyscale_image_is_converted_and_counted_not_refused(cli, tmp_path, monkeypatch, name, kw):
    fx = install(name, tmp_path, monkeypatch, complete=True, **kw)
    victim = fx.image_paths[3]
    Image.open(victim).convert("L").save(victim)
    r = cli("datasets", "check", name, "--data-root", str(fx.data_root))
    assert r.code == 0, r
    (line,) = [x for x in r.out.splitlines() if x.startswith("conversions: ")]
    mode = Image.open(victim).mode  # L (BMP keeps a grey palette as P where Pillow reads it so)
    assert line == f"conversions: 1 image file(s) converted to 8-bit RGB with PIL convert('RGB'): 1 {mode}"
    assert np.array_equal(np.asarray(load_rgb(victim)), np.asarray(Image.open(victim).convert("RGB")))


def test_case_tolerant_dataset_reports_the_folder_found(cli, tmp_path, monkeypatch):
    fx = install("csiq", tmp_path, monkeypatch, layout="txt")
    victim = fx.image_paths[0]  # dst_imgs/AWGN/1600.AWGN.1.png
    victim.unlink()
    lines = check(cli, "csiq", fx)
    assert lines == [f"image: image '{victim}': file does not exist"]


# -- roots -----------------------------------------------------------------------------------------
OTHER = {
    "live": "csiq",
    "csiq": "tid2013",
    "tid2013": "kadid10k",
    "kadid10k": "koniq10k",
    "koniq10k": "spaq",
    "spaq": "flive",
    "flive": "clive",
    "clive": "kadis700k",
    "kadis700k": "waterloo",
    "waterloo": "live",
    "agiqa3k": "pipal",
    "pipal": "agiqa3k",
}


@pytest.mark.parametrize("name", list(OTHER))
def test_root_holding_a_different_dataset(cli, tmp_path, name):
    other = build(OTHER[name], tmp_path)
    r = cli("datasets", "check", name, "--data-root", str(other.root))
    assert r.code == 1
    line = next(x for x in r.out.splitlines() if x.startswith("root: "))
    assert line.startswith(f"root: dataset {name!r} not found under data root '{other.root}' (looked for ")
    assert line.endswith(f"'{other.root}' holds a {OTHER[name]!r} copy, not {name!r}"), line
    with pytest.raises(IQABenchError, match=f"holds a {OTHER[name]!r} copy"):
        registry.datasets.get(name)(root=other.root).index()
    r = cli("datasets", "describe", name, "--data-root", str(other.root))
    assert r.code == 1 and f"holds a {OTHER[name]!r} copy" in r.err and len(r.err.strip().splitlines()) == 1


def test_conventional_folder_names_any_case(tmp_path):
    fx = build("kadid10k", tmp_path)
    fx.root.rename(tmp_path / "kadid-10K")
    idx = registry.datasets.get("kadid10k")(root=tmp_path).index()
    assert len(idx) == 60 and idx["path"].iloc[0].startswith(str(tmp_path / "kadid-10K"))


def test_missing_data_root_and_options(cli, tmp_path):
    r = cli("datasets", "check", "kadid10k")
    assert r.code == 1 and "needs a data root: pass --data-root DIR or set IQABENCH_DATA" in r.out
    r = cli("datasets", "check", "kadid10k", "--data-root", str(tmp_path / "nowhere"))
    assert r.code == 1 and "is not a directory" in (r.out + r.err)
    r = cli(
        "datasets",
        "describe",
        "flive",
        "--dataset-option",
        "split=sometimes",
        "--data-root",
        str(build("flive", tmp_path).data_root),
    )
    assert r.code == 1 and "option 'split' must be one of official, random, got 'sometimes'" in r.err
    r = cli("datasets", "describe", "flive", "--dataset-option", "nosuch=1")
    assert r.code == 1 and "has no option 'nosuch'" in r.err
    r = cli("datasets", "describe", "flive", "--dataset-option", "oops")
    assert r.code == 1 and "--dataset-option expects KEY=VALUE" in r.err
