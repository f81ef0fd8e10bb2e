"""``iqabench train contrique``: CONTRIQUE's contrastive training of distortion classes.

Registered on the ``train`` group by :mod:`iqabench.cli.train_cmd`.
"""

from __future__ import annotations

import os

import click

from .common import parse_pairs
from .train_common import resolve_run

# CLI flag → config key.
FLAG_KEYS = {
    "synthetic": "data.synthetic",
    "authentic": "data.authentic",
    "backbone": "model.backbone",
    "crop_size": "data.crop_size",
    "workers": "data.workers",
    "epochs": "training.epochs",
    "batch_size": "training.batch_size",
    "seed": "training.seed",
    "max_steps": "training.max_steps",
    "lr": "optimizer.lr",
}


@click.command("contrique")
@click.option("--config", "config_name", default=None, metavar="NAME|FILE",
              help="Packaged configuration (paper [default], demo) or a YAML file merged over the paper's.")
@click.option("--synthetic", default=None, metavar="DATASET|DIR",
              help="Pristine images to distort into the synthetic classes: a dataset (kadis700k), a folder, "
                   "or demo-pristine (bundled photos).")
@click.option("--authentic", default=None, metavar="DATASET|DIR|none",
              help="Authentic (UGC) images, each its own class; 'none' trains on synthetic images only.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Folder holding the datasets (default: $IQABENCH_DATA).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Run folder (default: runs/train/contrique-<config>-<time>).")
@click.option("--resume", default=None, metavar="DIR|CKPT",
              help="Continue a run from its last.pt (or the given checkpoint), mid-epoch included.")
@click.option("--backbone", type=click.Choice(["resnet50", "resnet18"]), default=None,
              help="Encoder (reference: resnet50; resnet18: demo only).")
@click.option("--crop-size", type=int, default=None, metavar="N", help="View crop size (reference: 256).")
@click.option("--epochs", type=int, default=None, metavar="N", help="Training epochs (reference: 25).")
@click.option("--batch-size", type=int, default=None, metavar="N",
              help="Synthetic images per step and process, and as many authentic ones (reference: 256).")
@click.option("--lr", type=float, default=None, metavar="X", help="Base learning rate (reference: 0.6).")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed of the initialisation and of every sample (10).")
@click.option("--max-steps", type=int, default=None, metavar="N", help="Stop after N steps in total.")
@click.option("--workers", type=int, default=None, metavar="N", help="Data-loading worker processes.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any config key, dotted (e.g. scheduler.warmup_fraction=0.05). Repeatable.")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
              help="Training device (under torchrun: each process its LOCAL_RANK GPU).")
def contrique_cmd(config_name, synthetic, authentic, data_root, out_dir, resume, backbone, crop_size, epochs,
                  batch_size, lr, seed, max_steps, workers, sets, device) -> None:
    """Train CONTRIQUE (reference: KADIS-700k synthetic + UGC authentic images, 25 epochs).

    \b
    A synthetic image gets a random class, pristine or one (distortion type, level) of iqabench's
    degradation model, shared across contents; an authentic image is its own class. Use the
    checkpoints with 'iqabench run --method contrique --weights last.pt'.
    Examples:
      iqabench train contrique --synthetic kadis700k --authentic ~/ugc --data-root ~/iqa
      torchrun --nproc_per_node 4 -m iqabench train contrique --synthetic kadis700k --authentic ~/ugc --batch-size 64
      iqabench train contrique --config demo --out runs/train/contrique-demo
      iqabench train contrique --resume runs/train/contrique-demo
    """
    from ..training.config import parse_scalar
    from ..training.contrique import train_contrique

    flags = {FLAG_KEYS[k]: v for k, v in dict(
        synthetic=synthetic, authentic=authentic, backbone=backbone, crop_size=crop_size, workers=workers,
        epochs=epochs, batch_size=batch_size, seed=seed, max_steps=max_steps, lr=lr,
    ).items() if v is not None}
    for key, value in parse_pairs(sets, "--set").items():
        flags[key] = parse_scalar(value)

    cfg, ckpt, out_dir = resolve_run(
        "contrique", "contrique", config_name, resume, out_dir, flags,
        wrong_trainer=lambda path, found: f"--resume {path!r} is a {found!r} checkpoint, not a CONTRIQUE one",
    )
    summary = train_contrique(cfg, out_dir, device=device, data_root=data_root, resume=ckpt)
    if os.environ.get("RANK", "0") != "0":
        return
    click.echo(f"{out_dir}/last.pt  step {summary['global_step']}, epoch {summary['epoch']}")
