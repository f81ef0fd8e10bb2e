"""TID2013 (Ponomarenko et al.): 3000 images = 25 references x 24 distortion types x 5 levels, MOS 0-9.

Layout: ``distorted_images/iRR_TT_L.bmp``, ``reference_images/IRR.BMP`` and ``mos_with_names.txt``
(``<mos> <file name>`` per line, space separated, no header), whose row order ARNIQA's split files index.

Ids: a few distorted files are named with an upper-case ``I`` (and reference names vary in case,
e.g. ``i25.bmp``), so ids are normalised to the authors' documented scheme, lower case:
``distorted_images/i01_01_1.bmp``; the file on disk is found case-insensitively. Reference ids are
``I01``..``I25`` (the first name token upper-cased, as ARNIQA's reader does).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from iqabench.dataset import ScoreSpec
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, CaseResolver, grid_index, index_frame, require_file

# TID2013 type id -> (name, closest KADID-10k group).
TYPES = {
    1: ("additive_gaussian_noise", "noise"),
    2: ("color_component_noise", "noise"),  # noise stronger in colour components (KADID #12)
    3: ("spatially_correlated_noise", "noise"),
    4: ("masked_noise", "noise"),
    5: ("high_frequency_noise", "noise"),
    6: ("impulse_noise", "noise"),  # KADID #13
    7: ("quantization_noise", "spatial_distortion"),  # intensity quantisation = KADID #22 quantization
    8: ("gaussian_blur", "blur"),  # KADID #1
    9: ("image_denoising", "noise"),  # KADID's #15 denoise sits in its noise group
    10: ("jpeg", "jpeg"),
    11: ("jpeg2000", "jpeg"),
    12: ("jpeg_transmission_errors", "jpeg"),  # compression-stream errors: compression group
    13: ("jpeg2000_transmission_errors", "jpeg"),
    14: ("non_eccentricity_pattern_noise", "spatial_distortion"),  # KADID #20 non-eccentricity patch
    15: ("local_block_distortions", "spatial_distortion"),  # KADID #23 colour block
    16: ("mean_shift", "brightness_change"),  # KADID #18 mean shift
    17: ("contrast_change", "sharpness_contrast"),  # KADID #25
    18: ("color_saturation_change", "color_distortion"),  # KADID #7/#8
    19: ("multiplicative_gaussian_noise", "noise"),  # KADID #14
    20: ("comfort_noise", "noise"),
    21: ("lossy_compression_of_noisy_images", "jpeg"),  # a compression distortion
    22: ("color_quantization_with_dither", "color_distortion"),  # KADID #6 colour quantisation
    23: ("chromatic_aberrations", "color_distortion"),  # channel misalignment ~ KADID #5 colour shift
    24: ("sparse_sampling_and_reconstruction", "blur"),  # reconstruction loses fine detail: blur-like
}
TYPE_GROUPS = dict(TYPES.values())
N_REFS, N_TYPES, N_LEVELS = 25, 24, 5
_NAME = re.compile(r"^i(\d\d)_(\d\d)_(\d)\.bmp$", re.IGNORECASE)


def image_id(ref: int, kind: int, level: int) -> str:
    return f"distorted_images/i{ref:02d}_{kind:02d}_{level}.bmp"


def full_id_index() -> pd.DataFrame:
    """Every image of a complete copy (ids and references) from the naming scheme, in file order."""
    return grid_index(image_id, N_REFS, N_TYPES, N_LEVELS)


@register_dataset("tid2013")
class TID2013(AnnotatedDataset):
    description = (
        "TID2013: 3000 images, 25 references, 24 distortion types x 5 levels; MOS 0-9 (higher = better)"
    )
    labels = {"mos": ScoreSpec("mos", True, (0.0, 9.0), "MOS (mos_with_names.txt)")}
    folder_names = ("TID2013", "tid2013")
    expected_count = 3000
    expected_refs = 25
    shipped_splits = "tid2013.csv"
    type_groups = TYPE_GROUPS

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        return (folder / "mos_with_names.txt").is_file() or (
            (folder / "distorted_images").is_dir() and (folder / "reference_images").is_dir()
        )

    def annotation_files(self) -> list[Path]:
        return [self.root / "mos_with_names.txt"]

    def arniqa_order(self) -> tuple[str, bool]:
        return "mos_with_names.txt row order", True

    def read_index(self) -> pd.DataFrame:
        path = require_file(self.name, self.root / "mos_with_names.txt")
        files = CaseResolver(self.root)
        rows = []
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            loc = f"{str(path)!r} line {number}"
            fields = line.split()
            if len(fields) != 2:
                raise self.error(f"{loc}: expected '<mos> <file name>', got {line.strip()!r}")
            score, name = fields
            match = _NAME.match(name)
            if not match:
                raise self.error(f"{loc}: {name!r} does not follow the TID2013 naming iRR_TT_L.bmp")
            ref, kind, level = (int(g) for g in match.groups())
            if not (1 <= ref <= N_REFS and 1 <= kind <= N_TYPES and 1 <= level <= N_LEVELS):
                raise self.error(f"{loc}: {name!r} is outside 25 references x 24 types x 5 levels")
            rel = image_id(ref, kind, level)
            rows.append(
                {
                    "image_id": rel,
                    "path": str(files.path(rel)),
                    "score": score,
                    "ref": f"I{ref:02d}",
                    "dist_type": TYPES[kind][0],
                    "dist_group": TYPES[kind][1],
                    "level": level,
                    "ref_path": str(files.path(f"reference_images/I{ref:02d}.BMP")),
                    "_loc": loc,
                }
            )
        if not rows:
            raise self.error(f"{str(path)!r} holds no rows")
        return index_frame(rows)
