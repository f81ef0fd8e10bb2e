"""The ``reiqa`` methods: weight layouts, input handling, the 8192-d row, refusals, and protocol runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from iqabench import registry
from iqabench.errors import IQABenchError
from iqabench.models.arniqa import IMAGENET_MEAN, IMAGENET_STD
from iqabench.models.encoders import build_encoder
from iqabench.training.checkpoint import save_checkpoint

torch.set_num_threads(1)
PLUGIN = Path(__file__).with_name("protocol_plugins.py")


def _method(name: str, **kw):
    return registry.methods.get(name)(**kw)


def _encoder(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build_encoder("resnet18").eval()
    for m in net.modules():  # non-trivial BN statistics, so a layout that dropped buffers would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net


def _head() -> dict[str, torch.Tensor]:
    return {"0.weight": torch.randn(512, 512), "0.bias": torch.zeros(512), "2.weight": torch.randn(128, 512),
            "2.bias": torch.zeros(128)}


def _iqabench(path: Path, enc: dict, role: str) -> Path:
    trainer = {"quality": "reiqa", "content": "reiqa-content"}[role]
    model = {f"query.encoder.{k}": v for k, v in enc.items()} | {f"query.head.{k}": v for k, v in _head().items()}
    model |= {f"key.encoder.{k}": v + 1 for k, v in enc.items()} | {"queue": torch.randn(128, 16)}
    save_checkpoint(path, {"trainer": trainer, "model": model, "config": {"name": "unit"}, "kind": "weights",
                           "model_info": {"backbone": "resnet18", "role": role}})
    return path


def _layouts(enc: dict, tmp: Path, role: str = "quality") -> dict[str, Path]:
    files = {"iqabench": _iqabench(tmp / f"{role}.pt", enc, role)}
    # The released quality_aware_r50.pth / content_aware_r50.pth: PyContrast's checkpoint dict.
    release = {f"module.encoder.{k}": v for k, v in enc.items()} | {f"module.head.{k}": v for k, v in _head().items()}
    files["reiqa-release"] = tmp / f"{role}_aware_r50.pth"
    torch.save({"model": release, "contrast": {"memory": torch.randn(16, 128)}, "optimizer": {}, "epoch": 40,
                "opt": argparse.Namespace(nce_k=65536, nce_t=0.2)}, files["reiqa-release"])
    moco = {f"module.encoder_q.{k}": v for k, v in enc.items()} | {
        "module.encoder_q.fc.0.weight": torch.randn(512, 512), "module.queue": torch.randn(128, 16)}
    files["moco"] = tmp / "moco_v2_800ep.pth.tar"
    torch.save({"state_dict": moco, "epoch": 800, "arch": "resnet18"}, files["moco"])
    files["torchvision"] = tmp / "resnet18.pth"
    torch.save(enc | {"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}, files["torchvision"])
    return files


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("role", ["quality", "content"])
def test_every_layout_loads_with_identical_features(role, images, tmp_path):
    net = _encoder(7)
    files = _layouts(net.state_dict(), tmp_path, role)
    x = (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        expected = net(images if role == "quality" else x)  # raw [0, 1] vs ImageNet-normalised input
        for fmt, path in files.items():
            got = _method(f"reiqa-{role}", weights=path).extract(images)
            assert got.shape == (2, 512), fmt
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5, msg=fmt)


def test_reiqa_row_is_content_then_quality_per_scale(images, tmp_path):
    quality, content = _encoder(1), _encoder(2)
    q = _iqabench(tmp_path / "q.pt", quality.state_dict(), "quality")
    c = _iqabench(tmp_path / "c.pt", content.state_dict(), "content")
    both = _method("reiqa", weights=q, content=str(c))
    with torch.inference_mode():
        row = both.extract(images)
        parts = [_method("reiqa-content", weights=c).extract(images), _method("reiqa-quality", weights=q).extract(images)]
    torch.testing.assert_close(row, torch.cat(parts, dim=1))
    layout = both.feature_layout()
    assert [(b["scale"], b["encoder"]) for b in layout] == [
        ("full", "content"), ("full", "quality"), ("half", "content"), ("half", "quality")]
    assert both.views.scales == (1.0, 0.5) and both.views.crops == 0
    ident = both.identity()
    assert ident["feature_layout"] == layout and set(ident["encoders"]) == {"content", "quality"}
    assert ident["encoders"]["quality"]["format"] == "iqabench"


def test_resnet50_rows_are_8192_wide():
    m = _method("reiqa", quality_random=True, content_random=True)
    assert sum(b["dim"] for b in m.feature_layout()) == 8192
    with torch.inference_mode():
        assert m.extract(torch.rand(1, 3, 64, 64)).shape == (1, 4096)  # one scale: content + quality
    assert "random init" in m.display_name()
    assert _method("reiqa-quality", quality_random=True).feature_layout()[0]["dim"] == 2048


def test_refusals_name_what_is_wrong(tmp_path):
    enc = _encoder(3).state_dict()
    q = _iqabench(tmp_path / "q.pt", enc, "quality")
    c = _iqabench(tmp_path / "c.pt", enc, "content")
    with pytest.raises(IQABenchError, match="content encoder's weights .*content_random=true"):
        _method("reiqa", weights=q)
    with pytest.raises(IQABenchError, match="quality encoder's weights .*--weights FILE"):
        _method("reiqa-quality")
    with pytest.raises(IQABenchError, match="is an iqabench content encoder checkpoint, given as the quality encoder"):
        _method("reiqa-quality", weights=c)
    with pytest.raises(IQABenchError, match="option backbone=resnet50 contradicts"):
        _method("reiqa-quality", weights=q, backbone="resnet50")
    broken = {f"module.encoder.{k}": v for k, v in enc.items() if not k.startswith("layer4.1.bn2")}
    broken["module.encoder.extra.weight"] = torch.zeros(1)
    torch.save({"model": broken}, tmp_path / "broken.pth")
    with pytest.raises(IQABenchError) as err:
        _method("reiqa-quality", weights=tmp_path / "broken.pth")
    assert "layer4.1.bn2" in str(err.value) and "extra.weight" in str(err.value) and "\n" not in str(err.value)
    torch.save({"model": {"module.encoder.conv1.weight": enc["conv1.weight"], "module.fc.weight": torch.zeros(1)}},
               tmp_path / "foreign.pth")
    with pytest.raises(IQABenchError, match="unexpected keys"):
        _method("reiqa-quality", weights=tmp_path / "foreign.pth")
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(IQABenchError, match="unrecognised layout"):
        _method("reiqa-quality", weights=tmp_path / "other.pth")


def test_random_encoders_are_seeded_and_distinct(images):
    a = _method("reiqa", quality_random=True, content_random=True, backbone="resnet18", seed=4)
    b = _method("reiqa", quality_random=True, content_random=True, backbone="resnet18", seed=4)
    with torch.inference_mode():
        torch.testing.assert_close(a.extract(images), b.extract(images))
    qa = a.encoders["quality"].module.encoder.conv1.weight
    ca = a.encoders["content"].module.encoder.conv1.weight
    assert not torch.equal(qa, ca)
    assert a.weights_identity() == "content:random-init(seed=5,resnet18);quality:random-init(seed=4,resnet18)"


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    plugins = registry.load_plugin_file(PLUGIN)
    root = tmp_path_factory.mktemp("reiqa-data")
    plugins.make_synth_pair(root, 8)
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("reiqa-weights")
    q = _iqabench(tmp / "q.pt", _encoder(11).state_dict(), "quality")
    return q, _layouts(_encoder(12).state_dict(), tmp, "content")["reiqa-release"]


@pytest.mark.parametrize("protocol", ["within_dataset", "cross_dataset"])
def test_reiqa_runs_through_the_regression_protocols(protocol, cli, synth, weights, tmp_path):
    runs = tmp_path / "runs"
    datasets = ["-d", "synth-mos"] + (["-d", "synth-dmos"] if protocol == "cross_dataset" else [])
    r = cli("run", "--plugin", str(PLUGIN), "-m", "reiqa", "-p", protocol, *datasets, "--data-root", str(synth),
            "--runs", str(runs), "--weights", str(weights[0]), "--method-option", f"content={weights[1]}", "--no-cache")
    assert r.code == 0, r
    (run,) = list(runs.iterdir())
    result = json.loads((run / "result.json").read_text())
    method = result["methods"][0]
    assert method["name"] == "reiqa"
    assert [b["dim"] for b in method["feature_layout"]] == [512] * 4
    assert method["encoders"]["content"]["format"] == "reiqa-release"
    if protocol == "within_dataset":
        assert result["summary"]["n_splits"] == 10 and result["summary"]["srcc"] > 0.5
    else:
        m = pd.read_csv(run / "cross_srcc.csv").set_index("train")
        assert np.isfinite(m.loc["synth-mos", "synth-dmos"]) and np.isfinite(m.loc["synth-dmos", "synth-mos"])


def test_demo_encoders_are_trained_once_then_reused(tmp_path, monkeypatch):
    from iqabench.training import reiqa_demo
    from iqabench.training.config import load_config
    from tests.test_reiqa_training import tiny_config
    from tests.test_training_arniqa import make_images

    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))
    images = make_images(tmp_path / "pristine", 4, size=(96, 80))
    quality = tiny_config(images, epochs=1, max_steps=2)
    content = load_config("reiqa_content", "demo")
    content["name"] = "tiny"
    content["data"].update({"source": str(images), "crop_size": 32, "epoch_repeats": 1, "downscale": 1.0})
    content["training"].update({"batch_size": 2, "max_steps": 2})
    configs = {"reiqa": quality, "reiqa_content": content}
    monkeypatch.setattr(reiqa_demo, "load_config", lambda family, name: configs[family])

    (variant,) = registry.methods.get("reiqa").demo_variants(device="cpu")
    models = tmp_path / "home" / "models"
    assert sorted(p.name for p in models.iterdir()) == sorted(
        [Path(variant["weights"]).name, Path(variant["options"]["content"]).name])  # training folders are gone
    stamps = [p.stat().st_mtime_ns for p in sorted(models.iterdir())]
    assert registry.methods.get("reiqa").demo_variants(device="cpu") == [variant]
    assert [p.stat().st_mtime_ns for p in sorted(models.iterdir())] == stamps  # reused, not retrained
    m = _method("reiqa", weights=variant["weights"], **variant["options"])
    assert m.display_name() == "Re-IQA [tiny config, from random init; ResNet-18]"
    assert {r: e.role for r, e in m.encoders.items()} == {"content": "content", "quality": "quality"}
    assert registry.methods.get("reiqa-quality").demo_variants() == []
