"""Waterloo Exploration Database (Ma et al., TIP 2017): 4,744 pristine + 94,880 distorted images, no MOS.

Layout: ``pristine_images/NNNNN.bmp`` and ``distorted_images/`` in either known variant:

* (a) ``distorted_images/<type>/<NNNNN>_<level>.bmp`` with type folders ``jpeg``, ``jp2k``, ``wn``,
  ``gblur`` (some copies: ``gblurConv``);
* (b) ``distorted_images/<t>/<l>/<NNNNN>.bmp`` with t in 1..4 and l in 1..5.

**Type order.** No public source states which type folders 1..4 of (b) hold, nor the type
numbering of the gMAD toolbox. The assumed order is the paper's list: 1 JPEG, 2 JPEG2000, 3 white
Gaussian noise, 4 Gaussian blur (``jpeg,jp2k,wn,gblur``). ``iqabench datasets check waterloo``
verifies it on the copy from image evidence (:mod:`._type_evidence`: 8×8 blockiness for JPEG,
high-frequency energy up for noise and down for blur and JPEG 2000, and for JPEG 2000 the part of
the distortion a Gaussian blur cannot explain, its ringing) and fails when the images contradict
it; ``--dataset-option type_order=...`` (a permutation of the four names) sets another. In layout
(a) the folder names give the types (the check verifies them too) and ``type_order`` only sets
the toolbox numbering.

Index order is the gMAD toolbox order: for each pristine image in sorted order, the pristine image
(level 0), then type 1 levels 1-5, type 2 …, type 4 (types numbered by the type order). Level:
higher = worse; there is no MOS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, index_frame
from ._type_evidence import LEVELS as EVIDENCE_LEVELS
from ._type_evidence import TYPES, classify, folder_evidence

PRISTINE = "pristine_images"
DISTORTED = "distorted_images"
ASSUMED_ORDER = ",".join(TYPES)  # the paper's list; unverified by any public source (module doc)
# Waterloo type -> closest KADID-10k group.
TYPE_GROUPS = {
    "jpeg": "jpeg",  # JPEG compression (#10)
    "jp2k": "jpeg",  # JPEG2000 compression (#9), KADID's compression group
    "wn": "noise",  # white Gaussian noise (#11)
    "gblur": "blur",  # Gaussian blur (#1)
}
N_PRISTINE, N_DISTORTED = 4744, 94880
LEVELS = range(1, 6)
EVIDENCE_REFS = 4  # pristine images sampled for the type evidence


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
    option_defaults = {"type_order": ASSUMED_ORDER}

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / PRISTINE).is_dir()

    def type_order(self) -> tuple[str, ...]:
        """The types of folders 1..4 (layout b) and of the gMAD toolbox's types 1..4."""
        order = tuple(t.strip() for t in str(self.options["type_order"]).split(","))
        if sorted(order) != sorted(TYPES):
            raise self.error(
                f"option 'type_order' must name each of {', '.join(TYPES)} once (folder 1 first), "
                f"got {self.options['type_order']!r}"
            )
        return order

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
            return "b", {t: f"{DISTORTED}/{k}" for k, t in enumerate(self.type_order(), start=1)}
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
            for kind in self.type_order():
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

    # -- the type order -------------------------------------------------------------------------
    def type_order_source(self) -> str:
        if self.options["type_order"] != ASSUMED_ORDER:
            return "option type_order"
        return "assumed: the paper's list"

    def card(self) -> dict[str, Any]:
        card = super().card()
        card["type_order"] = {
            "types": list(self.type_order()),
            "source": self.type_order_source(),
            "layout": self.layout()[0],
            "verified_by": "iqabench datasets check waterloo (image evidence)",
        }
        return card

    def verify_content(self, frame: pd.DataFrame) -> list[tuple[str, str]]:
        """Whether each type folder's images show that type (``datasets check`` runs this)."""
        variant, folders = self.layout()
        evidence = {}
        for kind in self.type_order():
            pairs = self._evidence_pairs(frame, kind)
            evidence[folders[kind]] = folder_evidence(pairs)
        seen = classify(evidence)
        label = {
            folders[k]: (f"folder {folders[k].rsplit('/', 1)[1]}" + (f" (taken as {k})" if variant == "b" else ""))
            for k in self.type_order()
        }
        lines = []
        for kind in self.type_order():
            folder = folders[kind]
            ev = evidence[folder]
            looks = seen[folder] or "unclear"
            lines.append(f"{label[folder]} looks like {looks}: {ev.describe() if ev else 'no readable image pairs'}")
        wrong = [k for k in self.type_order() if seen[folders[k]] and seen[folders[k]] != k]
        unclear = [k for k in self.type_order() if seen[folders[k]] is None]
        if not wrong and not unclear:
            what = "type order" if variant == "b" else "type folders"
            return [("note", f"{what} verified from the images: " + "; ".join(lines))]
        if wrong:
            head = (
                f"the images contradict the type order {','.join(self.type_order())} ({self.type_order_source()})"
                if variant == "b"
                else "the type folders do not hold the types they are named after"
            )
            if variant == "b" and not unclear:
                head += "; if the evidence is right, pass --dataset-option type_order=" + ",".join(
                    seen[folders[k]] for k in self.type_order()
                )
            return [("types", f"{head}: " + "; ".join(lines))]
        return [("types", "the type order cannot be verified from the images: " + "; ".join(lines))]

    def _evidence_pairs(self, frame: pd.DataFrame, kind: str) -> list[tuple[str, str]]:
        """(pristine, distorted) paths of a few evenly spaced references at the evidence levels."""
        rows = frame[(frame["dist_type"] == kind) & frame["level"].isin(EVIDENCE_LEVELS)]
        refs = sorted(rows["ref"].unique())
        if len(refs) > EVIDENCE_REFS:
            step = len(refs) / EVIDENCE_REFS
            refs = [refs[int(i * step)] for i in range(EVIDENCE_REFS)]
        chosen = rows[rows["ref"].isin(refs)]
        return list(zip(chosen["ref_path"].astype(str), chosen["path"].astype(str)))
