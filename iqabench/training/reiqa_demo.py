"""The Re-IQA encoders of ``iqabench demo``: trained once with the demo configs, then reused.

The quality encoder (``reiqa-demo.yaml``) and the content encoder (``reiqa_content-demo.yaml``) are
cached as ``$IQABENCH_HOME/models/reiqa-{quality,content}-demo-<key>.pt`` (:mod:`.demo_models`: the
key covers the config and the training code, so a changed recipe or distortion trains a new model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import load_config
from .demo_models import cached_model_path, ensure_trained

CONFIGS = {"quality": "reiqa", "content": "reiqa_content"}  # role → packaged config family


def demo_model_path(role: str, cfg: dict[str, Any], device: str = "cpu") -> Path:
    return cached_model_path(f"reiqa-{role}-demo", cfg, device)


def ensure_demo_model(role: str, device: str = "cpu") -> Path:
    from .reiqa import train_reiqa

    cfg = load_config(CONFIGS[role], "demo")
    return ensure_trained(f"reiqa-{role}-demo", cfg,
                          lambda folder: train_reiqa(cfg, folder, device=device, content=role == "content"), device,
                          f"the Re-IQA {role} demo encoder")


def ensure_demo_models(device: str = "cpu") -> tuple[Path, Path]:
    """(quality checkpoint, content checkpoint) of the demo, training what is not cached."""
    return ensure_demo_model("quality", device), ensure_demo_model("content", device)
