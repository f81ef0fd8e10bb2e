"""The Re-IQA encoders of ``iqabench demo``: trained once with the demo configs, then reused.

The quality encoder (``reiqa-demo.yaml``) and the content encoder (``reiqa_content-demo.yaml``)
are cached as slim checkpoints ``$IQABENCH_HOME/models/reiqa-{quality,content}-demo-<hash>.pt``, the
hash covering the resolved config and :data:`DEMO_MODEL_VERSION` (bumped when the training code
changes what a config produces). Training runs in a temporary folder beside them; only the
finished model lands.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..paths import home
from .checkpoint import load_checkpoint, save_checkpoint, slim
from .config import config_hash, load_config

log = logging.getLogger("iqabench")

DEMO_MODEL_VERSION = "1"
CONFIGS = {"quality": "reiqa", "content": "reiqa_content"}  # role → packaged config family


def demo_model_path(role: str, cfg: dict[str, Any]) -> Path:
    return home() / "models" / f"reiqa-{role}-demo-{config_hash(cfg, DEMO_MODEL_VERSION)}.pt"


def ensure_demo_model(role: str, device: str = "cpu") -> Path:
    from .reiqa import train_reiqa

    cfg = load_config(CONFIGS[role], "demo")
    target = demo_model_path(role, cfg)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(f"training the Re-IQA {role} demo encoder with the 'demo' config (one-off; cached as {target})")
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix=f".reiqa-{role}-demo-", dir=target.parent))
    try:
        train_reiqa(cfg, tmp, device=device, content=role == "content")
        save_checkpoint(target, slim(load_checkpoint(tmp / "last.pt")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info(f"Re-IQA {role} demo encoder trained in {time.time() - started:.0f} s")
    return target


def ensure_demo_models(device: str = "cpu") -> tuple[Path, Path]:
    """(quality checkpoint, content checkpoint) of the demo, training what is not cached."""
    return ensure_demo_model("quality", device), ensure_demo_model("content", device)
