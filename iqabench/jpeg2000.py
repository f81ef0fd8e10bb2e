"""The JPEG 2000 round trip of the ARNIQA degradation model (KADID #9): one uint8 image through
Pillow/OpenJPEG with the reference's settings and back.

It imports no torch (numpy and Pillow only), so that the worker processes of
:class:`iqabench.degradation.codec_pool.JPEG2000Pool` start in a fraction of a second instead of
seconds; :func:`iqabench.degradation.compression.jpeg2000` calls the same function in-process.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

RESOLUTIONS = 8  # the reference's num_resolutions


def resolutions_for(height: int, width: int) -> int:
    """The reference's 8 resolution levels, lowered to the largest OpenJPEG accepts when
    ``min(H, W) < 2**7`` (it needs ``min(H, W) ≥ 2**(levels − 1)``); 224² crops keep 8."""
    return min(RESOLUTIONS, int(math.floor(math.log2(min(height, width)))) + 1)


def round_trip(image: np.ndarray, ratio: int, resolutions: int) -> np.ndarray:
    """``image`` (H×W×3 uint8) encoded with ``quality_mode='rates'``, ``quality_layers=[ratio]``,
    ``num_resolutions=resolutions``, ``prog_order='LRCP'``, written as JP2 (a raw codestream,
    ``no_jp2``, decodes to other pixels), and decoded: H×W×3 uint8."""
    buf = io.BytesIO()
    Image.fromarray(image).save(
        buf,
        format="JPEG2000",
        quality_mode="rates",
        quality_layers=[ratio],
        num_resolutions=resolutions,
        prog_order="LRCP",
    )
    buf.seek(0)
    with Image.open(buf, formats=["JPEG2000"]) as decoded:  # an RGB JP2 decodes as RGB: no conversion
        decoded.load()
        return np.asarray(decoded if decoded.mode == "RGB" else decoded.convert("RGB"))
