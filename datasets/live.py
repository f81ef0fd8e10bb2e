"""LIVE IQA Release 2 (Sheikh, Sabir, Bovik): 779 distorted images of 29 references, DMOS labels.

Two layouts are read:

* the authors' release: folders ``jp2k jpeg wn gblur fastfading refimgs`` with ``imgN.bmp``, and
  ``dmos.mat`` (``dmos``, ``orgs``), ``dmos_realigned.mat`` (``dmos_new``, ``orgs``) and
  ``refnames_all.mat`` (``refnames_all``): 982 entries in the order jp2k 1-227, jpeg 228-460,
  wn 461-634, gblur 635-808, fastfading 809-982; entry i of a folder is ``img<i>.bmp``; the 203
  entries with ``orgs == 1`` are copies of the references and are dropped;
* icbcbicc's ``LIVE.txt`` (``dis_img_path,dis_type,ref_img_path,score``, paths starting with
  ``LIVE/``, realigned DMOS), the file ARNIQA's split files index.

Both give the same 779 rows in the same order (jp2k, jpeg, wn, gblur, fastfading). With
``annotations=auto`` the .mat files are used when every one the label needs is present (they alone
hold the original DMOS), else ``LIVE.txt``: Release 2 ships ``refnames_all.mat`` and ``dmos.mat``
while the realigned DMOS is a separate download, so a copy with ``LIVE.txt`` (the layout of ARNIQA's
README) but no ``dmos_realigned.mat`` is common. Option ``annotations=mat|txt`` forces one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, index_frame, mat_numbers, mat_strings, read_mat, read_table

# Folder sizes of Release 2, in .mat entry order.
MAT_LAYOUT = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))

# LIVE type (folder) -> closest KADID-10k group.
TYPE_GROUPS = {
    "jp2k": "jpeg",  # JPEG2000 compression: KADID's compression group (#9 JPEG2000)
    "jpeg": "jpeg",  # JPEG compression (#10)
    "wn": "noise",  # white Gaussian noise (#11)
    "gblur": "blur",  # Gaussian blur (#1)
    "fastfading": "jpeg",  # JPEG2000 bitstreams through a Rayleigh fast-fading channel: compression errors
}
_IMAGE = re.compile(r"^(jp2k|jpeg|wn|gblur|fastfading)/img(\d+)\.bmp$", re.IGNORECASE)
TXT_COLUMNS = ("dis_img_path", "dis_type", "ref_img_path", "score")


@register_dataset("live")
class LIVE(AnnotatedDataset):
    description = "LIVE IQA Release 2: 779 images, 29 references, 5 distortion types; DMOS (lower = better)"
    labels = {
        "dmos_realigned": ScoreSpec(
            "dmos_realigned",
            False,
            (0.0, 100.0),
            "realigned DMOS (dmos_new of dmos_realigned.mat, score of LIVE.txt)",
        ),
        "dmos": ScoreSpec("dmos", False, (0.0, 100.0), "original DMOS (dmos of dmos.mat)"),
    }
    default_label = "dmos_realigned"  # as ARNIQA, HyperIQA, UNIQUE
    # Realignment leaves the 0-100 scale (observed -2.64..111.8 in the release); the original DMOS
    # gets the same bounds (its observed range is not in the reference material).
    label_bounds = {"dmos_realigned": (-5.0, 115.0), "dmos": (-5.0, 115.0)}
    folder_names = ("LIVE", "databaserelease2", "LIVEIQA_release2", "live")
    expected_count = 779
    expected_refs = 29
    option_defaults = {"annotations": "auto"}
    type_groups = TYPE_GROUPS
    # The .mat entry layout; a class attribute so that tests can describe a tiny copy.
    mat_layout: ClassVar[tuple[tuple[str, int], ...]] = MAT_LAYOUT

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        files = ("dmos_realigned.mat", "dmos.mat", "refnames_all.mat", "LIVE.txt")
        return folder.is_dir() and (
            any((folder / f).is_file() for f in files)
            or ((folder / "refimgs").is_dir() and (folder / "fastfading").is_dir())
        )

    # -- which files ----------------------------------------------------------------------------
    def _mat_files(self) -> list[Path]:
        scores = "dmos.mat" if self.label == "dmos" else "dmos_realigned.mat"
        return [self.root / scores, self.root / "refnames_all.mat"]

    def mode(self) -> str:
        choice = self.option_choice("annotations", ("auto", "mat", "txt"))
        all_mat = all(f.is_file() for f in self._mat_files())
        txt = (self.root / "LIVE.txt").is_file()
        if choice == "auto":
            if not all_mat and not txt:
                names = " and ".join(f.name for f in self._mat_files())
                raise self.error(
                    f"no complete annotation files in {str(self.root)!r}: needs {names} (the release) or LIVE.txt"
                )
            choice = "mat" if all_mat else "txt"
        if choice == "txt" and self.label == "dmos":
            raise self.error(
                "label 'dmos' (original DMOS) needs dmos.mat; LIVE.txt holds only the realigned DMOS"
            )
        return choice

    def annotation_files(self) -> list[Path]:
        return self._mat_files() if self.mode() == "mat" else [self.root / "LIVE.txt"]

    def arniqa_order(self) -> tuple[str, bool]:
        if self.mode() == "txt":
            return "LIVE.txt row order", True
        return (
            f"{self._mat_files()[0].name} entry order without the reference copies (= LIVE.txt order)",
            True,
        )

    # -- reading --------------------------------------------------------------------------------
    def read_index(self) -> pd.DataFrame:
        return self._read_mat() if self.mode() == "mat" else self._read_txt()

    def _row(self, folder: str, number: int, score, ref_name: str, loc: str) -> dict:
        ref = Path(ref_name).stem
        return {
            "image_id": f"{folder}/img{number}.bmp",
            "path": str(self.root / folder / f"img{number}.bmp"),
            "score": score,
            "ref": ref,
            "dist_type": folder,
            "dist_group": TYPE_GROUPS[folder],
            "level": None,  # LIVE has continuous distortion parameters, no levels
            "ref_path": str(self.root / "refimgs" / f"{ref}.bmp"),
            "_loc": loc,
        }

    def _read_mat(self) -> pd.DataFrame:
        scores_path, names_path = self._mat_files()
        key = "dmos" if self.label == "dmos" else "dmos_new"
        mat = read_mat(self.name, scores_path, [key, "orgs"])
        scores = mat_numbers(self.name, scores_path, key, mat[key])
        orgs = mat_numbers(self.name, scores_path, "orgs", mat["orgs"])
        names = mat_strings(
            self.name,
            names_path,
            "refnames_all",
            read_mat(self.name, names_path, ["refnames_all"])["refnames_all"],
        )
        total = sum(n for _, n in self.mat_layout)
        for path, what, n in (
            (scores_path, key, len(scores)),
            (scores_path, "orgs", len(orgs)),
            (names_path, "refnames_all", len(names)),
        ):
            if n != total:
                raise self.error(
                    f"{str(path)!r} variable {what!r} has {n} entries; LIVE Release 2 lists {total}"
                )
        bad = [i for i, o in enumerate(orgs) if o not in (0.0, 1.0)]
        if bad:
            raise self.error(f"{str(scores_path)!r} orgs entry {bad[0] + 1} is {orgs[bad[0]]:g}, not 0 or 1")
        rows = []
        i = 0
        for folder, size in self.mat_layout:
            for number in range(1, size + 1):
                if orgs[i] == 0.0:
                    loc = f"{str(scores_path)!r} entry {i + 1}"
                    rows.append(self._row(folder, number, scores[i], names[i], loc))
                i += 1
        return index_frame(rows)

    def _read_txt(self) -> pd.DataFrame:
        path = self.root / "LIVE.txt"
        table = read_table(self.name, path, TXT_COLUMNS)
        rows = []
        for image, ref_image, score, loc in zip(
            table["dis_img_path"], table["ref_img_path"], table["score"], table["_loc"]
        ):
            rel = _strip_prefix(image)
            match = _IMAGE.match(rel)
            if not match:
                raise self.error(f"{loc}: {image!r} is not a LIVE image path (<folder>/imgN.bmp)")
            folder = match.group(1).lower()
            rows.append(
                self._row(folder, int(match.group(2)), score, Path(ref_image.replace("\\", "/")).name, loc)
            )
        return index_frame(rows)


def _strip_prefix(path: str) -> str:
    """``LIVE/jp2k/img1.bmp`` -> ``jp2k/img1.bmp``: the first component names the dataset folder."""
    parts = [p for p in path.strip().replace("\\", "/").split("/") if p not in ("", ".")]
    if len(parts) > 2:
        parts = parts[-2:]
    return "/".join(parts)
