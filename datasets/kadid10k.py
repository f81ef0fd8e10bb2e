"""KADID-10k (Lin, Hosu, Saupe): 10,125 images = 81 references x 25 distortion types x 5 levels.

Layout: ``images/`` holds the references ``I01.png``..``I81.png`` and the distorted images
``I<ref>_<type>_<level>.png``; ``dmos.csv`` (``dist_img,ref_img,dmos,var``) holds the labels in
the row order ARNIQA's split files index. Despite its name the ``dmos`` column is MOS-like:
1-5, higher = better. Ids: ``images/I01_01_01.png`` (the authors' names, which are fixed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, grid_index, index_frame, read_table

# KADID type id -> (name, group). The groups are KADID-10k's own 7 groups (= ARNIQA's degradation
# groups; ARNIQA drops #6 and #15, which stay in the groups the KADID paper gives them).
TYPES = {
    1: ("gaussian_blur", "blur"),
    2: ("lens_blur", "blur"),
    3: ("motion_blur", "blur"),
    4: ("color_diffusion", "color_distortion"),
    5: ("color_shift", "color_distortion"),
    6: ("color_quantization", "color_distortion"),
    7: ("color_saturation_1", "color_distortion"),
    8: ("color_saturation_2", "color_distortion"),
    9: ("jpeg2000", "jpeg"),
    10: ("jpeg", "jpeg"),
    11: ("white_noise", "noise"),
    12: ("white_noise_color_component", "noise"),
    13: ("impulse_noise", "noise"),
    14: ("multiplicative_noise", "noise"),
    15: ("denoise", "noise"),
    16: ("brighten", "brightness_change"),
    17: ("darken", "brightness_change"),
    18: ("mean_shift", "brightness_change"),
    19: ("jitter", "spatial_distortion"),
    20: ("non_eccentricity_patch", "spatial_distortion"),
    21: ("pixelate", "spatial_distortion"),
    22: ("quantization", "spatial_distortion"),
    23: ("color_block", "spatial_distortion"),
    24: ("high_sharpen", "sharpness_contrast"),
    25: ("contrast_change", "sharpness_contrast"),
}
TYPE_GROUPS = dict(TYPES.values())
N_REFS, N_TYPES, N_LEVELS = 81, 25, 5
_NAME = re.compile(r"^I(\d\d)_(\d\d)_(\d\d)\.png$")


def image_id(ref: int, kind: int, level: int) -> str:
    return f"images/I{ref:02d}_{kind:02d}_{level:02d}.png"


def full_id_index() -> pd.DataFrame:
    """Every image of a complete copy (ids and references) from the naming scheme, in dmos.csv order."""
    return grid_index(image_id, N_REFS, N_TYPES, N_LEVELS)


@register_dataset("kadid10k")
class KADID10k(AnnotatedDataset):
    description = (
        "KADID-10k: 10,125 images, 81 references, 25 distortion types x 5 levels; MOS 1-5 (higher = better)"
    )
    labels = {
        "mos": ScoreSpec("mos", True, (1.0, 5.0), "column 'dmos' of dmos.csv: MOS-like despite the name")
    }
    folder_names = ("KADID10K", "kadid10k", "KADID-10k", "kadid-10k")
    expected_count = 10125
    expected_refs = 81
    shipped_splits = "kadid10k.csv"
    type_groups = TYPE_GROUPS

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / "dmos.csv").is_file() or (folder / "images" / "I01.png").is_file()

    def annotation_files(self) -> list[Path]:
        return [self.root / "dmos.csv"]

    def arniqa_order(self) -> tuple[str, bool]:
        return "dmos.csv row order", True

    def read_index(self) -> pd.DataFrame:
        path = self.root / "dmos.csv"
        table = read_table(self.name, path, ("dist_img", "ref_img", "dmos"))
        rows = []
        for name, ref_name, score, loc in zip(
            table["dist_img"], table["ref_img"], table["dmos"], table["_loc"]
        ):
            match = _NAME.match(name.strip())
            if not match:
                raise self.error(
                    f"{loc}: {name!r} does not follow the KADID-10k naming I<ref>_<type>_<level>.png"
                )
            ref, kind, level = (int(g) for g in match.groups())
            if not (1 <= ref <= N_REFS and 1 <= kind <= N_TYPES and 1 <= level <= N_LEVELS):
                raise self.error(f"{loc}: {name!r} is outside 81 references x 25 types x 5 levels")
            if ref_name.strip() != f"I{ref:02d}.png":
                raise self.error(f"{loc}: ref_img {ref_name!r} does not match dist_img {name!r}")
            rel = image_id(ref, kind, level)
            rows.append(
                {
                    "image_id": rel,
                    "path": str(self.root / rel),
                    "score": score,
                    "ref": f"I{ref:02d}",
                    "dist_type": TYPES[kind][0],
                    "dist_group": TYPES[kind][1],
                    "level": level,
                    "ref_path": str(self.root / "images" / f"I{ref:02d}.png"),
                    "_loc": loc,
                }
            )
        return index_frame(rows)
