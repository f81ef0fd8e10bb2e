"""The Dataset contract.

A dataset yields an *index*: a pandas DataFrame with one row per image and the columns

=============  ===============================================================================
``image_id``   unique id, the image's path relative to the dataset root (POSIX separators)
``path``       path of the file, inside the dataset folder (or under ``$IQABENCH_HOME`` for
               copies iqabench prepares, e.g. SPAQ's resized images); checked once, when the
               index is built: an annotation row naming ``../elsewhere.png`` is refused
``score``      the label (float; NaN for label-free datasets such as Waterloo or a pristine pool)
``ref``        reference (content) id, or None where the dataset has no references
``dist_type``  distortion type name, or None
``dist_group`` one of the 7 KADID groups (:data:`DIST_GROUPS`), or None
``level``      distortion level 1..5 (0 = pristine), or <NA>
=============  ===============================================================================

and a :class:`ScoreSpec` saying which label it is, its direction and its nominal range. Labels
outside that range (or outside the wider ``label_bounds`` of an adapter that has them) are warned
about once, counted, and the count is part of the dataset card every result records.
Splits come from :meth:`Dataset.splits` (see :mod:`iqabench.splits`).

**The contract** (one, for every dataset; ``iqabench datasets check`` and ``describe``, split
imports and the results read these attributes and methods directly):

* required: ``name`` (by the decorator), ``description``, :meth:`load_index`; ``labels`` and
  ``folder_names`` for a labelled dataset on disk;
* optional, with defaults: ``default_label``, ``synthetic``, ``split_by_reference``,
  ``option_defaults``, ``needs_root``, :meth:`looks_like_root`, :meth:`splits`; what a complete
  copy holds (``expected_count``, ``expected_refs``) and the bounds a correct copy's labels stay in
  (``label_bounds``); ``type_groups`` (distortion type → KADID group, shown by ``describe``);
  :meth:`annotation_files`; :meth:`read_index` (the rows as the files list them, for ``check``);
  :meth:`absent_tolerated` and :meth:`listed_index` (images usual copies lack);
  :meth:`verify_content` (``check``'s test of the images themselves); :meth:`arniqa_order`,
  :meth:`arniqa_rows` and :meth:`arniqa_left_out` (the rows ARNIQA's split files index);
  :meth:`for_description`.

The built-in adapters build on :class:`iqabench.datasets._common.AnnotatedDataset`, which adds
per-row error locations, shipped split files and case-insensitive folders; a plugin need not.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from .errors import IQABenchError
from .options import parse_options
from .paths import data_root as resolve_data_root

log = logging.getLogger("iqabench")

INDEX_COLUMNS = ("image_id", "path", "score", "ref", "dist_type", "dist_group", "level")

# The 7 distortion groups of KADID-10k used by ARNIQA's degradation model and Figure 1.
DIST_GROUPS = (
    "brightness_change",
    "blur",
    "spatial_distortion",
    "noise",
    "color_distortion",
    "jpeg",
    "sharpness_contrast",
)
# Figure 1 conventions of the ARNIQA paper: legend labels (in legend order), colours, alpha by level.
GROUP_LABELS = {
    "color_distortion": "Color distortions",
    "spatial_distortion": "Spatial distortions",
    "brightness_change": "Brightness change",
    "sharpness_contrast": "Sharpness & contrast",
    "jpeg": "Compression",
    "noise": "Noise",
    "blur": "Blur",
}
GROUP_RGB = {
    "blur": (0, 80, 239),
    "color_distortion": (227, 200, 0),
    "jpeg": (216, 9, 168),
    "noise": (245, 0, 56),
    "brightness_change": (0, 204, 204),
    "spatial_distortion": (160, 82, 45),
    "sharpness_contrast": (96, 169, 23),
}
LEVEL_ALPHA = {1: 0.2, 2: 0.4, 3: 0.6, 4: 0.8, 5: 1.0}


@dataclass(frozen=True)
class ScoreSpec:
    label: str  # e.g. "dmos_realigned", "mos", "pseudo_mos_fsim"
    higher_better: bool
    range: tuple[float, float]
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["range"] = list(self.range)
        return d


class Dataset:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # label name -> spec; the first entry is the default unless default_label says otherwise.
    labels: ClassVar[dict[str, ScoreSpec]] = {}
    default_label: ClassVar[str | None] = None
    # Folder names looked up under the data root, in order.
    folder_names: ClassVar[tuple[str, ...]] = ()
    # True when the labels are not human opinions (the demo): shown wherever the data appears.
    synthetic: ClassVar[bool] = False
    # Split rule: group by reference content (synthetic datasets) or by image (authentic ones).
    split_by_reference: ClassVar[bool] = True
    option_defaults: ClassVar[dict[str, Any]] = {}
    # Whether the dataset lives on disk under a data root (False for the built-in demo).
    needs_root: ClassVar[bool] = True
    # Totals of a complete copy, compared by `iqabench datasets check` and the subset mark (None: not pinned).
    expected_count: ClassVar[int | None] = None
    expected_refs: ClassVar[int | None] = None
    # Bounds a correct copy's labels stay in, per label, where they leave the nominal ScoreSpec range.
    label_bounds: ClassVar[dict[str, tuple[float, float]]] = {}
    # Distortion type -> KADID group, shown by `iqabench datasets describe`.
    type_groups: ClassVar[dict[str, str]] = {}

    def __init__(self, root: str | Path | None = None, label: str | None = None, **options: Any):
        self.options = parse_options(f"dataset {self.name!r}", options, self.option_defaults)
        if self.labels:
            chosen = label or self.default_label or next(iter(self.labels))
            if chosen not in self.labels:
                raise IQABenchError(
                    f"dataset {self.name!r} has no label {chosen!r} (labels: {', '.join(self.labels)})"
                )
            self.label = chosen
        else:
            if label is not None:
                raise IQABenchError(f"dataset {self.name!r} has no labels; --label does not apply")
            self.label = None
        self._root_arg = root
        self._root: Path | None = None
        self._index: pd.DataFrame | None = None
        self._label_range: dict[str, Any] | None = None

    # -- to implement -------------------------------------------------------------------------
    def load_index(self) -> pd.DataFrame:
        """Read the annotation files under :attr:`root` and return the index (see module doc)."""
        raise NotImplementedError

    # -- optional hooks -----------------------------------------------------------------------
    def annotation_files(self) -> list[Path]:
        """The annotation files this copy is read from (all must exist; ``check`` names a missing one)."""
        return []

    def read_index(self) -> pd.DataFrame:
        """The rows as the annotation files list them, before any check (``check`` reports every problem of
        them; an adapter may add a ``_loc`` column naming each row's file and line)."""
        return self.load_index()

    def listed_index(self) -> pd.DataFrame:
        """Every image the annotation files list: the index, plus any image left out of it (FLIVE)."""
        return self.index()

    def absent_tolerated(self) -> dict[str, str]:
        """{image_id: why} of images a usual copy lacks, tolerated when absent (FLIVE's three)."""
        return {}

    def verify_content(self, frame: pd.DataFrame) -> list[tuple[str, str]]:
        """``check``'s test of the images themselves: (kind, message) pairs, kind "note" or a problem kind."""
        return []

    def arniqa_order(self) -> tuple[str, bool]:
        """(the annotation file whose row order ARNIQA's split files index, documented?).

        Raises when ARNIQA publishes no split files for the dataset, or this copy is read from a file
        whose order is not known to be that one."""
        raise IQABenchError(f"dataset {self.name!r}: ARNIQA publishes no split files for it")

    def arniqa_rows(self) -> list[str] | None:
        """The image ids of the rows ARNIQA's split files index, where they are not the index's (FLIVE)."""
        return None

    def arniqa_left_out(self) -> set[int] | None:
        """Rows of those files that ARNIQA's split files use in no part, where that is known (FLIVE's three):
        split files leaving out other rows are refused. None: not checked."""
        return None

    def for_description(self) -> Dataset:
        """A twin whose index is cheap to build, used by ``datasets describe`` (SPAQ skips its resizing)."""
        return self

    def count_problems(self, index: pd.DataFrame) -> list[str]:
        """Differences from the totals of a complete copy (one line each)."""
        out = []
        if self.expected_count is not None and len(index) != self.expected_count:
            out.append(f"the copy lists {len(index)} images; a complete copy has {self.expected_count}")
        if self.expected_refs is not None and index["ref"].notna().any():
            n_refs = int(index["ref"].nunique())
            if n_refs != self.expected_refs:
                out.append(f"the copy has {n_refs} references; a complete copy has {self.expected_refs}")
        return out

    def subset_mark(self) -> dict[str, Any]:
        """Whether this copy is the complete dataset (``complete`` is None where no total is pinned).

        Recorded as ``subset`` in the dataset card: results on a copy with ``complete`` false are
        not comparable with results on the published dataset."""
        listed = self.listed_index()
        has_refs = bool(listed["ref"].notna().any())
        return {
            "complete": None if self.expected_count is None else not self.count_problems(listed),
            "n_images": int(len(self.index())),
            "n_images_complete": self.expected_count,
            "n_references": int(listed["ref"].nunique()) if has_refs else None,
            "n_references_complete": self.expected_refs,
        }

    # -- helpers for adapters --------------------------------------------------------------------
    def error(self, message: str) -> IQABenchError:
        return IQABenchError(f"dataset {self.name!r}: {message}")

    def option_choice(self, key: str, choices: Sequence[str]) -> str:
        value = str(self.options[key])
        if value not in choices:
            raise self.error(f"option {key!r} must be one of {', '.join(choices)}, got {value!r}")
        return value

    # -- provided -----------------------------------------------------------------------------
    @property
    def score_spec(self) -> ScoreSpec | None:
        return self.labels[self.label] if self.label else None

    @property
    def labelled(self) -> bool:
        return self.label is not None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = self.locate_root(self._root_arg)
        return self._root

    def locate_root(self, root: str | Path | None) -> Path:
        """The dataset folder: ``root`` itself if it is the dataset, else a conventional folder under it."""
        base = resolve_data_root(root)
        if base is None:
            raise IQABenchError(
                f"dataset {self.name!r} needs a data root: pass --data-root DIR or set IQABENCH_DATA "
                f"(looked for folders named {', '.join(self.folder_names) or self.name})"
            )
        if self.looks_like_root(base):
            return base
        for folder in self.folder_names or (self.name,):
            candidate = base / folder
            if candidate.is_dir() and self.looks_like_root(candidate):
                return candidate
        names = ", ".join(self.folder_names or (self.name,))
        raise IQABenchError(f"dataset {self.name!r} not found under data root {str(base)!r} (looked for {names})")

    def looks_like_root(self, folder: Path) -> bool:
        """Whether ``folder`` holds this dataset (checked on its annotation files); override."""
        return folder.is_dir()

    def index(self) -> pd.DataFrame:
        if self._index is None:
            frame = self.load_index()
            if len(frame) == 0:
                raise IQABenchError(self._no_images())
            index = validate_index(frame, self.name, labelled=self.labelled, root=self.root if self.needs_root else None)
            self._label_range = self._check_label_range(index)
            self._index = index
        return self._index

    def _no_images(self) -> str:
        try:
            files = [str(f) for f in self.annotation_files()]
        except IQABenchError:
            files = []
        named = f"its annotation file(s) {', '.join(repr(f) for f in files)} list none" if files else "its index is empty"
        return f"dataset {self.name!r} has no images: {named} (an empty or header-only file?), or its options select none"

    def _label_bounds(self) -> tuple[float, float] | None:
        """Bounds a correct copy's labels stay in: an adapter's ``label_bounds``, else the nominal range."""
        if self.score_spec is None:
            return None
        lo, hi = self.label_bounds.get(self.label, self.score_spec.range)
        return float(lo), float(hi)

    def _check_label_range(self, index: pd.DataFrame) -> dict[str, Any] | None:
        """Count (and warn once about) labels outside :meth:`_label_bounds`, as ``datasets check`` does."""
        bounds = self._label_bounds()
        if bounds is None:
            return None
        lo, hi = bounds
        scores = index["score"]
        outside = scores.notna() & ((scores < lo) | (scores > hi))
        record = {"count": int(outside.sum()), "bounds": [lo, hi], "first": index.loc[outside, "image_id"].head(5).tolist()}
        if record["count"]:
            first = index.loc[outside].iloc[0]
            log.warning(
                f"dataset {self.name!r}: {record['count']} label(s) outside {lo:g}..{hi:g}, the range of its "
                f"{self.label} (first: image {first['image_id']!r}, {first['score']:g}); results record the count "
                f"and are not comparable with published numbers (see 'iqabench datasets check {self.name}')"
            )
        return record

    def splits(self, seed: int = 0, n_splits: int = 10):
        """Train/val/test splits; by default generated by :func:`iqabench.splits.generate_splits`."""
        from .splits import generate_splits

        return generate_splits(self.index(), n_splits=n_splits, seed=seed, by_reference=self.split_by_reference)

    def card(self) -> dict[str, Any]:
        """Provenance of the data: recorded in every result."""
        spec = self.score_spec
        idx = self.index()
        return {
            "name": self.name,
            "description": self.description,
            "root": str(self.root) if self.needs_root else None,
            "label": spec.to_dict() if spec else None,
            "synthetic": self.synthetic,
            "options": dict(self.options),
            "n_images": int(len(idx)),
            "n_references": int(idx["ref"].nunique()) if idx["ref"].notna().any() else None,
            "labels_out_of_range": self._label_range,
            "annotation_files": [str(f) for f in self.annotation_files()],
            "subset": self.subset_mark(),
        }


def validate_index(df: pd.DataFrame, name: str, *, labelled: bool, root: str | Path | None = None) -> pd.DataFrame:
    """Check the index contract; fill optional columns; one-line errors name the dataset and row.

    ``root``: the dataset folder, which every ``path`` (and ``ref_path``) must lie inside."""
    if "image_id" not in df.columns or "path" not in df.columns:
        raise IQABenchError(f"dataset {name!r}: index lacks the 'image_id' or 'path' column")
    df = df.copy()
    for col in INDEX_COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["score"] = pd.to_numeric(df["score"], errors="coerce").astype(float)
    if labelled:
        bad = df["score"].isna()
        if bad.any():
            first = df.loc[bad, "image_id"].iloc[0]
            raise IQABenchError(f"dataset {name!r}: {int(bad.sum())} image(s) have no numeric label, first {first!r}")
    dup = df["image_id"].duplicated()
    if dup.any():
        raise IQABenchError(f"dataset {name!r}: duplicate image id {df.loc[dup, 'image_id'].iloc[0]!r}")
    bad_groups = set(df["dist_group"].dropna()) - set(DIST_GROUPS)
    if bad_groups:
        raise IQABenchError(f"dataset {name!r}: unknown distortion group(s) {sorted(bad_groups)}")
    df["level"] = pd.array(df["level"], dtype="Int64")
    df["image_id"] = df["image_id"].astype(str)
    df["path"] = df["path"].astype(str)
    if root is not None:
        _check_inside(df, name, root)
    return df[list(INDEX_COLUMNS) + [c for c in df.columns if c not in INDEX_COLUMNS]].reset_index(drop=True)


def _check_inside(df: pd.DataFrame, name: str, root: str | Path) -> None:
    """Refuse an index row that reaches outside the dataset folder (e.g. ``../../elsewhere.png``).

    ``image_id`` must be a relative path that stays inside the folder, and ``path`` (and
    ``ref_path``) must lie inside it, or inside ``$IQABENCH_HOME``, where iqabench keeps copies it
    prepares from a dataset (e.g. SPAQ's resized images). Lexical: ``..`` and absolute paths are
    resolved; symbolic links inside the folder are followed wherever they point (a copy may link
    its images from another disk)."""
    from .paths import home

    base = os.path.normpath(os.path.abspath(root))
    allowed = tuple(p.rstrip(os.sep) + os.sep for p in (base, os.path.normpath(os.path.abspath(home()))))
    for image_id in df["image_id"]:
        rel = os.path.normpath(str(image_id))
        if os.path.isabs(rel) or rel == ".." or rel.startswith(".." + os.sep):
            raise IQABenchError(
                f"dataset {name!r}: row {image_id!r} names a file outside the dataset folder {base!r}; "
                "annotation rows may only name files inside it"
            )
    for col in ("path", "ref_path"):
        if col not in df.columns:
            continue
        for image_id, value in zip(df["image_id"], df[col]):
            if not isinstance(value, str) or not value:
                continue
            full = os.path.normpath(os.path.abspath(value))
            if not full.startswith(allowed):
                what = "image" if col == "path" else "reference image"
                raise IQABenchError(
                    f"dataset {name!r}: row {image_id!r} names the {what} {full!r}, outside the dataset folder "
                    f"{base!r}; annotation rows may only name files inside it"
                )
