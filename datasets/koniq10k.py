"""KonIQ-10k (Hosu et al.): 10,073 in-the-wild images, MOS 1-5.

Layout: ``1024x768/*.jpg`` (or the ``512x384/`` release), ``koniq10k_scores_and_distributions.csv``
(``image_name,c1..c5,c_total,MOS,SD,MOS_zscore``; label = ``MOS`` on the 1-5 scale, in that file's
row order). The official split is the ``set`` column (training/validation/test) of
``koniq10k_distributions_sets.csv`` (subpic/koniq ``metadata/``; its MOS is rescaled to 0-100 and
not used). Splits: ``split=random`` (default; 10 x 70/10/20 by image, as ARNIQA) or ``split=official``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset
from iqabench.splits import Splits

from ._common import AnnotatedDataset, authentic_row, index_frame, read_table

SCORES = "koniq10k_scores_and_distributions.csv"
SETS = "koniq10k_distributions_sets.csv"
RESOLUTIONS = ("1024x768", "512x384")
SET_PARTS = {"training": "train", "validation": "val", "test": "test"}


@register_dataset("koniq10k")
class KonIQ10k(AnnotatedDataset):
    description = "KonIQ-10k: 10,073 in-the-wild images; MOS 1-5 (higher = better)"
    labels = {"mos": ScoreSpec("mos", True, (1.0, 5.0), f"MOS of {SCORES} (1-5 scale)")}
    folder_names = ("koniq10k", "KonIQ-10k", "KONIQ10K", "koniq-10k", "koniq")
    expected_count = 10073
    split_by_reference = False
    option_defaults = {"split": "random", "images": "auto"}

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / SCORES).is_file() or any((folder / r).is_dir() for r in RESOLUTIONS)

    def resolution(self) -> str:
        choice = self.option_choice("images", ("auto", *RESOLUTIONS))
        if choice == "auto":
            choice = next((r for r in RESOLUTIONS if (self.root / r).is_dir()), RESOLUTIONS[0])
        return choice

    def sets_file(self) -> Path:
        for candidate in (self.root / SETS, self.root / "metadata" / SETS):
            if candidate.is_file():
                return candidate
        return self.root / SETS

    def annotation_files(self) -> list[Path]:
        files = [self.root / SCORES]
        if self.option_choice("split", ("random", "official")) == "official":
            files.append(self.sets_file())
        return files

    def arniqa_order(self) -> tuple[str, bool]:
        return f"{SCORES} row order (ARNIQA does not document the order its KonIQ-10k splits index)", False

    def read_index(self) -> pd.DataFrame:
        table = read_table(self.name, self.root / SCORES, ("image_name", "MOS"))
        res = self.resolution()
        rows = [
            authentic_row(self.root, f"{res}/{name.strip()}", score, loc)
            for name, score, loc in zip(table["image_name"], table["MOS"], table["_loc"])
        ]
        return index_frame(rows)

    def make_splits(self, seed: int, n_splits: int) -> Splits:
        if self.option_choice("split", ("random", "official")) == "random":
            return super().make_splits(seed, n_splits)
        path = self.sets_file()
        table = read_table(self.name, path, ("image_name", "set"))
        res = self.resolution()
        part_of: dict[str, str] = {}
        for name, value, loc in zip(table["image_name"], table["set"], table["_loc"]):
            part = SET_PARTS.get(value.strip().lower())
            if part is None:
                raise self.error(f"{loc}: set {value!r} is not one of {', '.join(SET_PARTS)}")
            image = f"{res}/{name.strip()}"
            if image in part_of:
                raise self.error(f"{loc}: image {name!r} is listed twice")
            part_of[image] = part
        ids = sorted(self.index()["image_id"])
        unknown = sorted(set(part_of) - set(ids))
        if unknown:
            raise self.error(
                f"{str(path)!r} lists image {unknown[0].split('/', 1)[1]!r}, which is not in {SCORES}"
            )
        frame = pd.DataFrame({"image_id": ids, "split_01": [part_of.get(i, "") for i in ids]})
        return Splits(frame, f"official ({SETS} set column)", {"official": True})
