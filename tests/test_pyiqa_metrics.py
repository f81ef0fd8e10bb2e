"""pyiqa's no-reference metrics as methods (``pyiqa:NAME``): namespace and wildcard listings, weights from
pyiqa's cache with no network attempt, one-line errors, raw oriented scores, provenance and cache keys."""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from iqabench.methods import pyiqa_metrics as pm
from iqabench.methods.niqe import LIVE_MODEL, load_model
from PIL import Image
from scipy.io import savemat

from iqabench.cache import method_key
from iqabench.errors import IQABenchError
from iqabench.registry import methods

PLUGIN = str(Path(__file__).with_name("protocol_plugins.py"))


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty torch hub (pyiqa's cache is its pyiqa/ folder), so no weights a developer has cached leak in."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def no_network(monkeypatch) -> list:
    """Records any network or download attempt (and stops it) outside iqabench's own guard."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("test: network attempt")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return attempts


def _image(size=(96, 64), seed=0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    base = 0.5 + 0.3 * np.sin(9 * xx + 5 * yy)[..., None] * np.array([1.0, 0.8, 0.6])
    img = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
    return torch.from_numpy((img * 255).round() / 255).permute(2, 0, 1).float()


def _live_niqe_mat(path: Path) -> Path:
    """The LIVE NIQE pristine model in the modelparameters.mat layout pyiqa's niqe reads."""
    mu, cov = load_model(LIVE_MODEL)
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"mu_prisparam": mu.reshape(1, -1), "cov_prisparam": cov})
    return path


def _one_line(text: str) -> str:
    lines = [s for s in text.strip().splitlines() if s.strip()]
    assert len(lines) == 1, text
    return lines[0]


# -- registry: namespace and wildcards ------------------------------------------------------------
def test_listing_reads_pyiqa_table_without_importing_pyiqa():
    code = (
        "import sys; from iqabench import registry; "
        "plain = [r.name for r in registry.methods.listing()]; "
        "rows = registry.methods.listing('pyiqa:*'); "
        "print(repr((plain, [(r.name, r.description, r.error) for r in rows], 'pyiqa' in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    plain, rows, imported = eval(out)  # noqa: S307 - our own repr
    assert not imported
    assert "pyiqa:*" in plain and not any(n.startswith("pyiqa:") and n != "pyiqa:*" for n in plain)
    names = {name for name, _, _ in rows}
    nr = {n for n, c in pm.catalogue().items() if c["metric_mode"] == "NR"}
    assert names == {f"pyiqa:{n}" for n in nr}
    assert {"pyiqa:piqe", "pyiqa:entropy", "pyiqa:niqe", "pyiqa:brisque"} <= names
    assert "pyiqa:ssim" not in names and "pyiqa:lpips" not in names  # full-reference
    by_name = {name: (text, error) for name, text, error in rows}
    assert by_name["pyiqa:piqe"] == ("pyiqa piqe (lower = better; range 0, 100)", None)
    assert "higher = better" in by_name["pyiqa:entropy"][0]
    assert "not usable here" in by_name["pyiqa:clipiqa"][0] and "torch.jit.load" in by_name["pyiqa:clipiqa"][0]


def test_wildcards_work_for_every_listing(cli):
    r = cli("list", "methods", "reiqa*")
    assert r.code == 0 and re.findall(r"^(\S+)", r.out, re.M) == ["reiqa", "reiqa-content", "reiqa-quality"]
    r = cli("list", "datasets", "demo*")  # (other tests may have registered demo-few* in this process)
    names = re.findall(r"^(\S+)", r.out, re.M)
    assert r.code == 0 and {"demo", "demo-a", "demo-b"} <= set(names) and all(n.startswith("demo") for n in names)
    r = cli("list", "protocols", "*_dataset")
    assert r.code == 0 and re.findall(r"^(\S+)", r.out, re.M) == ["cross_dataset", "within_dataset"]
    r = cli("list", "methods", "pyiqa:*niqe*")
    assert r.code == 0 and re.findall(r"^(\S+)", r.out, re.M) == ["pyiqa:ilniqe", "pyiqa:niqe", "pyiqa:niqe_matlab"]
    r = cli("list", "methods")
    assert r.code == 0 and re.search(r"^pyiqa:\*\s+pyiqa's no-reference metrics.*list methods 'pyiqa:\*'", r.out, re.M)
    r = cli("list", "methods", "nothing*")
    assert r.code == 1 and "no methods match 'nothing*'" in _one_line(r.err)


NAMESPACE_PLUGIN = '''
from iqabench import Method, Views, registry


class Scale(Method):
    kind = "scores"
    views = Views(crops=0)

    def extract(self, batch):
        return batch.mean(dim=(1, 2, 3)) * self.factor


class Scales:
    description = "mean grey level times a factor"

    def names(self):
        return ["x2", "x3"]

    def get(self, name):
        if name not in self.names():
            return None
        factor = int(name[1:])
        return type(f"Scale{factor}", (Scale,), {"factor": factor, "description": f"mean grey level x{factor}"})


registry.methods.register_namespace("toy", Scales())
'''


def test_any_plugin_can_provide_a_namespace(cli, tmp_path):
    plugin = tmp_path / "toy.py"
    plugin.write_text(NAMESPACE_PLUGIN)
    r = cli("list", "methods", "toy:*", "--plugin", str(plugin))
    assert r.code == 0 and re.findall(r"^(\S+)\s+(.*)$", r.out, re.M) == [
        ("toy:x2", "mean grey level x2"), ("toy:x3", "mean grey level x3")]
    assert methods.get("toy:x3")().extract(torch.full((2, 3, 4, 4), 0.5)).tolist() == [1.5, 1.5]
    assert methods.get("toy:x3").name == "toy:x3" and "toy:x2" in methods and "toy:x9" not in methods
    with pytest.raises(IQABenchError, match=r"unknown method 'toy:x4'; did you mean 'toy:x3', 'toy:x2'\? \(known: toy:x2, toy:x3\)"):
        methods.get("toy:x4")
    r = cli("list", "methods", "toy*")
    assert r.code == 0 and re.search(r"^toy:\*\s+mean grey level times a factor \(list them with", r.out, re.M)
    assert "toy:x2" not in methods.names()  # plain names (and the demo) stay as they were


def test_every_nr_metric_of_the_installed_pyiqa_is_classified():
    """Each NR metric is either runnable (its weight files listed) or refused with a reason; no stale entries."""
    nr = {n for n, c in pm.catalogue().items() if c["metric_mode"] == "NR"}
    assert set(pm.WEIGHTS) | set(pm.REFUSED) == nr, "update WEIGHTS/REFUSED for this pyiqa release"
    assert not set(pm.WEIGHTS) & set(pm.REFUSED)
    assert set(pm.TRAINED_ON) <= set(pm.WEIGHTS) and pm.HANDCRAFTED <= set(pm.WEIGHTS)
    for entries in pm.WEIGHTS.values():
        assert all(e.split("/", 1)[0] in ("pyiqa", "torchvision", "timm", "checkpoints") for e in entries)


def test_name_errors_are_one_line(cli):
    r = cli("run", "-m", "pyiqa:ssim", "-p", "within_dataset", "-d", "demo")
    assert r.code == 1 and "pyiqa:ssim is a full-reference metric" in _one_line(r.err)
    r = cli("run", "-m", "pyiqa:piqee", "-p", "within_dataset", "-d", "demo")
    assert r.code == 1 and "unknown method 'pyiqa:piqee'; did you mean 'pyiqa:piqe'" in _one_line(r.err)
    r = cli("run", "-m", "pyiq:piqe", "-p", "within_dataset", "-d", "demo")
    assert r.code == 1 and "unknown method namespace 'pyiq'; did you mean 'pyiqa'" in _one_line(r.err)
    r = cli("run", "-m", "pyiqa:clipiqa", "-p", "within_dataset", "-d", "demo")
    assert r.code == 1 and "'pyiqa:clipiqa' cannot run in iqabench: loads OpenAI CLIP" in _one_line(r.err)
    r = cli("run", "-m", "pyiqa:piqe", "--weights", "x.pth", "-p", "within_dataset", "-d", "demo")
    assert r.code == 1 and "takes no --weights file" in _one_line(r.err)
    with pytest.raises(IQABenchError, match="':' separates a namespace"):
        methods.register("a:b")


# -- weights: missing, fake, unsafe; no network ------------------------------------------------------
def test_missing_weight_file_fails_before_any_image_with_no_network(cli, torch_home, no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_images(*args, **kwargs):
        raise AssertionError("an image was read")

    monkeypatch.setattr("iqabench.features.decode_rgb", no_images)
    folder = torch_home / "hub" / "pyiqa"
    for metric, file in (("brisque", "brisque_svm_weights.pth"), ("niqe", "niqe_modelparameters.mat")):
        r = cli("run", "--plugin", PLUGIN, "-m", f"pyiqa:{metric}", "-p", "within_dataset", "-d", "demo-few")
        line = _one_line(r.err)
        assert r.code == 1 and f"{file} in {folder}" in line and "never downloads" in line, r
        assert f"https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/{file}" in line
    # Two files missing (pi = NRQM + NIQE) are named in the same line.
    with pytest.raises(IQABenchError, match="NRQM_model.mat in .*; niqe_modelparameters.mat in "):
        methods.get("pyiqa:pi")()
    assert no_network == []


def test_fake_or_unsafe_weight_files_fail_in_one_line_naming_the_file(torch_home, no_network, tmp_path):
    folder = torch_home / "hub" / "pyiqa"
    folder.mkdir(parents=True)
    fake = folder / "brisque_svm_weights.pth"
    fake.write_bytes(b"not a checkpoint at all")
    with pytest.raises(IQABenchError) as err:
        methods.get("pyiqa:brisque")()
    line = _one_line(str(err.value))
    assert str(fake) in line and "is not a plain tensor checkpoint" in line and "likely succeed" not in line

    # A pickle that would run code when unpickled is refused before pyiqa (which would unpickle it) sees it.
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"sv": Payload()}, fake)
    with pytest.raises(IQABenchError, match=r"not a plain tensor checkpoint .*weights_only=True.*Unsupported global"):
        methods.get("pyiqa:brisque")()
    assert not marker.exists()

    bad_mat = folder / "niqe_modelparameters.mat"
    bad_mat.write_bytes(pickle.dumps("not MATLAB"))
    with pytest.raises(IQABenchError, match=r"niqe_modelparameters.mat' is not a readable MATLAB .mat file"):
        methods.get("pyiqa:niqe")()
    assert no_network == []


@pytest.mark.slow
def test_cached_weights_are_used_hashed_and_keyed(torch_home, no_network):
    """niqe with a .mat in pyiqa's cache: a wrong layout fails in one line; the LIVE model scores as iqabench's
    NIQE does; the result records pyiqa's version and the file's sha256; both change the cache key."""
    folder = torch_home / "hub" / "pyiqa"
    folder.mkdir(parents=True)
    savemat(folder / "niqe_modelparameters.mat", {"something_else": np.ones(3)})
    with pytest.raises(IQABenchError) as err:
        methods.get("pyiqa:niqe")()
    line = _one_line(str(err.value))
    assert "pyiqa could not build the metric" in line and "niqe_modelparameters.mat" in line and "mu_prisparam" in line

    mat = _live_niqe_mat(folder / "niqe_modelparameters.mat")
    method = methods.get("pyiqa:niqe")()
    ident = method.identity()
    sha = pm.sha256_file(mat)
    assert ident["pyiqa"]["version"] == pm.pyiqa_version()
    assert ident["pyiqa"]["weights"] == [{"file": "niqe_modelparameters.mat", "path": str(mat), "sha256": sha}]
    assert ident["weights_identity"] == f"pyiqa=={pm.pyiqa_version()}+niqe_modelparameters.mat:{sha}"
    assert ident["higher_better"] is False and ident["method_type"] == "Handcrafted"

    x = _image((288, 192))
    score = method.extract(x[None]).item()
    ours = methods.get("niqe")().extract(x[None]).item()
    assert abs(score - ours) / ours < 0.05, (score, ours)  # same LIVE model; pyiqa follows the LIVE release too

    key = method_key(ident)
    method.pyiqa_version = "0.1.99"
    assert method_key(method.identity()) != key
    mu, cov = load_model(LIVE_MODEL)
    savemat(mat, {"mu_prisparam": mu.reshape(1, -1) * 1.01, "cov_prisparam": cov})
    assert method_key(methods.get("pyiqa:niqe")().identity()) != key
    assert no_network == []


def test_offline_guard_blocks_downloads_and_connections(tmp_path):
    with pm.offline("method 'pyiqa:x'"):
        with pytest.raises(IQABenchError, match=r"needs a\.pth, not found in .*: put it there \(pyiqa fetches it from http"):
            torch.hub.download_url_to_file("https://example.org/a.pth", str(tmp_path / "a.pth"))
        with pytest.raises(IQABenchError, match="tried to open a network connection"):
            socket.create_connection(("example.org", 443))
        with pytest.raises(IQABenchError, match="tried to open a network connection"):
            socket.getaddrinfo("example.org", 443)
        a, b = socket.socketpair()  # local sockets still work (DataLoader workers use them)
        a.close(), b.close()
    assert torch.hub.download_url_to_file.__name__ == "download_url_to_file"
    assert socket.create_connection.__name__ == "create_connection"


# -- scoring ---------------------------------------------------------------------------------------------
def test_piqe_scores_are_pyiqas_raw_output_oriented_by_lower_better(no_network):
    import pyiqa

    method = methods.get("pyiqa:piqe")()
    assert method.kind == "scores" and method.higher_better is False and method.views.crops == 0
    images = [_image((96, 64), seed=s) for s in range(3)]
    batch = torch.stack(images)
    ours = method.extract(batch)
    assert ours.dtype == torch.float64 and ours.shape == (3,)
    reference = pyiqa.create_metric("piqe", device="cpu")
    for img, score in zip(images, ours):
        assert score.item() == reference(img[None]).item()
    assert torch.equal(method.extract(batch[1:2]), ours[1:2])  # independent of the batch
    ident = method.identity()
    assert ident["pyiqa"]["weights"] == [] and ident["weights_identity"] == f"pyiqa=={pm.pyiqa_version()}"
    assert ident["pyiqa"]["lower_better"] is True and ident["pyiqa"]["score_range"] == "0, 100"
    assert methods.get("pyiqa:entropy")().higher_better is True
    assert method.fitted_on() == set() and pm.TRAINED_ON["musiq-spaq"] == {"spaq"}
    assert no_network == []


def test_images_pyiqa_cannot_score_fail_naming_the_image(cli, tmp_path):
    black = tmp_path / "black.png"
    Image.new("RGB", (64, 64)).save(black)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), (120, 30, 200)).save(tiny)
    r = cli("-q", "score", "-m", "pyiqa:piqe", "--device", "cpu", str(black))
    error = r.err.strip().splitlines()[-1]
    assert r.code == 1 and re.fullmatch(r"error: image '.*black\.png': pyiqa piqe returned nan \(the metric is undefined.*",
                                        error), r
    r = cli("-q", "score", "-m", "pyiqa:piqe", "--device", "cpu", str(tiny))
    error = r.err.strip().splitlines()[-1]
    assert r.code == 1 and re.fullmatch(r"error: image '.*tiny\.png': pyiqa piqe failed: RuntimeError: .*", error), r
    good = tmp_path / "good.png"
    Image.fromarray((_image().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(good)
    r = cli("-q", "score", "-m", "pyiqa:piqe", "--device", "cpu", "--format", "json", str(good), str(black),
            "--on-error", "skip")
    assert r.code == 0, r
    assert "good.png" in r.out and "black.png" in r.err


@pytest.mark.slow
def test_run_records_pyiqa_version(cli, tmp_path, demo_root):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", PLUGIN, "-m", "pyiqa:piqe", "-p", "within_dataset", "-d", "demo-few", "--runs", str(runs))
    assert r.code == 0, r
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    result = json.loads((run / "result.json").read_text())
    (method,) = result["methods"]
    assert method["name"] == "pyiqa:piqe" and method["higher_better"] is False
    assert method["pyiqa"] == {"version": pm.pyiqa_version(), "metric": "piqe", "lower_better": True,
                               "score_range": "0, 100", "weights": []}
    assert np.isfinite(result["summary"]["srcc"])
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
