"""Waterloo Exploration Database (Ma et al., TIP 2017): 4,744 pristine + 94,880 distorted images, no MOS.

Layout: ``pristine_images/NNNNN.bmp`` and ``distorted_images/`` in either known variant:

* (a) ``distorted_images/<type>/<NNNNN>_<level>.bmp`` with type folders ``jpeg``, ``jp2k``, ``wn``,
  ``gblur`` (some copies: ``gblurConv``);
* (b) ``distorted_images/<t>/<l>/<NNNNN>.bmp`` with t in 1..4 and l in 1..5.

Index order is the gMAD toolbox order: for each pristine image in sorted order, the pristine image
(level 0), then type 1 levels 1-5, type 2 …, type 4. Type numbering (also the folders of (b)):
1 JPEG, 2 JPEG2000, 3 white Gaussian noise, 4 Gaussian blur, the order of the paper's list
(unverified against the archive's own code). Level: higher = worse; there is no MOS.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, index_frame

PRISTINE = "pristine_images"
DISTORTED = "distorted_images"
TYPES = ("jpeg", "jp2k", "wn", "gblur")  # type 1..4 (gMAD order; see module doc)
# Waterloo type -> closest KADID-10k group.
TYPE_GROUPS = {
    "jpeg": "jpeg",  # JPEG compression (#10)
    "jp2k": "jpeg",  # JPEG2000 compression (#9), KADID's compression group
    "wn": "noise",  # white Gaussian noise (#11)
    "gblur": "blur",  # Gaussian blur (#1)
}
N_PRISTINE, N_DISTORTED = 4744, 94880
LEVELS = range(1, 6)


@register_dataset("waterloo")
class Waterloo(AnnotatedDataset):
    description = (
        "Waterloo Exploration: 4,744 pristine + 94,880 distorted images (4 types x 5 levels); no MOS"
    )
    labels = {}
    folder_names = (
        "exploration_database_and_code",
        "WaterlooExploration",
        "waterloo",
        "Waterloo",
        "waterloo_exploration",
    )
    expected_count = N_PRISTINE + N_DISTORTED
    expected_pristine = N_PRISTINE
    expected_distorted = N_DISTORTED
    type_groups = TYPE_GROUPS

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / PRISTINE).is_dir()

    def layout(self) -> tuple[str, dict[str, str]]:
        """("a" or "b", {type: folder relative to the root})."""
        dist = self.root / DISTORTED
        if not dist.is_dir():
            raise self.error(f"folder {str(dist)!r} does not exist")
        subdirs = {n.lower(): n for n in os.listdir(dist) if (dist / n).is_dir()}
        blur = subdirs.get("gblur") or subdirs.get("gblurconv")
        if all(t in subdirs for t in TYPES[:3]) and blur:
            folders = {t: f"{DISTORTED}/{subdirs[t]}" for t in TYPES[:3]}
            folders["gblur"] = f"{DISTORTED}/{blur}"
            return "a", folders
        if all(str(t) in subdirs for t in range(1, 5)):
            return "b", {t: f"{DISTORTED}/{k}" for k, t in enumerate(TYPES, start=1)}
        found = ", ".join(sorted(subdirs.values())) or "nothing"
        raise self.error(
            f"{str(dist)!r} holds neither known layout (type folders jpeg, jp2k, wn, gblur; or 1..4 with level "
            f"folders 1..5); found: {found}"
        )

    def read_index(self) -> pd.DataFrame:
        pristine = self.root / PRISTINE
        if not pristine.is_dir():
            raise self.error(f"folder {str(pristine)!r} does not exist")
        names = sorted(n for n in os.listdir(pristine) if n.lower().endswith(".bmp"))
        if not names:
            raise self.error(f"folder {str(pristine)!r} holds no .bmp images")
        variant, folders = self.layout()
        rows = []
        for name in names:
            stem = Path(name).stem
            ref_rel = f"{PRISTINE}/{name}"
            rows.append(self._row(ref_rel, stem, None, 0, None))
            for kind in TYPES:
                for level in LEVELS:
                    if variant == "a":
                        rel = f"{folders[kind]}/{stem}_{level}.bmp"
                    else:
                        rel = f"{folders[kind]}/{level}/{name}"
                    rows.append(self._row(rel, stem, kind, level, str(self.root / ref_rel)))
        return index_frame(rows)

    def _row(self, rel: str, ref: str, kind: str | None, level: int, ref_path: str | None) -> dict:
        return {
            "image_id": rel,
            "path": str(self.root / rel),
            "score": None,
            "ref": ref,
            "dist_type": kind,
            "dist_group": TYPE_GROUPS[kind] if kind else None,
            "level": level,
            "ref_path": ref_path,
            "_loc": None,
        }

    def count_problems(self, index: pd.DataFrame) -> list[str]:
        n_pristine = int((index["level"] == 0).sum())
        n_distorted = int(len(index) - n_pristine)
        out = []
        if n_pristine != self.expected_pristine:
            out.append(
                f"the copy has {n_pristine} pristine images; a complete copy has {self.expected_pristine}"
            )
        if n_distorted != self.expected_distorted:
            out.append(
                f"the copy lists {n_distorted} distorted images; a complete copy has {self.expected_distorted}"
            )
        return out
