"""The ``contrique`` method: weight layouts, the reference's features, the half scale, refusals, regressors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from sklearn.linear_model import Ridge
from torch import nn

from iqabench import registry
from iqabench.errors import IQABenchError
from iqabench.models.contrique import ContriqueNet
from iqabench.training.checkpoint import save_checkpoint
from iqabench.views import Views, make_views

torch.set_num_threads(1)
PLUGIN = Path(__file__).with_name("protocol_plugins.py")


def _method(**kw):
    return registry.methods.get("contrique")(**kw)


def reference_model(backbone: str, seed: int) -> nn.Module:
    """The reference's CONTRIQUE_model layout, built here independently: ``encoder`` = the torchvision
    ResNet's children[:-2] as a Sequential, ``projector`` = Linear/BN1d/ReLU/Linear/BN1d without biases."""
    torch.manual_seed(seed)
    resnet = getattr(torchvision.models, backbone)()
    d = resnet.fc.in_features
    model = nn.Module()
    model.encoder = nn.Sequential(*list(resnet.children())[:-2])
    model.projector = nn.Sequential(nn.Linear(d, d, bias=False), nn.BatchNorm1d(d), nn.ReLU(),
                                    nn.Linear(d, 128, bias=False), nn.BatchNorm1d(128))
    for m in model.modules():  # non-trivial BN statistics, so a layout that dropped buffers would show
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def reference_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``demo_feat.py``'s h: encoder → AdaptiveAvgPool2d(1) → view → L2-normalise (no ImageNet normalisation)."""
    with torch.inference_mode():
        return F.normalize(F.adaptive_avg_pool2d(model.encoder(x), 1).flatten(1), dim=1)


def iqabench_checkpoint(path: Path, model: nn.Module, backbone: str, **info) -> Path:
    """The same weights in iqabench's layout: encoder.<torchvision name>, as ``iqabench train contrique`` saves."""
    names = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("encoder."):
            head, _, rest = key[len("encoder."):].partition(".")
            key = f"encoder.{names[head]}.{rest}"
        state[key] = value
    save_checkpoint(path, {"trainer": "contrique", "kind": "weights", "model": state, "config": {"name": "unit"},
                           "model_info": {"backbone": backbone, **info}})
    return path


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 3, 64, 80, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_both_layouts_give_the_reference_features(backbone, images, tmp_path):
    model = reference_model(backbone, 3)
    release = tmp_path / "CONTRIQUE_checkpoint25.tar"
    torch.save(model.state_dict(), release)  # what the reference's save_model writes
    if backbone == "resnet50":
        keys = set(model.state_dict())
        assert {"encoder.0.weight", "encoder.1.running_var", "encoder.4.0.conv1.weight", "encoder.7.2.bn3.weight",
                "projector.0.weight", "projector.1.running_mean", "projector.3.weight", "projector.4.weight"} <= keys
        assert not any(k.startswith(("encoder.2.", "encoder.3.", "encoder.8.", "projector.2.")) for k in keys)
    ours = iqabench_checkpoint(tmp_path / "last.pt", model, backbone)
    expected = reference_features(model, images)
    got = {}
    for name, path in (("release", release), ("iqabench", ours)):
        m = _method(weights=path)
        with torch.inference_mode():
            got[name] = m.extract(images)
        torch.testing.assert_close(got[name], expected, rtol=1e-4, atol=1e-5, msg=name)
    assert torch.equal(got["release"], got["iqabench"])  # identical, not just close
    net_state = _method(weights=release).net.projector.state_dict()
    assert all(torch.equal(net_state[k], v) for k, v in model.projector.state_dict().items())
    assert _method(weights=release).display_name() == ("CONTRIQUE (released weights)" if backbone == "resnet50"
                                                       else "CONTRIQUE (released weights, ResNet-18)")


def test_a_row_is_full_then_half_scale_l2_normalised(tmp_path, demo_root):
    path = demo_root / "images" / "astronaut_jpeg_3.png"
    model = reference_model("resnet18", 5)
    m = _method(weights=iqabench_checkpoint(tmp_path / "w.pt", model, "resnet18"))
    assert m.views == Views(crops=0, scales=(1.0, 0.5)) and m.kind == "features" and m.default_regressor == "ridge"
    from iqabench.features import extract_features

    table = extract_features(m, pd.DataFrame({"image_id": ["a"], "path": [str(path)]}))
    assert table.rows.shape == (1, 1024)
    # demo_feat.py: Image.open, resize((w // 2, h // 2)) with Pillow's default filter, ToTensor.
    img = Image.open(path)
    half = img.resize((img.width // 2, img.height // 2))
    to_tensor = torchvision.transforms.functional.to_tensor
    expected = torch.cat([reference_features(model, to_tensor(img)[None]), reference_features(model, to_tensor(half)[None])], 1)
    np.testing.assert_allclose(table.rows, expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(table.rows[0, :512]), 1.0, rtol=1e-5)


@pytest.mark.parametrize("size", [(64, 48), (63, 47), (101, 33)])
def test_the_half_scale_is_pillows_default_resize_bit_for_bit(size):
    rng = np.random.default_rng(sum(size))
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    _, half = make_views(img, Views(crops=0, scales=(1.0, 0.5)))
    reference = np.asarray(img.resize((size[0] // 2, size[1] // 2)), dtype=np.uint8)  # default filter: bicubic
    np.testing.assert_array_equal((half[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy(), reference)


def test_refusals_name_what_is_wrong(tmp_path):
    model = reference_model("resnet18", 1)
    ours = iqabench_checkpoint(tmp_path / "w.pt", model, "resnet18")
    with pytest.raises(IQABenchError, match="needs --weights FILE .*random=true"):
        _method()
    with pytest.raises(IQABenchError, match="option backbone=resnet50 contradicts"):
        _method(weights=ours, backbone="resnet50")
    with pytest.raises(IQABenchError, match="random=true contradicts --weights"):
        _method(weights=ours, random="true")
    with pytest.raises(IQABenchError, match="backbone: 'vgg16' is not one of"):
        _method(random="true", backbone="vgg16")
    save_checkpoint(tmp_path / "arniqa.pt", {"trainer": "arniqa", "model": {}, "model_info": {"backbone": "resnet18"}})
    with pytest.raises(IQABenchError, match="is an iqabench 'arniqa' checkpoint, not a CONTRIQUE one"):
        _method(weights=tmp_path / "arniqa.pt")
    state = model.state_dict()
    broken = {k: v for k, v in state.items() if not k.startswith("encoder.7.1.bn2")} | {"projector.9.weight": torch.zeros(1)}
    torch.save(broken, tmp_path / "broken.tar")
    with pytest.raises(IQABenchError) as err:
        _method(weights=tmp_path / "broken.tar")
    assert "layer4.1.bn2" in str(err.value) and "\n" not in str(err.value)
    torch.save(state | {"epoch": torch.tensor(25)}, tmp_path / "extra.tar")
    with pytest.raises(IQABenchError, match="unexpected keys epoch"):
        _method(weights=tmp_path / "extra.tar")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "torchvision.pth")
    with pytest.raises(IQABenchError, match="unrecognised layout"):
        _method(weights=tmp_path / "torchvision.pth")
    torch.save({"model": nn.Linear(2, 2)}, tmp_path / "pickled.tar")
    with pytest.raises(IQABenchError, match="cannot be read safely"):
        _method(weights=tmp_path / "pickled.tar")


def test_random_encoders_are_explicit_and_seeded(images):
    a = _method(random="true", backbone="resnet18", seed="4")
    b = _method(random="true", backbone="resnet18", seed="4")
    with torch.inference_mode():
        torch.testing.assert_close(a.extract(images), b.extract(images))
    assert a.display_name() == "CONTRIQUE (random init, ResNet-18)"
    assert a.weights_identity() == "random-init(seed=4,resnet18)"
    assert any("random initialisation" in issue for issue in a.paper_issues())
    assert isinstance(_method(random="true").net, ContriqueNet) and _method(random="true").backbone == "resnet50"


@pytest.fixture(scope="module")
def regressor(tmp_path_factory):
    """A Ridge fitted on 1024-d features (ResNet-18 full + half), pickled as train_regressor.py does."""
    tmp = tmp_path_factory.mktemp("contrique-regressor")
    rng = np.random.default_rng(2)
    model = Ridge(alpha=0.1).fit(rng.random((30, 1024), dtype=np.float32), rng.random(30, dtype=np.float32))
    path = tmp / "LIVE.save"
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return path, model


def test_a_released_regressor_makes_a_scores_method_oriented_by_its_dataset(regressor, tmp_path, demo_root):
    path, ridge = regressor
    weights = iqabench_checkpoint(tmp_path / "w.pt", reference_model("resnet18", 6), "resnet18")
    features = _method(weights=weights)
    scores = _method(weights=weights, regressor=str(path), regressor_dataset="live")
    assert scores.kind == "scores" and scores.higher_better is False and scores.views == Views(crops=0, scales=(1.0,))
    clive = _method(weights=weights, regressor=str(path), regressor_dataset="clive")
    assert clive.higher_better is True
    img = demo_root / "images" / "coffee_gaublur_2.png"
    from iqabench.features import extract_features

    index = pd.DataFrame({"image_id": ["x"], "path": [str(img)]})
    row = extract_features(features, index).rows
    score = extract_features(scores, index).rows
    np.testing.assert_allclose(score[:, 0], ridge.predict(row), rtol=1e-6)
    assert scores.display_name().endswith("+ live regressor")
    ident = scores.identity()
    assert ident["regressor"]["dataset"] == "live" and ident["regressor"]["higher_better"] is False
    assert ident["regressor"]["n_features"] == 1024 and scores.fitted_on() == {"live"}
    assert any("released regressor fitted on live" in issue for issue in scores.paper_issues())
    with pytest.raises(IQABenchError, match="regressor_dataset=NAME"):
        _method(weights=weights, regressor=str(path))
    with pytest.raises(IQABenchError, match="unknown dataset"):
        _method(weights=weights, regressor=str(path), regressor_dataset="nope")
    with pytest.raises(IQABenchError, match="takes 1024-d features, the resnet50 encoder gives 4096"):
        _method(random="true", regressor=str(path), regressor_dataset="live")


def test_a_hostile_regressor_file_runs_nothing(tmp_path, monkeypatch):
    import os

    class Hostile:
        def __reduce__(self):
            return (os.system, ("touch SIDE_EFFECT",))

    monkeypatch.chdir(tmp_path)
    (tmp_path / "CSIQ.save").write_bytes(pickle.dumps(Hostile()))
    with pytest.raises(IQABenchError, match="is refused: it contains the global posix.system"):
        _method(random="true", backbone="resnet18", regressor="CSIQ.save", regressor_dataset="csiq")
    assert not (tmp_path / "SIDE_EFFECT").exists()


def test_contrique_runs_through_the_regression_protocol(cli, tmp_path):
    plugins = registry.load_plugin_file(PLUGIN)
    root = tmp_path / "data"
    plugins.make_synth(root / "synth-mos", 8, 1, lower_better=False)
    weights = iqabench_checkpoint(tmp_path / "w.pt", reference_model("resnet18", 7), "resnet18")
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "contrique", "-p", "within_dataset", "-d", "synth-mos",
            "--data-root", str(root), "--runs", str(runs), "--weights", str(weights), "--no-cache")
    assert r.code == 0, r
    result = json.loads(next(runs.glob("*/result.json")).read_text())
    method = result["methods"][0]
    assert method["name"] == "contrique" and method["weights_format"] == "iqabench" and method["downscale"] == 1.0
    assert result["summary"]["n_splits"] == 10
    reasons = " ".join(result["comparability"]["reasons"])
    assert "not a known contrique release" in reasons
