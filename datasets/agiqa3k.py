"""AGIQA-3K (Li et al., IEEE TCSVT 2023): 2,982 AI-generated images, perceptual and alignment MOS.

Layout: the authors' ``data.csv`` (github.com/lcysyzxdxc/AGIQA-3k-Database; columns
``name,prompt,adj1,adj2,style,mos_quality,std_quality,mos_align,std_align``, prompts with commas
quoted) and the images of the download, ``<generator>_<setting>_<NNN>.jpg``, either beside
``data.csv`` or in ``images/`` or ``img/`` (the folders public loaders read; the first of
``images/``, ``img/`` that exists is used, else the dataset folder). Index order = ``data.csv`` rows.
Ids are the file names as listed (``AttnGAN_normal_000.jpg``), whichever folder holds the images.

Labels: ``mos_quality`` (default: perceptual quality) or ``mos_align`` (text-to-image alignment);
ratings were given on a continuous 0-5 scale; higher = better.

Splits: the 2,982 images come from 300 prompts, each given to every generator setting (the
``NNN`` of a name is its prompt's number), so the images of one prompt share their content.
``split=prompt`` (default) keeps them together: the index's ``ref`` is the prompt text and the generated splits are
10 x 70/10/20 by prompt, no prompt in two parts (as JunFu1995/CLIP-AGIQA groups AGIQA-3K by
prompt). ``split=image`` splits by image instead, as ARNIQA does for authentic datasets: prompts
then cross parts, and ``ref`` is left empty so that no result claims content-disjoint splits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, authentic_row, index_frame, read_table

LABELS = "data.csv"
IMAGE_FOLDERS = ("images", "img")  # checked in this order; else the images sit beside data.csv
SPLITS = ("prompt", "image")
LABEL_COLUMNS = ("mos_quality", "mos_align")
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9.]+_[a-z]+_\d{3}\.jpg$")  # <generator>_<setting>_<NNN>.jpg


@register_dataset("agiqa3k")
class AGIQA3K(AnnotatedDataset):
    description = (
        "AGIQA-3K: 2,982 AI-generated images of 300 prompts; perceptual (default) or alignment MOS 0-5 "
        "(higher = better); split by prompt"
    )
    labels = {
        "mos_quality": ScoreSpec(
            "mos_quality", True, (0.0, 5.0), f"column mos_quality of {LABELS}: perceptual quality"
        ),
        "mos_align": ScoreSpec(
            "mos_align", True, (0.0, 5.0), f"column mos_align of {LABELS}: text-to-image alignment"
        ),
    }
    folder_names = ("AGIQA-3K", "AGIQA3K", "agiqa-3k", "agiqa3k", "AGIQA-3k-Database")
    expected_count = 2982
    expected_refs = 300  # prompts (the content groups of split=prompt)
    option_defaults = {"split": "prompt"}

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        """data.csv with an AGIQA-3K header, or (data.csv missing) the release's images."""
        try:
            with open(folder / LABELS, encoding="utf-8-sig", errors="replace") as f:
                header = f.readline()
            return any(column in header for column in LABEL_COLUMNS)
        except OSError:
            pass
        for images in (folder / d for d in (*IMAGE_FOLDERS, ".")):
            try:
                with os.scandir(images) as entries:
                    if any(_IMAGE_NAME.match(e.name) for e in entries):
                        return True
            except OSError:
                continue
        return False

    @property
    def split_by_reference(self) -> bool:  # type: ignore[override]  # the prompt is the reference
        return self.option_choice("split", SPLITS) == "prompt"

    def image_folder(self) -> Path:
        return next((self.root / d for d in IMAGE_FOLDERS if (self.root / d).is_dir()), self.root)

    def annotation_files(self) -> list[Path]:
        return [self.root / LABELS]

    def read_index(self) -> pd.DataFrame:
        by_prompt = self.split_by_reference
        path = self.root / LABELS
        table = read_table(self.name, path, ("name", "prompt", self.label))
        folder = self.image_folder()
        rows = []
        for name, prompt, score, loc in zip(table["name"], table["prompt"], table[self.label], table["_loc"]):
            name = name.strip()
            if not name or "/" in name or "\\" in name:
                raise self.error(f"{loc}: name {name!r} is not an image file name")
            row = authentic_row(self.root, name, score, loc)
            row["path"] = str(folder / name)
            if by_prompt:
                if not prompt.strip():
                    raise self.error(
                        f"{loc}: image {name!r} has no prompt, and images are grouped by prompt "
                        "(--dataset-option split=image splits by image)"
                    )
                row["ref"] = prompt.strip()
            rows.append(row)
        return index_frame(rows)
