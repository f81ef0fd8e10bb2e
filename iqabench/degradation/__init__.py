"""ARNIQA image degradation model: 24 distortion types in 7 groups, 5 levels each, batched in torch.

Faithful to the reference implementation (``miccunifi/ARNIQA`` ``utils/distortions.py``), whose
behaviour the released ARNIQA weights were trained on; every quirk kept or changed is named where
it is implemented and listed in ``docs/degradation.md``. Levels are 1-based (1 = weakest).

    from iqabench.degradation import distort, sampler_for, apply_compositions
    g = torch.Generator().manual_seed(0)
    y = distort(x, "gaublur", 3, g)                       # x: N×3×H×W float in [0, 1]
    comps = sampler_for("arniqa").sample_batch(len(x), g)
    y = apply_compositions(x, comps, g)
"""

from __future__ import annotations

from .catalog import (
    DEFAULT_SETTINGS,
    DISTORTIONS,
    GROUPS,
    INTENDED_SETTINGS,
    NUM_LEVELS,
    Distortion,
    Settings,
    distort,
)
from .compose import Composition, apply_composition, apply_compositions
from .sampler import (
    REALESRGAN_CHAIN,
    VARIANTS,
    CompositionSampler,
    count_compositions,
    level_weights,
    sampler_for,
)
from .sheet import contact_sheet

__all__ = [
    "DEFAULT_SETTINGS",
    "DISTORTIONS",
    "GROUPS",
    "INTENDED_SETTINGS",
    "NUM_LEVELS",
    "REALESRGAN_CHAIN",
    "VARIANTS",
    "Settings",
    "Composition",
    "CompositionSampler",
    "Distortion",
    "apply_composition",
    "apply_compositions",
    "contact_sheet",
    "count_compositions",
    "distort",
    "level_weights",
    "sampler_for",
]
