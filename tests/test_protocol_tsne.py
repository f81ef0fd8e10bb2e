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
        if name == "brisque":
            assert s["map"] == "tsne" and s["tsne"]["perplexity"] == 30 and s["tsne"]["random_state"] == 0
        else:  # NIQE gives one number per image: a strip, no t-SNE
            assert s["map"] == "strip"
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
    # The PCA record, recomputed independently from BRISQUE's features of those 10 images.
    from sklearn.decomposition import PCA

    from iqabench import registry
    from iqabench.features import extract_features

    index = registry.datasets.get("demo-few")(types="jpeg,darken").index()
    feats = extract_features(registry.methods.get("brisque")(), index[index["image_id"].isin(val)]).rows.astype(np.float64)
    z = (feats - feats.mean(0)) / feats.std(0)
    expected = PCA(n_components=5).fit(z).explained_variance_ratio_.sum()
    assert result["summary"]["preprocessing"] == {
        "scaling": "standard", "pca": {"from": 36, "to": 5, "explained_variance": pytest.approx(expected, rel=1e-6)}}
    assert "validation part of split 1" in result["summary"]["subset"]


# -- the Figure 1 embedding -----------------------------------------------------------------------
def test_centre_full_embedding_is_the_centre_crops_full_scale_feature(ts, demo_root):
    """For ARNIQA: the first half (full scale) of row 0 (the centre crop) of each image."""
    import torch
    from PIL import Image

    from iqabench.features import extract_features
    from iqabench.views import make_views

    method = registry.methods.get("arniqa")(backbone="resnet18", crop_size="32")
    index = registry.datasets.get("demo")().index().iloc[[0, 7, 23]]
    table = extract_features(method, index)
    assert table.rows.shape == (15, 1024)  # 5 crops × [512-d full, 512-d half]
    emb, policy = ts.image_embeddings(table, method.views, "centre_full")
    assert emb.shape == (3, 512) and "row 0 of 5" in policy and "512 of 1024" in policy
    for k, path in enumerate(index["path"]):
        full, half = make_views(Image.open(path).convert("RGB"), method.views)
        with torch.inference_mode():
            centre = method.extract(full[:1]).numpy()[0]  # crop order: centre first
            half_centre = method.extract(half[:1]).numpy()[0]
        assert np.allclose(emb[k], centre, atol=1e-5)
        assert not np.allclose(emb[k], half_centre, atol=1e-3)
    mean, policy = ts.image_embeddings(table, method.views, "crop_mean")
    assert mean.shape == (3, 1024) and np.allclose(mean[1], table.rows[5:10].mean(axis=0), atol=1e-6)
    assert policy == "mean of the method's 5 row(s) per image"


def test_figure1_preset_on_the_demo(cli, demo_root, tmp_path):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "arniqa", "--method-option", "backbone=resnet18",
            "--method-option", "crop_size=32", "-p", "tsne", "-d", "demo-few", "--dataset-option", "types=jpeg,darken",
            "--protocol-option", "figure1=true", "--protocol-option", "perplexity=3",
            "--protocol-option", "cv_folds=2", "--runs", str(runs))
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    result = json.loads((run / "result.json").read_text())
    s = result["summary"]
    assert s["figure1"] is True and s["embedding"] == "centre_full" and s["embedding_dim"] == 512
    assert s["preprocessing"] == {"scaling": "none", "pca": None}
    assert "validation part of split 1" in s["subset"]
    val = pd.read_csv(run / "splits.csv").query("split_01 == 'val'")["image_id"]
    assert sorted(pd.read_csv(run / "embedding.csv")["image_id"]) == sorted(val)
    assert result["config"]["pca_dims"] == 0 and result["config"]["subset"] == "val"


def test_centre_full_and_figure1_errors(cli, demo_root, tmp_path):
    r = cli("run", "-m", "brisque", "-p", "tsne", "-d", "demo", "--protocol-option", "embedding=centre_full",
            "--runs", str(tmp_path))
    assert r.code == 1 and "embedding=centre_full needs a centre crop at full and half scale" in r.err
    assert "'brisque' looks at the whole image at full scale" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("run", "-m", "arniqa", "-p", "tsne", "-d", "demo", "--protocol-option", "figure1=true",
            "--protocol-option", "pca_dims=50", "--runs", str(tmp_path))
    assert r.code == 1 and "figure1=true sets pca_dims=0; drop --protocol-option pca_dims=50" in r.err
    r = cli("run", "-m", "arniqa", "-p", "tsne", "-d", "demo", "--protocol-option", "embedding=centre",
            "--runs", str(tmp_path))
    assert r.code == 1 and "embedding must be one of crop_mean, centre_full" in r.err


def test_score_method_is_a_strip_not_a_tsne(cli, demo_root, tmp_path):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "tiny-sharp", "-p", "tsne", "-d", "demo-few",
            "--protocol-option", "perplexity=5", "--runs", str(runs))
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    summary = json.loads((run / "result.json").read_text())["summary"]
    assert summary["map"] == "strip" and "no t-SNE" in summary["tsne"]["note"] and summary["embedding_dim"] == 1
    emb = pd.read_csv(run / "embedding.csv")
    scores = pd.read_csv(run / "embedding.csv")["x"]
    # x is the score oriented higher = better (tiny-sharp is lower = better), y the group row ± jitter
    from iqabench import registry
    from iqabench.features import extract_features

    index = registry.datasets.get("demo-few")().index().set_index("image_id").loc[emb["image_id"]].reset_index()
    raw = extract_features(registry.methods.get("tiny-sharp")(), index).rows[:, 0]
    assert np.allclose(scores, -raw, atol=1e-6)
    rows = sorted(set(emb["dist_group"]))
    assert np.allclose(np.round(emb["y"]), [rows.index(g) for g in emb["dist_group"]])
