"""Two training processes on the CPU (gloo): different data, the same weights after a step."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from tests.test_training_arniqa import make_images, tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, world: int, port: int):
    """This process's place in a gloo group of ``world`` CPU processes (progress bars off)."""
    torch.set_num_threads(1)
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)})
    from iqabench import progress
    from iqabench.training import distributed

    progress.set_enabled(False)
    return distributed.setup("cpu")


def _worker(rank: int, world: int, port: int, images: str, out: str) -> None:
    from iqabench.training import distributed
    from iqabench.training.arniqa import ARNIQATask
    from iqabench.training.loop import Trainer

    env = _join(rank, world, port)
    try:
        cfg = tiny_config(Path(images), max_steps=1)
        losses: list[float] = []
        task = ARNIQATask(cfg, env)
        trainer = Trainer(task, cfg, Path(out) / "run", env)
        first_batch = next(iter(task.batches(0, 0)))
        trainer.model.eval()
        with torch.no_grad():  # this rank's own loss on its own data, before the step
            inputs, _ = task.prepare(first_batch, 0, 0)
            losses.append(float(task.loss(trainer.model, inputs)))
        trainer.fit()
        params = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
        torch.save({"state": params, "loss": losses[0], "batch": first_batch},
                   Path(out) / f"rank{rank}.pt")
    finally:
        distributed.teardown(env)


def test_two_gloo_processes_agree_on_the_weights_after_a_step(tmp_path):
    images = make_images(tmp_path / "pristine", 8)
    mp.spawn(_worker, args=(2, _free_port(), str(images), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert not torch.equal(r0["batch"], r1["batch"])  # each rank trained on its own samples
    assert r0["loss"] != r1["loss"]
    # Parameters agree exactly (gradients are averaged). Batch-norm running statistics are not
    # parameters: DDP copies rank 0's into every process at the start of each forward pass.
    assert len(r0["state"]) == len(r1["state"]) > 0
    for key, value in r0["state"].items():
        assert torch.equal(value, r1["state"][key]), key
    # Rank 0 wrote the checkpoint; the step did change the weights.
    from iqabench.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["global_step"] == 1 and ckpt["model_info"]["world_size"] == 2
    torch.manual_seed(1)
    from iqabench.training.arniqa import PairwiseARNIQA

    start = PairwiseARNIQA("resnet18").state_dict()
    assert not torch.equal(start["encoder.conv1.weight"], r0["state"]["encoder.conv1.weight"])


def _reiqa_worker(rank: int, world: int, port: int, images: str, out: str) -> None:
    from iqabench.training import distributed
    from iqabench.training.loop import Trainer
    from iqabench.training.reiqa import ReIQATask
    from tests.test_reiqa_training import tiny_config as reiqa_config

    env = _join(rank, world, port)
    try:
        cfg = reiqa_config(Path(images), max_steps=2, batch_size=1)
        task = ReIQATask(cfg, env)
        seeds = [spec["seed"] for _, spec in next(iter(task.batches(0, 0)))]
        trainer = Trainer(task, cfg, Path(out) / "run", env)
        trainer.fit()
        state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        torch.save({"state": state, "seeds": seeds}, Path(out) / f"reiqa-rank{rank}.pt")
    finally:
        distributed.teardown(env)


def test_reiqa_two_processes_share_weights_keys_and_queue(tmp_path):
    """MoCo under DDP: gradients averaged, ShuffleBN keys gathered from both processes into one queue."""
    from tests.test_reiqa_training import make_images as reiqa_images

    images = reiqa_images(tmp_path / "pristine", 4, size=(96, 80))
    mp.spawn(_reiqa_worker, args=(2, _free_port(), str(images), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"reiqa-rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["seeds"] != r1["seeds"]  # each rank sampled its own images
    # Query parameters (averaged gradients), key encoder (momentum of identical queries) and the queue
    # (both ranks' keys, in rank order) are the same everywhere; BN running statistics are not compared.
    compared = [k for k in r0["state"] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert "queue" in compared and any(k.startswith("key.") for k in compared)
    for key in compared:
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    assert int(r0["state"]["queue_ptr"]) == 2 * 2 * 24 % 100  # 2 steps × 2 ranks × 24 keys, queue of 100
