"""``iqabench train``: self-supervised training of the methods that have a trainer (ARNIQA, Re-IQA, CONTRIQUE)."""

from __future__ import annotations

import click

from .train_common import announce, common_options, config_flags, resolve_run
from .train_contrique_cmd import contrique_cmd
from .train_reiqa_cmd import reiqa_cmd

# CLI flag → config key (beyond the options every trainer has: train_common.COMMON_KEYS).
FLAG_KEYS = {
    "source": "data.source",
    "init": "model.init",
    "backbone": "model.backbone",
    "se_gate": "model.se_gate",
    "crop_size": "data.crop_size",
    "positives": "training.positives",
    "degradation": "degradation.variant",
}


@click.group("train")
def train_cmd() -> None:
    """Self-supervised training (checkpoints usable with 'iqabench run --weights')."""


@train_cmd.command("arniqa")
@common_options("arniqa", epochs="paper: 10", batch_size="pairs; paper: 16", lr="paper: 1e-3", seed="paper: 27",
                set_example="scheduler.eta_min=1e-6")
@click.option("--data", "source", default=None, metavar="DATASET|DIR",
              help="Pristine training images: a dataset (kadis700k), a folder, or demo-pristine (bundled photos).")
@click.option("--init", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Initial weights (e.g. torchvision ImageNet ResNet-50 weights; for se_resnet50 also timm "
                   "seresnet50 or legacy_seresnet50 ImageNet weights); default: random initialisation.")
@click.option("--backbone", type=click.Choice(["resnet50", "se_resnet50", "resnet18", "resnet18_quarter"]), default=None,
              help="Encoder (se_resnet50: SE blocks in every bottleneck; resnet18, resnet18_quarter: demo only).")
@click.option("--se-gate", type=click.Choice(["sigmoid", "identity_start"]), default=None,
              help="se_resnet50's SE gate: sigmoid (Hu et al.) [default] or identity_start (2·sigmoid, "
                   "second FC zero: starts as the ResNet-50 it was loaded from).")
@click.option("--crop-size", type=int, default=None, metavar="N", help="Training crop size (paper: 224).")
@click.option("--positives", type=click.Choice(["different_image", "same_image"]), default=None,
              help="Ablation: same_image takes both crops of a pair from one image (Table 3 'same image').")
@click.option("--no-hard-negatives", is_flag=True,
              help="Ablation: no half-scale views; the batch is doubled (Table 3 'w/o HN').")
@click.option("--degradation", type=click.Choice(["arniqa", "uniform_levels", "ndist1", "ndist7", "realesrgan"]),
              default=None, help="Degradation-model variant (Table 3).")
@click.option("--val-dataset", "val_datasets", multiple=True, metavar="NAME",
              help="Validation dataset (repeatable; replaces the config's list).")
@click.option("--no-validation", is_flag=True, help="Skip validation (best = last).")
def arniqa_cmd(config_name, source, data_root, init, out_dir, resume, backbone, se_gate, crop_size, epochs, batch_size,
               lr, seed, max_steps, workers, positives, no_hard_negatives, degradation, val_datasets, no_validation, sets,
               device) -> None:
    """Train ARNIQA (paper: KADIS-700k pristine images, 10 epochs) and write checkpoints.

    \b
    Examples:
      iqabench train arniqa --data kadis700k --data-root ~/iqa --init resnet50-imagenet-v1.pth
      torchrun --nproc_per_node 4 -m iqabench train arniqa --data kadis700k --init resnet50.pth
      iqabench train arniqa --config demo --out runs/train/demo
      iqabench train arniqa --resume runs/train/demo
      iqabench train arniqa --backbone se_resnet50 --init seresnet50-imagenet.pth --data kadis700k
    """
    from ..training.arniqa import train_arniqa

    flags = config_flags(dict(
        source=source, init=init, backbone=backbone, se_gate=se_gate, crop_size=crop_size, workers=workers, epochs=epochs,
        batch_size=batch_size, seed=seed, max_steps=max_steps, positives=positives, degradation=degradation, lr=lr,
    ), FLAG_KEYS, sets)
    if no_hard_negatives:
        flags["training.hard_negatives"] = False
    if no_validation:
        flags["validation.datasets"] = []
    elif val_datasets:
        flags["validation.datasets"] = list(val_datasets)

    cfg, ckpt, out_dir = resolve_run(
        "arniqa", "arniqa", config_name, resume, out_dir, flags,
        wrong_trainer=lambda path, found: f"--resume {path!r} is a {found!r} checkpoint, not an ARNIQA one",
    )

    summary = train_arniqa(cfg, out_dir, device=device, data_root=data_root, resume=ckpt)
    best = summary.get("best")
    if announce(out_dir, summary) and best:
        click.echo(f"{out_dir}/best.pt  epoch {best['epoch']}, validation score {best['score']:.4f}")


train_cmd.add_command(reiqa_cmd)  # Re-IQA's and CONTRIQUE's trainer commands live in their own modules
train_cmd.add_command(contrique_cmd)
