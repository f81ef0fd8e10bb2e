"""``torchrun --nproc-per-node 2 -m iqabench run``: two gloo processes on the CPU, each extracting a
share of the images into the feature cache, give the results of one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iqabench import registry

PLUGIN = Path(__file__).with_name("protocol_plugins.py")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    plugins = registry.load_plugin_file(PLUGIN)
    root = tmp_path_factory.mktemp("sharded-data")
    plugins.make_synth_pair(root, 5)
    plugins.make_waterloo(root, n_pristine=2)
    return root


def torchrun(args: list[str], cache: Path, processes: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "IQABENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
           "-m", "iqabench", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)


def _results(runs: Path) -> dict[str, Path]:
    return {json.loads((p / "result.json").read_text())["methods"][0]["name"]: p for p in runs.iterdir()}


def _same_results(sharded: Path, single: Path) -> None:
    a, b = _results(sharded), _results(single)
    assert sorted(a) == sorted(b) and a
    for name in a:
        ra, rb = (json.loads((r[name] / "result.json").read_text()) for r in (a, b))
        assert ra["summary"] == rb["summary"], name
        assert ra["tables"] == rb["tables"] and ra["tables"], name
        for table in ra["tables"]:  # predictions, per-split correlations, ...: byte for byte
            assert (a[name] / f"{table}.csv").read_bytes() == (b[name] / f"{table}.csv").read_bytes(), (name, table)


def _writers(cache: Path, method: str) -> set[str]:
    """The processes that wrote shards of ``method`` (shard names hold the writer's pid)."""
    (folder,) = [d for d in cache.iterdir() if d.name.startswith(f"{method}-")]
    return {shard.name.split("-")[1] for shard in (folder / "shards").glob("*.shard")}


def test_two_processes_give_the_cross_dataset_results_of_one(cli, data, tmp_path):
    args = ["run", "--plugin", str(PLUGIN), "-m", "tiny-stats", "-m", "tiny-sharp", "-p", "cross_dataset",
            "-d", "synth-mos", "-d", "synth-dmos", "--data-root", str(data)]
    cache = tmp_path / "cache"
    proc = torchrun([*args, "--runs", str(tmp_path / "sharded")], cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(proc.stdout.strip().splitlines()) == 2  # rank 0 alone printed (and wrote) the two results
    single = cli(*args, "--runs", str(tmp_path / "single"), "--no-cache")
    assert single.code == 0, single
    _same_results(tmp_path / "sharded", tmp_path / "single")
    for method in ("tiny-stats", "tiny-sharp"):
        assert len(_writers(cache, method)) == 2  # each process wrote its own share


def test_a_protocols_own_dataset_is_sharded_too(cli, data, tmp_path):
    """gMAD trains its regressor on a dataset it builds itself (regressor_dataset): the other
    process builds the same one from the run's options."""
    args = ["run", "--plugin", str(PLUGIN), "-m", "tiny-stats", "-m", "tiny-sharp", "-p", "gmad", "-d", "waterloo",
            "--protocol-option", "regressor_dataset=synth-mos", "--data-root", str(data)]
    cache = tmp_path / "cache"
    proc = torchrun([*args, "--runs", str(tmp_path / "sharded")], cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "extracted by this process alone" not in proc.stderr
    single = cli(*args, "--runs", str(tmp_path / "single"), "--no-cache")
    assert single.code == 0, single
    (sharded_run,), (single_run,) = (list((tmp_path / d).iterdir()) for d in ("sharded", "single"))
    a, b = (json.loads((r / "result.json").read_text()) for r in (sharded_run, single_run))
    assert a["summary"] == b["summary"]
    assert (sharded_run / "scores.csv").read_bytes() == (single_run / "scores.csv").read_bytes()
    assert len(_writers(cache, "tiny-stats")) == 2


def test_a_failing_image_stops_every_process_with_its_one_line_error(data, tmp_path):
    bad = tmp_path / "data"
    import shutil

    shutil.copytree(data / "synth-mos", bad / "synth-mos")
    (bad / "synth-mos" / "images" / "r04_5.png").write_bytes(b"not a png")  # the last image: process 2's share
    proc = torchrun(["run", "--plugin", str(PLUGIN), "-m", "tiny-stats", "-p", "within_dataset", "-d", "synth-mos",
                     "--data-root", str(bad), "--runs", str(tmp_path / "runs")], tmp_path / "cache")
    assert proc.returncode != 0
    assert "process 2 of 2:" in proc.stderr and "r04_5.png" in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_no_cache_is_refused_under_torchrun(data, tmp_path):
    from iqabench.errors import IQABenchError
    from iqabench.runner import DatasetSpec, MethodSpec, execute
    from iqabench.sharding import Shards

    with pytest.raises(IQABenchError, match="^--no-cache: under torchrun the processes hand their features to each other"):
        execute([MethodSpec("tiny-stats")], "within_dataset", [DatasetSpec("synth-mos")], data_root=str(data),
                runs_dir=tmp_path / "runs", use_cache=False, shards=Shards(rank=0, world_size=2, local_rank=0))


def test_each_process_uses_its_own_gpu():
    from iqabench.sharding import Shards

    shards = Shards(rank=3, world_size=4, local_rank=1)
    assert (shards.device("cuda"), shards.device("cuda:0"), shards.device("cpu")) == ("cuda:1", "cuda:1", "cpu")


def test_extraction_workers_default_to_the_cores_but_one_on_cuda(monkeypatch):
    import iqabench.devices
    from iqabench.runner import default_workers

    monkeypatch.setattr(iqabench.devices, "host_cores", lambda: 16)
    assert (default_workers("cuda"), default_workers("cuda:1"), default_workers("cpu")) == (15, 15, 0)
    monkeypatch.setattr(iqabench.devices, "host_cores", lambda: 1)
    assert default_workers("cuda") == 1
