"""Every invalid input refused before the work starts, with one line naming it; nothing wrong exits 0 silently."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from iqabench import registry

PLUGIN = Path(__file__).with_name("protocol_plugins.py")

CONST_PLUGIN = '''
import torch

from iqabench import Method, Views, register_method


@register_method("const-score")
class ConstScore(Method):
    description = "test method: the same score for every image"
    kind = "scores"
    views = Views(crops=0)

    def extract(self, batch):
        return torch.ones(len(batch))
'''


@pytest.fixture(scope="module")
def plugins():
    return registry.load_plugin_file(PLUGIN)


@pytest.fixture
def synth(plugins, tmp_path, monkeypatch):
    monkeypatch.setenv("IQABENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    plugins.make_synth(root / "synth-mos", 6, 1, lower_better=False)
    return root


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _run(cli, synth, runs, *extra, method="tiny-stats"):
    return cli("run", "--plugin", str(PLUGIN), "-m", method, "-p", "within_dataset", "-d", "synth-mos",
               "--data-root", str(synth), "--runs", str(runs), *extra)


def _edit_index(synth: Path, edit) -> None:
    path = synth / "synth-mos" / "index.csv"
    frame = pd.read_csv(path)
    edit(frame)
    frame.to_csv(path, index=False)


def _result(runs: Path) -> dict:
    [path] = list(runs.rglob("result.json"))
    return json.loads(path.read_text())


def test_skipped_images_are_named_at_the_end_and_recorded(cli, synth, tmp_path):
    broken = synth / "synth-mos" / "images" / "r02_3.png"
    broken.write_bytes(broken.read_bytes()[:200])  # truncated
    runs = tmp_path / "runs"
    r = _run(cli, synth, runs, "--on-error", "skip")
    assert r.code == 0, r
    last = r.err.strip().splitlines()[-1]
    assert "1 image(s) skipped (--on-error skip)" in last and "'images/r02_3.png'" in last, r.err
    assert "not comparable with published numbers" in last
    result = _result(runs)
    assert result["images"]["failed"] == 1
    assert [(d["kind"], d["count"], d["first"]) for d in result["deviations"]] == [
        ("skipped_images", 1, ["images/r02_3.png"])
    ]


def test_labels_outside_the_nominal_range_are_warned_and_counted(cli, synth, tmp_path):
    def seven_and_a_half(frame):
        frame.loc[4, "score"] = 7.5  # synth-mos labels are 0..1

    _edit_index(synth, seven_and_a_half)
    runs = tmp_path / "runs"
    r = _run(cli, synth, runs)
    assert r.code == 0, r
    assert "1 label(s) outside 0..1" in r.err and "'images/r00_5.png', 7.5" in r.err, r.err
    result = _result(runs)
    assert result["datasets"][0]["labels_out_of_range"]["count"] == 1
    assert [d["kind"] for d in result["deviations"]] == ["labels_out_of_range"]


def test_annotation_row_leaving_the_dataset_folder_is_refused(cli, synth, tmp_path):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes((synth / "synth-mos" / "images" / "r00_1.png").read_bytes())

    def escape(frame):
        frame.loc[0, "image_id"] = "../../elsewhere.png"

    _edit_index(synth, escape)
    runs = tmp_path / "runs"
    r = _run(cli, synth, runs)
    assert r.code == 1, r
    line = _one_line(r.err)
    assert "row '../../elsewhere.png' names a file outside the dataset folder" in line, line
    assert str(synth / "synth-mos") in line
    assert not runs.exists() or not list(runs.rglob("result.json"))


def test_bad_runs_folder_fails_before_any_work(cli, synth, tmp_path):
    from iqabench.errors import IQABenchError
    from iqabench.runner import DatasetSpec, MethodSpec, execute

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    runs = blocker / "runs"  # cannot be created
    r = _run(cli, synth, runs)
    assert r.code == 1, r
    assert f"--runs {str(runs)!r} is not a writable folder" in _one_line(r.err)
    assert not (tmp_path / "cache").exists()  # no feature was extracted
    with pytest.raises(IQABenchError, match="is a file, not a folder"):  # the API checks it too
        execute([MethodSpec("tiny-stats")], "within_dataset", [DatasetSpec("synth-mos")], data_root=str(synth),
                runs_dir=blocker)
    assert not (tmp_path / "cache").exists()


# -- item 13: raw messages become named one-liners --------------------------------------------------


@pytest.mark.parametrize(
    "option,value",
    [("--seed", "-1"), ("--batch-size", "0"), ("--workers", "-2")],
)
def test_out_of_range_run_options_are_usage_errors(cli, synth, tmp_path, option, value):
    r = _run(cli, synth, tmp_path / "runs", option, value)
    assert r.code == 2, r
    assert f"Invalid value for '{option}': {value} is not in the range" in r.err
    assert not (tmp_path / "cache").exists()


def test_unknown_device_is_named(cli, synth, tmp_path):
    r = _run(cli, synth, tmp_path / "runs", "--device", "tpu")
    assert r.code == 1
    assert "--device 'tpu' is not a device iqabench runs on" in _one_line(r.err)


def test_text_file_as_weights_is_named(cli, tmp_path):
    text = tmp_path / "ARNIQA.pth"
    text.write_text("e\nthis is not a weights file\n")
    r = cli("run", "-m", "arniqa", "-p", "within_dataset", "-d", "demo", "--weights", str(text),
            "--runs", str(tmp_path / "runs"))
    assert r.code == 1
    assert f"weights file {str(text)!r} is not a PyTorch weights file" in _one_line(r.err)
    protocol4 = tmp_path / "protocol4.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, protocol4, pickle_protocol=4)
    r = cli("run", "-m", "arniqa", "-p", "within_dataset", "-d", "demo", "--weights", str(protocol4),
            "--runs", str(tmp_path / "runs"))
    line = _one_line(r.err)
    assert r.code == 1 and "Unsupported operand" in line and "re-save it with torch.save" in line
    assert "weights_only` set to `False`" not in line  # torch's advice to load unsafely is not passed on


@pytest.mark.parametrize("damage", ["no-summary", "string-srcc"])
def test_report_names_a_damaged_result_file(cli, tmp_path, damage):
    import numpy as np

    from tests.fixtures.report_runs import _dataset, _method, _within

    runs = tmp_path / "runs"
    _within(_method("brisque"), _dataset("live"), 0.8, runs, np.random.default_rng(0))
    [path] = list(runs.rglob("result.json"))
    record = json.loads(path.read_text())
    if damage == "no-summary":
        del record["summary"]
    else:
        record["summary"]["srcc"] = "0.9"
    path.write_text(json.dumps(record))
    r = cli("report", "--runs", str(runs), "--out", str(tmp_path / "report.html"))
    assert r.code == 1
    line = _one_line(r.err)
    assert f"run file {str(path)!r}" in line and ("no 'summary'" in line or "summary.srcc is '0.9', not a number" in line)


def test_brisque_on_a_tiny_image_says_too_small():
    from iqabench.errors import IQABenchError

    method = registry.methods.get("brisque")()
    with pytest.raises(IQABenchError, match=r"image too small for BRISQUE: 8×8 pixels; it needs at least 14×14"):
        method.extract(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)))


def test_folder_in_place_of_an_image_is_named(tmp_path):
    from iqabench.images import ImageError, load_rgb

    folder = tmp_path / "img001.png"
    folder.mkdir()
    with pytest.raises(ImageError, match="a folder, not an image file"):
        load_rgb(folder)


def test_empty_annotation_and_split_files_are_named(cli, tmp_path):
    kadid = tmp_path / "data" / "kadid10k"
    (kadid / "images").mkdir(parents=True)
    (kadid / "dmos.csv").write_text("dist_img,ref_img,dmos,var\n")  # header only
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "kadid10k", "--data-root", str(tmp_path / "data"),
            "--runs", str(tmp_path / "runs"))
    assert r.code == 1
    assert f"dataset 'kadid10k' has no images: its annotation file(s) {str(kadid / 'dmos.csv')!r} list none" in _one_line(r.err)

    empty = tmp_path / "splits.csv"
    empty.write_text("")
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--splits", str(empty),
            "--runs", str(tmp_path / "runs"))
    assert r.code == 1
    assert f"split file {str(empty)!r} is empty" in _one_line(r.err)


def test_library_warnings_do_not_reach_the_user(cli, synth, tmp_path):
    from iqabench.models.arniqa import CHECKPOINT_FORMAT, ARNIQANet

    const = tmp_path / "const.py"
    const.write_text(CONST_PLUGIN)
    net = ARNIQANet("resnet18")
    weights = tmp_path / "resnet18-demo.pt"
    checkpoint = {"format": CHECKPOINT_FORMAT, "model": net.state_dict(),
                  "model_info": {"backbone": "resnet18", "crop_size": 32}}
    torch.save(checkpoint, weights, pickle_protocol=3)  # read fine, but torch warns about the protocol
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        constant = cli("run", "--plugin", str(const), "-m", "const-score", "-p", "within_dataset", "-d", "synth-mos",
                       "--data-root", str(synth), "--runs", str(tmp_path / "runs"))  # every SRCC undefined
        protocol4 = _run(cli, synth, tmp_path / "runs", "--weights", str(weights), method="arniqa")
    assert constant.code == 0 and protocol4.code == 0, (constant, protocol4)
    leaked = [str(w.message) for w in seen if "All-NaN" in str(w.message) or "pickle protocol" in str(w.message)]
    assert not leaked, leaked


def test_other_warnings_are_one_line(caplog):
    from iqabench.cli import quiet_library_warnings

    with warnings.catch_warnings(), caplog.at_level("WARNING", logger="iqabench"):
        warnings.simplefilter("always")
        quiet_library_warnings()
        warnings.warn("An input array is nearly constant;\n the computed correlation may be inaccurate.", UserWarning, stacklevel=1)
    assert [r.getMessage() for r in caplog.records] == [
        "warning: UserWarning: An input array is nearly constant; the computed correlation may be inaccurate."
    ]
