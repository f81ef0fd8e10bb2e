"""Sampling of distortion compositions: the ARNIQA model, its Table 3 ablations, Eq. (1).

ARNIQA (``get_distortions_composition``): with probability ``p_pristine`` a sample stays
pristine; otherwise n ~ U{1..N_dist} groups are drawn without replacement in random order (the
order of application), one type uniformly within each group, and each level independently from
the discrete half-Gaussian p_i ∝ N(i; 0, 2.5), i = 0..4 → [0.2929, 0.2704, 0.2127, 0.1426, 0.0814].

"realesrgan" (ablation): Real-ESRGAN's first-order chain blur → resize → noise → JPEG built from
the types available here, always all four steps in that fixed order (see :data:`REALESRGAN_CHAIN`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import IQABenchError, unknown_name
from . import rng
from .catalog import GROUPS, NUM_LEVELS
from .compose import Composition

LEVEL_SAMPLING = ("gaussian", "uniform")
MODELS = ("arniqa", "realesrgan")

# Real-ESRGAN's degradation (Wang et al. 2021, first order): blur, random resize, noise, JPEG,
# always in this order. Mapped onto the 24 types:
#   blur   -> gaublur, lensblur: Gaussian kernels and a flat-topped disc (its "plateau" kernels);
#             no motion blur, which Real-ESRGAN does not use;
#   resize -> pixelate: the only resampling type (nearest down- and up-scaling);
#   noise  -> whitenoise (Gaussian colour noise), whitenoiseCC (Gaussian noise in luma/chroma, the
#             closest to its grey noise), multnoise (signal-dependent, standing in for Poisson
#             noise); no impulse noise;
#   JPEG   -> jpeg (no JPEG 2000).
REALESRGAN_CHAIN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("blur", ("gaublur", "lensblur")),
    ("resize", ("pixelate",)),
    ("noise", ("whitenoise", "whitenoiseCC", "multnoise")),
    ("jpeg", ("jpeg",)),
)


def level_weights(level_sampling: str, levels: int = NUM_LEVELS) -> list[float]:
    """Level probabilities: "gaussian" p_i ∝ exp(−i²/(2·2.5²)), i = 0..levels−1, or "uniform"."""
    if level_sampling == "uniform":
        return [1.0 / levels] * levels
    if level_sampling == "gaussian":
        w = [math.exp(-(i * i) / (2 * 2.5**2)) for i in range(levels)]
        return [v / sum(w) for v in w]
    raise unknown_name("level sampling", level_sampling, list(LEVEL_SAMPLING))


def _elementary_symmetric(values: list[int], m: int) -> int:
    """e_m(values) by the product expansion of Π(1 + v·t)."""
    e = [1] + [0] * m
    for v in values:
        for k in range(m, 0, -1):
            e[k] += e[k - 1] * v
    return e[m]


# The group order of the reference implementation's `distortion_groups` table; only the paper's
# literal reading of Eq. (1) depends on an order.
REFERENCE_GROUP_ORDER = (
    "blur", "color_distortion", "jpeg", "noise", "brightness_change", "spatial_distortion", "sharpness_contrast",
)


def count_compositions(
    max_distortions: int = 4,
    levels: int = NUM_LEVELS,
    group_sizes: list[int] | None = None,
    reading: str = "exact",
) -> int:
    """Number of compositions of at most ``max_distortions`` distortions (paper Eq. (1)).

    ``reading="exact"``: the number of distinct compositions, Σ_{m=1..N} m!·L^m·e_m(|G_1|, …, |G_7|):
    m distinct groups (e_m sums the products of their sizes: one type per group), ordered (m!),
    each at one of L levels (L^m). 68,638,820 for N = 4. The pristine composition is not counted.

    ``reading="paper"``: Eq. (1) as printed, with its inner sums Σ_{i=1}^7 |G_i| Σ_{j=2}^7 |G_j| …
    taken literally as independent sums over suffixes of the group list (in the reference code's
    group order): 1,934,251,320 ≈ 1.9·10⁹ for N = 4, the figure the paper quotes. It is not a count
    of distinct compositions (it depends on the group order and counts repeated groups).
    """
    if reading not in ("exact", "paper"):
        raise IQABenchError(f"count_compositions: reading must be 'exact' or 'paper', not {reading!r}")
    if group_sizes is None:
        order = REFERENCE_GROUP_ORDER if reading == "paper" else tuple(GROUPS)
        sizes = [len(GROUPS[g]) for g in order]
    else:
        sizes = [int(s) for s in group_sizes]
    if not 0 <= max_distortions <= len(sizes):
        raise IQABenchError(f"max_distortions must be in 0..{len(sizes)}, got {max_distortions}")
    if reading == "paper":
        suffix = [sum(sizes[t:]) for t in range(len(sizes))]
        return sum(math.factorial(m) * levels**m * math.prod(suffix[:m]) for m in range(1, max_distortions + 1))
    return sum(
        math.factorial(m) * levels**m * _elementary_symmetric(sizes, m) for m in range(1, max_distortions + 1)
    )


class CompositionSampler:
    """Draws compositions; all randomness from the torch.Generator passed to :meth:`sample`.

    ``max_distortions`` is N_dist (1..7); ``model="realesrgan"`` always applies its 4-step chain
    and accepts only ``max_distortions=4``.
    """

    def __init__(
        self,
        max_distortions: int = 4,
        level_sampling: str = "gaussian",
        p_pristine: float = 0.05,
        model: str = "arniqa",
    ):
        if model not in MODELS:
            raise unknown_name("degradation model", str(model), list(MODELS))
        if isinstance(max_distortions, bool) or not isinstance(max_distortions, int) or not 1 <= max_distortions <= len(GROUPS):
            raise IQABenchError(f"max_distortions must be an int in 1..{len(GROUPS)}, got {max_distortions!r}")
        if model == "realesrgan" and max_distortions != len(REALESRGAN_CHAIN):
            raise IQABenchError(
                f"the realesrgan model always applies its {len(REALESRGAN_CHAIN)} steps; max_distortions must be "
                f"{len(REALESRGAN_CHAIN)}, got {max_distortions}"
            )
        if not 0.0 <= float(p_pristine) <= 1.0:
            raise IQABenchError(f"p_pristine must be in [0, 1], got {p_pristine!r}")
        self.max_distortions = max_distortions
        self.level_sampling = level_sampling
        self.weights = level_weights(level_sampling)
        self.p_pristine = float(p_pristine)
        self.model = model
        self._groups = list(GROUPS.items())

    def config(self) -> dict[str, Any]:
        """Everything that defines the sampler, for training results."""
        cfg: dict[str, Any] = {
            "model": self.model,
            "max_distortions": self.max_distortions,
            "level_sampling": self.level_sampling,
            "level_probabilities": [round(w, 6) for w in self.weights],
            "p_pristine": self.p_pristine,
        }
        if self.model == "arniqa":
            cfg["groups"] = {g: list(keys) for g, keys in self._groups}
            cfg["distinct_compositions"] = count_compositions(self.max_distortions)
        else:
            cfg["chain"] = [[step, list(keys)] for step, keys in REALESRGAN_CHAIN]
            cfg["distinct_compositions"] = math.prod(len(k) for _, k in REALESRGAN_CHAIN) * NUM_LEVELS ** len(
                REALESRGAN_CHAIN
            )
        return cfg

    def sample(self, generator: torch.Generator | None = None) -> Composition:
        return self.sample_batch(1, generator)[0]

    def sample_batch(self, n: int, generator: torch.Generator | None = None) -> list[Composition]:
        """``n`` independent compositions. The draws have a fixed layout per sample (pristine ones
        included), so a generator state always gives the same list."""
        gen = rng.resolve(generator)
        cpu = torch.device("cpu")
        n_groups = len(self._groups)
        pristine = (rng.rand((n,), gen, cpu, torch.float64) <= self.p_pristine).tolist()
        weights = torch.tensor(self.weights, dtype=torch.float64, device=gen.device)
        levels = (torch.multinomial(weights, n * n_groups, replacement=True, generator=gen).cpu() + 1)
        levels = levels.view(n, n_groups).tolist()
        type_u = rng.rand((n, n_groups), gen, cpu, torch.float64).tolist()
        if self.model == "realesrgan":
            return [
                ()
                if pristine[i]
                else tuple(
                    (keys[int(type_u[i][s] * len(keys))], levels[i][s]) for s, (_, keys) in enumerate(REALESRGAN_CHAIN)
                )
                for i in range(n)
            ]
        counts = rng.randint(1, self.max_distortions + 1, (n,), gen, cpu).tolist()
        orders = rng.rand((n, n_groups), gen, cpu, torch.float64).argsort(dim=1).tolist()
        out: list[Composition] = []
        for i in range(n):
            if pristine[i]:
                out.append(())
                continue
            steps = []
            for pos, g in enumerate(orders[i][: counts[i]]):
                keys = self._groups[g][1]
                steps.append((keys[int(type_u[i][g] * len(keys))], levels[i][pos]))
            out.append(tuple(steps))
        return out


VARIANTS: dict[str, dict[str, Any]] = {
    "arniqa": {"max_distortions": 4, "level_sampling": "gaussian", "p_pristine": 0.05, "model": "arniqa"},
    "uniform_levels": {"max_distortions": 4, "level_sampling": "uniform", "p_pristine": 0.05, "model": "arniqa"},
    "ndist1": {"max_distortions": 1, "level_sampling": "gaussian", "p_pristine": 0.05, "model": "arniqa"},
    "ndist7": {"max_distortions": 7, "level_sampling": "gaussian", "p_pristine": 0.05, "model": "arniqa"},
    "realesrgan": {"max_distortions": 4, "level_sampling": "gaussian", "p_pristine": 0.05, "model": "realesrgan"},
}
"""Degradation variants of the paper's Table 3 (plus the default), as CompositionSampler kwargs."""


def sampler_for(variant: str) -> CompositionSampler:
    """The sampler of a named variant (:data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise unknown_name("degradation variant", str(variant), list(VARIANTS))
    return CompositionSampler(**VARIANTS[variant])
