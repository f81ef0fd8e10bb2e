"""SE-ResNet-50: the specified gate, identity-at-start as a recorded option, checkpoints written before
the record, and standard ImageNet SE-ResNet-50 weights (timm's seresnet50 and legacy_seresnet50 layouts)."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
import torch.nn.functional as F

from iqabench.errors import IQABenchError
from iqabench.models.arniqa import ARNIQANet, read_weights
from iqabench.models.encoders import SqueezeExcite, build_encoder
from iqabench.training.checkpoint import load_checkpoint, save_checkpoint

torch.set_num_threads(1)


def _arniqa(**kw):
    from iqabench.methods.arniqa import ARNIQA

    return ARNIQA(**kw)


def _perturb(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-trivial batch-norm statistics and affine terms and SE biases, so that no weight is inert."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
        for name, p in model.named_parameters():
            if ".se" in name and name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


def _input(seed: int = 0) -> torch.Tensor:
    # Odd sizes: the Caffe layout's ceil-mode max-pool and strided 1×1 convolutions differ there.
    return torch.rand(2, 3, 67, 75, generator=torch.Generator().manual_seed(seed))


def _timm_trunk(model, x: torch.Tensor) -> torch.Tensor:
    """timm's pooled trunk output (the classifier's input)."""
    with torch.inference_mode():
        return model.forward_head(model.forward_features(x), pre_logits=True)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max()))


# -- the gate -------------------------------------------------------------------------------------
def test_default_gate_is_the_specified_sigmoid_gate():
    torch.manual_seed(0)
    se = SqueezeExcite(64)
    x = torch.randn(2, 64, 5, 7)
    s = x.mean(dim=(2, 3))
    expected = x * torch.sigmoid(se.fc2(torch.relu(se.fc1(s))))[:, :, None, None]
    assert torch.allclose(se(x), expected, atol=0, rtol=0)
    assert se.fc2.weight.abs().sum() > 0  # PyTorch's default initialisation, not zero
    with pytest.raises(IQABenchError, match="SE gate 'tanh'"):
        SqueezeExcite(64, "tanh")


def test_identity_start_option_starts_as_the_resnet50_it_was_loaded_from():
    torch.manual_seed(0)
    plain = build_encoder("resnet50").eval()
    x = torch.rand(2, 3, 32, 32)
    for gate, same in (("identity_start", True), ("sigmoid", False)):
        se = build_encoder("se_resnet50", se_gate=gate).eval()
        missing, unexpected = se.load_state_dict(plain.state_dict(), strict=False)
        assert not unexpected and missing and all(".se." in k for k in missing)
        with torch.inference_mode():
            assert torch.allclose(se(x), plain(x), atol=1e-6, rtol=1e-5) is same, gate
    assert len([m for m in se.modules() if isinstance(m, SqueezeExcite)]) == 16  # 3 + 4 + 6 + 3 bottlenecks


# -- checkpoints written before the record --------------------------------------------------------
def _old_gate_forward(encoder: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The encoder computed with the gate iqabench had before the record: 2·sigmoid, written out here."""
    old = copy.deepcopy(encoder)
    for m in old.modules():
        if isinstance(m, SqueezeExcite):
            def forward(t, m=m):
                s = t.mean(dim=(2, 3))
                gate = 2.0 * torch.sigmoid(F.linear(torch.relu(F.linear(s, m.fc1.weight, m.fc1.bias)), m.fc2.weight, m.fc2.bias))
                return t * gate[:, :, None, None]
            m.forward = forward
    with torch.inference_mode():
        return old(x)


def test_checkpoint_without_record_loads_with_the_old_gate_and_the_same_features(tmp_path):
    torch.manual_seed(1)
    net = ARNIQANet("se_resnet50", arch={"se_gate": "identity_start"})
    _perturb(net, 1)
    with torch.no_grad():  # a trained network: the second SE layers are no longer zero
        for m in net.modules():
            if isinstance(m, SqueezeExcite):
                m.fc2.weight.normal_(0, 0.05)
    old = tmp_path / "old.pt"
    save_checkpoint(old, {"model": net.state_dict(), "model_info": {"backbone": "se_resnet50", "crop_size": 32},
                          "config": {"name": "unit"}})
    method = _arniqa(weights=old)
    assert method.net.arch == {"se_gate": "identity_start", "stride_layout": "torchvision"}
    assert "identity-start SE gate" in method.display_name()
    x = _input()
    with torch.inference_mode():
        got = method.net.encoder(x)
        assert torch.equal(got, _old_gate_forward(method.net.encoder, x))
        # The same weights with the specified gate compute something else: the record matters.
        fresh = ARNIQANet("se_resnet50")
        fresh.load_state_dict(net.state_dict())
        assert not torch.allclose(fresh.eval().encoder(x), got, rtol=1e-3)
    # A checkpoint that records the gate is read as recorded; the identity tells the two apart.
    new = tmp_path / "new.pt"
    save_checkpoint(new, {"model": net.state_dict(), "config": {"name": "unit"}, "model_info": {
        "backbone": "se_resnet50", "crop_size": 32, "encoder_arch": {"se_gate": "sigmoid", "stride_layout": "torchvision"}}})
    recorded = _arniqa(weights=new)
    assert recorded.net.arch["se_gate"] == "sigmoid" and "SE gate" not in recorded.display_name()
    assert recorded.identity()["encoder_arch"]["se_gate"] == "sigmoid"
    assert "se_gate=identity_start" in method.weights_identity() and "se_gate=sigmoid" in recorded.weights_identity()
    bad = tmp_path / "bad.pt"
    save_checkpoint(bad, {"model": net.state_dict(), "model_info": {
        "backbone": "se_resnet50", "encoder_arch": {"se_gate": "relu6", "stride_layout": "torchvision"}}})
    with pytest.raises(IQABenchError, match=r"bad.pt.*se_gate 'relu6'"):
        _arniqa(weights=bad)


def test_reiqa_checkpoint_without_record_keeps_the_old_gate(tmp_path):
    from iqabench.models.reiqa import build_encoder_from, read_encoder_weights

    torch.manual_seed(2)
    enc = _perturb(build_encoder("se_resnet50", se_gate="identity_start"), 2)
    path = tmp_path / "reiqa.pt"
    save_checkpoint(path, {"trainer": "reiqa", "model": {f"query.encoder.{k}": v for k, v in enc.state_dict().items()},
                           "model_info": {"backbone": "se_resnet50", "role": "quality"}})
    w = read_encoder_weights(path)
    assert w.arch == {"se_gate": "identity_start", "stride_layout": "torchvision"}
    x = _input()
    with torch.inference_mode():
        assert torch.equal(build_encoder_from(w).eval()(x), _old_gate_forward(enc, x))


# -- standard ImageNet SE-ResNet-50 weights -------------------------------------------------------
@pytest.fixture(scope="module")
def timm_seresnet50():
    torch.manual_seed(3)
    return _perturb(timm.create_model("seresnet50", pretrained=False), 3)


def test_timm_seresnet50_file_initialises_training_with_identical_features(timm_seresnet50, tmp_path, cli):
    """Acceptance: `train arniqa --backbone se_resnet50 --init FILE` with a timm seresnet50 state dict."""
    init = tmp_path / "seresnet50.pth"
    torch.save(timm_seresnet50.state_dict(), init)
    out = tmp_path / "run"
    r = cli("train", "arniqa", "--config", "demo", "--backbone", "se_resnet50", "--init", str(init), "--max-steps", "0",
            "--no-validation", "--workers", "0", "--out", str(out))
    assert r.code == 0, r
    ckpt = load_checkpoint(out / "last.pt")
    info = ckpt["model_info"]
    assert info["encoder_arch"] == {"se_gate": "sigmoid", "stride_layout": "torchvision"}
    assert info["init"]["format"] == "timm" and ckpt["global_step"] == 0
    method = _arniqa(weights=out / "last.pt")
    x = _input()
    with torch.inference_mode():
        ours = method.net.encoder(x)
    assert _close(ours, _timm_trunk(timm_seresnet50, x))
    # The same file evaluated directly: "ResNet features", not ARNIQA.
    direct = _arniqa(weights=init)
    assert direct.display_name() == "ResNet features [timm weights, no ARNIQA training; SE-ResNet-50]"
    with torch.inference_mode():
        assert _close(direct.net.encoder(x), ours)


def test_legacy_seresnet50_file_gives_identical_features_with_the_caffe_layout(tmp_path):
    from iqabench.training.arniqa import ARNIQATask
    from iqabench.training.config import load_config
    from iqabench.training.distributed import DistEnv

    torch.manual_seed(4)
    legacy = _perturb(timm.create_model("legacy_seresnet50", pretrained=False), 4)
    # The Caffe-converted release predates PyTorch 0.4.1: no num_batches_tracked counters.
    state = {k: v for k, v in legacy.state_dict().items() if not k.endswith("num_batches_tracked")}
    init = tmp_path / "se_resnet50-legacy.pth"
    torch.save(state, init)
    w = read_weights(init)
    assert (w.format, w.backbone, w.arch) == ("senet-caffe", "se_resnet50", {"se_gate": "sigmoid", "stride_layout": "caffe"})
    cfg = load_config("arniqa", "demo")
    cfg["model"].update({"backbone": "se_resnet50", "init": str(init)})
    task = ARNIQATask(cfg, DistEnv())
    net = task.build_model().eval()
    assert task.model_info()["encoder_arch"] == {"se_gate": "sigmoid", "stride_layout": "caffe"}
    x = _input()
    with torch.inference_mode():
        ours = net.encoder(x)
        assert _close(ours, _timm_trunk(legacy, x))
        # With torchvision's strides the same weights compute something else.
        torchvision_layout = ARNIQANet("se_resnet50")
        torchvision_layout.encoder.load_state_dict(net.encoder.state_dict())
        assert not torch.allclose(torchvision_layout.eval().encoder(x), ours, rtol=1e-2)


def test_mismatching_files_and_gates_fail_in_one_line(timm_seresnet50, tmp_path):
    from iqabench.training.arniqa import ARNIQATask
    from iqabench.training.config import load_config
    from iqabench.training.distributed import DistEnv

    state = timm_seresnet50.state_dict()
    cut = {k: v for k, v in state.items() if not k.startswith("layer4.2.se.fc2.")}
    path = tmp_path / "cut.pth"
    torch.save(cut, path)
    with pytest.raises(IQABenchError, match=r"cut.pth.*timm layout.*missing keys layer4.2.se.fc2.bias") as err:
        _arniqa(weights=path)
    assert "\n" not in str(err.value)
    wide = dict(state)
    wide["layer1.0.se.fc1.weight"] = torch.zeros(32, 256, 1, 1)
    torch.save(wide, path)
    with pytest.raises(IQABenchError, match=r"shape mismatch at layer1.0.se.fc1.weight \(file \(32, 256\)"):
        _arniqa(weights=path)
    # SE weights trained with the sigmoid gate into a run configured for identity_start.
    torch.save(state, path)
    cfg = load_config("arniqa", "demo")
    cfg["model"].update({"backbone": "se_resnet50", "init": str(path), "se_gate": "identity_start"})
    with pytest.raises(IQABenchError, match=r"sigmoid SE gate, the config trains the identity_start gate \(pass --se-gate sigmoid\)"):
        ARNIQATask(cfg, DistEnv()).build_model()
    cfg["model"].update({"backbone": "resnet18", "init": None})
    with pytest.raises(IQABenchError, match="model.se_gate: se_gate and stride_layout apply to se_resnet50 only"):
        ARNIQATask(cfg, DistEnv())


def test_resumed_run_keeps_the_recorded_gate():
    from iqabench.training.arniqa import ARNIQATask
    from iqabench.training.config import load_config
    from iqabench.training.distributed import DistEnv

    cfg = load_config("arniqa", "demo")
    cfg["model"]["backbone"] = "se_resnet50"
    del cfg["model"]["se_gate"]  # a configuration saved before the option existed
    task = ARNIQATask(cfg, DistEnv(), resumed_info={"backbone": "se_resnet50", "crop_size": 64})
    net = task.build_model()
    assert {m.gate for m in net.modules() if isinstance(m, SqueezeExcite)} == {"identity_start"}
    assert task.model_info()["encoder_arch"]["se_gate"] == "identity_start"
