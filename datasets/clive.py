"""LIVE In the Wild Image Quality Challenge (CLIVE; Ghadiyaram & Bovik): 1,162 images, MOS 0-100.

Layout (``ChallengeDB_release``): ``Images/*.bmp`` (the 7 training images in ``Images/trainingImages/``),
``Data/AllImages_release.mat`` (``AllImages_release``: 1,169 names) and ``Data/AllMOS_release.mat``
(``AllMOS_release``). The first 7 entries are the training images and are dropped, as is
conventional (pyiqa and the published splits count 1,162); index order = the remaining entries.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, authentic_row, index_frame, mat_numbers, mat_strings, read_mat

N_TRAINING = 7
NAMES = Path("Data") / "AllImages_release.mat"
MOS = Path("Data") / "AllMOS_release.mat"


@register_dataset("clive")
class CLIVE(AnnotatedDataset):
    description = "LIVE In the Wild (CLIVE): 1,162 in-the-wild images; MOS 0-100 (higher = better)"
    labels = {"mos": ScoreSpec("mos", True, (0.0, 100.0), "AllMOS_release of Data/AllMOS_release.mat")}
    folder_names = (
        "ChallengeDB_release",
        "CLIVE",
        "clive",
        "LIVEC",
        "livec",
        "LIVE_Challenge",
        "LIVEChallenge",
    )
    expected_count = 1162
    split_by_reference = False

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (
            (folder / NAMES).is_file()
            or (folder / MOS).is_file()
            or (folder / "Images" / "trainingImages").is_dir()
        )

    def annotation_files(self) -> list[Path]:
        return [self.root / NAMES, self.root / MOS]

    def arniqa_order(self) -> tuple[str, bool]:
        return (
            "AllImages_release.mat order without the 7 training images "
            "(ARNIQA does not document the order its CLIVE splits index)",
            False,
        )

    def read_index(self) -> pd.DataFrame:
        names_path, mos_path = self.root / NAMES, self.root / MOS
        names = mat_strings(
            self.name,
            names_path,
            "AllImages_release",
            read_mat(self.name, names_path, ["AllImages_release"])["AllImages_release"],
        )
        mos = mat_numbers(
            self.name,
            mos_path,
            "AllMOS_release",
            read_mat(self.name, mos_path, ["AllMOS_release"])["AllMOS_release"],
        )
        if len(names) != len(mos):
            raise self.error(
                f"{str(names_path)!r} lists {len(names)} images but {str(mos_path)!r} holds {len(mos)} scores"
            )
        if len(names) <= N_TRAINING:
            raise self.error(
                f"{str(names_path)!r} lists only {len(names)} images (the first {N_TRAINING} are training images)"
            )
        rows = []
        for i in range(N_TRAINING, len(names)):
            rel = f"Images/{names[i]}"
            rows.append(authentic_row(self.root, rel, mos[i], f"{str(mos_path)!r} entry {i + 1}"))
        return index_frame(rows)
