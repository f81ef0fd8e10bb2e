"""waterloo: D- and L-tests on synthetic score tables with known values, and a run on the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iqabench import registry

PLUGIN = Path(__file__).with_name("protocol_plugins.py")


@pytest.fixture(scope="module")
def wl():
    return sys.modules[registry.protocols.get("waterloo").__module__]


def test_d_test_is_the_best_balanced_accuracy(wl):
    pristine = np.array([True, True, True, False, False, False, False, False])
    q = np.array([5, 6, 7, 1, 2, 3, 4, 6.5])
    # T = 4: all 3 pristine above, 4 of 5 distorted at or below → ½ (1 + 0.8).
    assert wl.d_test(q, pristine) == (pytest.approx(0.9), 4.0)
    assert wl.d_test(np.array([9, 8, 1, 2, 3]), np.array([True, True, False, False, False]))[0] == 1.0
    # Reversed orientation: no threshold beats chance.
    assert wl.d_test(np.array([1, 2, 8, 9, 7]), np.array([True, True, False, False, False]))[0] == 0.5


def test_d_test_normalises_per_class(wl):
    # 1 pristine, 20 distorted: calling everything distorted is 95% accurate but only 0.5 balanced.
    pristine = np.array([True] + [False] * 20)
    q = np.array([0.0] + list(np.linspace(1, 2, 20)))
    assert wl.d_test(q, pristine)[0] == 0.5


def test_l_test_is_the_mean_list_srcc_against_negated_level(wl):
    levels = [1, 2, 3, 4, 5]
    frame = pd.DataFrame(
        [
            *({"ref": "a", "dist_type": "jpeg", "level": lv, "quality": q} for lv, q in zip(levels, [5, 4, 3, 2, 1])),
            *({"ref": "a", "dist_type": "wn", "level": lv, "quality": q} for lv, q in zip(levels, [1, 2, 3, 4, 5])),
            *({"ref": "b", "dist_type": "jpeg", "level": lv, "quality": 3.0} for lv in levels),
            *({"ref": "b", "dist_type": "wn", "level": lv, "quality": q} for lv, q in zip(levels, [5, 4, 2, 3, 1])),
        ]
    )
    value, lists = wl.l_test(frame)
    assert lists.set_index(["ref", "dist_type"])["srcc"].to_dict() == pytest.approx(
        {("a", "jpeg"): 1.0, ("a", "wn"): -1.0, ("b", "jpeg"): 0.0, ("b", "wn"): 0.9}
    )
    assert value == pytest.approx((1 - 1 + 0 + 0.9) / 4)
    assert lists["constant"].sum() == 1


def test_waterloo_protocol_on_the_demo(cli, demo_root, tmp_path, wl):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "brisque", "-m", "niqe", "-p", "waterloo", "-d", "demo-few",
            "--dataset-option", "pristine=true", "--dataset-option", "types=jpeg,darken",
            "--protocol-option", "regressor_dataset=demo-few",
            "--dataset-option", "regressor_dataset:types=jpeg,darken", "--runs", str(runs))
    assert r.code == 0, r
    by = {json.loads((p / "result.json").read_text())["methods"][0]["name"]: p for p in runs.iterdir()}
    for path in by.values():
        s = json.loads((path / "result.json").read_text())["summary"]
        assert 0.5 <= s["d_test"] <= 1 and -1 <= s["l_test"] <= 1
        assert s["n_pristine"] == 6 and s["n_distorted"] == 60 and s["l_lists"] == 12
        assert s["p_test"] is None and "DIP" in s["p_test_note"]
        lists = pd.read_csv(path / "lists.csv")
        assert s["l_test"] == pytest.approx(lists["srcc"].mean())
        assert set(s["l_by_type"]) == {"jpeg", "darken"}
        scores = pd.read_csv(path / "scores.csv")
        assert s["d_test"] == pytest.approx(wl.d_test(scores["quality"], scores["level"] == 0)[0])
    assert "regressor" in json.loads((by["brisque"] / "result.json").read_text())["summary"]


def test_waterloo_protocol_needs_pristine_images(cli, demo_root, tmp_path):
    r = cli("run", "--plugin", str(PLUGIN), "-m", "niqe", "-p", "waterloo", "-d", "demo-few",
            "--dataset-option", "types=jpeg", "--runs", str(tmp_path / "runs"))
    assert r.code == 1 and "no pristine images" in r.err and "pristine=true" in r.err


def test_monotone_method_on_a_miniature_waterloo_has_l_of_one(cli, tmp_path):
    # Every "distortion" of the miniature copy is white noise growing with the level; tiny-sharp
    # (mean |Laplacian|, lower = better) ranks each list perfectly once oriented.
    registry.load_plugin_file(PLUGIN).make_waterloo(tmp_path / "data", n_pristine=3)
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "tiny-sharp", "-p", "waterloo", "-d", "waterloo",
            "--data-root", str(tmp_path / "data"), "--runs", str(runs), "--no-cache")
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    s = json.loads((run / "result.json").read_text())["summary"]
    assert s["l_test"] == pytest.approx(1.0) and s["l_lists"] == 12 and s["n_pristine"] == 3 and s["n_distorted"] == 60
    assert "own scores" in s["quality"]
