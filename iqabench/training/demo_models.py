"""The demo's self-supervised models (ARNIQA, Re-IQA, CONTRIQUE): trained once per recipe and code, cached.

A demo model is cached as ``$IQABENCH_HOME/models/<stem>-<key>.pt`` (a slim checkpoint). The key is
12 hex digits of a sha256 over everything that decides what training produces:

* the resolved config (every value of the demo YAML);
* the source of the code that trains it: the training, degradation and model packages and the
  bundled-photograph table (:func:`code_fingerprint`), so that a change to a distortion or to the
  loss trains a new model instead of reusing one made by other code;
* the torch version and the device type (numbers differ between them).

Training runs in a temporary folder beside the target; only the finished model lands.

Determinism: on the CPU the demo trains with :data:`DEMO_THREADS` torch threads whatever the
machine (results depend on the thread count), data loading in the main process and every random
draw seeded from the config, so two runs on the same machine give bit-identical models. Another
CPU instruction set or torch build may round differently; CUDA training is not bit-reproducible.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ..fingerprint import source_fingerprint
from ..paths import home
from .checkpoint import load_checkpoint, save_checkpoint, slim
from .config import config_hash

log = logging.getLogger("iqabench")

DEMO_THREADS = 2
CODE = ("training", "degradation", "models", "photos.py", "images.py", "views.py")


def code_fingerprint() -> str:
    """sha256 of the sources that decide what a demo training run produces (see the module docstring)."""
    return source_fingerprint(*CODE)


def cached_model_path(stem: str, cfg: dict[str, Any], device: str) -> Path:
    key = config_hash(cfg, f"|{code_fingerprint()}|{torch.__version__}|{torch.device(device).type}")
    return home() / "models" / f"{stem}-{key}.pt"


@contextmanager
def demo_threads(device: str) -> Iterator[None]:
    """CPU training with :data:`DEMO_THREADS` threads, restored afterwards."""
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(DEMO_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def ensure_trained(stem: str, cfg: dict[str, Any], train: Callable[[Path], Any], device: str, what: str) -> Path:
    """The cached model for ``cfg``; ``train(folder)`` writes ``folder/last.pt`` when there is none."""
    target = cached_model_path(stem, cfg, device)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(f"training {what} with the '{cfg.get('name')}' config (one-off; cached as {target})")
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}-", dir=target.parent))
    try:
        with demo_threads(device):
            train(tmp)
        save_checkpoint(target, slim(load_checkpoint(tmp / "last.pt")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info(f"{what} trained in {time.time() - started:.0f} s")
    return target
