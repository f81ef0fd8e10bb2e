"""pyiqa's no-reference metrics as iqabench scores methods: ``--method pyiqa:NAME``.

The ``pyiqa`` method namespace (entry point ``iqabench.methods.namespaces``) turns every
no-reference (NR) metric of the installed pyiqa into a ``scores`` method. Importing pyiqa takes
seconds, so this module never imports it at load time: the metric catalogue is read from pyiqa's
own ``default_model_configs.py`` without importing the package, and pyiqa is imported only when
a metric is built.

* Scores are the metric's raw output, oriented by pyiqa's ``lower_better`` (never ``abs()``).
* Whole image in (``Views(crops=0)``): each metric applies its own input policy (its resizing,
  crops or padding; ``docs/pyiqa.md`` lists them). Images are scored one at a time, with every
  random generator seeded per image, so a score does not depend on the batch or on the order.
* Weights come from the caches pyiqa reads (``$TORCH_HOME/hub/pyiqa``, torchvision's
  ``$TORCH_HOME/hub/checkpoints``, the Hugging Face cache for timm backbones). :data:`WEIGHTS`
  lists each metric's files, read from pyiqa 0.1.16's ``archs/*``; they are looked up before
  pyiqa is imported, and a missing one is a one-line error naming the file and the folder.
  Nothing is ever downloaded: while pyiqa builds or runs a metric, downloads and network
  connections raise instead (:func:`offline`), whatever ``HF_HUB_OFFLINE`` says.
* pyiqa unpickles some weight files with ``torch.load(weights_only=False)``; iqabench first
  reads every such file with ``weights_only=True`` and refuses one that holds anything but
  plain data. Metrics whose weights need ``torch.jit.load`` (CLIP, pyiqa's ARNIQA regressors),
  Hugging Face ``transformers`` models, face alignment, a caption, or two image sets are listed
  but refused, with the reason (:data:`REFUSED`). Full-reference metrics are refused too.
* Provenance: the result records pyiqa's version and the SHA-256 of each weight file; both are
  part of the feature-cache key.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import logging
import os
import random
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from iqabench.errors import IQABenchError
from iqabench.method import Method, sha256_file
from iqabench.registry import methods as methods_registry
from iqabench.views import Views

log = logging.getLogger("iqabench")

WEIGHTS_TABLE_VERSION = "0.1.16"  # the pyiqa release whose archs/* WEIGHTS and REFUSED were read from
SEED = 0  # every random generator is seeded with it before each image (random crops of MANIQA, TReS, ...)

# -- what each metric needs --------------------------------------------------------------------
# Entries: "pyiqa/FILE" (pyiqa's cache, $TORCH_HOME/hub/pyiqa), "torchvision/WEIGHTS_ENUM" (an
# ImageNet backbone in $TORCH_HOME/hub/checkpoints), "timm/MODEL" (a timm backbone created with
# pretrained=True: the Hugging Face cache, or hub/checkpoints for URL-only models), and
# "checkpoints/FILE URL" (a file torch.hub fetches into hub/checkpoints).
_R18, _R34, _R50, _VGG16 = (
    f"torchvision/{w}_Weights.IMAGENET1K_V1" for w in ("ResNet18", "ResNet34", "ResNet50", "VGG16")
)
_SWIN = (
    "checkpoints/swin_base_patch4_window12_384_22kto1k.pth "
    "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window12_384_22kto1k.pth"
)
WEIGHTS: dict[str, tuple[str, ...]] = {
    "piqe": (),
    "entropy": (),
    "niqe": ("pyiqa/niqe_modelparameters.mat",),
    "niqe_matlab": ("pyiqa/niqe_matlab_params.mat",),
    "ilniqe": ("pyiqa/ILNIQE_templateModel.mat",),
    "brisque": ("pyiqa/brisque_svm_weights.pth",),
    "brisque_matlab": ("pyiqa/brisque_matlab.mat",),
    "nrqm": ("pyiqa/NRQM_model.mat",),
    "pi": ("pyiqa/NRQM_model.mat", "pyiqa/niqe_modelparameters.mat"),
    "cnniqa": ("pyiqa/CNNIQA_koniq10k-e6f14c91.pth",),
    "musiq": ("pyiqa/musiq_koniq_ckpt-e95806b9.pth",),
    "musiq-ava": ("pyiqa/musiq_ava_ckpt-e8d3f067.pth",),
    "musiq-paq2piq": ("pyiqa/musiq_paq2piq_ckpt-364c0c84.pth",),
    "musiq-spaq": ("pyiqa/musiq_spaq_ckpt-358bb6af.pth",),
    "nima": ("timm/inception_resnet_v2", "pyiqa/NIMA_InceptionV2_ava-b0c77c00.pth"),
    "nima-koniq": ("timm/inception_resnet_v2", "pyiqa/NIMA_koniq-250367ae.pth"),
    "nima-spaq": ("timm/inception_resnet_v2", "pyiqa/NIMA-spaq-46a7fcb7.pth"),
    "nima-vgg16-ava": ("timm/vgg16", "pyiqa/NIMA_VGG16_ava-dc4e8265.pth"),
    "paq2piq": (_R18, "pyiqa/P2P_RoIPoolModel-fit.10.bs.120-ca69882e.pth"),
    "dbcnn": (_VGG16, "pyiqa/DBCNN_scnn-7ea73d75.pth", "pyiqa/DBCNN_KonIQ10k-2de81c0a.pth"),
    "maniqa": ("timm/vit_base_patch8_224", "pyiqa/ckpt_koniq10k.pt"),
    "maniqa-kadid": ("timm/vit_base_patch8_224", "pyiqa/ckpt_kadid10k.pt"),
    "maniqa-pipal": ("timm/vit_base_patch8_224", "pyiqa/MANIQA_PIPAL-ae6d356b.pth"),
    "tres": (_R50, "pyiqa/tres_koniq-f0502926.pth"),
    "tres-flive": (_R50, "pyiqa/tres_flive-09b0de5b.pth"),
    "hyperiqa": ("timm/resnet50", "pyiqa/HyperIQA-resnet50-koniq10k-c96c41b1.pth"),
    "metaiqa": ("pyiqa/Metaiqa_livec.pth",),
    "uranker": ("pyiqa/URanker_ckpt-450eb36d.pth",),
    "topiq_nr": ("timm/resnet50", "pyiqa/cfanet_nr_koniq_res50-9a73138b.pth"),
    "topiq_nr-flive": ("timm/resnet50", "pyiqa/cfanet_nr_flive_res50-ded1c74e.pth"),
    "topiq_nr-spaq": ("timm/resnet50", "pyiqa/cfanet_nr_spaq_res50-a7f799ac.pth"),
    "topiq_iaa": (_SWIN, "pyiqa/cfanet_iaa_ava_swin-393b41b4.pth"),
    "topiq_iaa_res50": ("timm/resnet50", "pyiqa/cfanet_iaa_ava_res50-3cd62bb3.pth"),
    "wadiqam_nr": ("pyiqa/WaDIQaM-NR-koniq-aaffea29.pth",),
    "unique": (_R34, "pyiqa/UNIQUE.pt"),
}

_CLIP = "loads OpenAI CLIP weights with torch.jit.load (iqabench never runs code from a weights file)"
_HF = "a transformers model from the Hugging Face Hub, which iqabench does not load offline"
_FACE = "face IQA: aligns a detected face with facexlib (more weights; fails without a face) first"
_SETS = "a distance between two sets of images, not a per-image quality score"
REFUSED: dict[str, str] = {
    **dict.fromkeys(
        ("clipiqa", "clipiqa+", "clipiqa+_vitL14_512", "clipiqa+_rn50_512", "liqe", "liqe_mix", "qualiclip",
         "qualiclip+", "qualiclip+-clive", "qualiclip+-flive", "qualiclip+-spaq", "maclip", "laion_aes", "afine_nr"),
        _CLIP,
    ),
    **dict.fromkeys(
        ("arniqa", "arniqa-live", "arniqa-csiq", "arniqa-tid", "arniqa-kadid", "arniqa-clive", "arniqa-flive",
         "arniqa-spaq"),
        "pyiqa loads its regressors with torch.jit.load; use iqabench's method 'arniqa' (same weights)",
    ),
    **dict.fromkeys(
        ("qalign", "qalign_8bit", "qalign_4bit", "qrealign", "qrealign-mini", "qrealign-lite", "qrealign-pro",
         "compare2score", "fgresq"),
        _HF,
    ),
    **dict.fromkeys(("topiq_nr-face", "topiq_nr_swin-face", "topiq_nr-face-v1"), _FACE),
    **dict.fromkeys(("fid", "sfid", "fid_dinov2", "inception_score"), _SETS),
    "clipscore": "scores an image against a caption (iqabench's datasets have none)",
}

# iqabench dataset names whose images trained the released model (from the weight names and configs);
# results on them are not held-out evaluations (Method.fitted_on).
TRAINED_ON: dict[str, frozenset[str]] = {
    name: frozenset(sets)
    for name, sets in {
        "brisque": ("live",), "brisque_matlab": ("live",), "cnniqa": ("koniq10k",), "musiq": ("koniq10k",),
        "musiq-spaq": ("spaq",), "musiq-paq2piq": ("flive",), "nima-koniq": ("koniq10k",), "nima-spaq": ("spaq",),
        "paq2piq": ("flive",), "dbcnn": ("koniq10k",), "maniqa": ("koniq10k",), "maniqa-kadid": ("kadid10k",),
        "maniqa-pipal": ("pipal",), "tres": ("koniq10k",), "tres-flive": ("flive",), "hyperiqa": ("koniq10k",),
        "metaiqa": ("clive",), "topiq_nr": ("koniq10k",), "topiq_nr-flive": ("flive",), "topiq_nr-spaq": ("spaq",),
        "wadiqam_nr": ("koniq10k",), "unique": ("live", "csiq", "kadid10k", "clive", "koniq10k"),
    }.items()
}
HANDCRAFTED = frozenset({"piqe", "entropy", "niqe", "niqe_matlab", "ilniqe", "brisque", "brisque_matlab", "nrqm", "pi"})


# -- the catalogue, without importing pyiqa ----------------------------------------------------
@functools.cache
def catalogue() -> dict[str, dict[str, Any]]:
    """pyiqa's ``DEFAULT_CONFIGS`` (name → metric_opts, metric_mode, lower_better, score_range).

    Read from ``pyiqa/default_model_configs.py`` as a standalone module (it only defines a dict),
    so listing the metrics does not pay pyiqa's import time.
    """
    module = sys.modules.get("pyiqa.default_model_configs")
    if module is None:
        spec = importlib.util.find_spec("pyiqa")
        if spec is None or not spec.submodule_search_locations:
            raise IQABenchError("pyiqa is not installed (pip install pyiqa): the pyiqa:NAME methods need it")
        path = Path(next(iter(spec.submodule_search_locations))) / "default_model_configs.py"
        file_spec = importlib.util.spec_from_file_location("_iqabench_pyiqa_model_configs", path)
        module = importlib.util.module_from_spec(file_spec)
        try:
            file_spec.loader.exec_module(module)
        except Exception as exc:  # a pyiqa release without this file
            raise IQABenchError(f"cannot read pyiqa's metric table {str(path)!r}: {type(exc).__name__}: {exc}") from None
    return dict(module.DEFAULT_CONFIGS)


def pyiqa_version() -> str:
    try:
        return package_version("pyiqa")
    except PackageNotFoundError:
        raise IQABenchError("pyiqa is not installed (pip install pyiqa): the pyiqa:NAME methods need it") from None


def refusal(metric: str) -> str | None:
    """Why iqabench cannot run ``metric`` (None: it can)."""
    if metric in REFUSED:
        return REFUSED[metric]
    if metric not in WEIGHTS:
        return (f"iqabench's table of pyiqa {WEIGHTS_TABLE_VERSION} weight files does not know it (pyiqa "
                f"{pyiqa_version()} is installed), so it cannot check its weights offline")
    return None


# -- weight files ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightFile:
    entry: str  # the WEIGHTS entry
    name: str  # the file name expected
    folder: Path  # where it must be
    source: str  # where pyiqa would fetch it from
    path: Path | None  # the cached file; None when missing

    @property
    def label(self) -> str:
        """How the result names it: the file name, or the timm model for a backbone from the Hugging Face cache."""
        return self.entry if self.entry.startswith("timm/") else self.name

    def describe_missing(self) -> str:
        return f"{self.name} in {self.folder} (pyiqa fetches it from {self.source})"


def hub_dir() -> Path:
    """torch.hub's folder, read now (``$TORCH_HOME/hub``), as pyiqa's and torchvision's caches are."""
    return Path(torch.hub.get_dir())


def pyiqa_cache() -> Path:
    return hub_dir() / "pyiqa"


def _in_folder(entry: str, folder: Path, name: str, source: str) -> WeightFile:
    path = folder / name
    return WeightFile(entry, name, folder, source, path if path.is_file() else None)


def resolve(entry: str) -> WeightFile:
    """Where ``entry`` of :data:`WEIGHTS` is (or must be) cached; looks, never downloads."""
    kind, _, ref = entry.partition("/")
    if kind == "pyiqa":
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        return _in_folder(entry, pyiqa_cache(), ref, f"{endpoint}/chaofengc/IQA-PyTorch-Weights/resolve/main/{ref}")
    if kind == "checkpoints":
        name, _, url = ref.partition(" ")
        return _in_folder(entry, hub_dir() / "checkpoints", name, url)
    if kind == "torchvision":
        from torchvision.models import get_weight

        url = get_weight(ref).url
        return _in_folder(entry, hub_dir() / "checkpoints", url.rsplit("/", 1)[-1], url)
    if kind == "timm":
        return _resolve_timm(entry, ref)
    raise IQABenchError(f"internal error: unknown pyiqa weight entry {entry!r}")


def _resolve_timm(entry: str, model: str) -> WeightFile:
    """A timm backbone created with ``pretrained=True``: timm reads its Hugging Face repo (model.safetensors,
    else pytorch_model.bin) from the Hugging Face cache, or a URL-only model from hub/checkpoints."""
    import timm.models

    cfg = timm.models.get_pretrained_cfg(model)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise IQABenchError(f"timm {timm.__version__} has no pretrained weights for {model!r} (needed by {entry})")
    if not cfg.hf_hub_id:
        return _in_folder(entry, hub_dir() / "checkpoints", cfg.url.rsplit("/", 1)[-1], cfg.url)
    from huggingface_hub import constants, try_to_load_from_cache

    names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
    found = None
    for name in names:
        hit = try_to_load_from_cache(cfg.hf_hub_id, name)
        if isinstance(hit, str) and Path(hit).is_file():
            found = Path(hit)
            break
    return WeightFile(
        entry,
        f"{' or '.join(names)} of the Hugging Face repo {cfg.hf_hub_id}",
        Path(constants.HF_HUB_CACHE),
        f"https://huggingface.co/{cfg.hf_hub_id}; copy a Hugging Face cache that holds it",
        found,
    )


def check_readable(method: str, weight: WeightFile) -> None:
    """Read the file as plain data first: pyiqa unpickles some files with ``weights_only=False``."""
    path = weight.path
    suffix = path.suffix.lower()
    try:
        if suffix == ".mat":
            from scipy.io import loadmat

            loadmat(path)
        elif suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt"):
                pass
        else:
            torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        what = "a readable MATLAB .mat file" if suffix == ".mat" else (
            "a readable safetensors file" if suffix == ".safetensors" else
            "a plain tensor checkpoint (read with torch.load(weights_only=True); iqabench never unpickles code)"
        )
        raise IQABenchError(
            f"method {method!r}: weight file {str(path)!r} is not {what}: {_load_error(exc)}; "
            "replace it with the released file"
        ) from None


def _load_error(exc: Exception) -> str:
    """The reason in a load error; torch's weights-only refusals bury it under advice to unpickle anyway."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        rest = text.split("WeightsUnpickler error:", 1)[1]
        reason = next((s.strip() for s in rest.splitlines() if s.strip()), "")
        return f"{type(exc).__name__}: {reason.split('. ')[0]}"
    return f"{type(exc).__name__}: {one_line(exc)}"


def one_line(exc: BaseException, limit: int = 300) -> str:
    lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- no network, ever --------------------------------------------------------------------------
@contextlib.contextmanager
def offline(what: str):
    """While pyiqa builds or runs a metric: downloads and network connections raise a one-line error.

    pyiqa fetches missing weights with plain urllib (``torch.hub.download_url_to_file``), which
    ``HF_HUB_OFFLINE`` does not stop; the weight check before building should leave nothing to
    fetch, and this guard makes sure no attempt is made if it does not.
    """
    import socket

    def no_download(url, dst, *args, **kwargs):
        dst = Path(dst)
        raise IQABenchError(
            f"{what} needs {dst.name}, not found in {dst.parent}: put it there (pyiqa fetches it from {url}; "
            "iqabench never downloads)"
        )

    def no_network(*args, **kwargs):
        raise IQABenchError(f"{what} tried to open a network connection; iqabench runs pyiqa offline")

    def no_inet_connect(sock, address, *args, **kwargs):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            no_network()
        return real_connect(sock, address, *args, **kwargs)

    real_connect = socket.socket.connect
    patches: list[tuple[Any, str, Any]] = [
        (torch.hub, "download_url_to_file", no_download),
        (socket, "getaddrinfo", no_network),
        (socket, "create_connection", no_network),
        (socket.socket, "connect", no_inet_connect),
    ]
    download_util = sys.modules.get("pyiqa.utils.download_util")
    if download_util is not None:  # pyiqa imported download_url_to_file by name
        patches.append((download_util, "download_url_to_file", no_download))
    hf_constants = sys.modules.get("huggingface_hub.constants")
    if hf_constants is not None:
        patches.append((hf_constants, "HF_HUB_OFFLINE", True))
    with contextlib.ExitStack() as stack:
        for owner, attr, value in patches:
            stack.enter_context(_patched(owner, attr, value))
        yield


@contextlib.contextmanager
def _patched(owner: Any, attr: str, value: Any):
    old = getattr(owner, attr)
    setattr(owner, attr, value)
    try:
        yield
    finally:
        setattr(owner, attr, old)


@contextlib.contextmanager
def seeded(device: torch.device, seed: int = SEED):
    """Seed torch, numpy and random for one image; the callers' generator states are restored after."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def _import_pyiqa():
    import pyiqa

    return pyiqa


# -- the method --------------------------------------------------------------------------------
class PyiqaMetric(Method):
    """Base of the ``pyiqa:NAME`` methods (one subclass per metric, made by :func:`method_class`)."""

    kind = "scores"
    views = Views(crops=0)  # the whole image: the metric applies its own input policy
    batch_size = 1  # some metrics take one image at a time (topiq face, random crops per image)
    metric: ClassVar[str] = ""
    score_range: ClassVar[str | None] = None

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu", **options: Any):
        super().__init__(weights, device, **options)
        why = refusal(self.metric)
        if why:
            raise IQABenchError(f"method {self.name!r} cannot run in iqabench: {why}")
        self.pyiqa_version = pyiqa_version()
        if self.pyiqa_version != WEIGHTS_TABLE_VERSION:
            log.warning(f"{self.name}: iqabench's weight table was read from pyiqa {WEIGHTS_TABLE_VERSION}, pyiqa "
                        f"{self.pyiqa_version} is installed; a file it does not list fails the build, naming it")
        self.weight_files = [resolve(entry) for entry in WEIGHTS[self.metric]]
        missing = [w for w in self.weight_files if w.path is None]
        if missing:
            raise IQABenchError(
                f"method {self.name!r}: {len(missing)} weight file{'s' if len(missing) > 1 else ''} missing from "
                "the caches pyiqa reads (iqabench never downloads): put " + "; ".join(w.describe_missing() for w in missing)
            )
        for w in self.weight_files:
            check_readable(self.name, w)
        self.weight_sha256 = {w.label: sha256_file(w.path) for w in self.weight_files}
        self.net = self._build()

    def _build(self) -> torch.nn.Module:
        what = f"method {self.name!r}"
        captured = io.StringIO()  # pyiqa prints "Loading pretrained model ..." to stdout
        chatty = logging.getLogger("pyiqa")  # and logs "Metric [...] is created." with its own handler
        try:
            with offline(what), contextlib.redirect_stdout(captured), _patched(chatty, "level", logging.WARNING):
                pyiqa = _import_pyiqa()
            from pyiqa.utils import download_util

            # pyiqa fixed its cache folder when first imported: point it at the folder checked above.
            with offline(what), _patched(download_util, "DEFAULT_CACHE_DIR", str(pyiqa_cache())), \
                    contextlib.redirect_stdout(captured), _patched(chatty, "level", logging.WARNING):
                net = pyiqa.create_metric(self.metric, as_loss=False, device=self.device)
        except IQABenchError:
            raise
        except Exception as exc:
            files = ", ".join(str(w.path) for w in self.weight_files) or "no weight files"
            raise IQABenchError(
                f"method {self.name!r}: pyiqa could not build the metric (from {files}): {type(exc).__name__}: {one_line(exc)}"
            ) from None
        finally:
            if captured.getvalue().strip():
                log.debug(captured.getvalue().strip())
        if net.metric_mode != "NR":
            raise IQABenchError(f"method {self.name!r}: pyiqa built a {net.metric_mode} metric, not a no-reference one")
        return net

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        scores = []
        with offline(f"method {self.name!r}"):
            for i in range(batch.shape[0]):
                with seeded(self.device):
                    try:
                        out = self.net(batch[i : i + 1])
                    except IQABenchError:
                        raise
                    except Exception as exc:  # pyiqa asserts and fails on images it cannot score (tiny, ...)
                        raise IQABenchError(f"pyiqa {self.metric} failed: {type(exc).__name__}: {one_line(exc)}") from None
                scores.append(self._one_score(out))
        return torch.tensor(scores, dtype=torch.float64)

    def _one_score(self, out: Any) -> float:
        if not torch.is_tensor(out):
            raise IQABenchError(f"pyiqa {self.metric} returned a {type(out).__name__}, not a tensor of scores")
        if out.numel() != 1:
            raise IQABenchError(f"pyiqa {self.metric} returned {out.numel()} values (shape {tuple(out.shape)}) for one image")
        value = float(out.detach().reshape(()).to("cpu", torch.float64))
        if not np.isfinite(value):
            raise IQABenchError(f"pyiqa {self.metric} returned {value} (the metric is undefined for this image)")
        return value

    # -- provenance ---------------------------------------------------------------------------
    def weights_identity(self) -> str:
        return "+".join([f"pyiqa=={self.pyiqa_version}", *(f"{k}:{v}" for k, v in self.weight_sha256.items())])

    def fitted_on(self) -> set[str]:
        return set(TRAINED_ON.get(self.metric, ()))

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["pyiqa"] = {
            "version": self.pyiqa_version,
            "metric": self.metric,
            "lower_better": not self.higher_better,
            "score_range": self.score_range,
            "weights": [
                {"file": w.label, "path": str(w.path), "sha256": self.weight_sha256[w.label]} for w in self.weight_files
            ],
        }
        return ident


@functools.cache
def method_class(metric: str) -> type[PyiqaMetric]:
    """The ``pyiqa:METRIC`` method class (a subclass per metric; building it imports nothing)."""
    cfg = catalogue()[metric]
    lower = bool(cfg.get("lower_better", False))
    score_range = cfg.get("score_range")
    text = f"pyiqa {metric} ({'lower' if lower else 'higher'} = better" + (f"; range {score_range})" if score_range else ")")
    why = refusal(metric)
    return type(
        f"Pyiqa_{metric}",
        (PyiqaMetric,),
        {
            "__module__": __name__,
            "__qualname__": f"PyiqaMetric[{metric}]",
            "__doc__": f"pyiqa's {metric} metric as an iqabench scores method.",
            "name": f"pyiqa:{metric}",
            "metric": metric,
            "higher_better": not lower,
            "score_range": score_range,
            "description": text + (f"; not usable here: {why}" if why else ""),
            "method_type": "Handcrafted" if metric in HANDCRAFTED else "Supervised learning",
        },
    )


class PyiqaNamespace:
    """The ``pyiqa`` method namespace: every no-reference metric of the installed pyiqa."""

    description = "pyiqa's no-reference metrics, one scores method each"

    def names(self) -> list[str]:
        return sorted(n for n, cfg in catalogue().items() if cfg.get("metric_mode") == "NR")

    def get(self, name: str) -> type[PyiqaMetric] | None:
        cfg = catalogue().get(name)
        if cfg is None:
            return None
        if cfg.get("metric_mode") != "NR":
            raise IQABenchError(
                f"pyiqa:{name} is a full-reference metric (it compares an image with its reference) and iqabench "
                "methods score an image alone: choose a no-reference one (iqabench list methods 'pyiqa:*')"
            )
        return method_class(name)


provider = PyiqaNamespace()
methods_registry.register_namespace("pyiqa", provider, source=f"module {__name__}")
