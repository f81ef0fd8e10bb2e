"""The CONTRIQUE model of ``iqabench demo``: trained once with the ``demo`` config, then reused.

The slim checkpoint is cached as ``$IQABENCH_HOME/models/contrique-demo-<hash>.pt``, the hash
covering the resolved config and :data:`DEMO_MODEL_VERSION` (bumped when the training code
changes what a config produces). Training runs in a temporary folder beside it; only the finished
model lands.
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


def demo_model_path(cfg: dict[str, Any]) -> Path:
    return home() / "models" / f"contrique-demo-{config_hash(cfg, DEMO_MODEL_VERSION)}.pt"


def ensure_demo_model(device: str = "cpu") -> Path:
    """The trained demo model's checkpoint, training it first when it is not cached."""
    from .contrique import train_contrique

    cfg = load_config("contrique", "demo")
    target = demo_model_path(cfg)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(f"training the CONTRIQUE demo model with the 'demo' config (one-off; cached as {target})")
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix=".contrique-demo-", dir=target.parent))
    try:
        train_contrique(cfg, tmp, device=device)
        save_checkpoint(target, slim(load_checkpoint(tmp / "last.pt")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info(f"CONTRIQUE demo model trained in {time.time() - started:.0f} s")
    return target
