"""The ARNIQA model of ``iqabench demo``: trained once with the ``demo`` config, then reused.

Cached as ``$IQABENCH_HOME/models/arniqa-demo-<key>.pt`` (:mod:`.demo_models`: the key covers the
config and the training code, so a changed recipe or distortion trains a new model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import load_config
from .demo_models import cached_model_path, ensure_trained


def demo_model_path(cfg: dict[str, Any], device: str = "cpu") -> Path:
    return cached_model_path("arniqa-demo", cfg, device)


def ensure_demo_model(device: str = "cpu") -> tuple[Path, dict[str, Any]]:
    """(path of the trained demo model, {backbone, crop_size, seed} of its untrained twin)."""
    from .arniqa import train_arniqa

    cfg = load_config("arniqa", "demo")
    info = {"backbone": cfg["model"]["backbone"], "crop_size": int(cfg["data"]["crop_size"]), "seed": int(cfg["training"]["seed"])}
    path = ensure_trained("arniqa-demo", cfg, lambda folder: train_arniqa(cfg, folder, device=device), device,
                          "the ARNIQA demo model")
    return path, info
