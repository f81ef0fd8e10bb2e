"""The persistent feature cache: resumable, shared by every dataset that uses the same image files.

Layout under ``$IQABENCH_HOME/cache`` (or ``$IQABENCH_CACHE``)::

    <method>-<method key>/
        method.json            what the key stands for (name, weights sha256, views, options, version)
        shards/<id>.shard      features of a batch of images (written to a temporary name, renamed)
        datasets/<name>.keys   image keys each dataset asked for (for ``iqabench cache clear --dataset``)

**Keys.** The *method key* is the SHA-256 of the method's identity without the weights' file path:
name, kind, weights identity (the weights file's SHA-256), views, options and ``version`` (bumped
when preprocessing changes). The *image key* is the SHA-256 of the image's resolved path, size in
bytes and modification time in nanoseconds: cheap (one ``stat``), and any rewrite of the file
changes it. The dataset name is not part of either key, so ``demo``, ``demo-a`` and ``demo-b``
share the features of the images they have in common.

**Shards.** A shard is ``MAGIC``, the header length (8 bytes, little-endian), a JSON header
(image keys, rows per image, feature dimension, SHA-256 of the payload), the header's own
SHA-256, then the payload: the rows as little-endian float32. Headers are read alone to find which
shards hold the wanted images; a payload is checked against its checksum before use. A shard that
fails any check is reported by name, deleted and its images recomputed: never trusted.

**Resuming.** The extraction loop stores every finished image; the cache buffers them and writes a
shard once it holds :attr:`FeatureCache.shard_images` images or its oldest image has waited
:attr:`FeatureCache.shard_seconds` seconds, whichever comes first. A run killed at any point loses at most the unwritten buffer; the next run
finds the written shards and extracts only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IQABenchError
from .fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from .paths import home

log = logging.getLogger("iqabench")

MAGIC = b"IQABENCH-FEATURES-1\n"
FORMAT_VERSION = 1
SHARD_SUFFIX = ".shard"
STALE_TMP_SECONDS = 3600  # temporary files older than this are leftovers of killed runs


def method_key(identity: dict[str, Any]) -> str:
    """Stable key of what determines a method's features (the weights' path is not part of it)."""
    fields = {
        "format": FORMAT_VERSION,
        "name": identity["name"],
        "kind": identity.get("kind"),
        # weights_identity covers every file the numbers depend on (e.g. ARNIQA's weights + regressor).
        "weights": [identity.get("weights_sha256"), identity.get("weights_identity")],
        "views": identity.get("views"),
        "options": identity.get("options", {}),
        "version": identity.get("version"),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def image_key(path: str | os.PathLike) -> str | None:
    """Key of an image file: hash of (resolved path, size, mtime_ns); None when the file cannot be stat'ed."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return hashlib.sha256(f"{real}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "_"


# -- shard files ------------------------------------------------------------------------------------


class CorruptShard(Exception):
    pass


def encode_shard(entries: dict[str, np.ndarray]) -> bytes:
    keys = list(entries)
    arrays = [np.ascontiguousarray(entries[k], dtype="<f4") for k in keys]
    dims = {a.shape[1] for a in arrays}
    if len(dims) != 1 or any(a.ndim != 2 for a in arrays):
        raise IQABenchError("internal error: feature rows of one method have different shapes")
    payload = b"".join(a.tobytes() for a in arrays)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "keys": keys,
            "rows": [int(a.shape[0]) for a in arrays],
            "dim": int(dims.pop()),
            "dtype": "<f4",
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload_bytes": len(payload),
        },
        separators=(",", ":"),
    ).encode()
    return MAGIC + struct.pack("<Q", len(header)) + header + hashlib.sha256(header).digest() + payload


def read_header(f) -> tuple[dict[str, Any], int]:
    """(header, payload offset) of an open shard; :class:`CorruptShard` on any inconsistency."""
    if f.read(len(MAGIC)) != MAGIC:
        raise CorruptShard("bad magic")
    raw = f.read(8)
    if len(raw) != 8:
        raise CorruptShard("truncated header length")
    (n,) = struct.unpack("<Q", raw)
    if n > 1 << 31:
        raise CorruptShard("implausible header length")
    header = f.read(n)
    digest = f.read(32)
    if len(header) != n or hashlib.sha256(header).digest() != digest:
        raise CorruptShard("header checksum mismatch")
    try:
        meta = json.loads(header)
    except json.JSONDecodeError as exc:
        raise CorruptShard(f"header is not JSON ({exc})") from None
    if meta.get("format") != FORMAT_VERSION or len(meta["keys"]) != len(meta["rows"]):
        raise CorruptShard("unknown format or inconsistent header")
    return meta, len(MAGIC) + 8 + n + 32


def read_payload(f, meta: dict[str, Any], offset: int) -> dict[str, np.ndarray]:
    f.seek(offset)
    payload = f.read(meta["payload_bytes"] + 1)
    if len(payload) != meta["payload_bytes"] or hashlib.sha256(payload).hexdigest() != meta["payload_sha256"]:
        raise CorruptShard("payload checksum mismatch")
    flat = np.frombuffer(payload, dtype="<f4")
    dim = meta["dim"]
    if flat.size != sum(meta["rows"]) * dim:
        raise CorruptShard("payload size does not match the header")
    out, start = {}, 0
    for key, n in zip(meta["keys"], meta["rows"]):
        out[key] = flat[start * dim : (start + n) * dim].reshape(n, dim).astype(np.float32)
        start += n
    return out


# -- the cache --------------------------------------------------------------------------------------


@dataclass
class MethodEntry:
    """One method folder, as ``iqabench cache ls`` shows it."""

    path: Path
    identity: dict[str, Any]
    n_images: int
    n_shards: int
    bytes: int
    datasets: list[str]
    corrupt: list[str]


class FeatureCache:
    def __init__(self, root: str | os.PathLike, *, shard_images: int = 256, shard_seconds: float = 15.0):
        self.root = Path(root)
        self.shard_images = max(1, int(shard_images))
        self.shard_seconds = float(shard_seconds)

    @classmethod
    def default(cls) -> FeatureCache:
        """``$IQABENCH_CACHE`` if set (e.g. a larger disk), else ``$IQABENCH_HOME/cache``."""
        return cls(os.environ.get("IQABENCH_CACHE") or home() / "cache")

    def method_dir(self, identity: dict[str, Any]) -> Path:
        return self.root / f"{_safe_name(identity['name'])}-{method_key(identity)}"

    def for_pair(self, method, dataset) -> PairCache:
        return PairCache(self, method.identity(), dataset.name, dataset.index())

    # -- inspection and clearing ---------------------------------------------------------------
    def method_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and (p / "method.json").is_file())

    def entries(self) -> list[MethodEntry]:
        out = []
        for d in self.method_dirs():
            keys: set[str] = set()
            corrupt = []
            shards = _shard_files(d)
            for shard in shards:
                try:
                    with open(shard, "rb") as f:
                        keys.update(read_header(f)[0]["keys"])
                except (OSError, CorruptShard):
                    corrupt.append(shard.name)
            size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
            out.append(
                MethodEntry(d, _read_identity(d), len(keys), len(shards), size, sorted(_manifest_names(d)), corrupt)
            )
        return out

    def clear(self, method: str | None = None, dataset: str | None = None) -> dict[str, int]:
        """Remove cached features: everything, one method's, and/or the images a dataset used.

        ``dataset`` removes the features of every image recorded for that dataset (images shared
        with other datasets included: they are recomputed when next needed).
        """
        removed = {"methods": 0, "images": 0, "bytes": 0}
        dirs = [d for d in self.method_dirs() if method is None or _read_identity(d).get("name") == method]
        for d in dirs:
            if dataset is None:
                removed["bytes"] += sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
                removed["images"] += len(_all_keys(d))
                shutil.rmtree(d)
                removed["methods"] += 1
                continue
            manifest = _manifest_path(d, dataset)
            if not manifest.is_file():
                continue
            drop = set(manifest.read_text().split())
            for shard in _shard_files(d):
                before = shard.stat().st_size
                try:
                    with open(shard, "rb") as f:
                        meta, offset = read_header(f)
                        if not drop.intersection(meta["keys"]):
                            continue
                        entries = read_payload(f, meta, offset)
                except (OSError, CorruptShard):
                    shard.unlink(missing_ok=True)
                    removed["bytes"] += before
                    continue
                keep = {k: v for k, v in entries.items() if k not in drop}
                removed["images"] += len(entries) - len(keep)
                if keep:
                    atomic_write_bytes(shard, encode_shard(keep))
                    removed["bytes"] += before - shard.stat().st_size
                else:
                    shard.unlink()
                    removed["bytes"] += before
            manifest.unlink()
            removed["methods"] += 1
        if method is None and dataset is None and self.root.is_dir():
            for leftover in self.root.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
        return removed


class PairCache:
    """The cache seen by one extraction: one method's features, for the images of one dataset."""

    def __init__(self, cache: FeatureCache, identity: dict[str, Any], dataset: str, index):
        self.cache = cache
        self.identity = identity
        self.dataset = dataset
        self.dir = cache.method_dir(identity)
        self.rows_per_image = max(int(identity.get("views", {}).get("crops", 0) or 0), 1)
        self.paths = dict(zip(index["image_id"].astype(str), index["path"].astype(str)))
        self.buffer: dict[str, np.ndarray] = {}
        self.oldest = 0.0  # when the oldest unwritten image was stored
        self.written = 0

    # -- FeatureCache protocol -----------------------------------------------------------------
    def lookup(self, image_ids: list[str]) -> dict[str, np.ndarray]:
        keys = {i: image_key(self.paths.get(i, "")) for i in image_ids}
        self._prepare(sorted({k for k in keys.values() if k}))
        wanted = {k for k in keys.values() if k}
        found: dict[str, np.ndarray] = {}
        for shard in _shard_files(self.dir):
            try:
                with open(shard, "rb") as f:
                    meta, offset = read_header(f)
                    if not wanted.intersection(meta["keys"]):
                        continue
                    entries = read_payload(f, meta, offset)
            except FileNotFoundError:  # cleared meanwhile
                continue
            except CorruptShard as exc:
                log.warning(f"feature cache shard {str(shard)!r} is corrupt ({exc}); deleting it, its images are recomputed")
                shard.unlink(missing_ok=True)
                continue
            except OSError as exc:  # unreadable now (permissions, I/O): not trusted, but left in place
                log.warning(f"feature cache shard {str(shard)!r} cannot be read ({exc}); its images are recomputed")
                continue
            for key, rows in entries.items():
                if key in wanted and key not in found:
                    if rows.shape[0] != self.rows_per_image:
                        log.warning(f"feature cache shard {str(shard)!r}: wrong row count for an image; recomputed")
                        continue
                    found[key] = rows
        return {i: found[k] for i, k in keys.items() if k in found}

    def store(self, rows: dict[str, np.ndarray]) -> None:
        if not self.buffer:
            self.oldest = time.monotonic()
        for image_id, r in rows.items():
            key = image_key(self.paths.get(image_id, ""))
            if key is not None:
                self.buffer[key] = np.asarray(r, dtype=np.float32)
        if len(self.buffer) >= self.cache.shard_images or (
            self.buffer and time.monotonic() - self.oldest >= self.cache.shard_seconds
        ):
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SHARD_SUFFIX}"
            atomic_write_bytes(self.dir / "shards" / name, encode_shard(self.buffer))
            self.written += len(self.buffer)
            self.buffer = {}

    # -- bookkeeping ---------------------------------------------------------------------------
    def _prepare(self, keys: list[str]) -> None:
        """Create the method folder and record which images this dataset uses."""
        (self.dir / "shards").mkdir(parents=True, exist_ok=True)
        info = self.dir / "method.json"
        if not info.is_file():
            ident = {k: v for k, v in self.identity.items() if k != "weights"}
            atomic_write_json(info, {"key": method_key(self.identity), "identity": ident})
        manifest = _manifest_path(self.dir, self.dataset)
        old = set(manifest.read_text().split()) if manifest.is_file() else set()
        if not set(keys) <= old:
            atomic_write_text(manifest, "\n".join(sorted(old | set(keys))) + "\n")
        _sweep_tmp(self.dir / "shards")


def _shard_files(d: Path) -> list[Path]:
    folder = d / "shards"
    return sorted(folder.glob(f"*{SHARD_SUFFIX}")) if folder.is_dir() else []


def _manifest_path(d: Path, dataset: str) -> Path:
    return d / "datasets" / f"{_safe_name(dataset)}.keys"


def _manifest_names(d: Path) -> list[str]:
    folder = d / "datasets"
    return [p.stem for p in folder.glob("*.keys")] if folder.is_dir() else []


def _read_identity(d: Path) -> dict[str, Any]:
    try:
        return json.loads((d / "method.json").read_text()).get("identity", {})
    except (OSError, json.JSONDecodeError):
        return {"name": d.name}


def _all_keys(d: Path) -> set[str]:
    keys: set[str] = set()
    for shard in _shard_files(d):
        try:
            with open(shard, "rb") as f:
                keys.update(read_header(f)[0]["keys"])
        except (OSError, CorruptShard):
            pass
    return keys


def _sweep_tmp(folder: Path) -> None:
    """Remove temporary shard files left by killed runs (old enough not to be in progress)."""
    now = time.time()
    for tmp in folder.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                tmp.unlink()
        except OSError:
            pass
