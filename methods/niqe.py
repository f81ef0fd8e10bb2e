"""NIQE (Mittal, Soundararajan, Bovik, IEEE SPL 2013), as the LIVE release defines it.

Opinion-unaware: the score is the distance between a multivariate Gaussian (MVG) fitted to the
image's block statistics and one fitted to pristine images (lower = better)::

    sqrt((μp − μd)ᵀ pinv((Σp + Σd)/2) (μp − μd))

Image features (``computequality.m``): grey levels cropped to a multiple of 96; at each of two
scales (full, then MATLAB ``imresize(·, 0.5)``) MSCN coefficients with replicated borders, cut
into 96×96 (then 48×48) blocks; per block 18 statistics: the AGGD shape and mean scale
(βl + βr)/2 of the coefficients, then for the products of horizontal, vertical, diagonal and
anti-diagonal neighbours (``circshift`` by (0,1), (1,0), (1,1), (1,−1)) the AGGD shape α, mean
(βr − βl)·Γ(2/α)/Γ(1/α), βl and βr. μd is the NaN-ignoring mean over blocks, Σd the covariance
over the blocks without NaN (MATLAB ``nanmean``/``nancov``).

Pristine model (``estimatemodelparam.m`` with its example call's 96×96 blocks, no overlap and
threshold 0.75): per image, keep the blocks whose sharpness, the mean of the local deviation σ
of the MSCN computation at full scale, exceeds 0.75 × the image's largest block sharpness
(strictly); μp and Σp are ``nanmean``/``nancov`` over the kept blocks of all images.

Models (``model`` option; ``--weights FILE`` takes any model file instead):

* ``live`` (default): the original NIQE pristine model, the figures of the LIVE release's
  ``modelparameters.mat`` (fitted by the NIQE authors on 125 pristine images), shipped as
  :data:`LIVE_MODEL`, a copy of basicsr 1.4.2's ``niqe_pris_params.npz`` (source and check:
  ``methods/data/README.md``). Scores are comparable with published NIQE numbers.
* ``iqabench``: a model iqabench fits from :data:`iqabench.photos.PRISTINE` (:data:`IQABENCH_MODEL`;
  :func:`regenerate_shipped_model` rebuilds it). Few sharp blocks: scores run higher than with
  the LIVE model and are not comparable with published ones.

Model files: the LIVE ``modelparameters.mat`` layout (``mu_prisparam`` 1×36, ``cov_prisparam``
36×36, read with ``scipy.io.loadmat``) or basicsr's ``.npz`` (``mu_pris_param``, ``cov_pris_param``,
read with ``numpy.load(allow_pickle=False)``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from iqabench import nss
from iqabench.errors import IQABenchError
from iqabench.fileio import atomic_write_bytes
from iqabench.method import Method, sha256_file
from iqabench.options import Unset
from iqabench.registry import register_method

log = logging.getLogger(__name__)

BLOCK = 96
N_FEATURES = 36
SHARPNESS_THRESHOLD = 0.75
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
LIVE_MODEL = Path(__file__).parent / "data" / "niqe_pristine_live.npz"
# basicsr 1.4.2 basicsr/metrics/niqe_pris_params.npz, copied unchanged (methods/data/README.md).
LIVE_MODEL_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
IQABENCH_MODEL = Path(__file__).parent / "data" / "niqe_pristine_iqabench.mat"
MODELS = {"live": LIVE_MODEL, "iqabench": IQABENCH_MODEL}
MODEL_LABELS = {"live": "LIVE model", "iqabench": "iqabench model"}
# (mean, covariance) names: the LIVE .mat layout, then basicsr's .npz layout.
MODEL_KEYS = (("mu_prisparam", "cov_prisparam"), ("mu_pris_param", "cov_pris_param"))


# -- features ---------------------------------------------------------------------------------
def _blocks(x: torch.Tensor, size: int) -> torch.Tensor:
    """``N×H×W`` (H, W multiples of ``size``) → ``N×B×size×size`` non-overlapping blocks."""
    n, h, w = x.shape
    return x.reshape(n, h // size, size, w // size, size).transpose(2, 3).reshape(n, -1, size, size)


def _block_statistics(m: torch.Tensor) -> torch.Tensor:
    """MSCN blocks ``N×B×b×b`` → ``N×B×18`` (``computefeature.m``)."""
    fit = nss.fit_aggd(m)
    bl, br = fit.betas()
    feats = [fit.alpha, (bl + br) / 2]
    for prod in nss.paired_products(m, SHIFTS):
        fit = nss.fit_aggd(prod)
        bl, br = fit.betas()
        a = fit.alpha
        feats += [a, (br - bl) * torch.exp(torch.lgamma(2.0 / a) - torch.lgamma(1.0 / a)), bl, br]
    return torch.stack(feats, dim=-1)


def block_count(height: int, width: int, block: int = BLOCK) -> int:
    return (height // block) * (width // block)


def block_features(y: torch.Tensor, block: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey levels ``N×H×W`` (float64, 0–255) → block features ``N×B×36`` and sharpness ``N×B``.

    Block b of the half-scale features covers the same area as block b of the full scale.
    """
    rows, cols = y.shape[-2] // block, y.shape[-1] // block
    if rows * cols == 0:
        raise IQABenchError(f"NIQE needs at least one {block}×{block} block; image is {y.shape[-1]}×{y.shape[-2]}")
    y = y[..., : rows * block, : cols * block]
    m, sigma = nss.mscn(y, padding="replicate")
    sharpness = _blocks(sigma, block).mean(dim=(-2, -1))
    full = _block_statistics(_blocks(m, block))
    m_half = nss.mscn(nss.imresize(y, 0.5), padding="replicate")[0]
    half = _block_statistics(_blocks(m_half, block // 2))
    return torch.cat([full, half], dim=-1), sharpness


def nan_mvg(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """MATLAB ``nanmean`` and ``nancov`` (rows with a NaN left out) of ``B×36`` → (μ, Σ, rows used)."""
    valid = ~torch.isnan(feats)
    mu = torch.where(valid, feats, 0.0).sum(0) / valid.sum(0)
    complete = feats[valid.all(dim=1)]
    cov = torch.cov(complete.T) if len(complete) > 1 else feats.new_full((feats.shape[1],) * 2, float("nan"))
    return mu, cov, len(complete)


def niqe_distance(mu_d: torch.Tensor, cov_d: torch.Tensor, mu_p: torch.Tensor, cov_p: torch.Tensor) -> torch.Tensor:
    """Batched NIQE distance; ``pinv`` uses MATLAB's default tolerance (max size × eps × σmax)."""
    inv = torch.linalg.pinv((cov_p + cov_d) / 2)
    d = (mu_p - mu_d).unsqueeze(-1)
    q = (d.transpose(-1, -2) @ inv @ d)[..., 0, 0]
    return torch.sqrt(q.clamp_min(0.0))  # a quadratic form with a PSD matrix; clamp rounding below 0


def niqe_scores(y: torch.Tensor, mu_p: torch.Tensor, cov_p: torch.Tensor) -> torch.Tensor:
    """Grey levels ``N×H×W`` (float64, 0–255) → ``N`` NIQE scores; one-line error when undefined."""
    n, h, w = y.shape
    if block_count(h, w) < 2:
        raise IQABenchError(
            f"NIQE needs at least 2 blocks of {BLOCK}×{BLOCK} pixels (e.g. {2 * BLOCK}×{BLOCK}); image is {w}×{h}"
        )
    flat = (y.amax(dim=(-2, -1)) == y.amin(dim=(-2, -1))).nonzero().flatten().tolist()
    if flat:
        raise IQABenchError(f"NIQE is undefined for a constant image (uniform grey level){nss.batch_items(flat, n)}")
    feats, _ = block_features(y)
    mus, covs = [], []
    for i in range(n):
        mu, cov, used = nan_mvg(feats[i])
        if used < 2 or not torch.isfinite(mu).all():
            raise IQABenchError(
                f"NIQE is undefined: only {used} of {feats.shape[1]} blocks have texture (the rest are flat)"
                f"{nss.batch_items([i], n)}"
            )
        mus.append(mu)
        covs.append(cov)
    return niqe_distance(torch.stack(mus), torch.stack(covs), mu_p, cov_p)


# -- pristine model ---------------------------------------------------------------------------
def fit_pristine_model(
    images: Iterable[tuple[str, torch.Tensor]], threshold: float = SHARPNESS_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Fit μp (36,) and Σp (36×36) from ``(name, 3×H×W RGB in [0, 1])`` pairs.

    Returns (μp, Σp, blocks kept, blocks seen). Images smaller than one block fail, naming the image.
    """
    kept, seen = [], 0
    for name, img in images:
        y = nss.luminance_255(img.unsqueeze(0))
        if block_count(*y.shape[-2:]) == 0:
            raise IQABenchError(f"image {name!r} is {y.shape[-1]}×{y.shape[-2]}, smaller than one {BLOCK}×{BLOCK} block")
        feats, sharp = block_features(y)
        feats, sharp = feats[0], sharp[0]
        seen += len(sharp)
        kept.append(feats[sharp > threshold * sharp.max()])
    if not kept:
        raise IQABenchError("no pristine images to fit the NIQE model from")
    rows = torch.cat(kept)
    mu, cov, used = nan_mvg(rows)
    if used < 2 or not (torch.isfinite(mu).all() and torch.isfinite(cov).all()):
        raise IQABenchError(f"cannot fit the NIQE model: only {used} sharp blocks have defined statistics")
    if used <= N_FEATURES:
        log.warning("NIQE model fitted from only %d blocks (fewer than %d): its covariance is singular", used, N_FEATURES + 1)
    return mu.cpu().numpy(), cov.cpu().numpy(), len(rows), seen


def model_bytes(mu: np.ndarray, cov: np.ndarray) -> bytes:
    """A MATLAB 5 .mat file with ``mu_prisparam`` (1×36) and ``cov_prisparam`` (36×36).

    scipy stamps the creation time into the 116-byte text header; it is replaced by a fixed text
    so that fitting the same images twice gives the same bytes (and the same sha256 identity).
    """
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, {"mu_prisparam": np.asarray(mu, np.float64).reshape(1, -1), "cov_prisparam": np.asarray(cov, np.float64)})
    data = bytearray(buf.getvalue())
    data[:116] = b"MATLAB 5.0 MAT-file, NIQE pristine model written by iqabench".ljust(116)
    return bytes(data)


def write_model(path: str | Path, mu: np.ndarray, cov: np.ndarray) -> None:
    atomic_write_bytes(path, model_bytes(mu, cov))


def _read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` (``numpy.load``, no pickles) or MATLAB v5/v7 ``.mat`` file."""
    import zipfile

    from scipy.io import loadmat

    if not Path(path).is_file():
        raise IQABenchError(f"NIQE model file {str(path)!r} does not exist")
    if zipfile.is_zipfile(path):  # .npz
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except Exception as exc:  # pickled objects, corrupt members ...
            raise IQABenchError(
                f"NIQE model file {str(path)!r} is not a readable .npz of plain arrays: {type(exc).__name__}: {exc}"
            ) from None
    try:
        return loadmat(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, NotImplementedError (v7.3) ...
        raise IQABenchError(
            f"NIQE model file {str(path)!r} is not a readable MATLAB .mat file (v5/v7): {type(exc).__name__}: {exc}"
        ) from None


def load_model(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read (μp, Σp) from a LIVE ``modelparameters.mat``, an iqabench-fitted file or basicsr's ``.npz``."""
    params = _read_arrays(path)
    names = next(((mu, cov) for mu, cov in MODEL_KEYS if mu in params or cov in params), MODEL_KEYS[0])
    for key in names:
        if key not in params:
            raise IQABenchError(
                f"NIQE model file {str(path)!r} has no {key!r} (expected mu_prisparam 1×36 and cov_prisparam 36×36, "
                "as LIVE's modelparameters.mat, or basicsr's mu_pris_param and cov_pris_param)"
            )
    try:
        mu = np.asarray(params[names[0]], dtype=np.float64)
        cov = np.asarray(params[names[1]], dtype=np.float64)
    except (TypeError, ValueError):
        raise IQABenchError(f"NIQE model file {str(path)!r}: {names[0]}/{names[1]} are not numeric arrays") from None
    if mu.size != N_FEATURES or cov.shape != (N_FEATURES, N_FEATURES):
        raise IQABenchError(
            f"NIQE model file {str(path)!r}: {names[0]} is {'×'.join(map(str, mu.shape))} and {names[1]} is "
            f"{'×'.join(map(str, cov.shape))}; expected 1×36 and 36×36"
        )
    if not (np.isfinite(mu).all() and np.isfinite(cov).all()):
        raise IQABenchError(f"NIQE model file {str(path)!r} holds NaN or infinite values")
    return mu.reshape(-1), cov


def shipped_model_images() -> list[tuple[str, torch.Tensor]]:
    """The full pristine photographs (never demo test content) the shipped model is fitted on."""
    from iqabench.photos import PRISTINE
    from iqabench.views import to_tensor

    return [(p.name, to_tensor(p.load())) for p in PRISTINE]


def fit_shipped_model() -> tuple[np.ndarray, np.ndarray, int, int]:
    return fit_pristine_model(shipped_model_images())


def regenerate_shipped_model(path: str | Path = IQABENCH_MODEL) -> Path:
    """Re-fit the shipped model from :data:`iqabench.photos.PRISTINE` and write it to ``path``."""
    mu, cov, _, _ = fit_shipped_model()
    write_model(path, mu, cov)
    return Path(path)


# -- method -----------------------------------------------------------------------------------
@register_method("niqe")
class NIQE(Method):
    description = "NIQE: distance of 96×96-block NSS statistics to a pristine Gaussian model (LIVE release; lower = better)"
    kind = "scores"
    higher_better = False
    method_type = "Handcrafted"
    accepts_weights = True
    option_defaults = {"model": Unset(str)}  # live | iqabench; unset: live, or the --weights file

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu", **options):
        super().__init__(weights, device, **options)
        chosen = self.options["model"]
        if chosen and chosen not in MODELS:
            raise IQABenchError(f"method 'niqe' option model: {chosen!r} is not one of {', '.join(MODELS)}")
        if chosen and self.weights_path is not None:
            raise IQABenchError(
                f"method 'niqe': give either --weights {str(self.weights_path)!r} or --method-option model={chosen}, not both"
            )
        self.model = "file" if self.weights_path is not None else chosen or "live"
        self.model_path = self.weights_path or MODELS[self.model]
        if not self.model_path.is_file():
            raise IQABenchError(f"the shipped NIQE model {str(self.model_path)!r} is missing: reinstall iqabench")
        mu, cov = load_model(self.model_path)
        self._mu = torch.from_numpy(mu).to(self.device)
        self._cov = torch.from_numpy(cov).to(self.device)
        self._model_sha256: str | None = None

    def weights_identity(self) -> str:
        if self._model_sha256 is None:
            self._model_sha256 = sha256_file(self.model_path)
        return self._model_sha256

    def display_name(self) -> str:
        return f"NIQE ({MODEL_LABELS.get(self.model) or self.model_path.name})"

    def paper_issues(self) -> list[str]:
        """Published NIQE numbers use the standard (LIVE) pristine model: any file with its figures qualifies."""
        live_mu, live_cov = load_model(MODELS["live"])
        if np.allclose(self._mu.cpu().numpy(), live_mu) and np.allclose(self._cov.cpu().numpy(), live_cov):
            return []
        return [f"niqe: pristine model {self.display_name()[6:-1]!r} is not the standard LIVE model of published NIQE"]

    def identity(self) -> dict:
        ident = super().identity()
        ident["niqe_model"] = {"name": self.model, "file": self.model_path.name, "sha256": self.weights_identity()}
        return ident

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        return niqe_scores(nss.luminance_255(batch), self._mu, self._cov).to(torch.float32)
