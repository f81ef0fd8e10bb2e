"""Whether a result can stand beside the ARNIQA paper's published number, and if not, why.

A measured number is comparable with a published one only when it was made the same way: the same
weights (a known release, or the user's ``--published-as`` assertion), the same baseline
definition (BRISQUE through its SVR, NIQE with the standard pristine model), the paper's splits
(the ``arniqa`` split set), its label choice, a complete dataset, no skipped image and
reference-disjoint splits. Every ``within_dataset`` and ``cross_dataset`` result records the
verdict with its reasons (``comparability`` in result.json); the report prints "Δ vs paper" only
for comparable cells and shows the reasons otherwise.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

PAPER = "ARNIQA (Agnolucci et al., WACV 2024)"
PROTOCOLS = ("within_dataset", "cross_dataset")  # the protocols of the paper's Tables 1-3


@lru_cache(maxsize=1)
def published_weights() -> dict[str, list[str]]:
    """Known SHA-256 of released weight files, by release name (package data, contributed by users)."""
    text = resources.files("iqabench").joinpath("data/published_weights.yaml").read_text()
    data = yaml.safe_load(text) or {}
    return {str(k): [str(h).lower() for h in (v or [])] for k, v in data.items()}


def is_release(release: str, sha256: str | None) -> bool:
    return sha256 is not None and sha256.lower() in published_weights().get(release, [])


def weights_issue(release: str, sha256: str | None, asserted: str | None, what: str = "weights") -> str | None:
    """Why ``sha256`` is not known to be ``release`` (None when it is, or the user asserts it)."""
    if sha256 is None:
        return f"no {what} file (random initialisation), not the released {release} {what}"
    if is_release(release, sha256) or asserted == release:
        return None
    return (
        f"{what} {sha256[:12]}… are not a known {release} release (if they are, say so with --published-as {release})"
    )


def assess(result, methods: list, datasets: list) -> dict[str, Any] | None:
    """The ``comparability`` record of one :class:`~iqabench.results.Result` (None for protocols without
    published numbers), given the method and dataset objects it was made with."""
    from .results import deviations

    if result.protocol not in PROTOCOLS:
        return None
    summary, split_sets = result.summary, result.split_sets
    reasons: list[str] = []
    for method in methods:
        reasons += method.paper_issues()
        used = summary.get("regressor")
        if method.kind == "features" and used and used != method.default_regressor:
            reasons.append(f"{method.name} regressed with {used}; its published numbers use {method.default_regressor}")
    for ds in datasets:
        card = ds.card()
        if ds.labelled and ds.label != (ds.default_label or next(iter(ds.labels))):
            reasons.append(f"{ds.name}: label {ds.label!r}, the paper's is {ds.default_label or next(iter(ds.labels))!r}")
        subset = card.get("subset") or {}
        if subset.get("complete") is False:  # None: the dataset pins no total, so it cannot tell
            reasons.append(f"{ds.name}: a subset of the dataset ({subset.get('n_images')} images)")
        used = split_sets.get(ds.name)
        if used is not None:
            if used.get("set") != "arniqa":
                reasons.append(f"{ds.name}: split set {used.get('set')!r}, not the paper's ('arniqa')")
            if used.get("reference_disjoint") is False:
                reasons.append(f"{ds.name}: splits not reference-disjoint")
        for method in methods:
            if ds.name in method.fitted_on():
                reasons.append(f"{ds.name}: {method.name}'s regressor was fitted on this dataset's images")
    for d in deviations(result):  # skipped images, labels out of range
        where = f"{d['dataset']}: " if d.get("dataset") else ""
        reasons.append(f"{where}{d['count']} {d['kind'].replace('_', ' ')}")
    return {"paper": PAPER, "comparable": not reasons, "reasons": reasons}
