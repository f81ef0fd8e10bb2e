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
    plugins.make_synth(root / "synth-mos", 6, 1, lower_better=False)
    plugins.make_synth(root / "synth-dmos", 6, 2, lower_better=True)
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
