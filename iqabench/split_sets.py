"""Named split sets: which train/val/test splits a run uses for each dataset, in every protocol.

* ``generated`` — the dataset's own splits: the shipped seed-0 files (KADID-10k, TID2013), the
  documented generator (:func:`iqabench.splits.generate_splits`) or the dataset's official split
  where it defines one (FLIVE);
* ``arniqa`` — ARNIQA's published split files (the paper's splits), imported once from a checkout
  of the ARNIQA repository with ``iqabench datasets import-splits --arniqa-repo DIR`` and stored
  under ``$IQABENCH_HOME/splits/arniqa/<dataset>.csv`` (with a ``.json`` of provenance);
* any other name — splits a user stored with ``import-splits --set NAME``.

A run takes ``--split-set NAME`` for all its datasets (an error names a dataset the set lacks);
without it, each dataset uses ``arniqa`` where that set is stored for it and the copy holds every
image it lists, else ``generated``, and the run says which. ``--splits FILE`` (one dataset) still
works. Every result records the set, a SHA-256 of the splits it used and whether they are
reference-disjoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import IQABenchError
from .fileio import atomic_write_json, atomic_write_text
from .paths import home
from .splits import PARTS, Splits, read_splits_csv

log = logging.getLogger("iqabench")

GENERATED = "generated"
ARNIQA = "arniqa"
FILE = "file"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def sets_root() -> Path:
    return home() / "splits"


def check_set_name(name: str) -> str:
    if not _NAME.match(name or "") or name in (GENERATED, FILE):
        raise IQABenchError(
            f"split set name {name!r}: use letters, digits, '_', '.', '-' (not {GENERATED!r} or {FILE!r})"
        )
    return name


def stored_path(set_name: str, dataset: str) -> Path:
    return sets_root() / set_name / f"{dataset}.csv"


def store(set_name: str, dataset: str, splits: Splits) -> Path:
    """Write ``splits`` as ``dataset``'s member of the named set (atomic; replaces an older import)."""
    check_set_name(set_name)
    path = stored_path(set_name, dataset)
    text = splits.to_csv()
    atomic_write_text(path, text)
    atomic_write_json(
        path.with_suffix(".json"),
        {"set": set_name, "dataset": dataset, "source": splits.source, "sha256": sha256_text(text),
         "n_splits": len(splits), "meta": splits.meta},
    )
    return path


def stored_sets() -> dict[str, list[str]]:
    """Every stored set with the datasets it holds."""
    root = sets_root()
    if not root.is_dir():
        return {}
    return {
        d.name: sorted(p.stem for p in d.glob("*.csv"))
        for d in sorted(root.iterdir())
        if d.is_dir() and any(d.glob("*.csv"))
    }


def load_stored(set_name: str, dataset: str) -> Splits | None:
    path = stored_path(set_name, dataset)
    if not path.is_file():
        return None
    info_path = path.with_suffix(".json")
    try:
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise IQABenchError(f"split set file {str(info_path)!r} cannot be read: {exc}") from None
    splits = read_splits_csv(path, source=info.get("source") or f"split set {set_name!r}")
    splits.meta.update(info.get("meta") or {})
    splits.meta["stored"] = str(path)
    return splits


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- reference-disjointness ------------------------------------------------------------------------
def reference_overlaps(splits: Splits, index: pd.DataFrame) -> list[str]:
    """Where two parts of a split share a reference (content): one line per split that does.

    Empty when the dataset has no references (authentic datasets split by image)."""
    if index["ref"].isna().any() or index.empty:
        return []
    ref_of = dict(zip(index["image_id"], index["ref"].astype(str)))
    out = []
    for k, col in enumerate(splits.columns):
        refs: dict[str, set[str]] = {p: set() for p in PARTS}
        for image_id, part in zip(splits.table["image_id"], splits.table[col]):
            if part and image_id in ref_of:
                refs[part].add(ref_of[image_id])
        shared = sorted((refs["train"] & refs["test"]) | (refs["train"] & refs["val"]) | (refs["val"] & refs["test"]))
        if shared:
            out.append(f"split {k + 1} shares reference(s) {', '.join(shared[:3])}" + (" …" if len(shared) > 3 else ""))
    return out


# -- resolution ---------------------------------------------------------------------------------------
@dataclass
class SplitChoice:
    """What a run asked for: ``--splits FILE`` (one dataset), ``--split-set NAME``, or the default."""

    set_name: str | None = None  # None: arniqa where stored, else generated
    file: str | None = None
    allow_reference_overlap: bool = False

    def __post_init__(self):
        if self.set_name not in (None, GENERATED):
            check_set_name(self.set_name)
        self._file_splits: Splits | None = None
        self._file_sha: str | None = None
        if self.file is not None:
            path = Path(self.file)
            self._file_splits = read_splits_csv(path, source=f"file {path.name}")
            self._file_sha = hashlib.sha256(path.read_bytes()).hexdigest()

    def describe(self) -> str:
        if self.file:
            return f"file {self.file}"
        return self.set_name or f"{ARNIQA} where imported, else {GENERATED}"

    def resolve(self, dataset, seed: int) -> Splits:
        """The splits ``dataset`` uses in this run, checked against its index, with provenance in meta."""
        index = dataset.index()
        if self._file_splits is not None:
            splits, name = self._file_splits, FILE
            splits.meta.update({"file": str(self.file), "file_sha256": self._file_sha})
        elif self.set_name not in (None, GENERATED):
            splits = load_stored(self.set_name, dataset.name)
            if splits is None:
                raise IQABenchError(_missing_set(self.set_name, dataset.name))
            name = self.set_name
        else:
            splits, name = None, GENERATED
            if self.set_name is None:
                stored = load_stored(ARNIQA, dataset.name)
                if stored is not None:
                    missing = _ids_missing(stored, index)
                    if missing:
                        log.warning(
                            f"{dataset.name}: the stored '{ARNIQA}' splits list {len(missing)} image(s) this copy lacks "
                            f"(first {missing[0]!r}); using the dataset's generated splits (not the paper's)"
                        )
                    else:
                        splits, name = stored, ARNIQA
            if splits is None:
                splits = dataset.splits(seed=seed)
            log.info(f"{dataset.name}: split set '{name}' ({splits.source})")
        splits.check_against(index, dataset.name)
        overlaps = reference_overlaps(splits, index)
        if overlaps and not self.allow_reference_overlap:
            raise IQABenchError(
                f"dataset {dataset.name!r}: the splits ({splits.source}) are not reference-disjoint: {overlaps[0]}"
                + (f" (and {len(overlaps) - 1} more split(s))" if len(overlaps) > 1 else "")
                + "; pass --allow-reference-overlap to use them anyway (results are then marked)"
            )
        has_refs = not index.empty and index["ref"].notna().all()
        splits.meta.update(
            {
                "set": name,
                "sha256": sha256_text(splits.to_csv()),
                "reference_disjoint": (not overlaps) if has_refs else None,
            }
        )
        if overlaps:
            splits.meta["reference_overlaps"] = overlaps
        return splits


def _ids_missing(splits: Splits, index: pd.DataFrame) -> list[str]:
    known = set(index["image_id"])
    used = splits.table[splits.table[splits.columns].ne("").any(axis=1)]["image_id"]
    return [i for i in used if i not in known]


def _missing_set(set_name: str, dataset: str) -> str:
    stored = stored_sets()
    has = ", ".join(stored.get(set_name, [])) or "no dataset"
    how = (
        "import ARNIQA's splits with `iqabench datasets import-splits --arniqa-repo ARNIQA --data-root DIR`"
        if set_name == ARNIQA
        else f"store it with `iqabench datasets import-splits {dataset} ... --set {set_name}`"
    )
    return f"split set {set_name!r} has no splits for dataset {dataset!r} (it holds: {has}); {how}"


def record(splits: Splits) -> dict[str, Any]:
    """The ``splits`` entry of result.json."""
    return {"source": splits.source, "n": len(splits), **splits.meta}
