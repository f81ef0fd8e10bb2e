"""Is this copy of a dataset complete and intact? (``iqabench datasets check``)

Works on any :class:`iqabench.dataset.Dataset`. Adapters may add these optional hooks (the
built-in adapters get them from ``iqabench.datasets._common.AnnotatedDataset``):

``annotation_files()``      files that must exist (checked first; nothing else runs without them)
``read_index()``            the annotation rows before strict validation: may hold duplicate rows and
                            bad labels, which are then reported one per line; an optional ``_loc``
                            column names the file and line of each row (default: ``load_index()``)
``expected_count``          images of a complete copy (class attribute; None = not pinned)
``count_problems(index)``   differences from a complete copy (default: compare ``expected_count``)
``label_bounds``            {label: (lo, hi)}: bounds a correct copy stays in, where they are wider
                            than the nominal :class:`~iqabench.dataset.ScoreSpec` range
``absent_tolerated()``      {image_id: where}: images usual copies lack (FLIVE's three EE371R images);
                            when missing they are reported in a note, not as problems
``verify_content(frame)``   [(kind, message)]: checks on the images' content (Waterloo's type order),
                            run when images are decoded; kind ``"note"`` is informational

A copy with fewer or more images than a complete one is reported as a ``count`` problem: a subset
loads and runs, but ``check`` says it is not the published dataset. Images that are not 8-bit RGB
are converted as the reference loaders do (:mod:`iqabench.images`) and counted per original mode.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .dataset import Dataset
from .errors import IQABenchError
from .images import RGB, ImageError, conversions_line, decode_rgb

KINDS = ("root", "annotation", "index", "count", "duplicate", "label", "image", "types")


@dataclass(frozen=True)
class Problem:
    kind: str  # one of KINDS
    message: str

    def line(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class CheckReport:
    dataset: str
    root: str | None = None
    n_rows: int = 0
    n_references: int | None = None
    n_files: int = 0  # image files looked at (index images and reference images)
    n_absent: int = 0  # of those, images absent as a usual copy lacks them (``absent_tolerated``)
    decoded: bool = True
    problems: list[Problem] = field(default_factory=list)
    conversions: dict[str, int] = field(default_factory=dict)  # original mode -> files converted to RGB
    notes: list[str] = field(default_factory=list)  # informational lines (not problems)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def conversions_line(self) -> str | None:
        if not self.conversions:
            return None
        n = sum(self.conversions.values())
        return f"{n} image file(s) converted to 8-bit RGB with PIL convert('RGB'): {conversions_line(self.conversions)}"

    def verdict(self) -> str:
        what = "decoded" if self.decoded else "present (not decoded)"
        refs = f", {self.n_references} references" if self.n_references else ""
        if self.ok:
            files = f"all {self.n_files - self.n_absent} image files {what}"
            if self.n_absent:
                files += f" ({self.n_absent} absent as usual copies lack them)"
            return f"{self.dataset}: OK: {self.n_rows} images{refs}; {files}"
        kinds = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        return f"{self.dataset}: BROKEN: {len(self.problems)} problem(s) ({kinds})"


# -- row-level checks (also used by the adapters' strict loading) ------------------------------
def label_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable label, or None."""
    if value is None:
        return "label is missing"
    if isinstance(value, str):
        text = value.strip()
        if text == "" or text.lower() in ("nan", "na", "n/a", "null"):
            return "label is missing"
        try:
            number = float(text)
        except ValueError:
            return f"label {value!r} is not a number"
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"label {value!r} is not a number"
    if math.isnan(number):
        return "label is missing (NaN)"
    if math.isinf(number):
        return f"label {value!r} is not finite"
    return None


def _where(frame: pd.DataFrame, i: int) -> str:
    if "_loc" in frame.columns and isinstance(frame["_loc"].iloc[i], str):
        return f"{frame['_loc'].iloc[i]} (image {frame['image_id'].iloc[i]!r})"
    return f"image {frame['image_id'].iloc[i]!r}"


def row_problems(frame: pd.DataFrame, *, labelled: bool) -> list[Problem]:
    """Duplicate rows and unusable labels, in row order."""
    out: list[Problem] = []
    first_row: dict[str, int] = {}
    ids = frame["image_id"].astype(str).tolist()
    for i, image_id in enumerate(ids):
        if image_id in first_row:
            j = first_row[image_id]
            where = frame["_loc"].iloc[i] if "_loc" in frame.columns else f"row {i + 1}"
            first = frame["_loc"].iloc[j] if "_loc" in frame.columns else f"row {j + 1}"
            out.append(Problem("duplicate", f"{where} repeats image {image_id!r} (first at {first})"))
        else:
            first_row[image_id] = i
    if labelled:
        for i, value in enumerate(frame["score"].tolist()):
            why = label_problem(value)
            if why:
                out.append(Problem("label", f"{_where(frame, i)}: {why}"))
    return out


def bound_problems(frame: pd.DataFrame, lo: float, hi: float, label: str) -> list[Problem]:
    scores = pd.to_numeric(frame["score"], errors="coerce")
    out = []
    for i, value in enumerate(scores.tolist()):
        if not math.isnan(value) and not (lo <= value <= hi):
            out.append(Problem("label", f"{_where(frame, i)}: {label} {value:g} is outside {lo:g}..{hi:g}"))
    return out


# -- the check ---------------------------------------------------------------------------------
def check_dataset(
    ds: Any,
    *,
    decode: bool = True,
    workers: int | None = None,
    progress: Callable[..., Any] | None = None,
) -> CheckReport:
    """Check a dataset copy; every problem becomes one :class:`Problem` (nothing is raised)."""
    report = CheckReport(dataset=ds.name, decoded=decode)
    try:
        report.root = str(ds.root)
    except IQABenchError as exc:
        report.problems.append(Problem("root", str(exc)))
        return report

    try:
        files = list(ds.annotation_files())
    except IQABenchError as exc:
        report.problems.append(Problem("annotation", str(exc)))
        return report
    missing = [f for f in files if not Path(f).is_file()]
    for f in missing:
        report.problems.append(Problem("annotation", f"annotation file {str(f)!r} does not exist"))
    if missing:
        return report

    try:
        frame = ds.read_index()
    except IQABenchError as exc:
        report.problems.append(Problem("index", str(exc)))
        return report
    frame = frame.reset_index(drop=True)
    report.n_rows = int(len(frame))
    if "ref" in frame.columns and frame["ref"].notna().any():
        report.n_references = int(frame["ref"].dropna().nunique())

    report.problems += [Problem("count", m) for m in ds.count_problems(frame)]
    labelled = ds.labelled
    report.problems += row_problems(frame, labelled=labelled)
    if labelled and ds.score_spec is not None:
        bounds = ds.label_bounds.get(ds.label, ds.score_spec.range)
        report.problems += bound_problems(frame, float(bounds[0]), float(bounds[1]), ds.label)

    paths = list(dict.fromkeys(str(p) for p in frame["path"].tolist()))
    if "ref_path" in frame.columns:
        paths += [
            p
            for p in dict.fromkeys(str(p) for p in frame["ref_path"].dropna().tolist())
            if p not in set(paths)
        ]
    report.n_files = len(paths)
    tolerated = ds.absent_tolerated()
    id_of = dict(zip(frame["path"].astype(str), frame["image_id"].astype(str)))
    absent = []
    for probe in probe_images(paths, decode=decode, workers=workers, progress=progress):
        why = tolerated.get(id_of.get(probe.path, ""))
        if probe.missing and why:
            absent.append(f"{id_of[probe.path]} ({why})")  # why: where the annotation lists it
        elif probe.problem:
            report.problems.append(Problem("image", probe.problem))
        elif probe.mode and probe.mode != RGB:
            report.conversions[probe.mode] = report.conversions.get(probe.mode, 0) + 1
    report.conversions = dict(sorted(report.conversions.items()))
    report.n_absent = len(absent)
    if absent:
        report.notes.append(
            f"{len(absent)} image(s) absent that usual copies lack, left out of every split: {', '.join(absent)}"
        )

    if type(ds).verify_content is not Dataset.verify_content:  # the dataset tests its images' content
        if not decode:
            report.notes.append("image content not verified (--no-decode)")
        elif not any(p.kind in ("index", "image") for p in report.problems):
            for kind, message in ds.verify_content(frame):
                if kind == "note":
                    report.notes.append(message)
                else:
                    report.problems.append(Problem(kind, message))
    return report


@dataclass(frozen=True)
class ImageProbe:
    path: str
    problem: str | None = None  # one-line reason the file cannot be used
    missing: bool = False
    mode: str | None = None  # the file's mode (see :func:`iqabench.images.decode_rgb`); None when not decoded


def _probe(path: str, decode: bool) -> ImageProbe:
    if not os.path.isfile(path):
        return ImageProbe(path, str(ImageError(path, "file does not exist")), missing=True)
    if not decode:
        return ImageProbe(path)
    try:
        _, mode = decode_rgb(path)
    except ImageError as exc:
        return ImageProbe(path, str(exc))
    except Exception as exc:  # a decoder crash is a broken file too, never a crash of the check
        return ImageProbe(path, str(ImageError(path, f"{type(exc).__name__}: {exc}")))
    return ImageProbe(path, mode=mode)


def probe_images(
    paths: list[str],
    *,
    decode: bool = True,
    workers: int | None = None,
    progress: Callable[..., Any] | None = None,
) -> list[ImageProbe]:
    """Each image missing, unreadable, corrupt or truncated, or its mode (via :func:`iqabench.images.decode_rgb`), in order."""
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # decoding releases the GIL
        mapped = pool.map(lambda p: _probe(p, decode), paths)
        if progress is not None:
            mapped = progress(mapped, total=len(paths), desc="checking images", unit="img")
        return list(mapped)
