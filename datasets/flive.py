"""FLIVE / PaQ-2-PiQ (Ying et al.): about 39,800 in-the-wild images, MOS 0-100.

Layout (niu-haoran/FLIVE_Database after its preparation notebook): ``database/`` with
``blur_dataset/``, ``voc_emotic_ava/``, ``EE371R/`` …, and ``labels_image.csv`` (``name,mos``; ``name``
relative to ``database/``), found in the dataset folder or in ``database/``. Index order = that
file's rows (what ARNIQA's split indexes).

Official split (the default, ``split=official``, as in the paper): train and val from
``labels=640_padded.csv`` (``name_image`` and ``is_valid``), test from ``labels640.csv``
(``name_image``); images in neither are unused. ``split=random`` gives 10 x 70/10/20 by image.
No total is pinned: the number of rows differs between preparations (ARNIQA's split uses 39,807 of them).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset
from iqabench.splits import Splits

from ._common import AnnotatedDataset, authentic_row, first_existing, index_frame, read_table

LABELS = "labels_image.csv"
TRAIN_VAL = "labels=640_padded.csv"
TEST = "labels640.csv"
TRUE = {"true", "1", "yes", "1.0"}
FALSE = {"false", "0", "no", "0.0"}


@register_dataset("flive")
class FLIVE(AnnotatedDataset):
    description = "FLIVE (PaQ-2-PiQ): ~39.8k in-the-wild images; MOS 0-100 (higher = better); official split"
    labels = {"mos": ScoreSpec("mos", True, (0.0, 100.0), f"mos of {LABELS}")}
    folder_names = ("FLIVE", "FLIVE_Database", "flive", "PaQ-2-PiQ", "paq2piq")
    split_by_reference = False
    option_defaults = {"split": "official"}

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (
            (folder / LABELS).is_file()
            or (folder / "database" / LABELS).is_file()
            or (
                (folder / "database").is_dir()
                and any(
                    (folder / "database" / d).is_dir() for d in ("voc_emotic_ava", "blur_dataset", "EE371R")
                )
            )
        )

    def _file(self, name: str) -> Path:
        return first_existing(self.root / name, self.root / "database" / name)

    def annotation_files(self) -> list[Path]:
        files = [self._file(LABELS)]
        if self.option_choice("split", ("official", "random")) == "official":
            files += [self._file(TRAIN_VAL), self._file(TEST)]
        return files

    def arniqa_order(self) -> tuple[str, bool]:
        return f"{LABELS} row order", True

    def read_index(self) -> pd.DataFrame:
        table = read_table(self.name, self._file(LABELS), ("name", "mos"))
        rows = []
        for name, score, loc in zip(table["name"], table["mos"], table["_loc"]):
            rel = "database/" + _relative(name)
            rows.append(authentic_row(self.root, rel, score, loc))
        return index_frame(rows)

    def make_splits(self, seed: int, n_splits: int) -> Splits:
        if self.option_choice("split", ("official", "random")) == "random":
            return super().make_splits(seed, n_splits)
        ids = self.index()["image_id"].tolist()
        known = set(ids)
        part_of: dict[str, str] = {}

        def assign(image: str, part: str, loc: str) -> None:
            rel = "database/" + _relative(image)
            if rel not in known:
                raise self.error(f"{loc}: image {image!r} is not in {LABELS}")
            if part_of.get(rel, part) != part:
                raise self.error(f"{loc}: image {image!r} is in both {part_of[rel]} and {part}")
            part_of[rel] = part

        missing = [n for n in (TRAIN_VAL, TEST) if not self._file(n).is_file()]
        if missing:
            raise self.error(
                f"the official split needs {' and '.join(missing)} (PaQ-2-PiQ) in {str(self.root)!r} or its "
                "database/ folder; --dataset-option split=random gives 10 random 70/10/20 splits instead"
            )
        train_val = read_table(self.name, self._file(TRAIN_VAL), ("name_image", "is_valid"))
        for image, valid, loc in zip(train_val["name_image"], train_val["is_valid"], train_val["_loc"]):
            flag = valid.strip().lower()
            if flag not in TRUE | FALSE:
                raise self.error(f"{loc}: is_valid {valid!r} is not True or False")
            assign(image, "val" if flag in TRUE else "train", loc)
        test = read_table(self.name, self._file(TEST), ("name_image",))
        for image, loc in zip(test["name_image"], test["_loc"]):
            assign(image, "test", loc)
        ordered = sorted(ids)
        frame = pd.DataFrame({"image_id": ordered, "split_01": [part_of.get(i, "") for i in ordered]})
        return Splits(frame, f"official ({TRAIN_VAL} is_valid, {TEST})", {"official": True})


def _relative(name: str) -> str:
    """A FLIVE image name relative to ``database/`` (a leading ``database/`` is tolerated)."""
    rel = name.strip().replace("\\", "/").lstrip("/")
    return rel[len("database/") :] if rel.startswith("database/") else rel
