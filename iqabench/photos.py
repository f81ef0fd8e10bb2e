"""Natural photographs bundled in installed packages, the only images available offline.

They are split into two disjoint roles so that nothing is tested on what it was fitted on:

* ``content``: the 20 reference contents of the built-in ``demo`` dataset (test content);
* ``pristine``: the pristine pool used to fit iqabench's shipped NIQE model and to train the
  self-supervised methods on the demo (ARNIQA, Re-IQA-style). These are the three large
  natural photographs shipped in pyiqa's wheel (test_efficiency_img_dir), cut into tiles.

``motorcycle_right`` (a near-duplicate view of ``motorcycle_left``), the noisy night shot
``SPAQ_10241`` and non-photographic images are deliberately unused.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .errors import IQABenchError
from .images import load_rgb


@dataclass(frozen=True)
class Photo:
    name: str
    package: str  # the installed package whose files hold it
    relpath: str  # path relative to the package folder (or site-packages for pyiqa's stray folders)
    licence: str
    grayscale: bool = False

    @property
    def path(self) -> Path:
        return _package_dir(self.package) / self.relpath

    def load(self) -> Image.Image:
        if not self.path.is_file():
            raise IQABenchError(
                f"bundled photograph {self.name!r} not found at {str(self.path)!r}: is {self.package} installed?"
            )
        return load_rgb(self.path)


_SK = "skimage"
_PYIQA_SITE = "pyiqa-site"  # pyiqa's wheel installs stray folders next to the package

CONTENT: tuple[Photo, ...] = (
    Photo("astronaut", _SK, "data/astronaut.png", "public domain"),
    Photo("chelsea", _SK, "data/chelsea.png", "CC0"),
    Photo("coffee", _SK, "data/coffee.png", "CC0"),
    Photo("rocket", _SK, "data/rocket.jpg", "public domain"),
    Photo("motorcycle", _SK, "data/motorcycle_left.png", "Middlebury stereo data"),
    Photo("hubble", _SK, "data/hubble_deep_field.jpg", "public domain"),
    Photo("camera", _SK, "data/camera.png", "CC0", grayscale=True),
    Photo("coins", _SK, "data/coins.png", "public domain", grayscale=True),
    Photo("brick", _SK, "data/brick.png", "CC0", grayscale=True),
    Photo("grass", _SK, "data/grass.png", "CC0", grayscale=True),
    Photo("gravel", _SK, "data/gravel.png", "CC0", grayscale=True),
    Photo("moon", _SK, "data/moon.png", "public domain", grayscale=True),
    Photo("china", "sklearn", "datasets/images/china.jpg", "CC BY 2.0"),
    Photo("flower", "sklearn", "datasets/images/flower.jpg", "CC BY 2.0"),
    Photo("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "unchecked"),
    Photo("kodim03", _PYIQA_SITE, "ResultsCalibra/ref_dir/I03.bmp", "Kodak, free to use"),
    Photo("kodim04", _PYIQA_SITE, "ResultsCalibra/ref_dir/I04.bmp", "Kodak, free to use"),
    Photo("kodim06", _PYIQA_SITE, "ResultsCalibra/ref_dir/I06.bmp", "Kodak, free to use"),
    Photo("kodim08", _PYIQA_SITE, "ResultsCalibra/ref_dir/I08.bmp", "Kodak, free to use"),
    Photo("kodim19", _PYIQA_SITE, "ResultsCalibra/ref_dir/I19.bmp", "Kodak, free to use"),
)

PRISTINE: tuple[Photo, ...] = (
    Photo("garden", _PYIQA_SITE, "tests/test_efficiency_img_dir/frame_4wrwr48cdk6rbcjl.jpg", "unchecked"),
    Photo("beach", _PYIQA_SITE, "tests/test_efficiency_img_dir/frame_7gzdcz9sif0ekg31.jpg", "unchecked"),
    Photo("snowy_road", _PYIQA_SITE, "tests/test_efficiency_img_dir/frame_9ogwhvvy7gfj6jzh.jpg", "unchecked"),
)


def _package_dir(package: str) -> Path:
    name = "pyiqa" if package == _PYIQA_SITE else package
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise IQABenchError(f"package {name!r} is not installed; the bundled photographs need it")
    pkg = Path(spec.origin).parent
    return pkg.parent if package == _PYIQA_SITE else pkg


def pristine_tiles(tiles_per_side: int = 2) -> list[tuple[str, Image.Image]]:
    """The pristine photographs cut into ``tiles_per_side²`` non-overlapping tiles each."""
    out = []
    for photo in PRISTINE:
        img = photo.load()
        w, h = img.size
        tw, th = w // tiles_per_side, h // tiles_per_side
        for r in range(tiles_per_side):
            for c in range(tiles_per_side):
                out.append((f"{photo.name}_{r}{c}", img.crop((c * tw, r * th, (c + 1) * tw, (r + 1) * th))))
    return out
