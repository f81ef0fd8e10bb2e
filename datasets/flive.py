"""FLIVE / PaQ-2-PiQ (Ying et al.): 39,810 in-the-wild images, MOS 0-100.

Layout (niu-haoran/FLIVE_Database after its preparation notebook): ``database/`` with
``blur_dataset/``, ``voc_emotic_ava/``, ``EE371R/`` …, and ``labels_image.csv`` (``name,mos``; ``name``
relative to ``database/``; 39,810 rows), found in the dataset folder or in ``database/``. Index order
= that file's rows (what ARNIQA's split indexes).

Three images are missing from common preparations: ``EE371R/rq85.jpg``, ``rq59.jpg`` and
``rq73.jpg`` (rows 27259, 32645, 39625 of ``labels_image.csv``, counted from 0 as ARNIQA's split
files count; baidut/PaQ-2-PiQ distributes them separately under ``database/EE371R/``). ARNIQA's
split leaves out exactly those rows (39,807 of 39,810 used). When they are absent they are
tolerated and only they: named in a warning, left out of the index and so of every split, and
recorded in the dataset card (``left_out``) of every result. Any other missing image is an error.

Official split (the default, ``split=official``, as in the paper): train and val from
``labels=640_padded.csv`` (``name_image`` and ``is_valid``), test from ``labels640.csv``
(``name_image``); images in neither are unused. ``split=random`` gives 10 x 70/10/20 by image.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset
from iqabench.splits import Splits

from ._common import AnnotatedDataset, authentic_row, first_existing, index_frame, read_table

log = logging.getLogger("iqabench")

LABELS = "labels_image.csv"
TRAIN_VAL = "labels=640_padded.csv"
TEST = "labels640.csv"
TRUE = {"true", "1", "yes", "1.0"}
FALSE = {"false", "0", "no", "0.0"}
# Images common preparations lack -> their row in the released labels_image.csv (0-based, ARNIQA's count).
COMMONLY_ABSENT = {"EE371R/rq85.jpg": 27259, "EE371R/rq59.jpg": 32645, "EE371R/rq73.jpg": 39625}
ABSENT_WHY = "missing from common preparations of FLIVE; ARNIQA's split leaves it out too"


@register_dataset("flive")
class FLIVE(AnnotatedDataset):
    description = "FLIVE (PaQ-2-PiQ): 39,810 in-the-wild images; MOS 0-100 (higher = better); official split"
    labels = {"mos": ScoreSpec("mos", True, (0.0, 100.0), f"mos of {LABELS}")}
    folder_names = ("FLIVE", "FLIVE_Database", "flive", "PaQ-2-PiQ", "paq2piq")
    expected_count = 39810
    split_by_reference = False
    option_defaults = {"split": "official"}
    # name relative to database/ -> row; a class attribute so that tests can describe a tiny copy.
    commonly_absent: ClassVar[dict[str, int]] = COMMONLY_ABSENT

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

    # -- the three images common preparations lack ----------------------------------------------
    def absent_tolerated(self) -> dict[str, str]:
        return {f"database/{name}": f"row {row}" for name, row in self.commonly_absent.items()}

    def load_index(self) -> pd.DataFrame:
        frame = super().load_index()
        tolerated = self.absent_tolerated()
        gone = [
            i for i, (image_id, path) in enumerate(zip(frame["image_id"], frame["path"]))
            if image_id in tolerated and not os.path.isfile(path)
        ]
        self._left_out = frame.iloc[gone].reset_index(drop=True)
        if gone:
            names = ", ".join(f"{i} ({tolerated[i]})" for i in self._left_out["image_id"])
            log.warning(
                f"flive: {len(gone)} image(s) that common FLIVE preparations lack are absent and left out of "
                f"every split (recorded in the results): {names}"
            )
        return frame.drop(index=frame.index[gone]).reset_index(drop=True)

    def left_out(self) -> pd.DataFrame:
        self.index()
        return self._left_out

    def listed_index(self) -> pd.DataFrame:
        return pd.concat([self.index(), self.left_out()], ignore_index=True)

    def card(self) -> dict[str, Any]:
        card = super().card()
        tolerated = self.absent_tolerated()
        card["left_out"] = [
            {"image_id": i, "why": f"absent from this copy ({LABELS} {tolerated[i]}); {ABSENT_WHY}"}
            for i in self.left_out()["image_id"]
        ]
        return card

    def arniqa_rows(self) -> list[str]:
        """The image ids of the released labels_image.csv rows, which ARNIQA's split files index.

        Refuses a labels_image.csv that is not the released file (39,810 rows with the three
        images at their rows) or that file without exactly those three rows: any other file would
        shift ARNIQA's row indices onto other images."""
        ids = self.read_index()["image_id"].tolist()
        absent = sorted((row, f"database/{name}") for name, row in self.commonly_absent.items())
        path = self._file(LABELS)
        if len(ids) == self.expected_count:
            wrong = [(row, i) for row, i in absent if ids[row] != i]
            if wrong:
                row, image = wrong[0]
                raise self.error(
                    f"{str(path)!r} row {row} (counted from 0) is {ids[row]!r}, not {image!r} as in the released "
                    "file; ARNIQA's row indices would point at other images"
                )
            return ids
        if len(ids) == self.expected_count - len(absent) and not {i for _, i in absent} & set(ids):
            for row, image in absent:  # the released file's order: the three sit at their rows
                ids.insert(row, image)
            return ids
        raise self.error(
            f"{str(path)!r} lists {len(ids)} images; ARNIQA's FLIVE split indexes the {self.expected_count} rows "
            f"of the released file (a copy without {', '.join(i for _, i in absent)} has "
            f"{self.expected_count - len(absent)}); refusing, the row indices would point at other images"
        )

    def arniqa_left_out(self) -> set[int]:
        """Rows of the released file that ARNIQA's split files use in no part."""
        return set(self.commonly_absent.values())

    # -- splits ---------------------------------------------------------------------------------
    def make_splits(self, seed: int, n_splits: int) -> Splits:
        if self.option_choice("split", ("official", "random")) == "random":
            return super().make_splits(seed, n_splits)
        ids = self.index()["image_id"].tolist()
        known = set(ids)
        left_out = set(self.left_out()["image_id"])
        part_of: dict[str, str] = {}

        def assign(image: str, part: str, loc: str) -> None:
            rel = "database/" + _relative(image)
            if rel in left_out:
                return  # absent from this copy: excluded from every split
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
