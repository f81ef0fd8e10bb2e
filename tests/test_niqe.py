"""NIQE: scores against pyiqa and the LIVE MATLAB release, the pristine models (LIVE figures, iqabench fit,
file formats), errors, CLI."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from iqabench.methods import niqe as niqe_module
from PIL import Image, ImageFilter
from scipy.io import loadmat, savemat

from iqabench import nss
from iqabench.errors import IQABenchError
from iqabench.registry import methods
from iqabench.views import to_tensor

from .nss_support import (
    KODAK,
    UNAMBIGUOUS,
    calibration_images,
    oracle_mscn,
    single_torch_thread,  # noqa: F401
)

IQABENCH = str(niqe_module.IQABENCH_MODEL)
# The LIVE MATLAB release (computequality.m, modelparameters.mat) on pyiqa's ResultsCalibra/dist_dir
# images: chaofengc/IQA-PyTorch ResultsCalibra/calibration_summary.csv, row "niqe" (15.75 / 3.65 /
# 3.24 / 3.18 / 8.64 rounded, reference/baselines.md §4).
LIVE_RELEASE_SCORES = {"I03": 15.7536, "I04": 3.6549, "I06": 3.2355, "I08": 3.184, "I19": 8.6352}


@pytest.fixture(scope="module")
def live_model() -> tuple[torch.Tensor, torch.Tensor]:
    mu, cov = niqe_module.load_model(niqe_module.LIVE_MODEL)
    return torch.from_numpy(mu), torch.from_numpy(cov)


@pytest.fixture(scope="module")
def live_model_mat(tmp_path_factory, live_model) -> str:
    """The LIVE figures in the LIVE modelparameters.mat layout (what pyiqa reads)."""
    path = tmp_path_factory.mktemp("niqe") / "modelparameters.mat"
    savemat(path, {"mu_prisparam": live_model[0].numpy().reshape(1, -1), "cov_prisparam": live_model[1].numpy()})
    return str(path)


def test_default_model_is_within_1_percent_of_the_live_matlab_release():
    method = methods.get("niqe")()
    assert method.display_name() == "NIQE (LIVE model)"
    for name in KODAK:
        score = method.extract(calibration_images()[f"dist_{name}"]).item()
        ref = LIVE_RELEASE_SCORES[name]
        assert abs(score - ref) / ref < 0.01, (name, score, ref)
    # The iqabench-fitted model is far off on the same images (the reason it is not the default).
    fitted = methods.get("niqe")(model="iqabench")
    assert fitted.extract(calibration_images()["dist_I04"]).item() > 2 * LIVE_RELEASE_SCORES["I04"]


def test_live_model_file_is_the_documented_copy():
    data = niqe_module.LIVE_MODEL.read_bytes()
    assert hashlib.sha256(data).hexdigest() == niqe_module.LIVE_MODEL_SHA256
    readme = (niqe_module.LIVE_MODEL.parent / "README.md").read_text()
    assert niqe_module.LIVE_MODEL_SHA256 in readme and "basicsr 1.4.2" in readme
    with np.load(niqe_module.LIVE_MODEL, allow_pickle=False) as npz:
        assert npz["mu_pris_param"].shape == (1, 36) and npz["cov_pris_param"].shape == (36, 36)
        cov = npz["cov_pris_param"]
    assert np.allclose(cov, cov.T) and np.linalg.eigvalsh(cov).min() > 0  # a full-rank covariance


def _oracle_scores(y: torch.Tensor, mu_p: torch.Tensor, cov_p: torch.Tensor) -> torch.Tensor:
    """pyiqa's niqe() steps (blockproc, compute_feature, imresize, nanmean, nancov, pinv distance) on
    the MSCN of tests/nss_support.py (MATLAB kernel, exact zeros)."""
    from pyiqa.archs.niqe_arch import compute_feature
    from pyiqa.matlab_utils import blockproc, imresize, nancov, nanmean

    h, w = (s // 96 * 96 for s in y.shape[-2:])
    img = y[:, None, :h, :w]
    feats = []
    for scale in (1, 2):
        feats.append(blockproc(oracle_mscn(img, "replicate"), [96 // scale] * 2, fun=compute_feature))
        if scale == 1:
            img = imresize(img / 255.0, scale=0.5, antialiasing=True) * 255.0
    d = torch.cat(feats, dim=-1)
    cov_d, mu_d = nancov(d), nanmean(d, dim=1)
    inv = torch.linalg.pinv((cov_p + cov_d) / 2)
    diff = (mu_p - mu_d).unsqueeze(1)
    return torch.sqrt(torch.bmm(torch.bmm(diff, inv), diff.transpose(1, 2))).reshape(-1)


def test_scores_match_pyiqa_steps_on_all_images(live_model):
    mu_p, cov_p = live_model
    for name, x in calibration_images().items():
        y = nss.luminance_255(x)
        ours = niqe_module.niqe_scores(y, mu_p, cov_p)
        ref = _oracle_scores(y, mu_p, cov_p)
        assert torch.allclose(ours, ref, rtol=1e-3, atol=0), (name, ours.item(), ref.item())


def test_scores_match_pyiqa_metric_with_the_same_model(live_model_mat):
    import pyiqa

    metric = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=live_model_mat)
    method = methods.get("niqe")()
    for name in UNAMBIGUOUS:
        x = calibration_images()[name]
        ours = method.extract(x)
        with torch.no_grad():
            ref = metric(x.double()).reshape(-1)  # pyiqa run in float64 throughout (its Y is float32 otherwise)
        assert ours.shape == (1,) and ours.dtype == torch.float32
        assert torch.allclose(ours.double(), ref.double(), rtol=1e-3, atol=0), (name, ours.item(), ref.item())


def test_shipped_model_is_reproduced_by_the_code():
    mu, cov, kept, seen = niqe_module.fit_shipped_model()
    shipped_mu, shipped_cov = niqe_module.load_model(IQABENCH)
    assert seen > kept > 2
    np.testing.assert_allclose(mu, shipped_mu, rtol=1e-10, atol=0)
    np.testing.assert_allclose(cov, shipped_cov, rtol=1e-10, atol=1e-14)


def test_model_file_round_trip_and_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 36))
    mu, cov = a.mean(0), np.cov(a.T)
    path = tmp_path / "m.mat"
    niqe_module.write_model(path, mu, cov)
    raw = loadmat(path)
    assert raw["mu_prisparam"].shape == (1, 36) and raw["cov_prisparam"].shape == (36, 36)
    got_mu, got_cov = niqe_module.load_model(path)
    assert np.array_equal(got_mu, mu) and np.array_equal(got_cov, cov)
    assert niqe_module.model_bytes(mu, cov) == path.read_bytes()  # no time stamp in the header


def test_model_files_and_options_are_accepted_and_identified(tmp_path):
    mu, cov = niqe_module.load_model(niqe_module.LIVE_MODEL)
    live = tmp_path / "modelparameters.mat"
    # The LIVE file is a plain MATLAB save of the two variables (row vector and matrix).
    savemat(live, {"mu_prisparam": mu.reshape(1, -1), "cov_prisparam": cov, "note": "other variables are ignored"})
    x = calibration_images()["ref_I04"]
    default, custom, fitted = methods.get("niqe")(), methods.get("niqe")(weights=live), methods.get("niqe")(model="iqabench")
    assert torch.allclose(default.extract(x), custom.extract(x))
    assert not torch.allclose(default.extract(x), fitted.extract(x), rtol=0.1)
    assert custom.display_name() == "NIQE (modelparameters.mat)" and fitted.display_name() == "NIQE (iqabench model)"
    assert custom.weights_identity() == hashlib.sha256(live.read_bytes()).hexdigest()
    assert default.weights_identity() == niqe_module.LIVE_MODEL_SHA256
    assert fitted.weights_identity() == hashlib.sha256(niqe_module.IQABENCH_MODEL.read_bytes()).hexdigest()
    assert custom.identity()["weights_sha256"] == custom.weights_identity()
    assert [m.identity()["niqe_model"]["name"] for m in (default, custom, fitted)] == ["live", "file", "iqabench"]
    assert methods.get("niqe")(model="live").weights_identity() == default.weights_identity()
    with pytest.raises(IQABenchError, match="option model: 'pirm' is not one of live, iqabench"):
        methods.get("niqe")(model="pirm")
    with pytest.raises(IQABenchError, match="give either --weights .* or --method-option model=iqabench"):
        methods.get("niqe")(weights=live, model="iqabench")
    # basicsr's .npz layout is a model file too.
    npz = tmp_path / "pris.npz"
    np.savez(npz, mu_pris_param=mu.reshape(1, -1), cov_pris_param=cov)
    assert torch.allclose(methods.get("niqe")(weights=npz).extract(x), default.extract(x))


@pytest.mark.parametrize(
    "content,message",
    [
        ({"mu_prisparam": np.zeros((1, 36))}, "has no 'cov_prisparam'"),
        ({"mu": np.zeros((1, 36)), "cov_prisparam": np.eye(36)}, "has no 'mu_prisparam'"),
        ({"mu_prisparam": np.zeros((1, 18)), "cov_prisparam": np.eye(18)}, "expected 1×36 and 36×36"),
        ({"mu_prisparam": np.full((1, 36), np.nan), "cov_prisparam": np.eye(36)}, "NaN or infinite"),
        ({"npz": True, "mu_pris_param": np.zeros((1, 36))}, "has no 'cov_pris_param'"),
        ({"npz": True, "mu_pris_param": np.array([object()]), "cov_pris_param": np.eye(36)}, "not a readable .npz of plain arrays"),
    ],
)
def test_bad_weights_files_fail_with_one_line(tmp_path, content, message):
    content = dict(content)
    if content.pop("npz", False):
        path = tmp_path / "bad.npz"
        np.savez(path, **content)  # a pickled object array in the last case: never unpickled
    else:
        path = tmp_path / "bad.mat"
        savemat(path, content)
    with pytest.raises(IQABenchError, match=message) as err:
        methods.get("niqe")(weights=path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_non_mat_and_missing_weights_files(tmp_path):
    junk = tmp_path / "weights.pth"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(IQABenchError, match="not a readable MATLAB .mat file") as err:
        methods.get("niqe")(weights=junk)
    assert str(junk) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(IQABenchError, match="does not exist"):
        methods.get("niqe")(weights=tmp_path / "missing.mat")


def test_small_constant_and_flat_images_fail_with_one_line():
    method = methods.get("niqe")()
    with pytest.raises(IQABenchError, match=r"at least 2 blocks of 96×96 .*image is 150×100"):
        method.extract(torch.rand(1, 3, 100, 150))
    assert method.extract(torch.rand(1, 3, 96, 192)).isfinite().all()  # the smallest accepted size
    with pytest.raises(IQABenchError, match="constant image"):
        method.extract(torch.full((1, 3, 192, 192), 0.4))
    flat = torch.full((1, 3, 96, 384), 0.4)
    flat[..., :40] = torch.rand(1, 3, 96, 40)  # texture in one block only: the others are flat
    with pytest.raises(IQABenchError, match=r"only 1 of 4 blocks have texture"):
        method.extract(flat)


def test_batch_matches_single_images_and_names_bad_items():
    method = methods.get("niqe")()
    imgs = calibration_images()
    batch = torch.cat([imgs["ref_I03"], imgs["dist_I03"]])
    scores = method.extract(batch)
    assert scores.shape == (2,)
    assert torch.allclose(scores[1], method.extract(batch[1:])[0])
    batch[1] = 0.5
    with pytest.raises(IQABenchError, match=r"batch item 1\)"):
        method.extract(batch)


def test_ranking_pristine_below_blurred_and_noisy():
    method = methods.get("niqe")()
    ref = calibration_images()["ref_I03"]
    pil = Image.fromarray((ref[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    blurred = to_tensor(pil.filter(ImageFilter.GaussianBlur(3))).unsqueeze(0)
    noise = torch.randn(ref.shape, generator=torch.Generator().manual_seed(0)) * (25 / 255)
    noisy = ((ref + noise).clamp(0, 1) * 255).round() / 255
    s_ref, s_blur, s_noise = (method.extract(x).item() for x in (ref, blurred, noisy))
    assert s_ref < s_blur and s_ref < s_noise, (s_ref, s_blur, s_noise)


def test_fit_cli_writes_a_usable_model(tmp_path):
    from iqabench.cli import cli
    from iqabench.photos import pristine_tiles

    folder = tmp_path / "pristine"
    folder.mkdir()
    tiles = pristine_tiles(2)[:4]
    for name, img in tiles:
        img.crop((0, 0, 288, 288)).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "model.mat"
    result = CliRunner().invoke(cli, ["fit", "niqe", "--images", str(folder), "--out", str(out), "--sharpness-threshold", "0"])
    assert result.exit_code == 0, result.output
    assert "NIQE model fitted from 4 images (36 of 36 blocks kept)" in result.output
    mu, cov = niqe_module.load_model(out)
    direct = niqe_module.fit_pristine_model(
        ((p.name, to_tensor(Image.open(p).convert("RGB"))) for p in sorted(folder.glob("*.png"))), threshold=0.0
    )
    assert np.allclose(mu, direct[0], rtol=1e-12) and np.allclose(cov, direct[1], rtol=1e-12)
    score = methods.get("niqe")(weights=out).extract(calibration_images()["ref_I04"])
    assert torch.isfinite(score).all()
    help_text = CliRunner().invoke(cli, ["fit", "niqe", "--help"]).output
    for option in ("--images", "--out", "--sharpness-threshold"):
        assert option in help_text


def test_fit_cli_errors(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("fit", "niqe", "--images", str(empty), "--out", str(tmp_path / "m.mat"))
    assert r.code == 1 and "holds no image files" in r.err and len(r.err.strip().splitlines()) == 1
    small = tmp_path / "small"
    small.mkdir()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(small / "tiny.png")
    r = cli("fit", "niqe", "--images", str(small), "--out", str(tmp_path / "m.mat"))
    assert r.code == 1 and "tiny.png" in r.err and "smaller than one 96×96 block" in r.err
    assert not (tmp_path / "m.mat").exists()


@pytest.mark.cuda
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = calibration_images()["ref_I08"]
    cpu = methods.get("niqe")().extract(x)
    gpu = methods.get("niqe")(device="cuda").extract(x.cuda()).cpu()
    assert torch.allclose(gpu, cpu, rtol=1e-5)
