"""Machinery shared by the built-in dataset adapters.

* :class:`AnnotatedDataset`: the base of every adapter. An adapter implements
  :meth:`AnnotatedDataset.read_index` (the annotation rows as the authors wrote them, before
  strict validation, with a ``_loc`` column naming the file and line of each row) and
  :meth:`AnnotatedDataset.annotation_files`; the base turns row problems into one-line errors,
  makes the splits (shipped file, generator or an adapter's official split) and checks them
  against the index, marks a partial copy as a subset (in the dataset card, recorded in every
  result; its seed-0 splits are generated instead of read from a shipped file, with a one-line
  notice), and tells the user when a data root holds a different dataset.
* Readers for CSV/text, MATLAB and Excel annotation files whose errors name the file, the
  column or the row.
* :class:`CaseResolver`: finds files whose folder or file names differ in case between copies
  (CSIQ, TID2013).

The hooks read by :mod:`iqabench.dataset_check` (``expected_count``, ``expected_refs``,
``label_bounds``, ``annotation_files``, ``read_index``, ``count_problems``, ``absent_tolerated``)
are defined here; Waterloo adds ``verify_content``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from iqabench.dataset import Dataset
from iqabench.dataset_check import row_problems
from iqabench.errors import IQABenchError
from iqabench.paths import data_root as resolve_data_root
from iqabench.splits import RULE_VERSION, Splits, generate_splits, read_splits_csv

log = logging.getLogger("iqabench")

SHIPPED_SPLITS_MAX = 10  # the shipped split files hold split_01..split_10 (seed 0)


class AnnotatedDataset(Dataset):
    """A dataset read from the files its authors distribute: rows with their file and line (``_loc``),
    checked row by row, shipped split files, and folders found whatever their case (the contract
    itself is :class:`iqabench.dataset.Dataset`'s)."""

    # File name under datasets/splits/ holding the seed-0 splits (KADID-10k, TID2013).
    shipped_splits: ClassVar[str | None] = None

    # -- to implement -------------------------------------------------------------------------
    def read_index(self) -> pd.DataFrame:
        """Annotation rows in the annotation file's order; may still hold duplicates or bad labels."""
        raise NotImplementedError

    # -- provided -----------------------------------------------------------------------------
    def load_index(self) -> pd.DataFrame:
        frame = self.read_index()
        problems = row_problems(frame, labelled=self.labelled)
        if problems:
            extra = f" (and {len(problems) - 1} more problem(s); run `iqabench datasets check {self.name}`)"
            raise IQABenchError(
                f"dataset {self.name!r}: {problems[0].message}" + (extra if len(problems) > 1 else "")
            )
        frame = frame.copy()
        if self.labelled:
            frame["score"] = [float(v) for v in frame["score"]]
        return frame.drop(columns=[c for c in frame.columns if c.startswith("_")])

    # -- splits -------------------------------------------------------------------------------
    def splits(self, seed: int = 0, n_splits: int = 10) -> Splits:
        if not self.labelled:
            raise self.error("has no labels, so it has no train/val/test splits")
        made = self.make_splits(seed, n_splits)
        check_splits(made, self.index(), self.name, complete=bool(made.meta.get("shipped")))
        self._notice_subset(made, seed, n_splits)
        return made

    def make_splits(self, seed: int, n_splits: int) -> Splits:
        """The seed-0 shipped file where there is one and the copy is complete, else
        :func:`iqabench.splits.generate_splits` (a shipped file lists the images of a complete copy)."""
        if self.uses_shipped_splits(seed, n_splits):
            return take_splits(read_shipped_splits(self.shipped_splits), n_splits)
        return generate_splits(
            self.index(), n_splits=n_splits, seed=seed, by_reference=self.split_by_reference
        )

    def uses_shipped_splits(self, seed: int, n_splits: int) -> bool:
        return bool(self.shipped_splits) and seed == 0 and n_splits <= SHIPPED_SPLITS_MAX and bool(
            self.subset_mark()["complete"]
        )

    def _notice_subset(self, made: Splits, seed: int, n_splits: int) -> None:
        """One line, once per dataset object, when the copy is a subset."""
        mark = self.subset_mark()
        if mark["complete"] is not False or getattr(self, "_subset_noticed", False):
            return
        self._subset_noticed = True
        held = f"{mark['n_images']} of {mark['n_images_complete']:,} images"
        if mark["n_references_complete"] and mark["n_references"] is not None:
            held += f", {mark['n_references']} of {mark['n_references_complete']} references"
        shipped = self.shipped_splits and seed == 0 and n_splits <= SHIPPED_SPLITS_MAX
        how = f"; splits {made.source} instead of the shipped datasets/splits/{self.shipped_splits}" if shipped else ""
        log.warning(f"{self.name}: this copy is a subset ({held}){how}; results are marked as a subset")

    # -- locating the root --------------------------------------------------------------------
    def locate_root(self, root: str | Path | None) -> Path:
        try:
            return super().locate_root(root)
        except IQABenchError as exc:
            base = resolve_data_root(root)
            if base is None:
                raise
            # Folder names differ in case between copies (e.g. `kadid10k` vs `KADID10K`).
            wanted = {f.lower() for f in self.folder_names or (self.name,)}
            for child in sorted(base.iterdir()):
                if child.is_dir() and child.name.lower() in wanted and self.looks_like_root(child):
                    return child
            other = looks_like_other(base, self.name)
            if other:
                raise IQABenchError(
                    f"{exc}; {str(base)!r} holds a {other!r} copy, not {self.name!r}"
                ) from None
            raise


def grid_index(image_id: Callable[[int, int, int], str], n_refs: int, n_types: int, n_levels: int) -> pd.DataFrame:
    """Every image of a complete reference × type × level dataset (ids and references, ``I01``…),
    in the order of its naming scheme: reference, then type, then level."""
    rows = [
        {"image_id": image_id(r, t, lev), "ref": f"I{r:02d}"}
        for r in range(1, n_refs + 1)
        for t in range(1, n_types + 1)
        for lev in range(1, n_levels + 1)
    ]
    return pd.DataFrame(rows)


def looks_like_other(folder: Path, name: str) -> str | None:
    """The built-in dataset that ``folder`` holds, other than ``name`` (None when none matches)."""
    from iqabench.registry import datasets

    for other in datasets.names():  # the built-in adapters: probed to name the dataset a wrong root holds
        if other == name or not datasets.builtin(other):
            continue
        cls = datasets.get(other)
        try:
            if cls.needs_root and cls.looks_like_root(folder):
                return other
        except (OSError, TypeError):
            continue
    return None


# -- splits helpers ----------------------------------------------------------------------------
def read_shipped_splits(file_name: str) -> Splits:
    ref = resources.files("iqabench.datasets").joinpath("splits", file_name)
    with resources.as_file(ref) as path:
        if not Path(path).is_file():
            raise IQABenchError(
                f"shipped split file datasets/splits/{file_name} is missing from the installation"
            )
        # The shipped file is the generator's output for seed 0 (tests/test_dataset_splits.py proves it),
        # stored so that the splits never depend on a re-run of the generator; the source says both.
        splits = read_splits_csv(path, source=f"generated ({RULE_VERSION}, seed=0, by reference), shipped as "
                                              f"datasets/splits/{file_name}")
        splits.meta.update({"rule": RULE_VERSION, "seed": 0, "by_reference": True, "shipped": file_name})
        return splits


def take_splits(splits: Splits, n_splits: int) -> Splits:
    """The first ``n_splits`` splits (a generated split k depends only on the seed and k)."""
    cols = splits.columns[: max(1, n_splits)]
    return Splits(splits.table[["image_id", *cols]], splits.source, dict(splits.meta))


def check_splits(splits: Splits, index: pd.DataFrame, name: str, *, complete: bool) -> None:
    """Every split id must be in the index; for a file (``complete``), every image must be in the file."""
    try:
        splits.check_against(index, name)
    except IQABenchError as exc:
        raise IQABenchError(f"{exc}; is the copy incomplete? run `iqabench datasets check {name}`") from None
    if complete:
        listed = set(splits.table["image_id"])
        absent = [i for i in index["image_id"] if i not in listed]
        if absent:
            raise IQABenchError(
                f"dataset {name!r}: image {absent[0]!r} is not in the split file ({splits.source})"
                + (f" ({len(absent)} images absent)" if len(absent) > 1 else "")
            )


# -- annotation readers ------------------------------------------------------------------------
def require_file(dataset: str, path: Path, what: str = "annotation file") -> Path:
    if not path.is_file():
        state = "does not exist" if not path.exists() else "is not a file"
        raise IQABenchError(f"dataset {dataset!r}: {what} {str(path)!r} {state}")
    return path


def first_existing(*paths: Path) -> Path:
    """The first of ``paths`` that is a file, else the first (so the error names the canonical place)."""
    for p in paths:
        if p.is_file():
            return p
    return paths[0]


def read_table(
    dataset: str,
    path: Path,
    required: Sequence[str],
    *,
    sep: str = ",",
    header: bool = True,
    names: Sequence[str] = (),
) -> pd.DataFrame:
    """A CSV/text annotation file as strings, with a ``_loc`` column naming each row's line."""
    require_file(dataset, path)
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            header=0 if header else None,
            names=list(names) or None,
            skipinitialspace=True,
            skip_blank_lines=True,
            encoding="utf-8-sig",
            engine="python" if sep not in (",", "\t") else "c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} cannot be read as a table: {_one_line(exc)}"
        ) from None
    _require_columns(dataset, path, frame, required)
    first = 2 if header else 1
    frame["_loc"] = _line_locs(path, len(frame), first)
    return frame


def _require_columns(dataset: str, path: Path, frame: pd.DataFrame, required: Sequence[str]) -> None:
    """Strip the header names of ``frame`` (in place) and name any required column it lacks."""
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} lacks column(s) {', '.join(missing)} "
            f"(columns: {', '.join(frame.columns)})"
        )


def _line_locs(path: Path, n: int, first: int) -> list[str]:
    # Blank lines are skipped by the reader; data lines are numbered as the file counts them.
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    numbers = [i + 1 for i, line in enumerate(lines) if line.strip()][first - 1 :]
    if len(numbers) != n:  # quoted multi-line fields: fall back to row numbers
        return [f"{str(path)!r} row {i + 1}" for i in range(n)]
    return [f"{str(path)!r} line {k}" for k in numbers]


def read_excel_sheet(dataset: str, path: Path, required: Sequence[str], sheet: str | int = 0) -> pd.DataFrame:
    """An .xlsx sheet as a table, its header row found wherever it is, with a ``_loc`` column naming each row.

    The header is the first of the sheet's first :data:`HEADER_SEARCH_ROWS` rows that holds every
    ``required`` column name (title rows may sit above it, empty columns left of it: CSIQ's
    workbook has its header in row 4 from column D). Columns are that row's named cells; rows are
    the later non-empty rows, named by their spreadsheet row number. Cell values are kept as the
    workbook stores them (numbers, text, ``None`` for an empty cell)."""
    require_file(dataset, path)
    label = f" sheet {sheet!r}" if isinstance(sheet, str) else ""
    grid = _sheet_rows(dataset, path, sheet)
    header_row, columns = _find_header(grid, required)
    if header_row is None:
        missing = [c for c in required if c not in columns]
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r}{label} lacks column(s) {', '.join(missing)} "
            f"(columns: {', '.join(columns) or 'none'})"
        )
    records, locs = [], []
    for number, row in enumerate(grid[header_row + 1 :], start=header_row + 2):
        values = [row[c] if c < len(row) else None for c in columns.values()]
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # an empty row; the kept rows keep their spreadsheet row numbers
        records.append(values)
        locs.append(f"{str(path)!r}{label} row {number}")
    frame = pd.DataFrame(records, columns=list(columns), dtype=object)
    frame["_loc"] = locs
    return frame


HEADER_SEARCH_ROWS = 50


def _sheet_rows(dataset: str, path: Path, sheet: str | int) -> list[list[Any]]:
    """Every row of a sheet from A1 (empty rows as empty lists), as stored values."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/... for a broken workbook
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} cannot be read as .xlsx: {_one_line(exc)}"
        ) from None
    try:
        if isinstance(sheet, str) and sheet not in book.sheetnames:
            raise IQABenchError(
                f"dataset {dataset!r}: {str(path)!r} has no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})"
            )
        ws = book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]
        ws.reset_dimensions()  # stored dimensions may be wrong; read what the sheet holds
        return [list(row) for row in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    except IQABenchError:
        raise
    except Exception as exc:
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} cannot be read as .xlsx: {_one_line(exc)}"
        ) from None
    finally:
        book.close()


def _find_header(grid: list[list[Any]], required: Sequence[str]) -> tuple[int | None, dict[str, int]]:
    """(row index of the header, {column name: column index}); (None, the closest row's names) if none."""
    best: dict[str, int] = {}
    for r, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        names: dict[str, int] = {}
        for c, value in enumerate(row):
            name = cell_text(value)
            if name and name not in names:
                names[name] = c
        if all(col in names for col in required):
            return r, names
        if sum(col in names for col in required) > sum(col in best for col in required) or (names and not best):
            best = names
    return None, best


def read_mat(dataset: str, path: Path, keys: Iterable[str]) -> dict[str, Any]:
    """Variables of a MATLAB (v4-v7.2) file; one-line errors for a missing file or variable."""
    import scipy.io

    require_file(dataset, path)
    try:
        data = scipy.io.loadmat(path)
    except NotImplementedError:
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} is a MATLAB v7.3 (HDF5) file; the release files are v5, "
            "re-save it with save(..., '-v7')"
        ) from None
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError for corrupt files
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} cannot be read as a MATLAB file: {_one_line(exc)}"
        ) from None
    variables = [k for k in data if not k.startswith("__")]
    missing = [k for k in keys if k not in data]
    if missing:
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} lacks variable(s) {', '.join(missing)} "
            f"(variables: {', '.join(variables) or 'none'})"
        )
    return data


def mat_numbers(dataset: str, path: Path, key: str, value: Any) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise IQABenchError(f"dataset {dataset!r}: {str(path)!r} variable {key!r} is not numeric") from None


def mat_strings(dataset: str, path: Path, key: str, value: Any) -> list[str]:
    """A MATLAB cell array of strings (or a char matrix) as a list of str."""
    arr = np.asarray(value)
    if arr.dtype.kind == "U":  # char matrix: one row per string
        return (
            ["".join(row).strip() for row in np.atleast_2d(arr)]
            if arr.ndim > 1
            else [str(arr.item()).strip()]
        )
    if arr.dtype != object:
        raise IQABenchError(
            f"dataset {dataset!r}: {str(path)!r} variable {key!r} is not a cell array of names"
        )
    out = []
    for cell in arr.ravel():
        inner = np.asarray(cell).ravel()
        if inner.size != 1 or inner.dtype.kind != "U":
            raise IQABenchError(
                f"dataset {dataset!r}: {str(path)!r} variable {key!r} holds a non-string cell {cell!r}"
            )
        out.append(str(inner[0]).strip())
    return out


def cell_text(value: Any) -> str:
    """A spreadsheet cell as text: integral floats lose their ``.0`` (CSIQ's reference ``1600``); empty is ``""``."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:300] or type(exc).__name__


# -- files -------------------------------------------------------------------------------------
class CaseResolver:
    """Resolves relative paths whose folder or file names may differ in case between copies.

    Each folder is listed once; an exact name wins over a case-insensitive match."""

    def __init__(self, root: Path):
        self.root = root
        self._listings: dict[Path, tuple[set[str], dict[str, str]]] = {}

    def _listing(self, folder: Path) -> tuple[set[str], dict[str, str]]:
        if folder not in self._listings:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                names = []
            lower: dict[str, str] = {}
            for n in names:
                lower.setdefault(n.lower(), n)
            self._listings[folder] = (set(names), lower)
        return self._listings[folder]

    def _walk(self, rel: str) -> tuple[Path, list[str]]:
        """The deepest existing path for ``rel`` and the components not found below it."""
        cur = self.root
        parts = rel.split("/")
        for i, part in enumerate(parts):
            exact, lower = self._listing(cur)
            if part in exact:
                cur = cur / part
            elif part.lower() in lower:
                cur = cur / lower[part.lower()]
            else:
                return cur, parts[i:]
        return cur, []

    def find(self, rel: str) -> Path | None:
        found, rest = self._walk(rel)
        return None if rest else found

    def path(self, rel: str) -> Path:
        """The file found for ``rel``; else the folders found plus the canonical rest (reported as missing)."""
        found, rest = self._walk(rel)
        return found.joinpath(*rest)

    def folder(self, rel: str) -> Path | None:
        found = self.find(rel)
        return found if found is not None and found.is_dir() else None


def authentic_row(root: Path, image_id: str, score: Any, loc: str | None) -> dict[str, Any]:
    """An index row of an authentically distorted image: no reference, no distortion type or level."""
    return {"image_id": image_id, "path": str(root / image_id), "score": score, "ref": None, "dist_type": None,
            "dist_group": None, "level": None, "ref_path": None, "_loc": loc}


def index_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Index rows -> DataFrame with the index columns first (``level`` may be None)."""
    columns = ["image_id", "path", "score", "ref", "dist_type", "dist_group", "level", "ref_path", "_loc"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["level"] = pd.array(frame["level"], dtype="Int64")
    return frame
