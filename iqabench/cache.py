"""The persistent feature cache: resumable, shared by every dataset that uses the same image files.

Layout under ``$IQABENCH_HOME/cache`` (or ``$IQABENCH_CACHE``)::

    <method>-<method key>/
        method.json            what the key stands for (name, weights sha256, views, options, version)
        shards/<id>.shard      features of a batch of images (written to a temporary name, renamed)
        datasets/<name>.keys   image keys each dataset asked for (for ``iqabench cache clear --dataset``)

**Keys.** The *method key* is the SHA-256 of the method's identity without the weights' file path:
name, kind, weights identity (the weights file's SHA-256), views, options, ``version`` (bumped
when preprocessing changes) and, for methods defined outside iqabench (a ``--plugin`` file, a
third-party package), the SHA-256 of their source (:func:`iqabench.method.code_sha256`). The
*image key* is the SHA-256 of the image's resolved path, size, modification time, inode number
and status-change time (ctime, in nanoseconds): one ``stat``, and anything that puts other bytes
under the path changes it: a rewrite (even one that restores the mtime, as unzipping does), a
``mv`` of another file onto it (another inode), a swap of two equal-size files. Keys are taken
when a run looks an image up and kept for storing its features, so a file that changes during
the run is recomputed next time. Each shard also records the SHA-256 of every image file it
holds; ``--verify-cache`` re-hashes the files of cached images and recomputes any whose content
differs (for file systems whose inodes or ctimes are not reliable, e.g. some network or FAT
mounts). The dataset name is not part of either key, so ``demo``, ``demo-a`` and ``demo-b``
share the features of the images they have in common.

**Shards.** A shard is ``MAGIC``, the header length (8 bytes, little-endian), a JSON header
(image keys, rows per image, feature dimension, SHA-256 of the payload, SHA-256 of each image
file), the header's own
SHA-256, then the payload: the rows as little-endian float32. Headers are read alone to find which
shards hold the wanted images; a payload is checked against its checksum before use. A shard that
fails any check is reported by name, deleted and its images recomputed: never trusted.

**Resuming.** The extraction loop stores every finished image; the cache buffers them and writes a
shard once it holds :attr:`FeatureCache.shard_images` images or its oldest image has waited
:attr:`FeatureCache.shard_seconds` seconds, whichever comes first. A run killed at any point loses at most the unwritten buffer; the next run
finds the written shards and extracts only the rest. An interrupted extraction (Ctrl-C, an error)
writes its buffer before it stops (:func:`iqabench.features.extract_features`).

**Concurrent runs.** Any number of processes (parallel runs, torchrun ranks) may read and write
one cache. Shards have unique names and appear by atomic rename; everything that changes a method
folder's bookkeeping (``method.json``, the dataset manifests) or removes files (``cache clear``)
holds an exclusive lock on ``.locks/<method folder>.lock`` beside the folders (``flock``), and a
writer recreates the folder's bookkeeping with each shard, so a ``cache clear`` during a run never
leaves shards that ``cache ls`` and ``cache clear`` cannot see. Readers take no lock.
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
    if identity.get("code_sha256"):  # methods defined outside iqabench: their source (see Method.identity)
        fields["code"] = identity["code_sha256"]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def image_key(path: str | os.PathLike) -> str | None:
    """Key of an image file: hash of (resolved path, size, mtime, inode, ctime); None when it cannot be stat'ed."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    fields = (real, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    return hashlib.sha256("\0".join(map(str, fields)).encode()).hexdigest()[:32]


def content_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file's bytes (``--verify-cache``); None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()[:32]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "_"


# -- shard files ------------------------------------------------------------------------------------


class CorruptShard(Exception):
    pass


def encode_shard(entries: dict[str, np.ndarray], content: dict[str, str | None] | None = None) -> bytes:
    """Shard bytes of ``entries`` (image key → rows); ``content``: image key → SHA-256 of its file."""
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
            "content": [(content or {}).get(k) for k in keys],
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
    if len(meta.setdefault("content", [None] * len(meta["keys"]))) != len(meta["keys"]):
        raise CorruptShard("inconsistent header")
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
    def __init__(self, root: str | os.PathLike, *, shard_images: int = 256, shard_seconds: float = 15.0,
                 verify: bool = False):
        self.root = Path(root)
        self.shard_images = max(1, int(shard_images))
        self.shard_seconds = float(shard_seconds)
        self.verify = bool(verify)  # re-hash the files of cached images (--verify-cache)

    @classmethod
    def default(cls, *, verify: bool = False) -> FeatureCache:
        """``$IQABENCH_CACHE`` if set (e.g. a larger disk), else ``$IQABENCH_HOME/cache``."""
        return cls(os.environ.get("IQABENCH_CACHE") or home() / "cache", verify=verify)

    def method_dir(self, identity: dict[str, Any]) -> Path:
        return self.root / f"{_safe_name(identity['name'])}-{method_key(identity)}"

    def for_pair(self, method, dataset) -> PairCache:
        return PairCache(self, method.identity(), dataset.name, dataset.index())

    def lock(self, method_dir: Path) -> _FolderLock:
        """Exclusive lock on one method folder's bookkeeping (held briefly by writers and ``clear``)."""
        return _FolderLock(self.root / ".locks" / f"{method_dir.name}.lock")

    # -- inspection and clearing ---------------------------------------------------------------
    def method_dirs(self) -> list[Path]:
        """Method folders, including any holding shards without a ``method.json`` (left by older versions)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and ((p / "method.json").is_file() or (p / "shards").is_dir())
        )

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
                except FileNotFoundError:  # removed meanwhile by a concurrent clear
                    continue
                except (OSError, CorruptShard):
                    corrupt.append(shard.name)
            out.append(
                MethodEntry(d, _read_identity(d), len(keys), len(shards), _folder_bytes(d), sorted(_manifest_names(d)), corrupt)
            )
        return out

    def clear(self, method: str | None = None, dataset: str | None = None) -> dict[str, int]:
        """Remove cached features: everything, one method's, and/or the images a dataset used.

        ``dataset`` removes the features of every image recorded for that dataset (images shared
        with other datasets included: they are recomputed when next needed). Each method folder is
        cleared under its lock, so a run writing to it meanwhile waits and then recreates it whole.
        """
        removed = {"methods": 0, "images": 0, "bytes": 0}
        dirs = [d for d in self.method_dirs() if method is None or _read_identity(d).get("name") == method]
        for d in dirs:
            with self.lock(d):
                if dataset is None:
                    removed["bytes"] += _folder_bytes(d)
                    removed["images"] += len(_all_keys(d))
                    shutil.rmtree(d, ignore_errors=True)
                    removed["methods"] += 1
                elif _clear_dataset(d, dataset, removed):
                    removed["methods"] += 1
        if method is None and dataset is None and self.root.is_dir():
            for leftover in self.root.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
        return removed


def _clear_dataset(d: Path, dataset: str, removed: dict[str, int]) -> bool:
    """Drop the images ``dataset`` used from the shards of method folder ``d`` (its lock held)."""
    manifest = _manifest_path(d, dataset)
    if not manifest.is_file():
        return False
    drop = set(manifest.read_text().split())
    for shard in _shard_files(d):
        try:
            before = shard.stat().st_size
            with open(shard, "rb") as f:
                meta, offset = read_header(f)
                if not drop.intersection(meta["keys"]):
                    continue
                entries = read_payload(f, meta, offset)
        except FileNotFoundError:
            continue
        except (OSError, CorruptShard):
            shard.unlink(missing_ok=True)
            removed["bytes"] += before
            continue
        keep = {k: v for k, v in entries.items() if k not in drop}
        removed["images"] += len(entries) - len(keep)
        if keep:
            atomic_write_bytes(shard, encode_shard(keep, dict(zip(meta["keys"], meta["content"]))))
            removed["bytes"] += before - shard.stat().st_size
        else:
            shard.unlink()
            removed["bytes"] += before
    manifest.unlink()
    return True


class PairCache:
    """The cache seen by one extraction: one method's features, for the images of one dataset."""

    def __init__(self, cache: FeatureCache, identity: dict[str, Any], dataset: str, index):
        self.cache = cache
        self.identity = identity
        self.dataset = dataset
        self.dir = cache.method_dir(identity)
        self.rows_per_image = max(int(identity.get("views", {}).get("crops", 0) or 0), 1)
        self.paths = dict(zip(index["image_id"].astype(str), index["path"].astype(str)))
        self.keys: dict[str, str] = {}  # image id -> key taken at lookup, used again to store
        self.buffer: dict[str, np.ndarray] = {}
        self.content: dict[str, str | None] = {}  # image key -> SHA-256 of the file, for the buffer
        self.oldest = 0.0  # when the oldest unwritten image was stored
        self.written = 0

    # -- FeatureCache protocol -----------------------------------------------------------------
    def lookup(self, image_ids: list[str]) -> dict[str, np.ndarray]:
        keys = {i: image_key(self.paths.get(i, "")) for i in image_ids}
        self.keys.update({i: k for i, k in keys.items() if k})
        wanted = {k for k in keys.values() if k}
        self._record(sorted(wanted))
        found: dict[str, np.ndarray] = {}
        digests: dict[str, str | None] = {}
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
            for key, rows, digest in zip(meta["keys"], entries.values(), meta["content"]):
                if key in wanted and key not in found:
                    if rows.shape[0] != self.rows_per_image:
                        log.warning(f"feature cache shard {str(shard)!r}: wrong row count for an image; recomputed")
                        continue
                    found[key] = rows
                    digests[key] = digest
        out = {i: found[k] for i, k in keys.items() if k in found}
        if self.cache.verify:
            out = self._verified(out, {i: digests[keys[i]] for i in out})
        return out

    def _verified(self, found: dict[str, np.ndarray], digests: dict[str, str | None]) -> dict[str, np.ndarray]:
        """``found`` without the images whose file no longer holds the bytes their features came from."""
        changed = [i for i in found if digests[i] is None or content_digest(self.paths[i]) != digests[i]]
        if changed:
            log.warning(
                f"--verify-cache: {len(changed)} cached image(s) of {self.dataset} are not (or not provably) the "
                f"file their features came from (first {self.paths[changed[0]]!r}); recomputed"
            )
        drop = set(changed)
        return {i: rows for i, rows in found.items() if i not in drop}

    def store(self, rows: dict[str, np.ndarray]) -> None:
        if not self.buffer:
            self.oldest = time.monotonic()
        for image_id, r in rows.items():
            path = self.paths.get(image_id, "")
            key = self.keys.get(image_id) or image_key(path)
            if key is not None:
                self.buffer[key] = np.asarray(r, dtype=np.float32)
                self.content[key] = content_digest(path)
        if len(self.buffer) >= self.cache.shard_images or (
            self.buffer and time.monotonic() - self.oldest >= self.cache.shard_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write the buffered images as one shard, with the folder's bookkeeping, under the folder lock."""
        if not self.buffer:
            return
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SHARD_SUFFIX}"
        data = encode_shard(self.buffer, self.content)
        with self.cache.lock(self.dir):
            # After a concurrent `cache clear` the folder is gone: recreate its method.json and
            # manifest first, so the shard is never an orphan that `cache ls` / `clear` cannot see.
            self._bookkeeping(list(self.buffer))
            atomic_write_bytes(self.dir / "shards" / name, data)
        self.written += len(self.buffer)
        self.buffer, self.content = {}, {}

    # -- bookkeeping ---------------------------------------------------------------------------
    def _record(self, keys: list[str]) -> None:
        """Create the method folder and record which images this dataset uses."""
        with self.cache.lock(self.dir):
            self._bookkeeping(keys)
        _sweep_tmp(self.dir / "shards")

    def _bookkeeping(self, keys: list[str]) -> None:
        """method.json, and ``keys`` in this dataset's manifest (caller holds the folder lock)."""
        (self.dir / "shards").mkdir(parents=True, exist_ok=True)
        info = self.dir / "method.json"
        if not info.is_file():
            ident = {k: v for k, v in self.identity.items() if k != "weights"}
            atomic_write_json(info, {"key": method_key(self.identity), "identity": ident})
        manifest = _manifest_path(self.dir, self.dataset)
        old = set(manifest.read_text().split()) if manifest.is_file() else set()
        if not set(keys) <= old:
            atomic_write_text(manifest, "\n".join(sorted(old | set(keys))) + "\n")


class _FolderLock:
    """An exclusive advisory lock (``flock``; ``msvcrt.locking`` on Windows) on a small lock file."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> _FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _lock(self.fd)
        except BaseException:
            os.close(self.fd)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            _unlock(self.fd)
        finally:
            os.close(self.fd)


try:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _lock(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises
                return
            except OSError:
                continue

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _folder_bytes(d: Path) -> int:
    total = 0
    for p in d.rglob("*"):
        try:
            total += p.stat().st_size if p.is_file() else 0
        except FileNotFoundError:
            pass
    return total


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
