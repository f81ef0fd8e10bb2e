"""Feeding a GPU without changing a number: JPEG 2000 in worker processes and inputs prepared one
step ahead give exactly the tensors and the training of the in-process, step-by-step path (on the
CPU, with the same worker pool and the same look-ahead thread that run on CUDA)."""

from __future__ import annotations

import pytest
import torch

from iqabench.degradation import apply_compositions, distort
from iqabench.degradation.codec_pool import JPEG2000Pool
from iqabench.errors import IQABenchError
from iqabench.training.distributed import DistEnv
from tests.test_training_arniqa import make_images, tiny_config

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pool():
    with JPEG2000Pool(2) as p:
        yield p


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("pristine"), 8)


def test_pooled_jpeg2000_is_the_in_process_round_trip_bit_for_bit(pool):
    g = torch.Generator().manual_seed(0)
    levels = torch.tensor([1, 2, 3, 4, 5, 3])
    for size in ((64, 64), (128, 160)):  # 7 and the full 8 resolution levels
        x = torch.rand(6, 3, *size, generator=g)
        pooled = pool.submit(x, levels).result()
        assert torch.equal(pooled, distort(x, "jpeg2000", levels))
        assert pooled.dtype == x.dtype and not torch.equal(pooled, x)
    x64 = torch.rand(2, 3, 64, 64, dtype=torch.float64, generator=g)
    assert torch.equal(pool.submit(x64, 2).result(), distort(x64, "jpeg2000", 2))


def test_compositions_with_the_pool_are_those_without(pool):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 3, 64, 64, generator=g)
    comps = [
        (("jpeg2000", 3), ("gaublur", 2)),  # first step
        (("whitenoise", 2), ("jpeg2000", 5)),  # after a random type: the generator's draws must not move
        (("jpeg2000", 1),),
        (("jitter", 4), ("colorblock", 3), ("jpeg2000", 2)),
        (),
        (("motionblur", 3), ("jpeg2000", 4), ("multnoise", 5)),
    ]
    with_pool = apply_compositions(x, comps, torch.Generator().manual_seed(7), jpeg2000_pool=pool)
    assert torch.equal(with_pool, apply_compositions(x, comps, torch.Generator().manual_seed(7)))
    every_row = [(("jpeg2000", 4),)] * 6  # a round of JPEG 2000 only
    assert torch.equal(apply_compositions(x, every_row, None, jpeg2000_pool=pool), apply_compositions(x, every_row))


def _task(cfg, env=DistEnv()):
    from iqabench.training.arniqa import ARNIQATask

    return ARNIQATask(cfg, env)


def test_a_training_steps_inputs_are_the_same_with_and_without_the_pool(images):
    from iqabench.training.arniqa import _seed

    cfg = tiny_config(images, batch_size=4)
    cfg["data"]["jpeg2000_workers"] = 2
    pooled = _task(cfg)
    cfg["data"]["jpeg2000_workers"] = 0
    local = _task(cfg)
    try:
        assert pooled.jpeg2000_pool is not None and local.jpeg2000_pool is None
        batch = next(iter(local.batches(0, 0)))
        encoded = 0
        for iteration in range(3):
            comps = local.sampler.sample_batch(local.pairs, torch.Generator().manual_seed(_seed(1, 0, iteration, 0, 3)))
            encoded += sum(key == "jpeg2000" for comp in comps for key, _ in comp)
            assert torch.equal(pooled.prepare(batch, 0, iteration)[0], local.prepare(batch, 0, iteration)[0])
        assert encoded > 0  # the comparison covered JPEG 2000
    finally:
        pooled.close()


def test_training_with_the_pool_and_look_ahead_is_training_without(images, tmp_path, monkeypatch):
    from iqabench.training.arniqa import ARNIQATask, train_arniqa
    from iqabench.training.checkpoint import load_checkpoint

    runs = {}
    for name, workers, ahead in (("plain", 0, False), ("fed", 2, True)):
        monkeypatch.setattr(ARNIQATask, "prepare_ahead", ahead)
        cfg = tiny_config(images, epochs=1, batch_size=2, max_steps=3)
        cfg["data"]["jpeg2000_workers"] = workers
        rows: list[dict] = []
        train_arniqa(cfg, tmp_path / name, device="cpu", on_step=rows.append)
        runs[name] = rows, load_checkpoint(tmp_path / name / "last.pt")["model"]
    (plain, plain_end), (fed, fed_end) = runs["plain"], runs["fed"]
    assert [r["loss"] for r in fed] == [r["loss"] for r in plain] and len(plain) == 3
    assert all(torch.equal(plain_end[k], fed_end[k]) for k in plain_end)
    # Without look-ahead the step waits for all of loading and preparing; the columns are written.
    assert all(r["wait_s"] >= r["data_s"] + r["prepare_s"] for r in plain)
    assert all(r["wait_s"] <= r["step_s"] for r in fed)


def test_jpeg2000_workers_auto_is_sized_from_the_hosts_cores(images, monkeypatch):
    import iqabench.devices

    cfg = tiny_config(images)
    assert _task(cfg).jpeg2000_workers == 0  # CPU training: the model's threads use the cores
    monkeypatch.setattr(iqabench.devices, "host_cores", lambda: 16)
    cfg["data"]["workers"] = 8
    task = _task(cfg, DistEnv(device=torch.device("cuda")))  # no CUDA call is made before training starts
    try:
        assert task.jpeg2000_workers == 7 and task.jpeg2000_pool.workers == 7  # 16 − 8 loaders − this process
    finally:
        task.close()
    monkeypatch.setattr(iqabench.devices, "host_cores", lambda: 4)
    task = _task(cfg, DistEnv(device=torch.device("cuda")))
    try:
        assert task.jpeg2000_workers == 1
    finally:
        task.close()


def test_host_cores_are_shared_among_torchruns_local_processes(monkeypatch):
    from iqabench.devices import host_cores

    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    alone = host_cores()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert host_cores() == max(1, alone // 2)


@pytest.mark.parametrize("value", [-1, "many", 1.5, True])
def test_a_bad_jpeg2000_workers_value_is_a_one_line_error(images, value):
    cfg = tiny_config(images)
    cfg["data"]["jpeg2000_workers"] = value
    with pytest.raises(IQABenchError, match=r"^config data.jpeg2000_workers: expected auto or a number") as exc:
        _task(cfg)
    assert "\n" not in str(exc.value)


def test_a_closed_pool_is_a_one_line_error():
    p = JPEG2000Pool(1)
    p.close()
    with pytest.raises(IQABenchError, match="JPEG 2000 worker processes are not running"):
        p.submit(torch.rand(1, 3, 64, 64), 1)
    with pytest.raises(IQABenchError, match="expected a positive integer"):
        JPEG2000Pool(0)

