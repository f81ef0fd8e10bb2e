"""Re-IQA training: OLA crops, the 24-instance sample, MoCo (queue, momentum, loss), LARS, the
schedule, resume, a loss that goes down on the demo photographs, the content task, the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from iqabench.errors import IQABenchError
from iqabench.training.config import load_config
from iqabench.training.distributed import DistEnv
from tests.test_training_arniqa import make_images
from tests.training_support import check_exact_resume

torch.set_num_threads(1)


def tiny_config(images: Path | str, **training) -> dict:
    cfg = load_config("reiqa", "demo")
    cfg["name"] = "tiny"
    cfg["data"].update({"source": str(images), "patch_size": 32, "epoch_repeats": 1, "workers": 0, "downscale": 1.0})
    cfg["moco"]["queue_size"] = 100
    cfg["training"].update({"epochs": 2, "batch_size": 2, "seed": 1, **training})
    cfg["checkpoint"]["every_steps"] = 0
    return cfg


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_images(tmp_path_factory.mktemp("reiqa-pristine"), 6, size=(96, 80))


def _task(cfg):
    from iqabench.training.reiqa import ReIQATask

    return ReIQATask(cfg, DistEnv())


# -- overlapping-area crops -----------------------------------------------------------------------
@pytest.mark.parametrize("patch", [160, 64, 32])
def test_ola_pairs_overlap_on_10_to_30_percent_of_the_patch(patch):
    from iqabench.training.reiqa import ola_offsets

    rng = np.random.default_rng(0)
    ys, xs = [], []
    for _ in range(2000):
        y, x = ola_offsets(patch, (0.1, 0.3), rng)
        overlap = (patch - y) * (patch - x) / patch**2
        assert 0.1 <= overlap <= 0.3 + 1e-12 and patch * 0.7 <= y < patch * 0.9 + 1 and 0 <= x < patch
        ys.append(y)
        xs.append(x)
    assert min(ys) == math.ceil(0.7 * patch) and len(set(xs)) > patch // 4  # the whole ranges are drawn


def test_crop_pair_b_is_a_offset_by_y_x_and_small_images_are_zero_padded():
    from iqabench.training.reiqa import crop_plan, cut_pair

    stack = torch.rand(3, 3, 200, 180)
    plan = crop_plan(200, 180, 64, (0.1, 0.3), np.random.default_rng(3))
    _, _, top, left, y, x = plan
    a, b = cut_pair(stack, plan, 64)
    assert a.shape == b.shape == (3, 3, 64, 64)
    assert torch.equal(a, stack[..., top : top + 64, left : left + 64])
    assert torch.equal(b, stack[..., top + y : top + y + 64, left + x : left + x + 64])
    assert torch.equal(a[..., y:, x:], b[..., : 64 - y, : 64 - x])  # the shared area
    tiny = torch.ones(1, 3, 40, 100)
    plan = crop_plan(40, 100, 64, (0.1, 0.3), np.random.default_rng(1))
    size = 64 + max(plan[4], plan[5])
    a, b = cut_pair(tiny, plan, 64)
    assert plan[0] == (size - 40) // 2 and plan[2] == 0  # centred vertical padding, no room to move
    window = torch.cat([a, b]).sum()  # ones inside the image, zeros in the padding
    assert 0 < window < 2 * 3 * 64 * 64


# -- the sample --------------------------------------------------------------------------------------
def test_sample_is_24_query_key_pairs_built_as_the_reference(images):
    from iqabench.degradation.reiqa_bank import distorted_versions
    from iqabench.training.reiqa import cut_pair

    task = _task(tiny_config(images))
    batch = next(iter(task.batches(0, 0)))
    assert len(batch) == 2
    image, spec = batch[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 80, 96)
    assert len(spec["ids"]) == len(set(spec["ids"])) == 11 and set(spec["ids"]) <= set(range(1, 27))
    assert all(1 <= lv <= 5 for lv in spec["levels"])
    inputs, _ = task.prepare(batch, 0, 0)
    assert inputs.shape == (2 * 24, 6, 32, 32)
    # Rebuild image 0 by hand: versions on the full image, half scale by bicubic align_corners.
    x = image.float().div(255).unsqueeze(0)
    full = distorted_versions(x, spec["ids"], spec["levels"], torch.Generator().manual_seed(spec["seed"]))
    half = F.interpolate(full, size=(40, 48), mode="bicubic", align_corners=True)
    for s, stack in enumerate((full, half)):
        a, b = cut_pair(stack, spec["plans"][s], 32)
        for v in range(12):
            row = inputs[s * 12 + v]
            swapped = v < 6 if s == 0 else v >= 6  # swap_crops: scale 1 first half, scale 2 second half
            query, key = (b[v], a[v]) if swapped else (a[v], b[v])
            assert torch.equal(row[:3], query) and torch.equal(row[3:], key), (s, v)
    assert torch.equal(inputs[0, :3], inputs[0, :3].clamp(0, 1))  # version 0 is the undistorted image
    # Mid-epoch batches are the same whether the epoch starts at 0 or resumes there.
    again = next(iter(task.batches(0, 1)))
    first = list(task.batches(0, 0))[1]
    assert all(torch.equal(p[0], q[0]) and p[1] == q[1] for p, q in zip(first, again))
    assert task.samples_per_step() == 48 and task.model_info()["role"] == "quality"


def test_config_errors_are_one_line(images):
    for key, value, message in [("patch_size", 8, "patch_size must be at least"), ("n_aug", 27, "n_aug must be in 0..26"),
                                ("n_scale", 3, "n_scale must be 1 or 2"), ("overlap", [0.3, 0.1], "overlap must be"),
                                ("bank_fixes", ["round"], "config data.bank_fixes: unknown Re-IQA bank fix 'round'")]:
        cfg = tiny_config(images)
        cfg["data"][key] = value
        with pytest.raises(IQABenchError, match=message):
            _task(cfg)


def test_bank_fixes_are_a_config_option_applied_to_the_versions_and_recorded(images):
    from iqabench.degradation.reiqa_bank import distorted_versions
    from iqabench.training.reiqa import cut_pair

    cfg = tiny_config(images)
    assert _task(cfg).model_info()["bank_fixes"] == []  # default: the bank the released encoder saw
    cfg["data"]["bank_fixes"] = ["round8", "motionblur_centred"]
    task = _task(cfg)
    assert task.model_info()["bank_fixes"] == ["motionblur_centred", "round8"]
    image, spec = next(iter(task.batches(0, 0)))[0]
    spec = dict(spec, ids=[26, 4, 17, 2, 3, 5, 6, 7, 8, 9, 10], levels=[3] * 11)
    out = task.instances(image, spec)
    gen = torch.Generator().manual_seed(spec["seed"])
    full = distorted_versions(image.float().div(255).unsqueeze(0), spec["ids"], spec["levels"], gen,
                              fixes=["round8", "motionblur_centred"])
    a, _ = cut_pair(full, spec["plans"][0], 32)
    assert torch.equal(torch.stack([out[v, 3:] if v < 6 else out[v, :3] for v in range(12)]), a)


# -- MoCo ------------------------------------------------------------------------------------------
def test_moco_queue_is_a_ring_buffer_and_the_key_encoder_follows_by_momentum():
    from iqabench.training.moco import MoCo

    torch.manual_seed(0)
    m = MoCo("resnet18", feat_dim=4, queue_size=5, momentum=0.9)
    assert {"queue", "queue_ptr", "steps", "key.encoder.conv1.weight", "key.head.0.weight"} <= set(m.state_dict())
    assert not any(p.requires_grad for p in m.key.parameters())
    a, b = torch.eye(4)[:3], torch.eye(4)[1:]  # 3 keys, then 3 more: wraps around
    m.enqueue(a)
    assert torch.equal(m.queue[:3], a) and int(m.queue_ptr) == 3
    m.enqueue(b)
    assert torch.equal(m.queue[3:], b[:2]) and torch.equal(m.queue[0], b[2]) and int(m.queue_ptr) == 1
    m.enqueue(torch.arange(28.0).view(7, 4))  # more keys than slots: the last 5 are kept
    assert sorted(m.queue[:, 0].tolist()) == [8.0, 12.0, 16.0, 20.0, 24.0]
    with torch.no_grad():
        for p in m.query.parameters():
            p.add_(1.0)
    q0, k0 = m.query.head[0].weight.clone(), m.key.head[0].weight.clone()
    m.momentum_update()
    assert torch.allclose(m.key.head[0].weight, 0.9 * k0 + 0.1 * q0)


def test_moco_logits_are_positive_then_queue_over_tau_and_keys_enter_the_queue():
    from iqabench.training.moco import MoCo, info_nce

    torch.manual_seed(0)
    m = MoCo("resnet18", feat_dim=8, queue_size=6, momentum=0.5, temperature=0.2)
    x, y = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    queue = m.queue.clone()
    logits = m(x, y)
    m.eval()
    with torch.no_grad():
        m.train()
        q = m.query(x)
        k = m.key(y)  # the key encoder after this step's momentum update
    assert logits.shape == (3, 7)
    assert torch.allclose(logits[:, 0], (q * k).sum(1) / 0.2, atol=1e-5)
    assert torch.allclose(logits[:, 1:], q @ queue.T / 0.2, atol=1e-5)
    assert torch.allclose(m.queue[:3], k, atol=1e-6) and int(m.steps) == 1
    expected = -torch.log_softmax(logits, 1)[:, 0].mean()
    assert info_nce(logits).item() == pytest.approx(expected.item(), rel=1e-6)


# -- LARS and the schedule ---------------------------------------------------------------------------
def test_lars_adapts_matrices_by_the_trust_ratio_and_leaves_vectors_alone():
    from iqabench.training.optim import build_optimizer

    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ‖w‖ = 5
    b = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    frozen = torch.nn.Parameter(torch.ones(2, 2), requires_grad=False)
    opt = build_optimizer({"name": "lars", "lr": 2.0, "momentum": 0.9, "weight_decay": 0.1, "trust_coefficient": 0.01},
                          [w, b, frozen])
    assert sum(len(g["params"]) for g in opt.param_groups) == 2  # the frozen (momentum-encoder) tensor is left out
    w.grad = torch.tensor([[0.0, 1.6]])
    b.grad = torch.tensor([0.5, 0.5])
    opt.step()
    d = torch.tensor([[0.3, 2.0]])  # g + wd·w
    expected_w = torch.tensor([[3.0, 4.0]]) - 2.0 * d * (0.01 * 5.0 / d.norm())
    assert torch.allclose(w.detach(), expected_w, atol=1e-7)
    assert torch.allclose(b.detach(), torch.tensor([0.0, -2.0]))  # plain SGD: no decay, no adaptation
    w.grad, b.grad = torch.zeros(1, 2), torch.zeros(2)
    opt.step()  # momentum carries the vector's step: μ = 0.9·0.5
    assert torch.allclose(b.detach(), torch.tensor([-0.9, -2.9]))


def test_cosine_warmup_schedule_per_epoch_and_per_iteration():
    from iqabench.training.optim import build_scheduler, fractional_epoch

    def rates(per_iteration: bool, warmup: float):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=12.0)
        sched = build_scheduler({"name": "cosine_warmup", "final_factor": 0.001, "warmup_epochs": warmup,
                                 "warmup_from": 0.01, "per_iteration": per_iteration}, opt, epochs=10,
                                iterations_per_epoch=4)
        used = []
        for e in range(10):
            for i in range(4):
                used.append(opt.param_groups[0]["lr"])
                sched.step(fractional_epoch(e, i, 4))
        return used, sched, opt

    def cos(s):
        eta = 12.0 * 0.001
        return eta + (12.0 - eta) * (1 + math.cos(math.pi * s / 10)) / 2

    used, sched, opt = rates(False, 2)
    target = cos(2)
    for k in range(8):  # warm-up: linear per iteration from 0.01 to c(2) over two epochs
        assert used[k] == pytest.approx(0.01 + (k / 8) * (target - 0.01))
    for e in range(2, 10):  # then one value per epoch, c(e + 1): the last epoch at lr·0.1³
        assert used[4 * e : 4 * e + 4] == pytest.approx([cos(e + 1)] * 4)
    assert used[-1] == pytest.approx(0.012)
    per_it, _, _ = rates(True, 0)
    assert per_it == pytest.approx([cos(k / 4) for k in range(40)])
    # Resume: a fresh schedule loaded from the state continues where the first stopped.
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=12.0)
    sched2 = build_scheduler({"name": "cosine_warmup", "final_factor": 0.001, "warmup_epochs": 2, "warmup_from": 0.01,
                              "per_iteration": False}, opt2, epochs=10, iterations_per_epoch=4)
    sched2.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_reference_config_is_the_papers():
    cfg = load_config("reiqa")
    assert cfg["moco"] == {"queue_size": 65536, "momentum": 0.999, "temperature": 0.2, "shuffle_bn": True}
    assert cfg["model"]["backbone"] == "resnet50" and cfg["model"]["feat_dim"] == 128
    assert (cfg["data"]["patch_size"], cfg["data"]["n_aug"], cfg["data"]["n_scale"]) == (160, 11, 2)
    assert cfg["data"]["overlap"] == [0.1, 0.3] and cfg["data"]["swap_crops"] is True
    assert cfg["optimizer"] == {"name": "lars", "lr": 12.0, "momentum": 0.9, "weight_decay": 1e-4,
                                "trust_coefficient": 0.001}
    assert (cfg["scheduler"]["final_factor"], cfg["scheduler"]["warmup_epochs"], cfg["scheduler"]["warmup_from"]) == (
        0.001, 5, 0.01)
    assert cfg["training"]["epochs"] == 40 and cfg["training"]["batch_size"] * 6 == 630
    demo = load_config("reiqa", "demo")
    assert demo["model"]["backbone"] == "resnet18" and demo["data"]["source"] == "demo-pristine"
    assert demo["data"]["downscale"] < 1 and demo["moco"]["temperature"] == 0.2 and demo["optimizer"]["name"] == "lars"


# -- resume and learning ------------------------------------------------------------------------------
def test_resume_mid_epoch_continues_exactly(images, tmp_path):
    from iqabench.training.reiqa import train_reiqa

    cut, end = check_exact_resume(train_reiqa, tiny_config(images), tmp_path)
    assert (cut["epoch"], cut["iteration"], cut["global_step"]) == (1, 1, 4)
    assert int(cut["model"]["queue_ptr"]) == (4 * 48) % 100  # the queue travels in the checkpoint
    # The final comparison covered query, key encoder, queue, pointer and step counter.
    assert end["trainer"] == "reiqa" and end["model_info"]["role"] == "quality"


def test_training_moves_the_loss_down_on_the_demo_pristine_photographs(tmp_path):
    from iqabench.training.reiqa import train_reiqa

    cfg = load_config("reiqa", "demo")
    # Demo tiles at a quarter size, 32 px patches; a queue of exactly one step's keys (4 images ×
    # 24), so from step 2 on every step's negatives are the previous step's keys.
    cfg["data"].update({"downscale": 0.25, "patch_size": 32, "epoch_repeats": 100})
    cfg["moco"]["queue_size"] = 96
    cfg["training"].update({"max_steps": 16, "batch_size": 4})
    rows: list[dict] = []
    train_reiqa(cfg, tmp_path / "run", device="cpu", on_step=rows.append)
    losses = [r["loss"] for r in rows]
    assert len(losses) == 16 and all(math.isfinite(v) for v in losses)
    early, late = np.mean(losses[1:5]), np.mean(losses[-4:])
    assert late < early - 0.1, losses


# -- the content encoder --------------------------------------------------------------------------------
def test_content_views_follow_moco_v2_and_are_reproducible(images):
    from PIL import Image

    from iqabench.training.reiqa_content import ContentTask, moco_v2_view, resized_crop_box

    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, h, w = resized_crop_box(120, 80, rng)
        assert 0 <= top and top + h <= 80 and 0 <= left and left + w <= 120
        assert 0.2 * 9600 * 0.85 <= h * w <= 9600
    img = Image.open(sorted(images.glob("*.png"))[0]).convert("RGB")
    a = moco_v2_view(img, 48, np.random.default_rng(5))
    assert a.shape == (3, 48, 48) and a.dtype == torch.uint8
    assert torch.equal(a, moco_v2_view(img, 48, np.random.default_rng(5)))
    assert not torch.equal(a, moco_v2_view(img, 48, np.random.default_rng(6)))
    cfg = load_config("reiqa_content", "demo")
    cfg["data"].update({"source": str(images), "crop_size": 32, "epoch_repeats": 1, "downscale": 1.0})
    cfg["training"]["batch_size"] = 3
    task = ContentTask(cfg, DistEnv())
    batch = next(iter(task.batches(0, 0)))
    assert batch.shape == (3, 2, 3, 32, 32) and not torch.equal(batch[:, 0], batch[:, 1])
    assert task.model_info()["role"] == "content" and task.model_info()["input_norm"] == "imagenet"
    model = task.build_model()
    assert model.query.input_norm == "imagenet"
    inputs, _ = task.prepare(batch, 0, 0)
    assert torch.isfinite(task.loss(model, inputs))


# -- the command line ------------------------------------------------------------------------------------
def test_train_reiqa_cli_runs_resumes_and_names_wrong_checkpoints(cli, images, tmp_path):
    import yaml

    user = tmp_path / "tiny.yaml"
    cfg = tiny_config(images, epochs=1)
    user.write_text(yaml.safe_dump({k: cfg[k] for k in ("model", "moco", "data", "training", "scheduler")}))
    out = tmp_path / "run"
    r = cli("-q", "train", "reiqa", "--config", str(user), "--max-steps", "1", "--out", str(out))
    assert r.code == 0, r
    assert (out / "last.pt").is_file() and "step 1" in r.out
    r = cli("-q", "train", "reiqa", "--resume", str(out), "--max-steps", "2")
    assert r.code == 0 and "step 2" in r.out, r
    r = cli("-q", "train", "reiqa", "--content", "--resume", str(out))
    assert r.code == 1 and "is a 'reiqa' checkpoint, not a 'reiqa-content' one" in r.err
    r = cli("-q", "train", "reiqa", "--resume", str(out), "--lr", "1")
    assert r.code == 1 and "cannot change optimizer.lr when resuming" in r.err
    r = cli("-q", "train", "reiqa", "--content", "--data-root", str(tmp_path))
    assert r.code == 1 and "give --data" in r.err
    r = cli("-q", "train", "reiqa", "--crop-size", "64")
    assert r.code == 1 and "--crop-size is for the content encoder" in r.err
