"""The feature cache: keys, checksummed shards, corrupt shards recomputed, resume after SIGKILL."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from iqabench import registry
from iqabench.cache import FeatureCache, encode_shard, image_key, method_key, read_header, read_payload
from iqabench.features import extract_features
from iqabench.progress import set_enabled

PLUGIN = Path(__file__).with_name("protocol_plugins.py")
N_IMAGES = 30  # synth-mos with 6 references × 5 levels


@pytest.fixture(scope="module")
def plugins():
    return registry.load_plugin_file(PLUGIN)


@pytest.fixture
def synth(plugins, tmp_path):
    root = tmp_path / "data"
    plugins.make_synth_pair(root, 6)
    return root


def _dataset(root, name="synth-mos"):
    return registry.datasets.get(name)(root=root)


def _method(name="tiny-stats", **options):
    return registry.methods.get(name)(**options)


def _extract(method, dataset, cache=None):
    set_enabled(False)
    store = cache.for_pair(method, dataset) if cache is not None else None
    return extract_features(method, dataset.index(), cache=store)


def _shards(cache: FeatureCache) -> list[Path]:
    return sorted(cache.root.glob("*/shards/*.shard"))


def test_shards_hold_exact_rows_and_are_shared_across_datasets(synth, tmp_path):
    cache = FeatureCache(tmp_path / "cache", shard_images=8, shard_seconds=1e9)
    method, ds = _method(), _dataset(synth)
    plain = _extract(method, ds)
    first = _extract(method, ds, cache)
    assert first.from_cache == 0
    assert len(_shards(cache)) == 4  # 30 images in shards of 8 (the last flushed at the end)
    again = _extract(method, ds, cache)
    assert again.from_cache == N_IMAGES
    assert again.image_ids == plain.image_ids and np.array_equal(again.rows, plain.rows)

    # Another dataset over some of the same files: the dataset name is not part of the key.
    class Alias:
        name = "alias"

        def index(self):
            return ds.index().head(10)

    assert len(cache.for_pair(method, Alias()).lookup(Alias().index()["image_id"].tolist())) == 10


def test_key_follows_method_identity_and_file_state(synth, tmp_path):
    ident = _method().identity()
    assert method_key(ident) == method_key({**ident, "weights": "/elsewhere/same.pth", "display_name": "x"})
    for change in ({"version": "2"}, {"options": {"a": 1}}, {"weights_sha256": "ab" * 32}, {"views": {"crops": 5}}):
        assert method_key({**ident, **change}) != method_key(ident)

    cache = FeatureCache(tmp_path / "cache")
    method, ds = _method(), _dataset(synth)
    _extract(method, ds, cache)
    touched = ds.index()["path"].iloc[3]
    before = image_key(touched)
    st = os.stat(touched)
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert image_key(touched) != before
    assert _extract(method, ds, cache).from_cache == N_IMAGES - 1


@pytest.mark.parametrize("damage", ["payload", "truncate", "header"])
def test_corrupt_shard_is_recomputed_never_trusted(synth, tmp_path, caplog, damage):
    cache = FeatureCache(tmp_path / "cache", shard_images=10, shard_seconds=1e9)
    method, ds = _method(), _dataset(synth)
    plain = _extract(method, ds)
    _extract(method, ds, cache)
    victim = _shards(cache)[1]
    with open(victim, "rb") as f:
        lost = len(read_header(f)[0]["keys"])  # shards fill by whole batches: at least shard_images
    data = bytearray(victim.read_bytes())
    if damage == "payload":
        data[-5] ^= 0x40  # one flipped bit in a feature value
    elif damage == "header":
        data[40] ^= 0x01
    else:
        data = data[: len(data) // 2]
    victim.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING, logger="iqabench"):
        table = _extract(method, ds, cache)
    assert any(victim.name in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records)
    assert 10 <= lost and table.from_cache == N_IMAGES - lost
    assert np.array_equal(table.rows, plain.rows)
    assert not victim.exists()
    assert _extract(method, ds, cache).from_cache == N_IMAGES


def test_encode_shard_round_trip_is_bit_exact():
    rng = np.random.default_rng(0)
    entries = {f"k{i}": rng.normal(size=(5, 7)).astype(np.float32) for i in range(4)}
    f = io.BytesIO(encode_shard(entries))
    meta, offset = read_header(f)
    back = read_payload(f, meta, offset)
    assert list(back) == list(entries)
    assert all(np.array_equal(back[k], entries[k]) and back[k].dtype == np.float32 for k in entries)


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    from iqabench import registry
    from iqabench.cache import FeatureCache
    from iqabench.features import extract_features
    from iqabench.progress import set_enabled

    set_enabled(False)
    registry.load_plugin_file(sys.argv[1])
    ds = registry.datasets.get("synth-mos")(root=sys.argv[2])
    method = registry.methods.get("tiny-slow")()
    cache = FeatureCache(sys.argv[3], shard_images=3, shard_seconds=1e9)
    extract_features(method, ds.index(), cache=cache.for_pair(method, ds))
    print("finished")
    """
)


def test_killed_extraction_resumes_bit_identical(synth, tmp_path):
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "IQABENCH_TEST_DELAY": "0.25", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RESUME_SCRIPT, str(PLUGIN), str(synth), str(cache_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cache = FeatureCache(cache_dir)
    deadline = time.time() + 180
    try:
        while len(_shards(cache)) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no shard written in time"
            time.sleep(0.05)
        assert proc.poll() is None  # killed mid-extraction, not after it
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    written = len(_shards(cache))
    assert 2 <= written < N_IMAGES // 3

    method, ds = _method("tiny-slow"), _dataset(synth)
    resumed = _extract(method, ds, cache)
    assert resumed.from_cache == 3 * written  # exactly what the written shards hold
    plain = _extract(method, ds)
    assert resumed.image_ids == plain.image_ids
    assert resumed.rows.dtype == plain.rows.dtype and np.array_equal(resumed.rows, plain.rows)
    assert _extract(method, ds, cache).from_cache == N_IMAGES


def test_second_run_skips_extraction_and_cache_commands(cli, synth, tmp_path, monkeypatch):
    monkeypatch.setenv("IQABENCH_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    args = ["run", "--plugin", str(PLUGIN), "-m", "tiny-stats", "-m", "tiny-sharp", "-p", "cross_dataset",
            "-d", "synth-mos", "-d", "synth-dmos", "--data-root", str(synth), "--runs", str(runs)]
    first = cli(*args)
    assert first.code == 0, first
    assert "found in the feature cache" not in first.err
    second = cli(*args)
    assert second.code == 0, second
    assert second.err.count(f"{N_IMAGES} of {N_IMAGES} images found in the feature cache") == 4
    latest = sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)[-1]
    assert json.loads((latest / "result.json").read_text())["images"]["from_cache"] == 2 * N_IMAGES

    ls = cli("cache", "ls")
    assert ls.code == 0, ls
    stats_line = next(line for line in ls.out.splitlines() if line.startswith("tiny-stats"))
    assert " 60 " in stats_line and "synth-dmos,synth-mos" in stats_line

    cleared = cli("cache", "clear", "--dataset", "synth-mos")
    assert cleared.code == 0 and "cleared 60 cached image(s) in 2 method folder(s)" in cleared.out, cleared
    ls = cli("cache", "ls")
    assert " 30 " in next(line for line in ls.out.splitlines() if line.startswith("tiny-stats"))
    assert "synth-mos" not in ls.out

    assert "cleared 30 cached image(s) in 1 method folder(s)" in cli("cache", "clear", "--method", "tiny-sharp").out
    assert not any(line.startswith("tiny-sharp") for line in cli("cache", "ls").out.splitlines())
    assert cli("cache", "clear").code == 0
    assert "empty" in cli("cache", "ls").out

    off = cli(*args, "--no-cache")
    assert off.code == 0 and "found in the feature cache" not in off.err
    assert "empty" in cli("cache", "ls").out


# -- no stale feature ---------------------------------------------------------------------------------


def _equal_size_swap_pair(ds) -> tuple[Path, Path]:
    """Two images of different content rewritten as uncompressed PNGs (equal sizes) with one mtime, as unzipped."""
    from PIL import Image

    paths = ds.index()["path"].tolist()
    a, b = Path(paths[0]), Path(paths[7])
    for p in (a, b):
        with Image.open(p) as img:
            img.load()
            img.save(p, compress_level=0)
    stamp = a.stat().st_mtime_ns
    for p in (a, b):
        os.utime(p, ns=(stamp, stamp))
    assert a.stat().st_size == b.stat().st_size and a.read_bytes() != b.read_bytes()
    return a, b


def test_swapping_two_equal_size_files_recomputes_both(synth, tmp_path):
    method, ds = _method(), _dataset(synth)
    a, b = _equal_size_swap_pair(ds)
    cache = FeatureCache(tmp_path / "cache")
    _extract(method, ds, cache)
    before = [(p.stat().st_size, p.stat().st_mtime_ns) for p in (a, b)]
    swap = a.with_name("swap.tmp")
    os.rename(a, swap)  # mv a swap; mv b a; mv swap b
    os.rename(b, a)
    os.rename(swap, b)
    assert [(p.stat().st_size, p.stat().st_mtime_ns) for p in (a, b)] == before  # path, size, mtime: all unchanged
    plain = _extract(method, ds)
    again = _extract(method, ds, cache)
    assert again.from_cache == N_IMAGES - 2
    assert np.array_equal(again.rows, plain.rows)


def test_verify_cache_rehashes_the_files_of_cached_images(synth, tmp_path, monkeypatch):
    import hashlib

    from iqabench import cache as cache_module

    # A file system whose metadata never changes (some network and FAT mounts): only the path is seen.
    monkeypatch.setattr(cache_module, "image_key", lambda p: hashlib.sha256(str(p).encode()).hexdigest()[:32])
    method, ds = _method(), _dataset(synth)
    _extract(method, ds, FeatureCache(tmp_path / "cache"))
    paths = ds.index()["path"].tolist()
    Path(paths[0]).write_bytes(Path(paths[9]).read_bytes())
    plain = _extract(method, ds)
    trusting = _extract(method, ds, FeatureCache(tmp_path / "cache"))
    assert trusting.from_cache == N_IMAGES and not np.array_equal(trusting.rows, plain.rows)  # what the keys allow
    verified = _extract(method, ds, FeatureCache(tmp_path / "cache", verify=True))
    assert verified.from_cache == N_IMAGES - 1
    assert np.array_equal(verified.rows, plain.rows)


EDITED_PLUGIN = '''
import torch

from iqabench import Method, Views, register_method


@register_method("edited-stats")
class EditedStats(Method):
    description = "test method whose extract the test edits"
    views = Views(crops=0)

    def extract(self, batch):
        return torch.stack([batch.mean((1, 2, 3)), batch.std((1, 2, 3))], dim=1) * {scale}
'''


def _fresh_plugin(path: Path):
    """Load ``path`` as a new process would (a module already imported from it is forgotten first)."""
    import sys

    if "edited-stats" in registry.methods:
        sys.modules.pop(registry.methods.get("edited-stats").__module__, None)
    registry.load_plugin_file(path)
    return registry.methods.get("edited-stats")()


def test_changed_plugin_code_gets_new_features(synth, tmp_path):
    plugin = tmp_path / "edited.py"
    plugin.write_text(EDITED_PLUGIN.format(scale=1))
    cache, ds = FeatureCache(tmp_path / "cache"), _dataset(synth)
    first = _extract(_fresh_plugin(plugin), ds, cache)
    assert _extract(_fresh_plugin(plugin), ds, cache).from_cache == N_IMAGES  # same code: reused

    plugin.write_text(EDITED_PLUGIN.format(scale=2))  # same name, options, views, version
    second = _extract(_fresh_plugin(plugin), ds, cache)
    assert second.from_cache == 0
    assert np.allclose(second.rows, 2 * first.rows)
    # Built-in methods are keyed by their `version`, not by their source.
    assert registry.methods.get("brisque")().identity()["code_sha256"] is None


# -- resumable runs, concurrent writers --------------------------------------------------------------


def test_interrupted_extraction_keeps_the_finished_images(synth, tmp_path):
    cache = FeatureCache(tmp_path / "cache", shard_images=1000, shard_seconds=1e9)  # nothing written before the end
    method, ds = _method("tiny-slow"), _dataset(synth)  # one image per batch
    calls = {"n": 0}
    extract = method.extract

    def interrupted_at_the_sixth(batch):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt  # Ctrl-C during the sixth image
        return extract(batch)

    method.extract = interrupted_at_the_sixth
    with pytest.raises(KeyboardInterrupt):
        _extract(method, ds, cache)
    resumed = _extract(_method("tiny-slow"), ds, cache)
    assert resumed.from_cache == 5
    assert np.array_equal(resumed.rows, _extract(_method("tiny-slow"), ds).rows)


def test_cache_clear_during_a_run_leaves_no_orphan_shard(synth, tmp_path):
    root = tmp_path / "cache"
    method, ds = _method(), _dataset(synth)
    pair = FeatureCache(root, shard_images=1000, shard_seconds=1e9).for_pair(method, ds)
    ids = ds.index()["image_id"].tolist()
    pair.lookup(ids)  # a run starts and buffers features ...
    pair.store({i: np.full((1, 4), k, np.float32) for k, i in enumerate(ids[:10])})
    assert FeatureCache(root).clear()["methods"] == 1  # ... `iqabench cache clear` in another shell ...
    pair.flush()  # ... then the run writes its buffer
    [entry] = FeatureCache(root).entries()
    assert entry.n_images == 10 and entry.datasets == ["synth-mos"] and not entry.corrupt
    assert FeatureCache(root).clear()["images"] == 10
    assert not list(root.rglob("*.shard"))


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from iqabench.cache import FeatureCache, PairCache

    root, files, part, go = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    paths = sorted(files.glob("*.bin"))[part::2]  # like a torchrun rank: every other image
    index = pd.DataFrame({"image_id": [p.name for p in paths], "path": [str(p) for p in paths]})
    cache = FeatureCache(root, shard_images=1, shard_seconds=1e9)
    identity = {"name": "concurrent", "views": {"crops": 0}}
    while not go.exists():
        time.sleep(0.001)
    for i in range(len(index)):
        pair = PairCache(cache, identity, "shared", index.iloc[[i]])
        image_id = index["image_id"].iloc[i]
        pair.lookup([image_id])
        pair.store({image_id: np.full((1, 3), int(image_id[:4]), np.float32)})
        pair.flush()
    print("done")
    """
)


def test_concurrent_writers_to_one_method_folder(tmp_path):
    import pandas as pd

    from iqabench.cache import PairCache

    files, root, go = tmp_path / "files", tmp_path / "cache", tmp_path / "go"
    files.mkdir()
    n = 160
    for k in range(n):
        (files / f"{k:04d}.bin").write_bytes(k.to_bytes(2, "little"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(root), str(files), str(part), str(go)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for part in (0, 1)
    ]
    time.sleep(1.0)  # both import and wait for the start signal
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0 and "done" in out, err[-2000:]

    [entry] = FeatureCache(root).entries()
    assert entry.n_images == n and entry.n_shards == n and not entry.corrupt
    paths = sorted(files.glob("*.bin"))
    manifest = set((entry.path / "datasets" / "shared.keys").read_text().split())
    assert manifest == {image_key(p) for p in paths}  # neither writer's bookkeeping lost the other's
    index = pd.DataFrame({"image_id": [p.name for p in paths], "path": [str(p) for p in paths]})
    found = PairCache(FeatureCache(root), {"name": "concurrent", "views": {"crops": 0}}, "shared", index).lookup(
        index["image_id"].tolist()
    )
    assert len(found) == n and all(rows[0, 0] == int(i[:4]) for i, rows in found.items())
    assert FeatureCache(root).clear(dataset="shared")["images"] == n
