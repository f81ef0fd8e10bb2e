"""The split files shipped under ``datasets/splits/`` and how they are made.

For KADID-10k and TID2013 the file names are fixed by their authors, so the complete id lists
come from the documented naming schemes (KADID ``I01..I81 x 25 types x 5 levels``, TID2013
``i01..i25 x 24 x 5``) and the splits are :func:`iqabench.splits.generate_splits` with seed 0,
10 splits, 70/10/20 by reference. Regenerate with ``python -m iqabench.datasets._shipped``; a test
checks the shipped files equal this output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from iqabench.splits import Splits, generate_splits, write_splits_csv

from . import kadid10k, tid2013

FULL_ID_INDEX: dict[str, Callable[[], pd.DataFrame]] = {
    "kadid10k": kadid10k.full_id_index,
    "tid2013": tid2013.full_id_index,
}
FOLDER = Path(__file__).resolve().parent / "splits"


def build(name: str) -> Splits:
    return generate_splits(FULL_ID_INDEX[name](), n_splits=10, seed=0, by_reference=True)


def main() -> None:
    for name in FULL_ID_INDEX:
        target = FOLDER / f"{name}.csv"
        write_splits_csv(build(name), target)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
