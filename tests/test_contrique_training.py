"""CONTRIQUE training: classes, the views against the reference's PIL pipeline, the loss, the optimiser
groups, the schedule, determinism and exact resume, two processes, the CLI and the demo model."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image, ImageCms
from scipy import ndimage
from torchvision import transforms

from iqabench.errors import IQABenchError
from iqabench.training.config import load_config
from iqabench.training.distributed import DistEnv
from tests.test_training_arniqa import make_images
from tests.training_support import check_exact_resume

torch.set_num_threads(1)


def tiny_config(images: Path | str, authentic: Path | str | None = None, **training) -> dict:
    cfg = load_config("contrique", "demo")
    cfg["name"] = "tiny"
    cfg["data"].update({"synthetic": str(images), "authentic": str(authentic or images), "crop_size": 64,
                        "downscale": 1.0, "epoch_repeats": 1, "workers": 0})
    cfg["training"].update({"epochs": 2, "batch_size": 2, "seed": 1, **training})
    return cfg


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_images(tmp_path_factory.mktemp("contrique-pristine"), 6, size=(160, 112))


def _task(cfg, env: DistEnv | None = None):
    from iqabench.training.contrique import ContriqueTask

    return ContriqueTask(cfg, env or DistEnv())


def _uint8(x: torch.Tensor) -> np.ndarray:
    """3×H×W (or N×3×H×W) in [0, 1] → H×W×3 uint8 (N×H×W×3)."""
    return (x * 255).round().to(torch.uint8).movedim(-3, -1).numpy()


# -- classes ------------------------------------------------------------------------------------------
def test_synthetic_classes_are_pristine_then_every_type_and_level():
    from iqabench.degradation import DISTORTIONS
    from iqabench.training.contrique import synthetic_classes

    classes = synthetic_classes()
    assert len(classes) == 1 + 24 * 5 == 121 and classes[0] == ("pristine", 0)
    assert set(classes[1:]) == {(k, lv) for k in DISTORTIONS for lv in range(1, 6)} and len(set(classes)) == 121


# -- views against the reference's PIL pipeline (modules/dataset_loader.py) ---------------------------
@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    a[0, 0, :6] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]]
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255


def _pil(x: torch.Tensor, fn) -> np.ndarray:
    return np.stack([np.asarray(fn(Image.fromarray(a))) for a in _uint8(x)])


def test_grey_hsv_and_ms_are_pillows_and_the_references_exactly(pixels):
    from iqabench.training.contrique_views import ms_transform, pil_grey, pil_hsv

    grey = transforms.RandomGrayscale(p=1.0)  # the reference's colour space 0
    np.testing.assert_array_equal(_uint8(pil_grey(pixels)), _pil(pixels, grey))
    np.testing.assert_array_equal(_uint8(pil_hsv(pixels)), _pil(pixels, lambda im: im.convert("HSV")))

    def ms(im):  # compute_MS_transform / MS_transform with scipy, skvideo's 7-tap window (σ = 7/6)
        arr = np.asarray(im).astype(np.float32)
        w = np.array([math.exp(-0.5 * i * i / (7 / 6) ** 2) for i in range(-3, 4)])
        w /= w.sum()
        for c in range(3):
            mu = np.zeros_like(arr[:, :, c])
            ndimage.correlate1d(arr[:, :, c], w, 0, mu, mode="reflect")
            ndimage.correlate1d(mu, w, 1, mu, mode="reflect")
            d = arr[:, :, c] - mu
            arr[:, :, c] = (d - d.min()) / (np.ptp(d) + 1e-3)
        return (arr * 255).astype(np.uint8)

    np.testing.assert_array_equal(_uint8(ms_transform(pixels)), _pil(pixels, ms))


def test_lab_is_imagecms_within_one_level_with_signed_a_b(pixels):
    from iqabench.training.contrique_views import imagecms_lab

    transform = ImageCms.buildTransformFromOpenProfiles(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"),
                                                        "RGB", "LAB")
    ref = _pil(pixels, lambda im: ImageCms.applyTransform(im, transform)).astype(int)
    ours = _uint8(imagecms_lab(pixels)).astype(int)
    diff = np.abs(ours - ref)
    diff = np.minimum(diff, 256 - diff)  # a, b are signed bytes: −1 and 0 are neighbours (255 vs 0)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.05
    assert (ref[..., 1:] > 128).any()  # negative a/b values occur and wrap, as ToTensor reads them


def test_crops_and_resizes_are_torchvisions_on_pil_images():
    from iqabench.training.contrique_views import ViewPlan, _crop_plan, resized_crop

    rng = np.random.default_rng(1)
    arr = np.asarray(Image.fromarray(rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)).resize((131, 97), Image.BICUBIC))
    x = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255
    for divisor, size in ((1, 128), (2, 64), (2, 56), (1, 64)):
        h, w = 97 // divisor, 131 // divisor
        top, left, pad = _crop_plan(h, w, size, rng)
        view = resized_crop(x, ViewPlan(divisor, top, left, pad, 4, False), size)
        pil = transforms.Resize([h, w])(Image.fromarray(arr))  # the reference's ResizeCrop, PIL bilinear
        if h < size or w < size:
            expected = np.asarray(transforms.CenterCrop(size)(pil))
        else:
            expected = np.asarray(pil.crop((left, top, left + size, top + size)))
            assert 0 <= top <= h - size and 0 <= left <= w - size
        diff = np.abs(_uint8(view).astype(int) - expected.astype(int))
        assert view.shape == (3, size, size) and diff.max() <= 1 and (diff > 0).mean() < 0.25, (divisor, size)
        if divisor == 1:
            assert diff.max() == 0  # no resize: the crop itself is exact (padding included)


# -- loss, optimiser groups, schedule --------------------------------------------------------------------
def _reference_loss(z: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """nt_xent_multiclass.py with label vectors: positives L·Lᵀ without the diagonal, exp-sum denominator."""
    n = z.shape[0]
    z = torch.nn.functional.normalize(z, dim=1)
    sim = z @ z.T / tau
    mask = (labels @ labels.T).fill_diagonal_(0)
    zero_diag = torch.ones(n, n).fill_diagonal_(0)
    return torch.mean(torch.log(torch.sum(torch.exp(sim) * zero_diag, dim=1)) - torch.sum(sim * mask, dim=1) / mask.sum(1))


def test_nt_xent_multiclass_is_the_reference_formula():
    from iqabench.training.contrastive import nt_xent_multiclass

    g = torch.Generator().manual_seed(0)
    z = torch.randn(24, 8, generator=g, dtype=torch.float64)
    classes = torch.tensor([0, 0, 3, 3, 3, 7, 7, 121, 121, 122, 122, 5] * 2)
    one_hot = torch.nn.functional.one_hot(classes, 130).double()
    got = nt_xent_multiclass(z, classes, 0.1)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(_reference_loss(z, one_hot, 0.1).item(), rel=1e-5)
    together = z.clone()
    together[classes == 3] = z[2].clone()  # one class collapsed onto one direction: the loss drops
    assert nt_xent_multiclass(together, classes, 0.1) < got
    with pytest.raises(ValueError, match="no positive"):
        nt_xent_multiclass(z[:3], torch.tensor([0, 0, 1]), 0.1)


def test_weight_decay_groups_follow_the_reference_names(images):
    task = _task(tiny_config(images))
    model = task.build_model()
    groups = task.optimizer_params(model)
    no_decay = {id(p) for p in groups[1]["params"]}
    names = {name: id(p) in no_decay for name, p in model.named_parameters()}
    assert groups[1]["weight_decay"] == 0.0 and "weight_decay" not in groups[0]
    assert names["encoder.layer1.0.bn1.weight"] and names["encoder.layer4.1.bn2.bias"]  # encoder.<i>.<j>.bnK
    # the reference's names for these are encoder.1.*, encoder.<i>.0.downsample.1.*, projector.1.*: decayed
    assert not names["encoder.bn1.weight"] and not names["encoder.layer2.0.downsample.1.weight"]
    assert not names["projector.1.weight"] and not names["projector.4.bias"] and not names["encoder.conv1.weight"]


def test_schedule_is_the_references_linear_warmup_and_cosine_anneal():
    from iqabench.training.optim import build_scheduler, fractional_epoch

    epochs, n, base = 3, 7, 0.6
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    sched = build_scheduler({"name": "warmup_cosine", "warmup_fraction": 0.1}, opt, epochs=epochs,
                            iterations_per_epoch=n)
    used = []
    for e in range(epochs):
        for i in range(n):
            used.append(opt.param_groups[0]["lr"])
            sched.step(fractional_epoch(e, i, n))
    # modules/scheduler.py LinearWarmupAndCosineAnneal, iterated as the reference steps it
    total = epochs * n
    warm, t_max = int(0.1 * total), total - int(0.1 * total)
    expected, lr = [], None
    for t in range(total):
        if t == 0:
            lr = base / (warm + 1)
        elif t <= warm:
            lr = lr * (t + 1) / t
        else:
            le = t - warm
            lr = lr * (1 + math.cos(math.pi * le / t_max)) / (1 + math.cos(math.pi * (le - 1) / t_max))
        expected.append(lr)
    assert used == pytest.approx(expected, rel=1e-9)
    assert max(used) == pytest.approx(base) and used[-1] < 0.01


# -- the sample ---------------------------------------------------------------------------------------------
def test_a_step_is_synthetic_then_authentic_images_in_two_views(images):
    from iqabench.degradation import distort
    from iqabench.training.contrique_views import quantise

    task = _task(tiny_config(images))
    batch = next(iter(task.batches(0, 0)))
    assert len(batch) == 4 and all(image.dtype == torch.uint8 for image, _ in batch)
    specs = [spec for _, spec in batch]
    assert all(0 <= s["class"] < 121 for s in specs[:2]) and all(s["class"] is None for s in specs[2:])
    assert all(sorted(v.divisor for v in s["views"]) == [1, 2] for s in specs)  # one full, one half scale
    inputs, _ = task.prepare(batch, 0, 0)
    assert inputs["first"].shape == inputs["second"].shape == (4, 3, 64, 64)
    assert inputs["classes"][:2].tolist() == [s["class"] for s in specs[:2]]
    assert inputs["classes"][2:].tolist() == [121, 122]  # each authentic image its own class
    assert torch.equal(inputs["first"], (inputs["first"] * 255).round() / 255)  # 8-bit values, as ToTensor
    again, _ = task.prepare(batch, 0, 0)
    assert all(torch.equal(inputs[k], again[k]) for k in inputs)
    # A synthetic image is distorted whole by the degradation model, as its class says.
    image, spec = batch[0]
    spec = dict(spec, **{"class": 1 + 5 * 8 + 2})  # jpeg, level 3
    x = image.float().div(255).unsqueeze(0)
    g = torch.Generator().manual_seed(spec["seed"])
    assert torch.equal(task.source_image(image, spec), quantise(distort(x, "jpeg", 3, g)))
    assert torch.equal(task.source_image(image, dict(spec, **{"class": 0})), x)  # pristine
    # Mid-epoch batches are the same whether the epoch starts at 0 or resumes there.
    resumed = next(iter(task.batches(0, 1)))
    first = list(task.batches(0, 0))[1]
    assert all(torch.equal(p[0], q[0]) and p[1] == q[1] for p, q in zip(first, resumed))
    info = task.model_info()
    assert info["classes"]["synthetic"] == 121 and info["classes"]["names"][:2] == ["pristine", "gaublur:1"]
    assert task.samples_per_step() == 4 and task.iterations_per_epoch() == 3


def test_config_errors_are_one_line(images):
    for section, key, value, message in [
        ("data", "authentic", None, "--authentic DATASET|DIR"), ("data", "crop_size", 32, "crop_size must be at least 64"),
        ("model", "backbone", "se_resnet50", "not one of resnet50, resnet18"),
        ("optimizer", "name", "lars", "CONTRIQUE trains with sgd"), ("data", "downscale", 2.0, "downscale must be"),
    ]:
        cfg = tiny_config(images)
        cfg[section][key] = value
        with pytest.raises(IQABenchError, match=message):
            _task(cfg)
    cfg = tiny_config(images)
    cfg["data"]["authentic"] = "none"
    task = _task(cfg)
    assert task.authentic is None and task.samples_per_step() == 2 and task.iterations_per_epoch() == 3


# -- training, resume, two processes ---------------------------------------------------------------------
def test_resume_mid_epoch_continues_exactly(images, tmp_path):
    from iqabench.training.contrique import train_contrique

    cut, end = check_exact_resume(train_contrique, tiny_config(images), tmp_path)
    assert (cut["epoch"], cut["iteration"], cut["global_step"]) == (1, 1, 4)
    assert end["trainer"] == "contrique" and end["model_info"]["backbone"] == "resnet18"


def _ddp_worker(rank: int, world: int, port: int, images: str, out: str) -> None:
    from iqabench.training import distributed
    from iqabench.training.contrique import ContriqueTask
    from iqabench.training.loop import Trainer
    from tests.test_training_ddp import _join

    env = _join(rank, world, port)
    try:
        cfg = tiny_config(Path(images), max_steps=1, batch_size=1)
        task = ContriqueTask(cfg, env)
        trainer = Trainer(task, cfg, Path(out) / "run", env)
        batch = next(iter(task.batches(0, 0)))
        inputs, _ = task.prepare(batch, 0, 0)
        trainer.model.eval()
        with torch.no_grad():
            z1, z2 = trainer.model(inputs["first"], inputs["second"])
            loss = float(task.loss(trainer.model, inputs))
        trainer.fit()
        torch.save({"z": torch.cat([z1, z2]), "classes": inputs["classes"], "loss": loss,
                    "state": {k: v.detach().clone() for k, v in trainer.model.named_parameters()}},
                   Path(out) / f"rank{rank}.pt")
    finally:
        distributed.teardown(env)


def test_two_processes_share_one_loss_over_both_and_the_same_weights(images, tmp_path):
    from iqabench.training.contrastive import nt_xent_multiclass
    from tests.test_training_ddp import _free_port

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(images), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["classes"][1].item() == 121 and r1["classes"][1].item() == 122  # authentic ids unique per process
    # Each process's loss is the loss over both processes' rows (gathered), so they agree.
    per_rank = [(r["z"], torch.cat([r["classes"].repeat_interleave(4)] * 2)) for r in (r0, r1)]
    both = nt_xent_multiclass(torch.cat([z for z, _ in per_rank]), torch.cat([c for _, c in per_rank]), 0.1)
    assert r0["loss"] == pytest.approx(r1["loss"], rel=1e-6) and r0["loss"] == pytest.approx(float(both), rel=1e-5)
    for key, value in r0["state"].items():
        assert torch.equal(value, r1["state"][key]), key


def test_train_contrique_cli_runs_resumes_and_evaluates(cli, images, tmp_path, demo_root):
    import yaml

    user = tmp_path / "tiny.yaml"
    cfg = tiny_config(images)
    cfg["data"]["downscale"] = 0.25  # recorded in the checkpoint: the method reduces the demo images too
    user.write_text(yaml.safe_dump({k: cfg[k] for k in ("model", "data", "training", "optimizer")}))
    out = tmp_path / "run"
    r = cli("-q", "train", "contrique", "--config", str(user), "--max-steps", "2", "--out", str(out))
    assert r.code == 0, r
    assert f"{out}/last.pt  step 2, epoch 0" in r.out
    r = cli("-q", "train", "contrique", "--resume", str(out), "--lr", "1")
    assert r.code == 1 and "cannot change optimizer.lr when resuming" in r.err and r.err.count("\n") == 1
    r = cli("-q", "train", "contrique", "--resume", str(out), "--set", "training.max_steps=null")
    assert r.code == 0 and "step 6, epoch 2" in r.out, r
    import pandas as pd

    assert pd.read_csv(out / "metrics.csv")["step"].tolist() == [1, 2, 3, 4, 5, 6]
    r = cli("-q", "train", "arniqa", "--resume", str(out))
    assert r.code == 1 and "is a 'contrique' checkpoint" in r.err
    r = cli("-q", "train", "contrique", "--synthetic", str(images))
    assert r.code == 1 and "--authentic DATASET|DIR" in r.err
    runs = tmp_path / "runs"
    r = cli("run", "--method", "contrique", "--weights", str(out / "last.pt"), "--protocol", "within_dataset",
            "--dataset", "demo", "--dataset-option", "types=jpeg", "--runs", str(runs), "--no-cache")
    assert r.code == 0, r
    assert "CONTRIQUE [tiny config, from random init; ResNet-18, input ×0.25] on demo: SRCC" in r.out


# -- the demo ------------------------------------------------------------------------------------------------
def test_demo_config_is_small_and_the_references_otherwise():
    demo, paper = load_config("contrique", "demo"), load_config("contrique")
    assert demo["model"]["backbone"] == "resnet18" and demo["data"]["synthetic"] == "demo-pristine"
    assert paper["model"]["backbone"] == "resnet50" and paper["data"]["crop_size"] == 256
    assert paper["training"]["epochs"] == 25 and paper["training"]["seed"] == 10 and paper["training"]["temperature"] == 0.1
    assert paper["optimizer"] == {"name": "sgd", "lr": 0.6, "momentum": 0.9, "weight_decay": 1e-4}
    assert paper["scheduler"] == demo["scheduler"] == {"name": "warmup_cosine", "warmup_fraction": 0.1}
    assert demo["training"]["temperature"] == 0.1 and demo["optimizer"]["momentum"] == 0.9


def test_demo_model_is_trained_once_then_reused(images, tmp_path, monkeypatch):
    from iqabench import registry
    from iqabench.training import contrique_demo

    monkeypatch.setenv("IQABENCH_HOME", str(tmp_path / "home"))
    cfg = tiny_config(images, epochs=1, max_steps=2)
    monkeypatch.setattr(contrique_demo, "load_config", lambda method, name: cfg)
    cls = registry.methods.get("contrique")
    (variant,) = cls.demo_variants(device="cpu")
    models = tmp_path / "home" / "models"
    assert [p.name for p in models.iterdir()] == [Path(variant["weights"]).name]  # the training folder is gone
    stamp = Path(variant["weights"]).stat().st_mtime_ns
    assert cls.demo_variants(device="cpu") == [variant] and Path(variant["weights"]).stat().st_mtime_ns == stamp
    m = cls(weights=variant["weights"])
    assert m.display_name() == "CONTRIQUE [tiny config, from random init; ResNet-18]"
    assert "optimizer" not in torch.load(variant["weights"], weights_only=True)
    assert os.environ["IQABENCH_HOME"] == str(tmp_path / "home")
