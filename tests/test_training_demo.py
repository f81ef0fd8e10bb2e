"""The demo's ARNIQA rows: a cached model trained once, next to the same network untrained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.test_training_arniqa import make_images, tiny_config

torch.set_num_threads(1)


def test_demo_pool_is_the_pristine_photographs_never_the_test_content():
    from iqabench.photos import CONTENT, PRISTINE
    from iqabench.training.pools import open_pool

    pool = open_pool("demo-pristine", tiles_per_side=2)
    assert len(pool) == 4 * len(PRISTINE)
    assert {n.rsplit("_", 1)[0] for n in pool.names} == {p.name for p in PRISTINE}
    assert not {p.name for p in CONTENT} & {n.rsplit("_", 1)[0] for n in pool.names}


def test_demo_config_is_small_and_labelled():
    from iqabench.training.config import load_config

    cfg = load_config("arniqa", "demo")
    assert cfg["name"] == "demo" and cfg["model"]["backbone"] == "resnet18_quarter"
    assert cfg["data"]["source"] == "demo-pristine" and cfg["model"]["init"] is None
    assert cfg["validation"]["datasets"] == []  # no model selection on the demo's test content
    paper = load_config("arniqa")
    # The objective and the degradation model are the paper's; the recipe around them is the demo's.
    for key in ("temperature", "positives", "hard_negatives"):
        assert paper["training"][key] == cfg["training"][key]
    assert paper["degradation"] == cfg["degradation"]
    assert cfg["optimizer"]["name"] == "adamw" and paper["optimizer"]["name"] == "sgd"


def test_demo_model_is_trained_once_then_reused(tmp_path, monkeypatch):
    from iqabench.methods.arniqa import ARNIQA

    from iqabench.training import arniqa_demo

    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))
    cfg = tiny_config(make_images(tmp_path / "pristine", 4), epochs=1)
    cfg["name"] = "demo"
    cfg["note"] = "A tiny recipe for this test."
    monkeypatch.setattr(arniqa_demo, "load_config", lambda method, name: cfg)

    variants = ARNIQA.demo_variants(device="cpu")
    trained, untrained = variants
    path = arniqa_demo.demo_model_path(cfg, "cpu")
    assert path.parent == tmp_path / "home" / "models"
    assert trained == {"weights": str(path)} and path.is_file()
    assert untrained == {"options": {"backbone": "resnet18_quarter", "crop_size": "64", "seed": "1"}}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the training folder is gone
    stamp = path.stat().st_mtime_ns
    assert ARNIQA.demo_variants(device="cpu") == variants and path.stat().st_mtime_ns == stamp  # reused

    m_trained = ARNIQA(weights=trained["weights"])
    m_untrained = ARNIQA(**untrained["options"])
    assert m_trained.display_name() == "ARNIQA [demo config, from random init; quarter-width ResNet-18, 64 px crops]"
    assert m_untrained.display_name() == "ARNIQA (random init, quarter-width ResNet-18, 64 px crops)"
    assert m_trained.views == m_untrained.views
    # The config's note travels with the model to the report (Table 1's notes), never into the cache key.
    assert m_trained.identity()["note"] == "A tiny recipe for this test." and "note" not in m_untrained.identity()
    assert m_trained.identity()["weights_identity"] != m_untrained.identity()["weights_identity"]
    # Slim: no optimiser state in the cached file.
    assert "optimizer" not in torch.load(path, weights_only=True)


def test_demo_model_key_covers_config_code_and_device(monkeypatch):
    from iqabench.training import demo_models
    from iqabench.training.config import load_config

    cfg = load_config("arniqa", "demo")
    key = demo_models.cached_model_path("arniqa-demo", cfg, "cpu")
    assert key == demo_models.cached_model_path("arniqa-demo", load_config("arniqa", "demo"), "cpu")
    changed = load_config("arniqa", "demo")
    changed["optimizer"]["lr"] = 2e-3
    assert demo_models.cached_model_path("arniqa-demo", changed, "cpu") != key
    assert demo_models.cached_model_path("arniqa-demo", cfg, "cuda") != key
    monkeypatch.setattr(demo_models, "code_fingerprint", lambda: "edited distortion")  # e.g. a changed blur
    assert demo_models.cached_model_path("arniqa-demo", cfg, "cpu") != key


def test_the_code_fingerprint_reads_the_degradation_and_training_sources(monkeypatch, tmp_path):
    from iqabench import fingerprint
    from iqabench.training import demo_models

    assert {"training", "degradation", "models"} <= set(demo_models.CODE)
    assert len(demo_models.code_fingerprint()) == 64
    # An edit of any file below a named folder changes the fingerprint.
    (tmp_path / "degradation").mkdir()
    (tmp_path / "degradation" / "blur.py").write_text("SIGMA = 1\n")
    monkeypatch.setattr(fingerprint, "PACKAGE", tmp_path)
    fingerprint.source_fingerprint.cache_clear()
    before = fingerprint.source_fingerprint("degradation")
    (tmp_path / "degradation" / "blur.py").write_text("SIGMA = 2\n")
    fingerprint.source_fingerprint.cache_clear()
    assert fingerprint.source_fingerprint("degradation") != before
    fingerprint.source_fingerprint.cache_clear()


# -- the demo recipe learns, deterministically -------------------------------------------------------
@pytest.fixture(scope="module")
def recipe_runs(tmp_path_factory):
    """The demo recipe as shipped, shortened to 30 steps on 12 tiles, trained twice with the demo's threads."""
    from iqabench.training.arniqa import train_arniqa
    from iqabench.training.config import load_config
    from iqabench.training.demo_models import demo_threads

    cfg = load_config("arniqa", "demo")
    cfg["data"].update({"tiles_per_side": 2, "epoch_repeats": 80})  # 12 tiles × 80 / batch 32 = 30 steps
    runs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"recipe{k}")
        with demo_threads("cpu"):
            train_arniqa(cfg, out, device="cpu")
        runs.append(out)
    return runs


def _held_out_embeddings(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8 demo-content photographs (never in the training pool), 96 px, under 4 distortion groups at level 4."""
    from iqabench.degradation import distort
    from iqabench.photos import CONTENT
    from iqabench.views import to_tensor

    imgs = []
    for photo in CONTENT[:8]:
        im = photo.load().convert("RGB")
        w, h = im.size
        s = min(w, h)
        imgs.append(to_tensor(im.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((96, 96))))
    x = torch.stack(imgs)
    g = torch.Generator().manual_seed(0)
    types = ("gaublur", "whitenoise", "jpeg", "darken")
    batch = torch.cat([distort(x, t, 4, g) for t in types])
    net.eval()
    with torch.no_grad():
        f = net.representation(batch).numpy()
    return f, np.repeat(np.arange(len(types)), len(x)), np.tile(np.arange(len(x)), len(types))


def _distortion_margin(f: np.ndarray, kind: np.ndarray, content: np.ndarray) -> float:
    """Mean cosine similarity of equally distorted different photographs minus that of one photograph
    under different distortions: > 0 when the embedding follows the distortion, < 0 when the content."""
    sim = f @ f.T
    same_kind = (kind[:, None] == kind[None]) & (content[:, None] != content[None])
    same_content = (kind[:, None] != kind[None]) & (content[:, None] == content[None])
    return float(sim[same_kind].mean() - sim[same_content].mean())


def test_the_demo_recipe_loss_falls(recipe_runs):
    loss = pd.read_csv(recipe_runs[0] / "metrics.csv")["loss"].to_numpy()
    assert len(loss) == 30
    assert loss[-6:].mean() < loss[:6].mean() - 0.05


def test_the_demo_recipe_separates_distortions_better_than_the_untrained_network(recipe_runs):
    from sklearn.metrics import silhouette_score

    from iqabench.models.arniqa import ARNIQANet, build_net, read_weights

    trained = build_net(read_weights(recipe_runs[0] / "last.pt"), "resnet18_quarter")
    torch.manual_seed(0)
    untrained = ARNIQANet("resnet18_quarter")
    f_t, kind, content = _held_out_embeddings(trained)
    f_u, _, _ = _held_out_embeddings(untrained)
    assert _distortion_margin(f_u, kind, content) < 0.0 < _distortion_margin(f_t, kind, content)
    assert silhouette_score(f_t, kind, metric="cosine") > silhouette_score(f_u, kind, metric="cosine") + 0.05


def test_the_demo_recipe_trains_bit_identically_twice(recipe_runs):
    a, b = (torch.load(run / "last.pt", weights_only=True)["model"] for run in recipe_runs)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
