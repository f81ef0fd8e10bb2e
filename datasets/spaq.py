"""SPAQ (Fang et al.): 11,125 smartphone photographs, MOS 0-100.

Layout: ``TestImage/00001.jpg``..``11125.jpg`` (some copies nest it as ``Dataset/TestImage/``) and
``Annotations/MOS and Image attribute scores.xlsx`` (``Image name, MOS, Brightness, Colorfulness,
Contrast, Noisiness, Sharpness``; row order = index order), found in the dataset folder or in
``Dataset/``, folder names in any case. Ids are ``TestImage/<name>`` in either layout.

The protocol (ARNIQA) first resizes every photograph so that its short side is 512 pixels (PIL
bicubic, aspect kept, the long side truncated with ``int()``; no EXIF rotation, as PIL opens the
files). That is done once and cached as lossless PNG under
``$IQABENCH_HOME/prepared/spaq/<rule>/TestImage/<stem>-<key>.png``; ``key`` hashes the source
file's size and modification time, so a changed photograph is prepared again, and each file is
written atomically, so an interrupted preparation resumes. The index ``path`` then points at the
resized file (``source_path`` at the original); ``resize=false`` reads the originals instead.
A photograph that cannot be decoded keeps its original path, so reading it reports the error.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from iqabench import paths, progress
from iqabench.dataset import ScoreSpec
from iqabench.fileio import atomic_write_bytes
from iqabench.images import ImageError, load_rgb
from iqabench.registry import register_dataset

from ._common import AnnotatedDataset, CaseResolver, authentic_row, cell_text, index_frame, read_excel_sheet

log = logging.getLogger(__name__)
ANNOTATION = Path("Annotations") / "MOS and Image attribute scores.xlsx"
IMAGES = "TestImage"
NESTED = "Dataset"  # some copies: Dataset/TestImage/
SHORT_SIDE = 512
RULE = "short512-bicubic-int-png-v1"  # bump when the resize changes


def resized_size(width: int, height: int, short: int = SHORT_SIDE) -> tuple[int, int]:
    """Short side -> ``short``; the other side scaled and truncated (multiply first: exact integers)."""
    if width <= height:
        return short, int(height * short / width)
    return int(width * short / height), short


def resize_image(img: Image.Image) -> Image.Image:
    return img.resize(resized_size(*img.size), Image.Resampling.BICUBIC)


@register_dataset("spaq")
class SPAQ(AnnotatedDataset):
    description = (
        "SPAQ: 11,125 smartphone photographs; MOS 0-100 (higher = better); resized to a 512-px short side"
    )
    labels = {"mos": ScoreSpec("mos", True, (0.0, 100.0), "MOS of 'MOS and Image attribute scores.xlsx'")}
    folder_names = ("SPAQ", "spaq")
    expected_count = 11125
    split_by_reference = False
    option_defaults = {"resize": True}

    @classmethod
    def looks_like_root(cls, folder: Path) -> bool:
        files = CaseResolver(folder)
        return any(
            files.find(rel) is not None
            for rel in (ANNOTATION.as_posix(), IMAGES, f"{NESTED}/{ANNOTATION.as_posix()}", f"{NESTED}/{IMAGES}")
        )

    def annotation_file(self) -> Path:
        files = CaseResolver(self.root)
        found = files.find(ANNOTATION.as_posix()) or files.find(f"{NESTED}/{ANNOTATION.as_posix()}")
        return found or files.path(ANNOTATION.as_posix())

    def image_folder(self) -> Path:
        files = CaseResolver(self.root)
        return files.folder(IMAGES) or files.folder(f"{NESTED}/{IMAGES}") or self.root / IMAGES

    def annotation_files(self) -> list[Path]:
        return [self.annotation_file()]

    def arniqa_order(self) -> tuple[str, bool]:
        return f"{ANNOTATION.name} row order", True

    def read_index(self) -> pd.DataFrame:
        """The originals (what `datasets check` inspects)."""
        table = read_excel_sheet(self.name, self.annotation_file(), ("Image name", "MOS"))
        folder = self.image_folder()
        rows = []
        for name, score, loc in zip(table["Image name"], table["MOS"], table["_loc"]):
            name = cell_text(name)
            row = authentic_row(self.root, f"{IMAGES}/{name}", score, loc)
            row["path"] = str(folder / name)
            rows.append(row)
        return index_frame(rows)

    def load_index(self) -> pd.DataFrame:
        frame = super().load_index()
        frame["source_path"] = frame["path"]
        if self.options["resize"]:
            frame["path"] = self.prepare(frame["path"].tolist())
        return frame

    def for_description(self) -> SPAQ:
        if not self.options["resize"]:
            return self
        return SPAQ(root=self._root_arg, label=self.label, **{**self.options, "resize": False})

    def prepared_folder(self) -> Path:
        return paths.home() / "prepared" / "spaq" / RULE

    def prepare(self, sources: list[str]) -> list[str]:
        """Resized copies of ``sources`` (made where missing); failing sources keep their own path."""
        folder = self.prepared_folder() / "TestImage"
        targets = [folder / f"{Path(s).stem}-{_source_key(s)}.png" for s in sources]
        todo = [(s, t) for s, t in zip(sources, targets) if not t.is_file()]
        failed: set[str] = set()
        if todo:
            log.info(
                "spaq: resizing %d photographs to a %d-pixel short side (once; cached in %s)",
                len(todo),
                SHORT_SIDE,
                folder,
            )
            workers = min(8, os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = pool.map(lambda st: _prepare_one(*st), todo)
                for source, ok in zip(
                    (s for s, _ in todo),
                    progress.bar(results, total=len(todo), desc="spaq: resizing", unit="img"),
                ):
                    if not ok:
                        failed.add(source)
        return [s if s in failed else str(t) for s, t in zip(sources, targets)]

    def card(self) -> dict[str, Any]:
        card = super().card()
        if self.options["resize"]:
            card["preprocessing"] = {
                "resize": f"short side {SHORT_SIDE}, PIL bicubic, aspect kept, int() truncation (ARNIQA)",
                "rule": RULE,
                "cache": str(self.prepared_folder()),
            }
        return card


def _source_key(path: str) -> str:
    try:
        st = os.stat(path)
        ident = f"{RULE}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        ident = f"{RULE}|missing"
    return hashlib.sha256(ident.encode()).hexdigest()[:12]


def _prepare_one(source: str, target: Path) -> bool:
    try:
        img = load_rgb(source)
    except ImageError:
        return False  # reported when the original is read (by `check` or by the extraction loop)
    buf = io.BytesIO()
    resize_image(img).save(buf, format="PNG", compress_level=1)
    atomic_write_bytes(target, buf.getvalue())
    return True
