"""KonIQ-10k (Hosu et al.): 10,073 in-the-wild images, MOS 1-5.

Layouts, both read:

* flat: ``1024x768/*.jpg`` (or ``512x384/``) and ``koniq10k_scores_and_distributions.csv`` in the
  dataset folder;
* the official zips as unpacked: ``koniq10k_1024x768/1024x768/*.jpg`` (``koniq10k_512x384/512x384/``)
  and ``koniq10k_scores_and_distributions/koniq10k_scores_and_distributions.csv``.

The scores file has ``image_name,c1..c5,c_total,MOS,SD,MOS_zscore``; index order = its rows. Labels:
``mos`` (default, column ``MOS``, the 1-5 scale) or ``mos_zscore`` (column ``MOS_zscore``, 0-100,
not a monotone function of MOS). ARNIQA's released KonIQ-10k regressor scales its output with the
range (1, 100), which implies ``MOS_zscore``; ARNIQA-derived KonIQ loaders (and HyperIQA) read
``MOS_zscore``. Images: option ``images=auto|1024x768|512x384`` (auto: 1024x768 where present);
ids are ``<resolution>/<name>`` whichever layout holds them, so split files work on either.

The official split is the ``set`` column (training/validation/test) of
``koniq10k_distributions_sets.csv`` (subpic/koniq ``metadata/``; its MOS is rescaled to 0-100 and
not used). Splits: ``split=random`` (default; 10 x 70/10/20 by image, as ARNIQA) or ``split=official``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset
from iqabench.splits import Splits

from ._common import AnnotatedDataset, authentic_row, first_existing, index_frame, read_table

SCORES = "koniq10k_scores_and_distributions.csv"
SCORES_ZIP = "koniq10k_scores_and_distributions"  # the folder the official scores zip unpacks to
SETS = "koniq10k_distributions_sets.csv"
RESOLUTIONS = ("1024x768", "512x384")
SET_PARTS = {"training": "train", "validation": "val", "test": "test"}
LABEL_COLUMNS = {"mos": "MOS", "mos_zscore": "MOS_zscore"}


@register_dataset("koniq10k")
class KonIQ10k(AnnotatedDataset):
    description = "KonIQ-10k: 10,073 in-the-wild images; MOS 1-5 (higher = better)"
    labels = {
        "mos": ScoreSpec("mos", True, (1.0, 5.0), f"column MOS of {SCORES} (1-5 scale)"),
        "mos_zscore": ScoreSpec(
            "mos_zscore",
            True,
            (0.0, 100.0),
            f"column MOS_zscore of {SCORES} (0-100; the scale ARNIQA's released KonIQ regressor range implies)",
        ),
    }
    folder_names = ("koniq10k", "KonIQ-10k", "KONIQ10K", "koniq-10k", "koniq")
    expected_count = 10073
    split_by_reference = False
    option_defaults = {"split": "random", "images": "auto"}

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (
            (folder / SCORES).is_file()
            or (folder / SCORES_ZIP / SCORES).is_file()
            or any(cls._image_folder(folder, r) is not None for r in RESOLUTIONS)
        )

    @staticmethod
    def _image_folder(root: Path, resolution: str) -> Path | None:
        """``<res>/`` or, as the official zip unpacks, ``koniq10k_<res>/<res>/`` (None if neither)."""
        for folder in (root / resolution, root / f"koniq10k_{resolution}" / resolution):
            if folder.is_dir():
                return folder
        return None

    def resolution(self) -> str:
        choice = self.option_choice("images", ("auto", *RESOLUTIONS))
        if choice == "auto":
            choice = next((r for r in RESOLUTIONS if self._image_folder(self.root, r)), RESOLUTIONS[0])
        return choice

    def scores_file(self) -> Path:
        return first_existing(self.root / SCORES, self.root / SCORES_ZIP / SCORES)

    def sets_file(self) -> Path:
        return first_existing(self.root / SETS, self.root / "metadata" / SETS, self.root / SCORES_ZIP / SETS)

    def annotation_files(self) -> list[Path]:
        files = [self.scores_file()]
        if self.option_choice("split", ("random", "official")) == "official":
            files.append(self.sets_file())
        return files

    def arniqa_order(self) -> tuple[str, bool]:
        return f"{SCORES} row order (ARNIQA does not document the order its KonIQ-10k splits index)", False

    def read_index(self) -> pd.DataFrame:
        column = LABEL_COLUMNS[self.label]
        table = read_table(self.name, self.scores_file(), ("image_name", column))
        res = self.resolution()
        folder = self._image_folder(self.root, res) or self.root / res
        rows = []
        for name, score, loc in zip(table["image_name"], table[column], table["_loc"]):
            row = authentic_row(self.root, f"{res}/{name.strip()}", score, loc)
            row["path"] = str(folder / name.strip())
            rows.append(row)
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
