"""The demo's ARNIQA rows: a cached model trained once, next to the same network untrained."""

from __future__ import annotations

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
    assert cfg["name"] == "demo" and cfg["model"]["backbone"] == "resnet18" and cfg["data"]["source"] == "demo-pristine"
    assert cfg["validation"]["datasets"] == []  # no model selection on the demo's test content
    paper = load_config("arniqa")
    assert paper["training"]["temperature"] == cfg["training"]["temperature"] == 0.1
    assert paper["optimizer"] == cfg["optimizer"]


def test_demo_model_is_trained_once_then_reused(tmp_path, monkeypatch):
    from iqabench.methods.arniqa import ARNIQA

    from iqabench.training import arniqa_demo

    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))
    cfg = tiny_config(make_images(tmp_path / "pristine", 4), epochs=1)
    cfg["name"] = "demo"
    monkeypatch.setattr(arniqa_demo, "load_config", lambda method, name: cfg)

    variants = ARNIQA.demo_variants(device="cpu")
    trained, untrained = variants
    path = tmp_path / "home" / "models" / f"arniqa-demo-{arniqa_demo.config_hash(cfg, arniqa_demo.DEMO_MODEL_VERSION)}.pt"
    assert trained == {"weights": str(path)} and path.is_file()
    assert untrained == {"options": {"backbone": "resnet18", "crop_size": "64", "seed": "1"}}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the training folder is gone
    stamp = path.stat().st_mtime_ns
    assert ARNIQA.demo_variants(device="cpu") == variants and path.stat().st_mtime_ns == stamp  # reused

    m_trained = ARNIQA(weights=trained["weights"])
    m_untrained = ARNIQA(**untrained["options"])
    assert m_trained.display_name() == "ARNIQA [demo config, from random init; ResNet-18, 64 px crops]"
    assert m_untrained.display_name() == "ARNIQA (random init, ResNet-18, 64 px crops)"
    assert m_trained.views == m_untrained.views
    assert m_trained.identity()["weights_identity"] != m_untrained.identity()["weights_identity"]
    # Slim: no optimiser state in the cached file.
    assert "optimizer" not in torch.load(path, weights_only=True)
