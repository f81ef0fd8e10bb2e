"""Composition sampling (ARNIQA model, Table 3 variants), Eq. (1), and applying compositions."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch
from scipy.stats import chisquare

from iqabench.degradation import (
    DISTORTIONS,
    GROUPS,
    REALESRGAN_CHAIN,
    VARIANTS,
    CompositionSampler,
    Settings,
    apply_composition,
    apply_compositions,
    count_compositions,
    distort,
    sampler_for,
)
from iqabench.errors import IQABenchError

from .degradation_support import gen, natural_crops, one_thread  # noqa: F401

GROUP_OF = {k: d.group for k, d in DISTORTIONS.items()}
TABLE_WEIGHTS = [0.2929, 0.2704, 0.2127, 0.1426, 0.0814]


@pytest.fixture(scope="module")
def draws() -> list[tuple]:
    return sampler_for("arniqa").sample_batch(20000, gen(0))


def _p(observed: list[int], probs: list[float]) -> float:
    total = sum(observed)
    return float(chisquare(observed, [p * total for p in probs]).pvalue)


def test_level_frequencies_match_the_table(draws):
    counts = Counter(level for comp in draws for _, level in comp)
    assert _p([counts[i] for i in range(1, 6)], TABLE_WEIGHTS) > 1e-3
    weights = sampler_for("arniqa").weights
    assert [round(w, 4) for w in weights] == TABLE_WEIGHTS


def test_pristine_rate_and_number_of_distortions(draws):
    pristine = sum(1 for c in draws if not c)
    assert abs(pristine / len(draws) - 0.05) < 4 * math.sqrt(0.05 * 0.95 / len(draws))
    lengths = Counter(len(c) for c in draws if c)
    assert set(lengths) == {1, 2, 3, 4} and _p([lengths[n] for n in (1, 2, 3, 4)], [0.25] * 4) > 1e-3


def test_one_type_per_group_and_uniform_types(draws):
    for comp in draws:
        groups = [GROUP_OF[k] for k, _ in comp]
        assert len(groups) == len(set(groups))
    for group, keys in GROUPS.items():
        counts = Counter(k for comp in draws for k, _ in comp if GROUP_OF[k] == group)
        assert _p([counts[k] for k in keys], [1 / len(keys)] * len(keys)) > 1e-3, group


def test_group_order_is_random():
    comps = [c for c in sampler_for("ndist7").sample_batch(8000, gen(1)) if len(c) == 7]
    first = Counter(GROUP_OF[c[0][0]] for c in comps)
    assert _p([first[g] for g in GROUPS], [1 / 7] * 7) > 1e-3
    blur_first = sum(1 for c in comps if [GROUP_OF[k] for k, _ in c].index("blur")
                     < [GROUP_OF[k] for k, _ in c].index("noise"))
    assert abs(blur_first / len(comps) - 0.5) < 0.03


def test_sampling_is_reproducible():
    s = sampler_for("arniqa")
    assert s.sample_batch(50, gen(3)) == s.sample_batch(50, gen(3))
    assert s.sample_batch(50, gen(3)) != s.sample_batch(50, gen(4))
    assert s.sample(gen(3)) == s.sample_batch(1, gen(3))[0]


def test_variants():
    assert set(VARIANTS) == {"arniqa", "uniform_levels", "ndist1", "ndist7", "realesrgan"}
    uniform = sampler_for("uniform_levels").sample_batch(10000, gen(5))
    counts = Counter(level for comp in uniform for _, level in comp)
    assert _p([counts[i] for i in range(1, 6)], [0.2] * 5) > 1e-3
    assert {len(c) for c in sampler_for("ndist1").sample_batch(2000, gen(6))} == {0, 1}
    assert {len(c) for c in sampler_for("ndist7").sample_batch(2000, gen(7))} == set(range(8))
    cfg = sampler_for("ndist7").config()
    assert cfg["max_distortions"] == 7 and cfg["model"] == "arniqa" and cfg["p_pristine"] == 0.05
    assert cfg["level_probabilities"][0] == pytest.approx(0.2929, abs=1e-4)


def test_realesrgan_variant_is_a_fixed_four_step_chain():
    comps = sampler_for("realesrgan").sample_batch(4000, gen(8))
    allowed = [set(keys) for _, keys in REALESRGAN_CHAIN]
    for comp in comps:
        assert len(comp) in (0, 4)
        for (key, level), keys in zip(comp, allowed):
            assert key in keys and 1 <= level <= 5
    used = Counter(k for c in comps for k, _ in c)
    assert set(used) == set().union(*allowed)
    cfg = sampler_for("realesrgan").config()
    assert cfg["model"] == "realesrgan" and [s for s, _ in cfg["chain"]] == ["blur", "resize", "noise", "jpeg"]


def test_bad_sampler_arguments():
    with pytest.raises(IQABenchError, match="unknown degradation variant 'ndist8'.*'ndist1'"):
        sampler_for("ndist8")
    for kwargs, message in [
        ({"max_distortions": 0}, "max_distortions"),
        ({"max_distortions": 8}, "max_distortions"),
        ({"level_sampling": "gauss"}, "unknown level sampling 'gauss'"),
        ({"p_pristine": 1.5}, "p_pristine"),
        ({"model": "realesrgan", "max_distortions": 3}, "always applies its 4 steps"),
        ({"model": "bsrgan"}, "unknown degradation model"),
    ]:
        with pytest.raises(IQABenchError, match=message):
            CompositionSampler(**kwargs)


# -- Eq. (1) -----------------------------------------------------------------------------------------------


def _enumerate(max_distortions: int, levels: int, sizes: list[int]) -> int:
    """Brute force: ordered choices of distinct groups, a type in each, a level for each."""
    total = 0
    for m in range(1, max_distortions + 1):
        for groups in itertools.permutations(range(len(sizes)), m):
            total += math.prod(sizes[g] for g in groups) * levels**m
    return total


def test_count_compositions_is_eq1():
    sizes = [len(v) for v in GROUPS.values()]
    for n in range(1, 8):
        assert count_compositions(n) == _enumerate(n, 5, sizes)
    assert count_compositions(2, levels=2, group_sizes=[1, 2, 3]) == 2 * 6 + 2 * 4 * (2 + 3 + 6)
    # Eq. (1) for N_dist = 4 with the 24 types: 6.86·10^7 (not the 1.9·10^9 quoted for the paper;
    # see docs/degradation.md), 1.8·10^12 for N_dist = 7.
    assert count_compositions(4) == 68_638_820
    # The paper's "1.9·10^9 for N_dist = 4" is Eq. (1) read literally (independent inner sums in the
    # reference's group order); the exact count of distinct compositions is 6.9·10^7.
    assert count_compositions(4, reading="paper") == 1_934_251_320
    assert f"{count_compositions(4, reading='paper'):.1e}" == "1.9e+09"
    assert count_compositions(7) == 1_811_302_888_820
    assert sampler_for("arniqa").config()["distinct_compositions"] == 68_638_820
    with pytest.raises(IQABenchError):
        count_compositions(8)


# -- applying compositions ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def views() -> torch.Tensor:
    return natural_crops(4, 64)


DET_COMPS = [
    (("gaublur", 3), ("jpeg", 2), ("brighten", 4)),
    (("colorsat1", 5),),
    (),
    (("pixelate", 2), ("gaublur", 1), ("lincontrchange", 1), ("colordiff", 2)),
]


def test_apply_compositions_equals_per_sample_application(views):
    out = apply_compositions(views, DET_COMPS)
    for i, comp in enumerate(DET_COMPS):
        assert torch.allclose(out[i : i + 1], apply_composition(views[i : i + 1], comp), atol=1e-5)
    assert torch.equal(out[2], views[2])  # pristine


def test_compositions_pass_the_settings_to_every_step(views):
    comps = [(("lensblur", 4), ("noneccpatch", 5)), (("jitter", 5),), (("colorshift", 5), ("lensblur", 2)), ()]
    matlab = Settings(lens_kernel="matlab", patch_copy="atomic", jitter_crop="centred", colorshift_clamp="percentile")
    for settings in (Settings(), matlab):
        out = apply_compositions(views, comps, gen(4), settings)
        g = gen(4)  # per-sample application in the batched visiting order (catalogue order per round)
        ref = views.clone()
        for i, key in [(0, "lensblur"), (2, "colorshift"), (1, "jitter")]:
            ref[i : i + 1] = distort(views[i : i + 1], key, dict(comps[i])[key], g, settings)
        ref[2:3] = distort(ref[2:3], "lensblur", 2, g, settings)
        ref[0:1] = distort(ref[0:1], "noneccpatch", 5, g, settings)
        assert torch.allclose(out, ref, atol=1e-6)
    assert not torch.allclose(apply_compositions(views, comps, gen(4)), apply_compositions(views, comps, gen(4), matlab))


def test_apply_composition_clips_after_every_step(views):
    comp = (("meanshift", 4), ("meanshift", 5))  # +0.15 then −0.15: clipping in between loses highlights
    out = apply_composition(views, comp)
    assert torch.allclose(out, ((views + 0.15).clamp(0, 1) - 0.15).clamp(0, 1))
    assert torch.allclose(apply_composition(views, (("gaublur", 2),)), distort(views, "gaublur", 2))


def test_random_compositions_are_reproducible_and_per_view(views):
    comps = sampler_for("ndist7").sample_batch(4, gen(11))
    x = torch.cat([views, views])  # the same composition on two copies of each view ...
    a = apply_compositions(x, comps * 2, gen(12))
    assert torch.equal(a, apply_compositions(x, comps * 2, gen(12)))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    random_types = [any(not DISTORTIONS[k].deterministic for k, _ in c) for c in comps]
    for i, has_random in enumerate(random_types):  # ... gets fresh internal randomness per copy
        assert torch.equal(a[i], a[i + 4]) != has_random


def test_bad_compositions(views):
    with pytest.raises(IQABenchError, match="2 compositions for a batch of 4"):
        apply_compositions(views, DET_COMPS[:2])
    with pytest.raises(IQABenchError, match="unknown distortion 'blur'"):
        apply_composition(views, (("blur", 1),))
    with pytest.raises(IQABenchError, match="level must be an int in 1..5"):
        apply_composition(views, (("gaublur", 6),))
    x = views.clone()
    apply_compositions(x, DET_COMPS, gen(0))
    assert torch.equal(x, views)
