"""``iqabench train reiqa``: Re-IQA's quality-aware encoder, or (``--content``) its content encoder.

Registered on the ``train`` group by :mod:`iqabench.cli.train_cmd`.
"""

from __future__ import annotations

import click

from ..errors import IQABenchError
from .train_common import announce, common_options, config_flags, resolve_run

# CLI flag → config key (beyond the options every trainer has: train_common.COMMON_KEYS; the quality config
# has patch_size, the content config crop_size).
FLAG_KEYS = {
    "source": "data.source",
    "init": "model.init",
    "backbone": "model.backbone",
    "optimizer": "optimizer.name",
    "queue_size": "moco.queue_size",
    "patch_size": "data.patch_size",
    "crop_size": "data.crop_size",
}
TRAINER = {False: ("reiqa", "reiqa"), True: ("reiqa-content", "reiqa_content")}  # content → (trainer, config family)


@click.command("reiqa")
@common_options("reiqa[-content]", epochs="quality reference: 40", batch_size="images; quality reference: 630 in all",
                lr="quality reference: 12", seed="reference: 0", set_example="moco.temperature=0.2")
@click.option("--content", is_flag=True,
              help="Train the content encoder (MoCo-v2 on pristine images) instead of the quality encoder.")
@click.option("--data", "source", default=None, metavar="DATASET|DIR",
              help="Pristine training images: a dataset (kadis700k), a folder, or demo-pristine (bundled photos).")
@click.option("--init", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Initial encoder weights (any layout the reiqa method reads); default: random initialisation.")
@click.option("--backbone", type=click.Choice(["resnet50", "resnet18"]), default=None,
              help="Encoder (reference: resnet50; resnet18: demo only).")
@click.option("--patch-size", type=int, default=None, metavar="N", help="Quality: OLA patch size (reference: 160).")
@click.option("--crop-size", type=int, default=None, metavar="N", help="Content: augmented view size (224).")
@click.option("--queue-size", type=int, default=None, metavar="N", help="MoCo queue of negative keys (65536).")
@click.option("--optimizer", type=click.Choice(["lars", "sgd"]), default=None,
              help="LARS (the quality reference) or plain momentum SGD.")
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
    from ..training.reiqa import train_reiqa

    if content and patch_size is not None:
        raise IQABenchError("--patch-size is for the quality encoder; the content encoder takes --crop-size")
    if not content and crop_size is not None:
        raise IQABenchError("--crop-size is for the content encoder (--content); the quality encoder takes --patch-size")
    flags = config_flags(dict(
        source=source, init=init, backbone=backbone, workers=workers, epochs=epochs, batch_size=batch_size, seed=seed,
        max_steps=max_steps, lr=lr, optimizer=optimizer, queue_size=queue_size, patch_size=patch_size, crop_size=crop_size,
    ), FLAG_KEYS, sets)

    trainer, family = TRAINER[content]

    def wrong_trainer(path: str, found) -> str:
        hint = " (add --content)" if found == "reiqa-content" else ""
        return f"--resume {path!r} is a {found!r} checkpoint, not a {trainer!r} one{hint}"

    cfg, ckpt, out_dir = resolve_run(trainer, family, config_name, resume, out_dir, flags, wrong_trainer=wrong_trainer)
    announce(out_dir, train_reiqa(cfg, out_dir, device=device, data_root=data_root, resume=ckpt, content=content))
