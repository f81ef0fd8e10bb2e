"""BRISQUE features (Mittal, Moorthy, Bovik, IEEE TIP 2012), as the LIVE release defines them.

The 36 features; the protocols map them to quality with BRISQUE's own regressor as its authors
define it — an RBF support-vector regressor on features scaled to [−1, 1], C and gamma chosen on
the validation splits (``Method.default_regressor = "svr"``; :mod:`iqabench.quality_models`). The
release's LIVE-trained SVR itself is not used (it was trained on all of LIVE);
``--protocol-option regressor=ridge`` regresses the features with a ridge instead.

Per scale (full, then MATLAB ``imresize(·, 0.5)``), from the MSCN coefficients (zero padding,
as ``filter2(..., 'same')``): the GGD shape and variance, then for the products of horizontal,
vertical, diagonal and anti-diagonal neighbours (``circshift`` by (0,1), (1,0), (1,1), (−1,1))
the AGGD shape α, mean η = (σr − σl)·Γ(2/α)/sqrt(Γ(1/α)Γ(3/α)), σl² and σr².
"""

from __future__ import annotations

import torch

from iqabench import nss
from iqabench.errors import IQABenchError
from iqabench.method import Method
from iqabench.registry import register_method
from iqabench.views import Views

SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
# Smallest side: the half-scale image must cover the 7×7 Gaussian window of the MSCN coefficients
# (smaller images give undefined AGGD fits, which would read as "nearly uniform").
MIN_SIZE = 14
FEATURE_NAMES = tuple(
    f"s{scale}_{name}"
    for scale in (1, 2)
    for name in (
        "ggd_alpha",
        "ggd_var",
        *(f"{o}_{p}" for o in ("h", "v", "d1", "d2") for p in ("alpha", "eta", "lvar", "rvar")),
    )
)


def scale_features(m: torch.Tensor) -> torch.Tensor:
    """The 18 features of one scale from MSCN coefficients ``N×H×W`` → ``N×18``."""
    ggd = nss.fit_ggd(m)
    feats = [ggd.alpha, ggd.sigma_sq]
    for prod in nss.paired_products(m, SHIFTS):
        fit = nss.fit_aggd(prod)
        a = fit.alpha
        eta = (fit.right_std - fit.left_std) * torch.exp(
            torch.lgamma(2.0 / a) - 0.5 * (torch.lgamma(1.0 / a) + torch.lgamma(3.0 / a))
        )
        feats += [a, eta, fit.left_std**2, fit.right_std**2]
    return torch.stack(feats, dim=-1)


def brisque_features(y: torch.Tensor) -> torch.Tensor:
    """Grey levels ``N×H×W`` (float64, 0–255) → ``N×36`` float64 BRISQUE features."""
    full = scale_features(nss.mscn(y, padding="zero")[0])
    half = scale_features(nss.mscn(nss.imresize(y, 0.5), padding="zero")[0])
    return torch.cat([full, half], dim=-1)


@register_method("brisque")
class BRISQUE(Method):
    description = "BRISQUE: 36 natural-scene statistics of MSCN coefficients at two scales (LIVE release)"
    kind = "features"
    method_type = "Handcrafted"
    default_regressor = "svr"
    views = Views(crops=0, scales=(1.0,))  # BRISQUE makes its own half-scale image

    def display_name(self) -> str:
        return "BRISQUE"

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        y = nss.luminance_255(batch)
        if min(y.shape[-2:]) < MIN_SIZE:
            raise IQABenchError(
                f"image too small for BRISQUE: {y.shape[-1]}×{y.shape[-2]} pixels; it needs at least "
                f"{MIN_SIZE}×{MIN_SIZE} (its half-scale image must cover the 7×7 MSCN window)"
            )
        flat = (y.amax(dim=(-2, -1)) == y.amin(dim=(-2, -1))).nonzero().flatten().tolist()
        if flat:
            raise IQABenchError(f"BRISQUE is undefined for a constant image (uniform grey level){nss.batch_items(flat, len(y))}")
        feats = brisque_features(y)
        bad = (~torch.isfinite(feats)).any(dim=1).nonzero().flatten().tolist()
        if bad:
            raise IQABenchError(
                f"BRISQUE features are undefined (NaN) for a nearly uniform image without texture{nss.batch_items(bad, len(y))}"
            )
        return feats.to(torch.float32)

