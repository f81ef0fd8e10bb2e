"""CSIQ (Larson & Chandler): 866 distorted images of 30 references, DMOS in 0-1.

Layout: ``src_imgs/<ref>.png``, ``dst_imgs/<type>/<ref>.<TOKEN>.<level>.png``; folder and file
name case differs between copies (e.g. ``dst_imgs/AWGN/`` in icbcbicc's), so files are found
case-insensitively. Labels from either

* icbcbicc's ``CSIQ.txt`` (``dis_img_path,dis_type,ref_img_path,score``): the file ARNIQA's split
  files index, used when present (its row order is what imported ARNIQA splits refer to), or
* the authors' ``csiq.DMOS.xlsx``, sheet ``all_by_image`` (``image, dst_idx, dst_type, dst_lev,
  dmos_std, dmos``), in its row order.

Image ids are the canonical release paths ``dst_imgs/<type>/<ref>.<TOKEN>.<level>.png`` with the
lower-case type folders of the release, whatever the case on disk, so split files work on any copy.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, CaseResolver, cell_text, index_frame, read_excel_sheet, read_table

# type folder -> (file-name token, KADID group). Groups: the closest KADID-10k group.
TYPES = {
    "awgn": ("AWGN", "noise"),  # additive white Gaussian noise (#11 white noise)
    "jpeg": ("JPEG", "jpeg"),  # JPEG compression (#10)
    "jpeg2000": ("jpeg2000", "jpeg"),  # JPEG2000 compression (#9)
    "fnoise": ("fnoise", "noise"),  # additive pink (1/f) Gaussian noise: a noise type
    "blur": ("BLUR", "blur"),  # Gaussian blur (#1)
    "contrast": ("contrast", "sharpness_contrast"),  # global contrast decrements (#25 contrast change)
}
TYPE_GROUPS = {t: g for t, (_, g) in TYPES.items()}
# dst_type values of csiq.DMOS.xlsx -> type folder.
XLSX_TYPES = {
    "noise": "awgn",
    "awgn": "awgn",
    "jpeg": "jpeg",
    "jpeg 2000": "jpeg2000",
    "jpeg2000": "jpeg2000",
    "fnoise": "fnoise",
    "blur": "blur",
    "contrast": "contrast",
}
TOKENS = {tok.lower(): t for t, (tok, _) in TYPES.items()}
TXT_COLUMNS = ("dis_img_path", "dis_type", "ref_img_path", "score")
XLSX_COLUMNS = ("image", "dst_type", "dst_lev", "dmos")


@register_dataset("csiq")
class CSIQ(AnnotatedDataset):
    description = "CSIQ: 866 images, 30 references, 6 distortion types; DMOS 0-1 (lower = better)"
    labels = {
        "dmos": ScoreSpec("dmos", False, (0.0, 1.0), "DMOS (csiq.DMOS.xlsx column dmos, CSIQ.txt score)")
    }
    folder_names = ("CSIQ", "csiq")
    expected_count = 866
    expected_refs = 30
    option_defaults = {"annotations": "auto"}
    type_groups = TYPE_GROUPS

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        if not folder.is_dir():
            return False
        names = {p.name.lower() for p in folder.iterdir()}
        return "csiq.dmos.xlsx" in names or "csiq.txt" in names or {"src_imgs", "dst_imgs"} <= names

    def mode(self) -> str:
        choice = self.option_choice("annotations", ("auto", "xlsx", "txt"))
        if choice == "auto":
            if not self._txt().is_file() and not self._xlsx().is_file():
                raise self.error(
                    f"no annotation file in {str(self.root)!r}: needs csiq.DMOS.xlsx or CSIQ.txt"
                )
            choice = "txt" if self._txt().is_file() else "xlsx"
        return choice

    def _txt(self) -> Path:
        return CaseResolver(self.root).path("CSIQ.txt")

    def _xlsx(self) -> Path:
        return CaseResolver(self.root).path("csiq.DMOS.xlsx")

    def annotation_files(self) -> list[Path]:
        return [self._txt() if self.mode() == "txt" else self._xlsx()]

    def arniqa_order(self) -> tuple[str, bool]:
        if self.mode() != "txt":
            raise self.error(
                f"ARNIQA's CSIQ splits index the rows of icbcbicc's CSIQ.txt; put CSIQ.txt in {str(self.root)!r} "
                "(the row order of csiq.DMOS.xlsx is not known to match it)"
            )
        return "CSIQ.txt row order", True

    def read_index(self) -> pd.DataFrame:
        files = CaseResolver(self.root)
        if self.mode() == "txt":
            table = read_table(self.name, self._txt(), TXT_COLUMNS)
            parsed = []
            for image, score, loc in zip(table["dis_img_path"], table["score"], table["_loc"]):
                name = image.strip().replace("\\", "/").rsplit("/", 1)[-1]
                parts = name.rsplit(".", 3)
                if len(parts) != 4 or parts[1].lower() not in TOKENS or not parts[2].isdigit():
                    raise self.error(
                        f"{loc}: {image!r} does not follow the CSIQ naming <ref>.<TYPE>.<level>.png"
                    )
                parsed.append((parts[0], TOKENS[parts[1].lower()], int(parts[2]), score, loc))
        else:
            table = read_excel_sheet(self.name, self._xlsx(), XLSX_COLUMNS, sheet="all_by_image")
            parsed = []
            for ref, dst_type, level, score, loc in zip(
                table["image"], table["dst_type"], table["dst_lev"], table["dmos"], table["_loc"]
            ):
                kind = XLSX_TYPES.get(cell_text(dst_type).lower())
                lev = cell_text(level)
                if kind is None:
                    raise self.error(
                        f"{loc}: unknown dst_type {dst_type!r} (known: {', '.join(sorted(XLSX_TYPES))})"
                    )
                if not lev.isdigit():
                    raise self.error(f"{loc}: dst_lev {level!r} is not a level number")
                parsed.append((cell_text(ref), kind, int(lev), score, loc))
        rows = []
        for ref, kind, level, score, loc in parsed:
            if not 1 <= level <= 5:
                raise self.error(f"{loc}: level {level} is outside 1..5")
            rel = f"dst_imgs/{kind}/{ref}.{TYPES[kind][0]}.{level}.png"
            rows.append(
                {
                    "image_id": rel,
                    "path": str(files.path(rel)),
                    "score": score,
                    "ref": ref,
                    "dist_type": kind,
                    "dist_group": TYPES[kind][1],
                    "level": level,
                    "ref_path": str(files.path(f"src_imgs/{ref}.png")),
                    "_loc": loc,
                }
            )
        return index_frame(rows)
