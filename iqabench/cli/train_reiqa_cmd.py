"""``iqabench train reiqa``: Re-IQA's quality-aware encoder, or (``--content``) its content encoder.

Registered on the ``train`` group by :mod:`iqabench.cli.train_cmd`.
"""

from __future__ import annotations

import os

import click

from ..errors import IQABenchError
from .common import parse_pairs
from .train_common import resolve_run

# CLI flag → config key (quality config; the content config has crop_size instead of patch_size).
FLAG_KEYS = {
    "source": "data.source",
    "init": "model.init",
    "backbone": "model.backbone",
    "workers": "data.workers",
    "epochs": "training.epochs",
    "batch_size": "training.batch_size",
    "seed": "training.seed",
    "max_steps": "training.max_steps",
    "lr": "optimizer.lr",
    "optimizer": "optimizer.name",
    "queue_size": "moco.queue_size",
}
TRAINER = {False: ("reiqa", "reiqa"), True: ("reiqa-content", "reiqa_content")}  # content → (trainer, config family)


@click.command("reiqa")
@click.option("--content", is_flag=True,
              help="Train the content encoder (MoCo-v2 on pristine images) instead of the quality encoder.")
@click.option("--config", "config_name", default=None, metavar="NAME|FILE",
              help="Packaged configuration (paper [default], demo) or a YAML file merged over the paper's.")
@click.option("--data", "source", default=None, metavar="DATASET|DIR",
              help="Pristine training images: a dataset (kadis700k), a folder, or demo-pristine (bundled photos).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Folder holding the datasets (default: $IQABENCH_DATA).")
@click.option("--init", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Initial encoder weights (any layout the reiqa method reads); default: random initialisation.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Run folder (default: runs/train/reiqa[-content]-<config>-<time>).")
@click.option("--resume", default=None, metavar="DIR|CKPT",
              help="Continue a run from its last.pt (or the given checkpoint), mid-epoch included.")
@click.option("--backbone", type=click.Choice(["resnet50", "resnet18"]), default=None,
              help="Encoder (reference: resnet50; resnet18: demo only).")
@click.option("--patch-size", type=int, default=None, metavar="N", help="Quality: OLA patch size (reference: 160).")
@click.option("--crop-size", type=int, default=None, metavar="N", help="Content: augmented view size (224).")
@click.option("--queue-size", type=int, default=None, metavar="N", help="MoCo queue of negative keys (65536).")
@click.option("--epochs", type=int, default=None, metavar="N", help="Training epochs (quality reference: 40).")
@click.option("--batch-size", type=int, default=None, metavar="N", help="Images per step and process.")
@click.option("--lr", type=float, default=None, metavar="X", help="Base learning rate (quality reference: 12).")
@click.option("--optimizer", type=click.Choice(["lars", "sgd"]), default=None,
              help="LARS (the quality reference) or plain momentum SGD.")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed of the initialisation and of every sample.")
@click.option("--max-steps", type=int, default=None, metavar="N", help="Stop after N steps in total.")
@click.option("--workers", type=int, default=None, metavar="N", help="Data-loading worker processes.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any config key, dotted (e.g. moco.temperature=0.2). Repeatable.")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
              help="Training device (under torchrun: each process its LOCAL_RANK GPU).")
def reiqa_cmd(content, config_name, source, data_root, init, out_dir, resume, backbone, patch_size, crop_size,
              queue_size, epochs, batch_size, lr, optimizer, seed, max_steps, workers, sets, device) -> None:
    """Train a Re-IQA encoder with MoCo-v2 and write checkpoints.

    \b
    The quality encoder (default) learns from 12 versions of each image (the original and 11
    distortions from Re-IQA's 26-type bank) at two scales, two overlapping crops each; the content
    encoder (--content) is vanilla MoCo-v2. Use the checkpoints with
    'iqabench run --method reiqa --weights QUALITY.pt --method-option content=CONTENT.pt'.
    Examples:
      iqabench train reiqa --data ~/reiqa-pool --out runs/train/reiqa
      torchrun --nproc_per_node 6 -m iqabench train reiqa --data ~/reiqa-pool
      iqabench train reiqa --content --data ~/imagenet/train
      iqabench train reiqa --config demo --out runs/train/reiqa-demo
      iqabench train reiqa --resume runs/train/reiqa-demo
    """
    from ..training.config import parse_scalar
    from ..training.reiqa import train_reiqa

    if content and patch_size is not None:
        raise IQABenchError("--patch-size is for the quality encoder; the content encoder takes --crop-size")
    if not content and crop_size is not None:
        raise IQABenchError("--crop-size is for the content encoder (--content); the quality encoder takes --patch-size")
    flags = {FLAG_KEYS[k]: v for k, v in dict(
        source=source, init=init, backbone=backbone, workers=workers, epochs=epochs, batch_size=batch_size, seed=seed,
        max_steps=max_steps, lr=lr, optimizer=optimizer, queue_size=queue_size,
    ).items() if v is not None}
    if patch_size is not None:
        flags["data.patch_size"] = patch_size
    if crop_size is not None:
        flags["data.crop_size"] = crop_size
    for key, value in parse_pairs(sets, "--set").items():
        flags[key] = parse_scalar(value)

    trainer, family = TRAINER[content]

    def wrong_trainer(path: str, found) -> str:
        hint = " (add --content)" if found == "reiqa-content" else ""
        return f"--resume {path!r} is a {found!r} checkpoint, not a {trainer!r} one{hint}"

    cfg, ckpt, out_dir = resolve_run(trainer, family, config_name, resume, out_dir, flags, wrong_trainer=wrong_trainer)
    summary = train_reiqa(cfg, out_dir, device=device, data_root=data_root, resume=ckpt, content=content)
    if os.environ.get("RANK", "0") != "0":
        return
    click.echo(f"{out_dir}/last.pt  step {summary['global_step']}, epoch {summary['epoch']}")
