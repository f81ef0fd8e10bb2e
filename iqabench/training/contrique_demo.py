"""The CONTRIQUE model of ``iqabench demo``: trained once with the ``demo`` config, then reused.

Cached as ``$IQABENCH_HOME/models/contrique-demo-<key>.pt`` (:mod:`.demo_models`: the key covers the
config and the training code, so a changed recipe or distortion trains a new model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import load_config
from .demo_models import cached_model_path, ensure_trained


def demo_model_path(cfg: dict[str, Any], device: str = "cpu") -> Path:
    return cached_model_path("contrique-demo", cfg, device)


def ensure_demo_model(device: str = "cpu") -> Path:
    """The trained demo model's checkpoint, training it first when it is not cached."""
    from .contrique import train_contrique

    cfg = load_config("contrique", "demo")
    return ensure_trained("contrique-demo", cfg, lambda folder: train_contrique(cfg, folder, device=device), device,
                          "the CONTRIQUE demo model")
