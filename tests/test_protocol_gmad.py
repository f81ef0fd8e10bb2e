"""gmad: pair selection on hand-made scores, a demo run, and the toolbox file on a miniature Waterloo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat

from iqabench import registry

PLUGIN = Path(__file__).with_name("protocol_plugins.py")


@pytest.fixture(scope="module")
def gmad():
    registry.load_plugin_file(PLUGIN)
    return registry.protocols.get("gmad")  # importing the protocol module


def _pairs(gmad, scores, levels=2, binning="quantile", top_k=1):
    import sys

    module = sys.modules[gmad.__module__]
    pairs, bins = module.select_pairs(scores, levels, binning, top_k)
    return {(p["defender"], p["level"], p["rank"]): (p["best_image"], p["worst_image"]) for p in pairs}, bins


SCORES = pd.DataFrame(
    {"A": [1, 2, 3, 4, 5, 6, 7, 8], "B": [0.5, 0.9, 0.1, 0.3, 0.2, 0.8, 0.6, 0.4]},
    index=[f"i{k}" for k in range(8)],
)


def test_pairs_on_a_hand_made_score_table(gmad):
    got, bins = _pairs(gmad, SCORES)
    # A's bins: {i0..i3} (low) and {i4..i7} (high); B attacks: its best and worst image in each.
    # B's bins (median 0.45): {i2, i4, i3, i7} and {i0, i6, i5, i1}; A attacks.
    assert got == {
        ("A", "low", 1): ("i1", "i2"),
        ("A", "high", 1): ("i5", "i4"),
        ("B", "low", 1): ("i7", "i2"),
        ("B", "high", 1): ("i6", "i0"),
    }
    assert bins["A"]["sizes"] == [4, 4] and bins["B"]["edges"][1] == pytest.approx(0.45)


def test_top_k_and_uniform_binning(gmad):
    got, _ = _pairs(gmad, SCORES, top_k=2)
    assert got[("A", "low", 1)] == ("i1", "i2") and got[("A", "low", 2)] == ("i0", "i3")
    skewed = SCORES.assign(A=[1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 10.0])
    got, bins = _pairs(gmad, skewed, binning="uniform")
    assert bins["A"]["sizes"] == [7, 1]  # edges 1, 5.5, 10: the high level holds one image, so no pair
    assert ("A", "high", 1) not in got and got[("A", "low", 1)] == ("i1", "i2")


def test_gmad_on_the_demo_with_pristine_images(cli, demo_root, tmp_path):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "brisque", "-m", "niqe", "-p", "gmad", "-d", "demo-few",
            "--dataset-option", "pristine=true", "--dataset-option", "types=jpeg,darken",
            "--protocol-option", "regressor_dataset=demo-few",
            "--dataset-option", "regressor_dataset:types=jpeg,darken", "--runs", str(runs))
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    result = json.loads((run / "result.json").read_text())
    assert result["summary"]["n_pool"] == 66 and result["summary"]["n_pairs"] == 4
    assert result["summary"]["regressors"]["brisque"]["n_train_images"] == 60
    assert "niqe" not in result["summary"]["regressors"]
    pairs = pd.read_csv(run / "pairs.csv")
    assert sorted(zip(pairs["defender"], pairs["level"])) == [
        ("brisque", "high"), ("brisque", "low"), ("niqe", "high"), ("niqe", "low")]
    scores = pd.read_csv(run / "scores.csv")
    assert len(scores) == 66 and (scores["level"] == 0).sum() == 6
    for p in pairs.itertuples():  # the defender rates both images within its bin
        d = scores.set_index("image_id")[f"score_{p.defender}"]
        assert p.bin_low <= d[p.best_image] <= p.bin_high and p.bin_low <= d[p.worst_image] <= p.bin_high
        assert (run / p.best_file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (run / p.worst_file).is_file()
    assert json.loads((run / "gmad_pairs.json").read_text())["pairs"][0]["attacker_gap"] >= 0
    assert not list(run.rglob("*.mat"))  # the toolbox file is for the Waterloo pool only


def test_waterloo_pool_writes_the_toolbox_vector(cli, tmp_path):
    plugins = registry.load_plugin_file(PLUGIN)
    data = tmp_path / "data"
    plugins.make_synth(data / "synth-mos", 6, 1, lower_better=False)
    plugins.make_waterloo(data, n_pristine=3)
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "tiny-stats", "-m", "tiny-sharp", "-p", "gmad", "-d", "waterloo",
            "--protocol-option", "regressor_dataset=synth-mos", "--data-root", str(data), "--runs", str(runs),
            "--no-cache")
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    scores = pd.read_csv(run / "scores.csv").set_index("image_id")
    expected = []
    for k in ("00001", "00002", "00003"):
        expected.append(f"pristine_images/{k}.bmp")
        expected += [f"distorted_images/{t}/{k}_{lvl}.bmp" for t in ("jpeg", "jp2k", "wn", "gblur") for lvl in range(1, 6)]
    for method in ("tiny-stats", "tiny-sharp"):
        vec = loadmat(run / "gmad" / method / "gmad_scores.mat")["gmad"]
        assert vec.shape == (63, 1)
        assert np.allclose(vec[:, 0], scores.loc[expected, f"score_{method}"].to_numpy())
