"""PIPAL (Gu et al., ECCV 2020; NTIRE 2021 perceptual IQA challenge), public training part:
23,200 images = 200 references x 116 distortions, Elo scores (higher = better).

Layouts, both read:

* the release (NTIRE 2021 training download): ``Train_Ref/A0001.bmp`` ..., the distorted images in
  ``Distortion_1/`` ... ``Distortion_4/`` (also accepted inside ``Distortion/``, as the authors'
  codebase arranges them) and ``Train_Label/A0001.txt`` ...: one file per reference, lines
  ``A0001_00_00.bmp,1520.0648`` without a header;
* pyiqa's re-packaging: every distorted image in ``Dist_Imgs/``, ``Train_Ref/``, and the labels in
  ``meta_info_PIPALDataset.csv`` (``hq_name,dist_name,elo_score``), in the dataset folder or in
  ``../meta_info/`` where pyiqa keeps it.

``Train_Label/`` is read where present, else the pyiqa file. Index order: label files in name
order, lines in file order (the order of pyiqa's file, which its scripts/process_pipal.py builds so).

Names are ``A<ref>_<type>_<index>.bmp``: 7 distortion types (``00``-``06``) with 12, 16, 10, 24,
13, 14 and 27 distortions each (116). Their names here (``trad``, ``trad_sr``, ``psnr_sr``,
``sr_mismatch``, ``gan_sr``, ``denoising``, ``sr_denoising``) are those of a public PIPAL loader's
comments; they map to none of KADID's 7 groups. ``index`` is a distortion within its type, not a
level. The release splits the references over the four folders (A0001-A0059, A0060-A0120,
A0121-A0184, A0185-A0248, as icbcbicc/IQA-Dataset's PIPAL.txt lists them); ids are
``Distortion_<k>/<name>`` in either layout, so split files work on both.

Elo ratings have no fixed scale: the nominal range 500-2500 is a plausibility band for
``datasets check`` (the public labels lie near 1000-1800), not the data's extent (pyiqa's
``mos_range: [0, 1]`` for PIPAL is not the Elo scale). Splits: 10 x 70/10/20 by reference (the
official validation and test parts have no public labels).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, first_existing, index_frame, read_table

LABEL_DIR = "Train_Label"
REF_DIR = "Train_Ref"
PYIQA_IMAGES = "Dist_Imgs"
PYIQA_LABELS = "meta_info_PIPALDataset.csv"
# type -> (name, number of distortions of that type)
TYPES = {
    0: ("trad", 12),
    1: ("trad_sr", 16),
    2: ("psnr_sr", 10),
    3: ("sr_mismatch", 24),
    4: ("gan_sr", 13),
    5: ("denoising", 14),
    6: ("sr_denoising", 27),
}
# Last reference number in Distortion_1 .. Distortion_4 of the release.
FOLDER_LAST_REF = (59, 120, 184, 248)
_NAME = re.compile(r"^(A\d{4})_(\d\d)_(\d\d)\.bmp$")


def release_folder(ref_number: int) -> str | None:
    """The release's distortion folder of reference ``A<ref_number>`` (None outside A0001-A0248)."""
    if ref_number < 1:
        return None
    return next((f"Distortion_{k}" for k, last in enumerate(FOLDER_LAST_REF, 1) if ref_number <= last), None)


@register_dataset("pipal")
class PIPAL(AnnotatedDataset):
    description = (
        "PIPAL (training part): 23,200 images, 200 references, 116 distortions; Elo (higher = better)"
    )
    labels = {
        "elo": ScoreSpec(
            "elo",
            True,
            (500.0, 2500.0),
            "Elo score (Train_Label/*.txt or pyiqa's elo_score); no fixed scale: the range is a plausibility band",
        )
    }
    folder_names = ("PIPAL", "pipal", "PIPAL_NTIRE2021", "NTIRE2021_PIPAL")
    expected_count = 23200
    expected_refs = 200

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / LABEL_DIR).is_dir() or (folder / REF_DIR).is_dir()

    def pyiqa_labels(self) -> Path:
        return first_existing(self.root / PYIQA_LABELS, self.root.parent / "meta_info" / PYIQA_LABELS)

    def annotation_files(self) -> list[Path]:
        """Train_Label/<ref>.txt for every label file and every reference image; else pyiqa's file."""
        labels = self.root / LABEL_DIR
        if labels.is_dir():
            refs = {p.stem for p in labels.glob("*.txt")}
            refs |= {p.stem for p in (self.root / REF_DIR).glob("*.bmp")}
            return [labels / f"{ref}.txt" for ref in sorted(refs)]
        if self.pyiqa_labels().is_file():
            return [self.pyiqa_labels()]
        raise self.error(
            f"no labels under {str(self.root)!r}: neither {LABEL_DIR}/ (the release) nor {PYIQA_LABELS} "
            f"(pyiqa; in the dataset folder or ../meta_info/)"
        )

    def read_index(self) -> pd.DataFrame:
        files = self.annotation_files()
        if files[0].parent.name == LABEL_DIR:
            tables = []
            for path in files:
                table = read_table(
                    self.name, path, ("dist_name", "elo"), header=False, names=("dist_name", "elo")
                )
                table["hq_name"] = f"{path.stem}.bmp"
                tables.append(table)
            table = pd.concat(tables, ignore_index=True)
            source = f"{LABEL_DIR} file"
        else:
            table = read_table(self.name, files[0], ("hq_name", "dist_name", "elo_score"))
            table = table.rename(columns={"elo_score": "elo"})
            source = "hq_name"
        locate = self._image_locator()
        rows = []
        for name, hq_name, score, loc in zip(
            table["dist_name"], table["hq_name"], table["elo"], table["_loc"]
        ):
            name = name.strip()
            match = _NAME.match(name)
            if not match:
                raise self.error(
                    f"{loc}: {name!r} does not follow the PIPAL naming A<ref>_<type>_<index>.bmp"
                )
            ref, kind, number = match.group(1), int(match.group(2)), int(match.group(3))
            folder = release_folder(int(ref[1:]))
            if kind not in TYPES or number >= TYPES[kind][1] or folder is None:
                raise self.error(
                    f"{loc}: {name!r} is not one of PIPAL's training images (A0001-A0248, 7 types)"
                )
            if hq_name.strip() != f"{ref}.bmp":
                raise self.error(
                    f"{loc}: image {name!r} is listed under reference {hq_name.strip()!r} ({source})"
                )
            rows.append(
                {
                    "image_id": f"{folder}/{name}",
                    "path": str(locate(folder, name)),
                    "score": score,
                    "ref": ref,
                    "dist_type": TYPES[kind][0],
                    "dist_group": None,
                    "level": None,
                    "ref_path": str(self.root / REF_DIR / f"{ref}.bmp"),
                    "_loc": loc,
                }
            )
        return index_frame(rows)

    def _image_locator(self):
        """(release folder, name) -> the file: found by listing the folders of either layout; a missing
        file is reported where this copy's layout keeps it."""
        nested = self.root / "Distortion"
        folders = [self.root / f"Distortion_{k}" for k in range(1, 5)] + [
            nested / f"Distortion_{k}" for k in range(1, 5)
        ]
        found: dict[str, Path] = {}
        for folder in [*folders, self.root / PYIQA_IMAGES]:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                found.setdefault(name, folder / name)
        pyiqa = (self.root / PYIQA_IMAGES).is_dir() and not any(f.is_dir() for f in folders)

        def locate(folder: str, name: str) -> Path:
            if name in found:
                return found[name]
            if pyiqa:
                return self.root / PYIQA_IMAGES / name
            return (nested if nested.is_dir() else self.root) / folder / name

        return locate
