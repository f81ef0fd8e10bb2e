"""KADIS-700k pristine images: the pre-training pool of ARNIQA, Re-IQA and CONTRIQUE (no labels).

Layout: ``ref_imgs/*.png`` (140,000 pristine images; ARNIQA reads ``KADIS700/ref_imgs/*.png``).
Index order: file names sorted. There are no labels and no splits: the pool is training input.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, index_frame

FOLDER = "ref_imgs"


@register_dataset("kadis700k")
class KADIS700k(AnnotatedDataset):
    description = "KADIS-700k pristine images (ref_imgs/*.png): 140,000 unlabelled images for pre-training"
    labels = {}
    folder_names = ("KADIS700", "kadis700k", "KADIS-700k", "kadis700", "kadis")
    expected_count = 140000

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / FOLDER).is_dir()

    def read_index(self) -> pd.DataFrame:
        folder = self.root / FOLDER
        if not folder.is_dir():
            raise self.error(f"image folder {str(folder)!r} does not exist")
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".png"))
        if not names:
            raise self.error(f"image folder {str(folder)!r} holds no .png images")
        rows = [
            {
                "image_id": f"{FOLDER}/{n}",
                "path": str(folder / n),
                "score": None,
                "ref": None,
                "dist_type": None,
                "dist_group": None,
                "level": 0,  # pristine
                "ref_path": None,
                "_loc": None,
            }
            for n in names
        ]
        return index_frame(rows)
