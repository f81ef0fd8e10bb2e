"""``iqabench train contrique``: CONTRIQUE's contrastive training of distortion classes.

Registered on the ``train`` group by :mod:`iqabench.cli.train_cmd`.
"""

from __future__ import annotations

import click

from .train_common import announce, common_options, config_flags, resolve_run

# CLI flag → config key (beyond the options every trainer has: train_common.COMMON_KEYS).
FLAG_KEYS = {
    "synthetic": "data.synthetic",
    "authentic": "data.authentic",
    "backbone": "model.backbone",
    "crop_size": "data.crop_size",
}


@click.command("contrique")
@common_options("contrique", epochs="reference: 25", batch_size="synthetic images, and as many authentic ones; "
                "reference: 256", lr="reference: 0.6", seed="reference: 10", set_example="scheduler.warmup_fraction=0.05")
@click.option("--synthetic", default=None, metavar="DATASET|DIR",
              help="Pristine images to distort into the synthetic classes: a dataset (kadis700k), a folder, "
                   "or demo-pristine (bundled photos).")
@click.option("--authentic", default=None, metavar="DATASET|DIR|none",
              help="Authentic (UGC) images, each its own class; 'none' trains on synthetic images only.")
@click.option("--backbone", type=click.Choice(["resnet50", "resnet18"]), default=None,
              help="Encoder (reference: resnet50; resnet18: demo only).")
@click.option("--crop-size", type=int, default=None, metavar="N", help="View crop size (reference: 256).")
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
    from ..training.contrique import train_contrique

    flags = config_flags(dict(
        synthetic=synthetic, authentic=authentic, backbone=backbone, crop_size=crop_size, workers=workers,
        epochs=epochs, batch_size=batch_size, seed=seed, max_steps=max_steps, lr=lr,
    ), FLAG_KEYS, sets)

    cfg, ckpt, out_dir = resolve_run(
        "contrique", "contrique", config_name, resume, out_dir, flags,
        wrong_trainer=lambda path, found: f"--resume {path!r} is a {found!r} checkpoint, not a CONTRIQUE one",
    )
    announce(out_dir, train_contrique(cfg, out_dir, device=device, data_root=data_root, resume=ckpt))
