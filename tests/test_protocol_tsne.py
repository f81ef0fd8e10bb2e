"""tsne: cluster numbers on known geometry, and runs on the demo (all images and the val subset)."""

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
def ts():
    return sys.modules[registry.protocols.get("tsne").__module__]


def test_cluster_numbers_on_known_geometry(ts):
    rng = np.random.default_rng(0)
    groups = np.repeat(["blur", "noise", "jpeg"], 40)
    levels = np.tile(np.arange(1, 6), 24)
    refs = np.tile(np.repeat([f"r{k}" for k in range(8)], 5), 3)
    centres = {"blur": (0, 0), "noise": (50, 0), "jpeg": (0, 50)}
    x = np.array([centres[g] for g in groups]) + rng.normal(0, 1, (120, 2))
    numbers, rows = ts.cluster_numbers(x, x, groups, levels, refs, k=5, folds=4, seed=0)
    assert numbers["silhouette_input"] > 0.9 and numbers["silhouette_tsne"] > 0.9
    assert numbers["knn_group_acc_input"] == 1.0
    assert numbers["knn_level_acc_input"] < 0.5  # level carries no geometry here: near chance (0.2)
    assert "GroupKFold(4)" in numbers["knn"]["cv"]

    shuffled = rng.permutation(groups)
    numbers, _ = ts.cluster_numbers(x, x, shuffled, levels, refs, k=5, folds=4, seed=0)
    assert abs(numbers["silhouette_input"]) < 0.1 and numbers["knn_group_acc_input"] < 0.6


def test_tsne_on_the_demo(cli, demo_root, tmp_path):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "brisque", "-m", "niqe", "-p", "tsne", "-d", "demo-few",
            "--dataset-option", "types=jpeg,darken", "--runs", str(runs))
    assert r.code == 0, r
    by = {json.loads((p / "result.json").read_text())["methods"][0]["name"]: p for p in runs.iterdir()}
    for name, path in by.items():
        emb = pd.read_csv(path / "embedding.csv")
        assert list(emb.columns) == ["image_id", "ref", "dist_group", "dist_type", "level", "x", "y"]
        assert len(emb) == 60 and set(emb["dist_group"]) == {"jpeg", "brightness_change"}
        assert np.isfinite(emb[["x", "y"]].to_numpy()).all()
        s = json.loads((path / "result.json").read_text())["summary"]
        for key in ("silhouette_input", "silhouette_tsne", "knn_group_acc_input", "knn_level_acc_tsne"):
            assert -1 <= s[key] <= 1
        assert s["tsne"]["perplexity"] == 30 and s["tsne"]["random_state"] == 0
        assert (path / f"tsne_{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert len(pd.read_csv(path / "knn.csv")) == 4
    assert json.loads((by["niqe"] / "result.json").read_text())["summary"]["embedding_dim"] == 1
    assert json.loads((by["brisque"] / "result.json").read_text())["summary"]["preprocessing"]["pca"] is None


def test_tsne_val_subset_and_pca(cli, demo_root, tmp_path):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "brisque", "-p", "tsne", "-d", "demo-few",
            "--dataset-option", "types=jpeg,darken", "--protocol-option", "subset=val",
            "--protocol-option", "perplexity=3", "--protocol-option", "pca_dims=5",
            "--protocol-option", "scaling=standard", "--protocol-option", "cv_folds=2", "--runs", str(runs))
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    result = json.loads((run / "result.json").read_text())
    # 6 references → split 1 has one validation reference: 2 types × 5 levels.
    val = pd.read_csv(run / "splits.csv").query("split_01 == 'val'")["image_id"]
    emb = pd.read_csv(run / "embedding.csv")
    assert sorted(emb["image_id"]) == sorted(val) and len(emb) == 10
    assert result["summary"]["preprocessing"] == {
        "scaling": "standard", "pca": {"from": 36, "to": 5, "explained_variance": pytest.approx(
            result["summary"]["preprocessing"]["pca"]["explained_variance"])}}
    assert "validation part of split 1" in result["summary"]["subset"]
