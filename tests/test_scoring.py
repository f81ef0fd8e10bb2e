"""Saved quality models and `iqabench score`: the scores a run predicted, on any image, without pickle."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PLUGIN = str(Path(__file__).with_name("protocol_plugins.py"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo_root):
    """within_dataset runs on the first 6 demo references: BRISQUE (its SVR) and tiny-stats (ridge)."""
    from iqabench.cli import main

    out = tmp_path_factory.mktemp("score") / "runs"
    for method in ("brisque", "tiny-stats"):
        try:
            main(["--quiet", "run", "--plugin", PLUGIN, "-m", method, "-p", "within_dataset", "-d", "demo-few",
                  "--runs", str(out / method)])
        except SystemExit as exc:
            assert exc.code in (0, None)
    return {m: next((out / m).iterdir()) for m in ("brisque", "tiny-stats")}


def _test_images(run: Path, k: int) -> tuple[list[str], np.ndarray]:
    preds = pd.read_csv(run / "predictions.csv")
    part = preds[preds["split"] == k]
    from iqabench import registry

    index = registry.datasets.get("demo-few")().index().set_index("image_id")
    return [index.loc[i, "path"] for i in part["image_id"]], part["prediction"].to_numpy()


@pytest.mark.parametrize("method, k", [("brisque", 3), ("tiny-stats", 7)])
def test_split_model_reproduces_the_runs_predictions(cli, runs, method, k, tmp_path):
    paths, expected = _test_images(runs[method], k)
    out = tmp_path / "scores.csv"
    r = cli("score", "--plugin", PLUGIN, "-m", method, "--model", str(runs[method]), "--split", str(k),
            *paths, "--out", str(out))
    assert r.code == 0, r
    assert f"split {k}'s model" in r.err
    got = pd.read_csv(out)
    assert got["image"].tolist() == paths
    assert np.allclose(got["score"].to_numpy(), expected, rtol=0, atol=1e-9)
    assert set(got["higher_better"]) == {False} and got["scale"].iloc[0].startswith("demo-few pseudo_dmos")


def test_without_a_split_the_final_model_is_used_and_said(cli, runs, tmp_path):
    paths, _ = _test_images(runs["brisque"], 1)
    r = cli("score", "-m", "brisque", "--model", str(runs["brisque"]), *paths[:3], "--format", "json")
    assert r.code == 0, r
    assert "the final model refitted on all images" in r.err
    data = json.loads(r.out)
    assert len(data["scores"]) == 3 and data["higher_better"] is False
    meta = json.loads(str(np.load(runs["brisque"] / "models" / "all.npz", allow_pickle=False)["meta"]))
    assert meta["trained_on"]["images"] == "every image of the dataset" and meta["family"] == "svr"
    assert meta["trained_on"]["split_set"] == "generated" and len(meta["trained_on"]["splits_sha256"]) == 64


def test_python_scorer_takes_paths_pil_images_and_tensors(runs):
    import torch
    from PIL import Image

    import iqabench

    paths, _ = _test_images(runs["tiny-stats"], 2)
    iqabench.registry.load_plugin_file(PLUGIN)
    score = iqabench.scorer(method="tiny-stats", model=runs["tiny-stats"])
    by_path = score(paths[:2])
    img = Image.open(paths[0]).convert("RGB")
    tensor = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255)
    assert np.allclose(score(img), by_path[:1]) and np.allclose(score(tensor), by_path[:1])
    assert score.higher_better is False and score.label["dataset"] == "demo-few"


def test_a_model_refuses_another_methods_features(cli, runs):
    paths, _ = _test_images(runs["brisque"], 1)
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-stats", "--model", str(runs["brisque"]), paths[0])
    assert r.code == 1 and "was fitted on the features of BRISQUE" in r.err and "not of tiny-stats" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_tampered_model_files_fail_in_one_line(cli, runs, tmp_path):
    paths, _ = _test_images(runs["tiny-stats"], 1)
    with np.load(runs["tiny-stats"] / "models" / "all.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    cases = {
        "shape": {**arrays, "coef": arrays["coef"][:-1]},
        "missing": {k: v for k, v in arrays.items() if k != "intercept"},
        "nan": {**arrays, "coef": np.full_like(arrays["coef"], np.nan)},
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **content)
        r = cli("score", "--plugin", PLUGIN, "-m", "tiny-stats", "--model", str(path), paths[0])
        assert r.code == 1 and str(path) in r.err and len(r.err.strip().splitlines()) == 1, (name, r)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": "x"}], dtype=object), coef=arrays["coef"])
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-stats", "--model", str(pickled), paths[0])
    assert r.code == 1 and "without pickle" in r.err
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-stats", "--model", str(tmp_path / "none.npz"), paths[0])
    assert r.code == 1 and "does not exist" in r.err


def test_score_methods_need_no_model_and_inputs_expand(cli, demo_root, tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs" / "deeper"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (120, 130, 3), dtype=np.uint8)).save(folder / f"i{k}.png")
    (folder / "notes.txt").write_text("not an image")
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-sharp", str(tmp_path / "imgs"))
    assert r.code == 0, r
    frame = pd.read_csv(io.StringIO(r.out))
    assert len(frame) == 3 and set(frame["higher_better"]) == {False} and frame["scale"].iloc[0] == "tiny-sharp score"
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-sharp", str(tmp_path / "imgs" / "**" / "*.png"))
    assert r.code == 0 and len(pd.read_csv(io.StringIO(r.out))) == 3
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-sharp", "--model", "x", str(folder / "i0.png"))
    assert r.code == 1 and "takes no --model" in r.err
    r = cli("score", "-m", "brisque", str(folder / "i0.png"))
    assert r.code == 1 and "give --model" in r.err
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-sharp", str(tmp_path / "nothing.png"))
    assert r.code == 1 and "does not exist" in r.err
    (folder / "bad.png").write_bytes(b"not a png")
    r = cli("score", "--plugin", PLUGIN, "-m", "tiny-sharp", "--on-error", "skip", str(folder))
    assert r.code == 0 and "skipped 1 image(s)" in r.err and len(pd.read_csv(io.StringIO(r.out))) == 3


def test_report_provenance_links_the_saved_models(runs, tmp_path):
    import os

    from iqabench.reports.html import write_report

    out = tmp_path / "report.html"
    write_report(runs["brisque"].parent, out)
    text = out.read_text()
    href = os.path.relpath(runs["brisque"] / "models" / "all.npz", tmp_path)
    assert f'<a href="{href}">models/all.npz</a>' in text and "models/split_10.npz" in text
