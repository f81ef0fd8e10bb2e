"""ARNIQA training: NT-Xent, the batch layouts of the ablations, the schedule, resume, validation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from iqabench.errors import IQABenchError
from iqabench.training.config import load_config
from iqabench.training.contrastive import nt_xent
from iqabench.training.distributed import DistEnv
from iqabench.training.optim import build_optimizer, build_scheduler, fractional_epoch
from tests.training_support import check_exact_resume

torch.set_num_threads(1)

TAU = 0.1


# -- NT-Xent ------------------------------------------------------------------------------------
def test_nt_xent_hand_computed_orthogonal_views():
    # One pair: A_full = B_full = e1, A_half = B_half = e2. Each anchor: positive cos 1, the two
    # other rows cos 0; self excluded → ℓ = −log(e^10 / (e^10 + 1 + 1)) for all four rows.
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    a, b = torch.stack([e1, e2]), torch.stack([e1, e2])
    assert nt_xent(a, b, TAU).item() == pytest.approx(math.log(1 + 2 * math.exp(-10)), abs=1e-6)  # float32


def test_nt_xent_half_scale_view_is_a_hard_negative_in_the_denominator():
    # A_half identical to A_full: for anchor A_full the denominator holds the positive B_full
    # (e^10), the hard negative A_half (e^10) and B_half (e^0).
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    a = torch.stack([e1, e1])  # A_full, A_half
    b = torch.stack([e1, e2])  # B_full, B_half
    rows = {
        "A_full": math.log((2 * math.exp(10) + 1) / math.exp(10)),  # pos B_full; negs A_half (1), B_half (0)
        "A_half": -math.log(1 / (2 * math.exp(10) + 1)),  # pos B_half (cos 0); negs A_full, B_full (cos 1)
        "B_full": math.log((2 * math.exp(10) + 1) / math.exp(10)),  # pos A_full; negs A_half (1), B_half (0)
        "B_half": -math.log(1 / 3),  # pos A_half (cos 0); negs A_full, B_full (cos 0)
    }
    assert nt_xent(a, b, TAU).item() == pytest.approx(sum(rows.values()) / 4, rel=1e-6)


def _paper_eq3(views: dict[str, torch.Tensor], tau: float) -> float:
    """Eq. 3–4 of the paper written term by term: views[name] is B×D for name in x1, x2, x1h, x2h."""
    def g(u, v):
        return math.exp(float(torch.nn.functional.cosine_similarity(u, v, dim=0)) / tau)

    B = views["x1"].shape[0]
    names = ["x1", "x1h", "x2", "x2h"]
    partner = {"x1": "x2", "x2": "x1", "x1h": "x2h", "x2h": "x1h"}
    total = 0.0
    for name in names:
        for i in range(B):
            anchor = views[name][i]
            num = g(anchor, views[partner[name]][i])
            den = sum(g(anchor, views[other][k]) for other in names for k in range(B) if (other, k) != (name, i))
            total += -math.log(num / den)
    return total / (4 * B)


def test_nt_xent_matches_the_paper_equation_on_random_embeddings():
    g = torch.Generator().manual_seed(3)
    views = {k: torch.randn(3, 5, generator=g) for k in ("x1", "x1h", "x2", "x2h")}
    a = torch.cat([views["x1"], views["x1h"]])
    b = torch.cat([views["x2"], views["x2h"]])
    assert nt_xent(a, b, TAU).item() == pytest.approx(_paper_eq3(views, TAU), rel=1e-5)


# -- the schedule -------------------------------------------------------------------------------
def _closed_form_lr(t: float, base: float = 1e-3, eta_min: float = 1e-6) -> float:
    """CosineAnnealingWarmRestarts(T_0=1, T_mult=2) at fractional epoch t."""
    n = int(math.floor(math.log2(t + 1)))  # cycles [0,1), [1,3), [3,7), ...
    t_cur, t_i = t - (2**n - 1), 2**n
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def test_scheduler_stepped_with_fractional_epochs_matches_cosine_warm_restarts():
    cfg = load_config("arniqa")
    model = torch.nn.Linear(2, 1)
    opt = build_optimizer(cfg["optimizer"], model.parameters())
    sched = build_scheduler(cfg["scheduler"], opt)
    n = 7
    used = []
    for epoch in range(10):
        for i in range(n):
            used.append((epoch, i, opt.param_groups[0]["lr"]))
            opt.step()
            sched.step(fractional_epoch(epoch, i, n))
    assert used[0][2] == 1e-3
    for epoch, i, lr in used[1:]:
        t = epoch + (i - 1) / n if i > 0 else epoch - 1 + (n - 1) / n  # the previous step's value
        assert lr == pytest.approx(_closed_form_lr(t), rel=1e-9, abs=1e-15), (epoch, i)
    # Warm restarts at epochs 1, 3 and 7 (back to the base rate); the run stops mid-cycle at ≈ 0.69e-3.
    by_pos = {(e, i): lr for e, i, lr in used}
    for restart in (1, 3, 7):
        assert by_pos[(restart, 1)] == pytest.approx(1e-3, rel=1e-9)
        assert by_pos[(restart, 0)] < 0.06e-3  # the end of the previous cycle
    assert sched.get_last_lr()[0] == pytest.approx(_closed_form_lr(9 + 6 / 7), rel=1e-9)
    assert 0.6e-3 < sched.get_last_lr()[0] < 0.75e-3


# -- tiny configurations --------------------------------------------------------------------------
def make_images(folder: Path, n: int, size: tuple[int, int] = (96, 80), seed: int = 0) -> Path:
    """Smooth random images (low-frequency noise), distinct per file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    for i in range(n):
        coarse = rng.random((h // 8 + 1, w // 8 + 1, 3))
        img = Image.fromarray((coarse * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
        img.save(folder / f"img{i:02d}.png")
    return folder


def tiny_config(images: Path, **training) -> dict:
    cfg = load_config("arniqa", "demo")
    cfg["name"] = "tiny"
    cfg["data"].update({"source": str(images), "crop_size": 64, "epoch_repeats": 1, "workers": 0})
    cfg["training"].update({"epochs": 2, "batch_size": 2, "seed": 1, **training})
    cfg["optimizer"]["lr"] = 0.01
    cfg["validation"]["datasets"] = []
    cfg["checkpoint"]["every_steps"] = 0
    return cfg


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_images(tmp_path_factory.mktemp("pristine"), 6)


def _task(cfg):
    from iqabench.training.arniqa import ARNIQATask

    return ARNIQATask(cfg, DistEnv())


def test_pairs_use_different_images_and_four_views(images):
    task = _task(tiny_config(images))
    assert task.iterations_per_epoch() == 3 and task.pairs == 2
    perm = np.random.default_rng([1, 0, 0]).permutation(6)
    for i in range(3):
        a, b, seeds = task._spec(perm, 0, i)
        assert (a != b).all() and len(set(seeds)) == 2
    batch = next(iter(task.batches(0, 0)))
    assert batch.shape == (8, 3, 64, 64) and batch.dtype == torch.uint8  # A_full, A_half, B_full, B_half × 2
    # Images are 96×80: the half-scale image (48×40) is zero-padded to the 64 crop.
    a_half = batch[2:4]
    assert (a_half[:, :, 40:, :] == 0).all() and (a_half[:, :, :, 48:] == 0).all()
    # Mid-epoch batches are the same whether the epoch starts at 0 or resumes there.
    assert torch.equal(list(task.batches(0, 0))[2], next(iter(task.batches(0, 2))))


def test_same_image_ablation_pairs_an_image_with_itself(images):
    task = _task(tiny_config(images, positives="same_image"))
    perm = np.random.default_rng([1, 0, 0]).permutation(6)
    a, b, _ = task._spec(perm, 0, 0)
    assert (a == b).all()
    batch = next(iter(task.batches(0, 0)))
    assert not torch.equal(batch[0], batch[4])  # two different crops of the same image


def test_no_hard_negatives_ablation_doubles_the_batch_without_half_views(images):
    with_hn = _task(tiny_config(images))
    without = _task(tiny_config(images, hard_negatives=False))
    assert without.pairs == 2 * with_hn.pairs
    b_with, b_without = next(iter(with_hn.batches(0, 0))), next(iter(without.batches(0, 0)))
    assert b_with.shape[0] == b_without.shape[0] == 8  # the loss sees 4B embeddings either way
    assert without.model_info()["hard_negatives"] is False


def test_one_composition_per_sample_on_all_its_views_with_fresh_randomness(images):
    from iqabench.degradation import distort

    task = _task(tiny_config(images))
    comps = [(("gaublur", 5),), (("whitenoise", 5),)]

    class Fixed:
        def sample_batch(self, n, generator=None):
            return comps[:n]

    task.sampler = Fixed()
    batch = next(iter(task.batches(0, 0)))
    out, _ = task.prepare(batch, 0, 0)
    views = batch.float() / 255
    for v in range(4):  # view-major layout: view v of sample k is row v * 2 + k
        blurred = distort(views[2 * v : 2 * v + 1], "gaublur", 5, None)
        assert torch.allclose(out[2 * v], blurred[0], atol=1e-6)
        noise = out[2 * v + 1] - views[2 * v + 1]
        assert noise.abs().max() > 0.01
    # Each noisy view has its own noise field.
    assert not torch.allclose(out[1] - views[1], out[3] - views[3])


def test_degradation_settings_come_from_the_config_and_are_recorded(images):
    from iqabench.degradation import Settings, apply_compositions

    task = _task(tiny_config(images))
    assert task.model_info()["degradation"]["settings"] == Settings().as_dict()  # the reference's quirks
    cfg = tiny_config(images)
    cfg["degradation"]["lens_kernel"] = "matlab"
    task = _task(cfg)
    assert task.model_info()["degradation"]["settings"]["lens_kernel"] == "matlab"

    class Fixed:
        def sample_batch(self, n, generator=None):
            return [(("lensblur", 5),)] * n

    task.sampler = Fixed()
    batch = next(iter(task.batches(0, 0)))
    out, _ = task.prepare(batch, 0, 0)
    views = batch.float() / 255
    comps = [(("lensblur", 5),)] * len(views)
    assert torch.allclose(out, apply_compositions(views, comps, None, Settings(lens_kernel="matlab")), atol=1e-6)
    assert not torch.allclose(out, apply_compositions(views, comps), atol=1e-3)
    cfg["degradation"]["lens_kernel"] = "disc"
    with pytest.raises(IQABenchError, match="config degradation lens_kernel: 'disc' is not one of arniqa, matlab"):
        _task(cfg)


# -- resume -----------------------------------------------------------------------------------
def test_resume_mid_epoch_continues_exactly(images, tmp_path):
    from iqabench.training.arniqa import train_arniqa

    cut, _ = check_exact_resume(train_arniqa, tiny_config(images), tmp_path)  # stops in epoch 2, iteration 1
    assert (cut["kind"], cut["epoch"], cut["iteration"], cut["global_step"]) == ("interrupted", 1, 1, 4)
    # The metrics file holds every step once.
    import pandas as pd

    assert pd.read_csv(tmp_path / "cut" / "metrics.csv")["step"].tolist() == [1, 2, 3, 4, 5, 6]


def test_non_finite_loss_stops_with_a_one_line_error(images, tmp_path):
    from iqabench.training.arniqa import train_arniqa

    cfg = tiny_config(images)
    cfg["optimizer"]["lr"] = 1e30
    with pytest.raises(IQABenchError, match="the loss is (nan|inf)"):
        train_arniqa(cfg, tmp_path / "nan", device="cpu")


# -- validation ---------------------------------------------------------------------------------
def test_validation_keeps_the_best_checkpoint(images, tmp_path, monkeypatch):
    import pandas as pd

    from iqabench.dataset import Dataset, ScoreSpec
    from iqabench.registry import register_dataset
    from iqabench.training.arniqa import train_arniqa
    from iqabench.training.checkpoint import load_checkpoint

    folder = make_images(tmp_path / "val", 30, size=(80, 64), seed=9)

    @register_dataset("unit-val")
    class UnitVal(Dataset):
        labels = {"mos": ScoreSpec("mos", True, (0.0, 1.0))}
        needs_root = False
        split_by_reference = False

        def locate_root(self, root):
            return folder

        def load_index(self):
            paths = sorted(folder.glob("*.png"))
            # Label: image brightness (something a feature can track).
            scores = [float(np.asarray(Image.open(p)).mean() / 255) for p in paths]
            return pd.DataFrame({"image_id": [p.name for p in paths], "path": [str(p) for p in paths], "score": scores})

    cfg = tiny_config(images, epochs=2)
    cfg["validation"]["datasets"] = ["unit-val"]
    summary = train_arniqa(cfg, tmp_path / "run", device="cpu")
    val = pd.read_csv(tmp_path / "run" / "validation.csv")
    assert val["epoch"].tolist() == [1, 2] and val["score"].between(-1, 1).all()
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["kind"] == "best" and best["best"]["score"] == pytest.approx(val["score"].max())
    assert summary["best"]["epoch"] == int(val.loc[val["score"].idxmax(), "epoch"])
