"""The ``arniqa`` method: weight layouts, SE-ResNet-50 initialisation, regressors, provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from iqabench.errors import IQABenchError
from iqabench.models.arniqa import ARNIQANet, scale_score
from iqabench.training.checkpoint import save_checkpoint
from iqabench.views import Views, make_views

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")

_SEQ = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}


def _arniqa(**kw):
    from iqabench.methods.arniqa import ARNIQA

    return ARNIQA(**kw)


@pytest.fixture(scope="module")
def net() -> ARNIQANet:
    torch.manual_seed(123)
    n = ARNIQANet("resnet18").eval()
    # Non-trivial BN statistics, so a layout that drops buffers would show.
    for m in n.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return n


@pytest.fixture(scope="module")
def crops() -> torch.Tensor:
    return torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _sequential(state: dict) -> dict:
    out = {}
    for k, v in state.items():
        head, _, rest = k.partition(".")
        out[f"{_SEQ[head]}.{rest}"] = v
    return out


def _layouts(net: ARNIQANet, tmp: Path) -> dict[str, Path]:
    enc = net.encoder.state_dict()
    proj = net.projector.state_dict()
    files = {}
    files["iqabench"] = tmp / "iqabench.pt"
    save_checkpoint(files["iqabench"], {"model": net.state_dict(), "model_info": {"backbone": "resnet18", "crop_size": 64},
                                        "config": {"name": "unit"}, "kind": "weights"})
    release = {f"model.{k}": v for k, v in _sequential(enc).items()} | {f"projector.{k}": v for k, v in proj.items()}
    files["arniqa-release"] = tmp / "ARNIQA.pth"
    torch.save(release, files["arniqa-release"])
    reference = {f"encoder.model.{k}": v for k, v in _sequential(enc).items()} | {
        f"encoder.projector.{k}": v for k, v in proj.items()
    }
    files["arniqa-reference"] = tmp / "best_epoch_1.pth"
    torch.save(reference, files["arniqa-reference"])
    files["arniqa-reference-last"] = tmp / "last_epoch_1.pth"
    torch.save({"model_state_dict": reference, "epoch": 1, "config": {}}, files["arniqa-reference-last"])
    files["torchvision"] = tmp / "resnet18.pth"
    torch.save(enc | {"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}, files["torchvision"])
    return files


def test_every_checkpoint_layout_loads_with_identical_outputs(net, crops, tmp_path):
    files = _layouts(net, tmp_path)
    with torch.inference_mode():
        reference = _arniqa(weights=files["iqabench"]).extract(crops)
        # The method runs channels_last (another convolution kernel): equal up to rounding.
        assert torch.allclose(reference, net.representation(crops), atol=1e-5)
    for fmt, path in files.items():
        m = _arniqa(weights=path, crop_size="64")
        assert m.backbone == "resnet18"
        assert m.loaded.format == fmt.replace("-last", "")
        with torch.inference_mode():
            got = m.extract(crops)
        assert torch.equal(got, reference), fmt
        loaded, original = m.net.state_dict(), net.state_dict()
        # Every tensor arrives exactly; the projector travels with every ARNIQA layout.
        keys = [k for k in original if fmt != "torchvision" or k.startswith("encoder.")]
        assert all(torch.equal(loaded[k], original[k]) for k in keys), fmt


def test_iqabench_checkpoint_carries_crop_size_and_rejects_contradictions(net, tmp_path):
    path = _layouts(net, tmp_path)["iqabench"]
    m = _arniqa(weights=path)
    assert m.crop_size == 64 and m.views == Views(crops=5, crop_size=64, scales=(1.0, 0.5))
    with pytest.raises(IQABenchError, match="crop_size=96 contradicts"):
        _arniqa(weights=path, crop_size="96")
    with pytest.raises(IQABenchError, match="backbone=resnet50 contradicts"):
        _arniqa(weights=path, backbone="resnet50")


def test_key_mismatch_names_the_keys(net, tmp_path):
    state = {f"model.{k}": v for k, v in _sequential(net.encoder.state_dict()).items()}
    del state["model.4.0.conv1.weight"]
    state["model.4.0.extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(IQABenchError) as exc:
        _arniqa(weights=path)
    msg = str(exc.value)
    assert "\n" not in msg and "missing keys layer1.0.conv1.weight" in msg and "unexpected keys layer1.0.extra.weight" in msg


class Arbitrary:
    """Unpickling this needs arbitrary code: refused by weights_only=True."""


def test_unsafe_or_foreign_files_fail_in_one_line(tmp_path):
    bad = tmp_path / "pickle.pth"
    torch.save({"model.0.weight": Arbitrary()}, bad)
    with pytest.raises(IQABenchError, match="weights_only=True"):
        _arniqa(weights=bad)
    other = tmp_path / "other.pth"
    torch.save({"backbone.stem.weight": torch.zeros(1)}, other)
    with pytest.raises(IQABenchError, match="unrecognised layout"):
        _arniqa(weights=other)


def test_se_backbone_is_an_option_of_arniqa(tmp_path):
    m = _arniqa(backbone="se_resnet50", crop_size="32")
    assert m.backbone == "se_resnet50"
    assert "SE-ResNet-50" in m.display_name()
    assert m.identity()["backbone"] == "se_resnet50"
    # A checkpoint of it says so by its keys.
    torch.save({f"model.{k}": v for k, v in _sequential(m.net.encoder.state_dict()).items()}, tmp_path / "se.pth")
    assert _arniqa(weights=tmp_path / "se.pth").backbone == "se_resnet50"


def test_identity_and_names_tell_variants_apart(net, tmp_path):
    files = _layouts(net, tmp_path)
    rand18 = _arniqa(backbone="resnet18", crop_size="64")
    rand18_seed = _arniqa(backbone="resnet18", crop_size="64", seed="1")
    released = _arniqa(weights=files["arniqa-release"])
    trained = _arniqa(weights=files["iqabench"])
    assert rand18.weights_identity() == "random-init(seed=0)" != rand18_seed.weights_identity()
    assert rand18.display_name() == "ARNIQA (random init, ResNet-18, 64 px crops)"
    assert released.display_name() == "ARNIQA (released weights, ResNet-18)"
    assert trained.display_name().startswith("ARNIQA [unit config")
    assert released.weights_identity() != trained.weights_identity()
    assert released.identity()["crop_size"] == 224 and trained.identity()["crop_size"] == 64
    default = _arniqa()
    assert default.display_name() == "ARNIQA (random init)" and default.identity()["backbone"] == "resnet50"


class _TinyRegressor(torch.nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.weights = torch.nn.Parameter(torch.randn(1, dim, generator=g))
        self.biases = torch.nn.Parameter(torch.tensor(3.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weights.T + self.biases


def test_released_regressor_scores_images_with_the_reference_scaling(net, tmp_path):
    files = _layouts(net, tmp_path)
    reg_path = tmp_path / "regressor_kadid10k.pth"
    torch.jit.save(torch.jit.script(_TinyRegressor(1024)), str(reg_path))
    m = _arniqa(weights=files["iqabench"], regressor=str(reg_path))
    assert m.kind == "scores" and m.higher_better and m.regressor.dataset == "kadid10k"
    assert m.views == Views(crops=0, scales=(1.0,))
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    img = torch.from_numpy(arr).permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.inference_mode():
        got = m.extract(img)
        full, half = make_views(Image.fromarray(arr), Views(crops=5, crop_size=64, scales=(1.0, 0.5)))
        feats = torch.cat([net.representation(full), net.representation(half)], dim=1)
        module = torch.jit.load(str(reg_path))
        raw = module(feats).view(-1).mean()
    assert torch.allclose(got, ((raw - 1.0) / 4.0).view(1), atol=1e-5)
    assert torch.allclose(scale_score(torch.tensor([80.0]), "live"), torch.tensor([1 - 79 / 99]))
    # The regressor file as --weights: a pointed error.
    with pytest.raises(IQABenchError, match="regressor=FILE"):
        _arniqa(weights=reg_path)
    # A regressor of the wrong width, and one of unknown dataset.
    bad = tmp_path / "reg.pth"
    torch.jit.save(torch.jit.script(_TinyRegressor(4096)), str(bad))
    with pytest.raises(IQABenchError, match="4096-d features"):
        _arniqa(weights=files["iqabench"], regressor=str(bad))
    torch.jit.save(torch.jit.script(_TinyRegressor(1024)), str(bad))
    with pytest.raises(IQABenchError, match="regressor_dataset"):
        _arniqa(weights=files["iqabench"], regressor=str(bad))
    raw_m = _arniqa(weights=files["iqabench"], regressor=str(bad), regressor_dataset="live", scale_scores="false")
    assert raw_m.higher_better is False  # LIVE's native DMOS scale


def test_untrained_variant_is_the_training_starting_point():
    """The demo's untrained row (seed = the training seed) holds exactly the trainer's initial weights."""
    from iqabench.training.arniqa import PairwiseARNIQA

    torch.manual_seed(7)  # as Trainer does before building the model
    start = PairwiseARNIQA("resnet18").state_dict()
    untrained = _arniqa(backbone="resnet18", crop_size="64", seed="7").net.state_dict()
    assert start.keys() == untrained.keys() and all(torch.equal(start[k], untrained[k]) for k in start)
