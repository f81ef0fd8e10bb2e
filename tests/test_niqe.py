"""NIQE: scores against pyiqa, the pristine model (fit, shipped file, LIVE format), errors, CLI."""

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
    UNAMBIGUOUS,
    calibration_images,
    oracle_mscn,
    single_torch_thread,  # noqa: F401
)

SHIPPED = str(niqe_module.SHIPPED_MODEL)


@pytest.fixture(scope="module")
def shipped_model() -> tuple[torch.Tensor, torch.Tensor]:
    mu, cov = niqe_module.load_model(SHIPPED)
    return torch.from_numpy(mu), torch.from_numpy(cov)


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


def test_scores_match_pyiqa_steps_on_all_images(shipped_model):
    mu_p, cov_p = shipped_model
    for name, x in calibration_images().items():
        y = nss.luminance_255(x)
        ours = niqe_module.niqe_scores(y, mu_p, cov_p)
        ref = _oracle_scores(y, mu_p, cov_p)
        assert torch.allclose(ours, ref, rtol=1e-3, atol=0), (name, ours.item(), ref.item())


def test_scores_match_pyiqa_metric_with_the_shipped_model():
    import pyiqa

    metric = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=SHIPPED)
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
    shipped_mu, shipped_cov = niqe_module.load_model(SHIPPED)
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


def test_live_format_file_is_accepted_and_identified(tmp_path):
    mu, cov = niqe_module.load_model(SHIPPED)
    live = tmp_path / "modelparameters.mat"
    # The LIVE file is a plain MATLAB save of the two variables (row vector and matrix).
    savemat(live, {"mu_prisparam": mu.reshape(1, -1), "cov_prisparam": cov, "note": "other variables are ignored"})
    x = calibration_images()["ref_I04"]
    shipped, custom = methods.get("niqe")(), methods.get("niqe")(weights=live)
    assert torch.allclose(shipped.extract(x), custom.extract(x))
    assert custom.display_name() == "NIQE (modelparameters.mat)" and shipped.display_name() == "NIQE (iqabench model)"
    assert custom.weights_identity() == hashlib.sha256(live.read_bytes()).hexdigest()
    assert shipped.weights_identity() == hashlib.sha256(niqe_module.SHIPPED_MODEL.read_bytes()).hexdigest()
    assert custom.identity()["weights_sha256"] == custom.weights_identity()


@pytest.mark.parametrize(
    "content,message",
    [
        ({"mu_prisparam": np.zeros((1, 36))}, "has no 'cov_prisparam'"),
        ({"mu": np.zeros((1, 36)), "cov_prisparam": np.eye(36)}, "has no 'mu_prisparam'"),
        ({"mu_prisparam": np.zeros((1, 18)), "cov_prisparam": np.eye(18)}, "expected 1×36 and 36×36"),
        ({"mu_prisparam": np.full((1, 36), np.nan), "cov_prisparam": np.eye(36)}, "NaN or infinite"),
    ],
)
def test_bad_weights_files_fail_with_one_line(tmp_path, content, message):
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
