"""Train/val/test splits as data.

A :class:`Splits` is a table with one row per image id and one column per split
(``split_01`` … ``split_10``) holding ``train``, ``val``, ``test`` or an empty string (the image
is not used in that split). It is written to and read from CSV in exactly that form.

The generation rule (:func:`generate_splits`), documented because shipped split files are its
output and must be reproducible on any machine and Python version:

1. Groups are the reference ids (when splitting by reference and every image has one), else the
   image ids. They are converted to ``str`` and **sorted**; no set or dict order is involved.
2. For split ``k`` (0-based), ``rng = numpy.random.default_rng([seed, k])`` and
   ``order = rng.permutation(G)`` for ``G`` groups.
3. ``n_train = round(0.7 G)``, ``n_val = round(0.1 G)`` (Python's round, half to even) and the
   rest are test; groups ``order[:n_train]`` are train, the next ``n_val`` val, the others test.
4. Every image takes the part of its group.

For LIVE (29 references) this gives 20/3/6 references, CSIQ (30) 21/3/6, TID2013 (25) 18/2/5 and
KADID-10k (81) 57/8/16, the same counts as ARNIQA's published split files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import IQABenchError
from .fileio import atomic_write_text

PARTS = ("train", "val", "test")
RULE_VERSION = "iqabench-splits-v1"


@dataclass
class Splits:
    table: pd.DataFrame  # image_id + split_01..split_NN
    source: str  # how these splits were made, recorded in results
    meta: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [c for c in self.table.columns if c.startswith("split_")]

    def __len__(self) -> int:
        return len(self.columns)

    def part(self, k: int, part: str) -> list[str]:
        col = self.columns[k]
        return self.table.loc[self.table[col] == part, "image_id"].tolist()

    def parts(self, k: int) -> tuple[list[str], list[str], list[str]]:
        return tuple(self.part(k, p) for p in PARTS)  # type: ignore[return-value]

    def to_csv(self) -> str:
        buf = io.StringIO()
        self.table.to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()

    def check_against(self, index: pd.DataFrame, dataset: str) -> None:
        """Every split id must be an image of the index; one-line error naming the first that is not."""
        known = set(index["image_id"])
        used = self.table[self.table[self.columns].ne("").any(axis=1)]["image_id"]  # ids in no part are inert
        missing = [i for i in used if i not in known]
        if missing:
            raise IQABenchError(
                f"dataset {dataset!r}: split id {missing[0]!r} ({self.source}) is not in the dataset index"
                + (f" ({len(missing)} ids missing)" if len(missing) > 1 else "")
            )


def generate_splits(
    index: pd.DataFrame,
    *,
    n_splits: int = 10,
    ratios: tuple[float, float, float] = (0.7, 0.1, 0.2),
    seed: int = 0,
    by_reference: bool = True,
) -> Splits:
    if abs(sum(ratios) - 1.0) > 1e-9:
        raise IQABenchError(f"split ratios must sum to 1, got {ratios}")
    ids = index["image_id"].astype(str).to_numpy()
    use_ref = by_reference and index["ref"].notna().all() and len(index) > 0
    groups_per_image = index["ref"].astype(str).to_numpy() if use_ref else ids
    groups = np.array(sorted(set(groups_per_image.tolist())), dtype=object)
    g = len(groups)
    if g < 3:
        raise IQABenchError(f"cannot make train/val/test splits from {g} {'references' if use_ref else 'images'}")
    n_train = round(ratios[0] * g)
    n_val = max(1, round(ratios[1] * g))
    if n_train + n_val >= g:
        n_train = g - n_val - 1
    position = {name: i for i, name in enumerate(groups.tolist())}
    gidx = np.array([position[x] for x in groups_per_image.tolist()], dtype=np.int64)
    table = pd.DataFrame({"image_id": ids})
    for k in range(n_splits):
        order = np.random.default_rng([seed, k]).permutation(g)
        part_of_group = np.empty(g, dtype=object)
        part_of_group[order[:n_train]] = "train"
        part_of_group[order[n_train : n_train + n_val]] = "val"
        part_of_group[order[n_train + n_val :]] = "test"
        table[f"split_{k + 1:02d}"] = part_of_group[gidx]
    table = table.sort_values("image_id", kind="mergesort").reset_index(drop=True)
    source = f"generated ({RULE_VERSION}, seed={seed}, {'by reference' if use_ref else 'by image'}, 70/10/20)"
    return Splits(table, source, {"rule": RULE_VERSION, "seed": seed, "by_reference": bool(use_ref), "n_groups": g})


def read_splits_csv(path: str | Path, source: str | None = None) -> Splits:
    p = Path(path)
    try:
        table = pd.read_csv(p, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise IQABenchError(f"split file {str(p)!r} is empty (expected columns image_id, split_01, ...)") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IQABenchError(f"split file {str(p)!r} cannot be read: {reason}") from None
    cols = [c for c in table.columns if c.startswith("split_")]
    if "image_id" not in table.columns or not cols:
        raise IQABenchError(f"split file {str(p)!r} needs columns image_id, split_01, ... (got {list(table.columns)})")
    for c in cols:
        bad = ~table[c].isin(PARTS + ("",))
        if bad.any():
            row = int(np.argmax(bad.to_numpy())) + 2
            raise IQABenchError(f"split file {str(p)!r} row {row}: {c} is {table[c][bad].iloc[0]!r}, not train/val/test")
    dup = table["image_id"].duplicated()
    if dup.any():
        raise IQABenchError(f"split file {str(p)!r}: duplicate image id {table.loc[dup, 'image_id'].iloc[0]!r}")
    return Splits(table[["image_id", *cols]], source or f"file {p.name}")


def write_splits_csv(splits: Splits, path: str | Path) -> None:
    atomic_write_text(path, splits.to_csv())

