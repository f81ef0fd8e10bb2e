"""Convert ARNIQA's published split files into iqabench's split CSV form.

ARNIQA ships ``datasets/<NAME>/splits/{train,val,test}.npy``: int64 row indices into the row
order of the dataset's annotation file (arniqa.md §3.3-4), shape ``(10, N)`` (one row per split)
or 1-D for FLIVE's single official split. LIVE and CSIQ pad rows with ``-1``, which the official
reader does not drop in validation/test (it then selects the last annotation row); here ``-1`` is
dropped. The dataset's index must be in that annotation order: adapters say so through
``arniqa_order()`` (and refuse where their copy is read from a file whose order is not known to
match), and a copy whose image count differs from the complete dataset is refused, because row
indices would then point at the wrong images. An adapter whose index leaves out rows of the
annotation file (FLIVE, without the images common preparations lack) gives the rows ARNIQA indexes
through ``arniqa_rows()`` (image ids in annotation order; it refuses a file that would shift them),
and the rows ARNIQA's files leave out through ``arniqa_left_out()``, which the files must match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import IQABenchError
from .splits import PARTS, Splits

PAD = -1
# ARNIQA's datasets/<folder>/splits/ → iqabench dataset name.
ARNIQA_FOLDERS = {
    "LIVE": "live",
    "CSIQ": "csiq",
    "TID2013": "tid2013",
    "KADID10K": "kadid10k",
    "KonIQ-10k": "koniq10k",
    "SPAQ": "spaq",
    "FLIVE": "flive",
    "CLIVE": "clive",
}


def find_split_files(folder: str | Path) -> dict[str, Path]:
    """``train.npy``, ``val.npy``, ``test.npy`` in ``folder`` or in its ``splits/`` subfolder."""
    base = Path(folder).expanduser()
    if not base.is_dir():
        raise IQABenchError(f"ARNIQA split folder {str(base)!r} does not exist")
    for candidate in (base, base / "splits"):
        files = {p: candidate / f"{p}.npy" for p in PARTS}
        if all(f.is_file() for f in files.values()):
            return files
    missing = [f"{p}.npy" for p in PARTS if not (base / f"{p}.npy").is_file()]
    raise IQABenchError(
        f"ARNIQA split folder {str(base)!r} lacks {', '.join(missing)} (looked there and in splits/)"
    )


def load_split_array(path: Path) -> np.ndarray:
    """One split file as a 2-D int64 array (splits x indices); 1-D files become one split."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IQABenchError(f"ARNIQA split file {str(path)!r} cannot be read as .npy: {exc}") from None
    if arr.dtype.kind not in "iu":
        raise IQABenchError(
            f"ARNIQA split file {str(path)!r} holds {arr.dtype} values, not integer row indices"
        )
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise IQABenchError(
            f"ARNIQA split file {str(path)!r} has shape {arr.shape}; expected (splits, N) or (N,)"
        )
    return arr.astype(np.int64)


def import_arniqa_splits(ds: Any, folder: str | Path) -> Splits:
    """The splits of ARNIQA's files for dataset ``ds`` (its index must follow ARNIQA's annotation order)."""
    order, documented = ds.arniqa_order()
    row_ids = ds.arniqa_rows()  # first: a file that would shift rows fails fast
    # Ids do not depend on preprocessing: use the cheap twin where there is one (SPAQ skips its resizing).
    index = ds.for_description().index()
    if row_ids is None:
        row_ids = index["image_id"].astype(str).tolist()
    n = len(row_ids)
    expected = ds.expected_count
    if expected is not None and n != expected:
        raise IQABenchError(
            f"dataset {ds.name!r}: the copy lists {n} images, a complete copy {expected}; ARNIQA's row indices "
            "refer to the complete annotation file (run `iqabench datasets check`)"
        )
    files = find_split_files(folder)
    arrays = {p: load_split_array(f) for p, f in files.items()}
    n_splits = {p: a.shape[0] for p, a in arrays.items()}
    if len(set(n_splits.values())) != 1:
        shown = ", ".join(f"{p}.npy {k}" for p, k in n_splits.items())
        raise IQABenchError(
            f"ARNIQA split files in {str(folder)!r} hold different numbers of splits ({shown})"
        )
    ids = np.asarray(row_ids, dtype=object)
    in_index = set(index["image_id"].astype(str))
    table = pd.DataFrame({"image_id": ids})
    dropped = 0
    for k in range(arrays["train"].shape[0]):
        column = np.full(n, "", dtype=object)
        for part in PARTS:
            rows = arrays[part][k]
            dropped += int((rows == PAD).sum())
            rows = rows[rows != PAD]
            bad = rows[(rows < 0) | (rows >= n)]
            if bad.size:
                raise IQABenchError(
                    f"ARNIQA split file {str(files[part])!r} split {k + 1}: row index {int(bad[0])} is outside "
                    f"0..{n - 1} ({ds.name!r} has {n} rows)"
                )
            rows = np.unique(rows)
            clash = [r for r in rows.tolist() if column[r] not in ("", part)]
            if clash:
                raise IQABenchError(
                    f"ARNIQA split files in {str(folder)!r} split {k + 1}: row {clash[0]} ({ids[clash[0]]!r}) is in "
                    f"both {column[clash[0]]} and {part}"
                )
            column[rows] = part
        absent = [r for r in np.flatnonzero(column != "").tolist() if ids[r] not in in_index]
        if absent:
            r = absent[0]
            raise IQABenchError(
                f"ARNIQA split files in {str(folder)!r} split {k + 1}: row {r} ({ids[r]!r}) is in {column[r]}, but that "
                f"image is absent from this copy of {ds.name!r}"
            )
        expected_unused = ds.arniqa_left_out()
        if expected_unused is not None:
            unused = set(np.flatnonzero(column == "").tolist())
            if unused != expected_unused:
                raise IQABenchError(
                    f"ARNIQA split files in {str(folder)!r} split {k + 1} leave out rows {_rows(unused)}; ARNIQA's "
                    f"{ds.name!r} split leaves out rows {_rows(expected_unused)}: these are not ARNIQA's files for "
                    f"this annotation file"
                )
        table[f"split_{k + 1:02d}"] = column
    table = table[table["image_id"].isin(in_index)]
    table = table.sort_values("image_id", kind="mergesort").reset_index(drop=True)
    note = "" if documented else "; row order assumed"
    source = f"ARNIQA split files {Path(folder).name}/ over {order}{note}"
    return Splits(
        table,
        source,
        {"arniqa": str(folder), "order": order, "documented": documented, "padding_dropped": dropped},
    )


def _rows(rows: set[int], shown: int = 5) -> str:
    listed = sorted(rows)
    text = ", ".join(map(str, listed[:shown]))
    return f"{text} … ({len(listed)} rows)" if len(listed) > shown else text or "none"
