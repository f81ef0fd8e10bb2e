"""Every image mode becomes 8-bit RGB exactly as the reference loaders make it (PIL convert("RGB"),
no EXIF orientation), never refused; the original mode is known without decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from iqabench.images import ImageError, conversions_line, decode_rgb, image_mode, load_rgb
from tests.fixtures.dataset_fixtures import write_image

# (mode written, file suffix, mode reported)
MODES = [
    ("RGB", ".png", "RGB"),
    ("L", ".png", "L"),
    ("LA", ".png", "LA"),
    ("RGBA", ".png", "RGBA"),
    ("P", ".png", "P"),
    ("PT", ".png", "P"),  # palette with a transparent colour: the transparency is dropped
    ("I;16", ".png", "I;16"),
    ("RGB;16", ".png", "RGB;16"),
    ("L", ".jpg", "L"),
    ("CMYK", ".jpg", "CMYK"),
    ("L", ".bmp", "L"),
]


@pytest.mark.parametrize("written,suffix,reported", MODES, ids=[f"{m}{s}" for m, s, _ in MODES])
def test_every_mode_is_converted_as_pil_convert_rgb(tmp_path, written, suffix, reported):
    path = write_image(tmp_path / f"img{suffix}", 11, (40, 30), mode=written)
    img, mode = decode_rgb(path)
    assert img.mode == "RGB" and img.size == (40, 30)
    assert mode == reported and image_mode(path) == reported  # the header alone tells
    with Image.open(path) as ref:  # what ARNIQA's and pyiqa's loaders compute
        assert np.array_equal(np.asarray(img), np.asarray(ref.convert("RGB")))


def test_16_bit_greyscale_is_clipped_at_255_as_pil_does(tmp_path):
    values = np.array([[0, 100, 255, 256, 4000, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert image_mode(path) == "I;16"
    out = np.asarray(load_rgb(path))
    assert out[0, :, 0].tolist() == [0, 100, 255, 255, 255, 255] and (out[..., 0] == out[..., 2]).all()


def test_16_bit_colour_keeps_the_high_byte(tmp_path):
    path = write_image(tmp_path / "deep.png", 3, (8, 6), mode="RGB;16")  # each 8-bit value v stored as v*257
    eight = np.asarray(load_rgb(write_image(tmp_path / "plain.png", 3, (8, 6))))
    assert np.array_equal(np.asarray(load_rgb(path)), eight)


def test_exif_orientation_is_not_applied(tmp_path):
    img = Image.fromarray(np.zeros((30, 40, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buf.getvalue())
    assert load_rgb(path).size == (40, 30)  # as stored, like the reference loaders


def test_unreadable_files_still_fail_with_the_file_named(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ImageError, match=r"x.png': not a readable image"):
        decode_rgb(path)
    assert image_mode(path) == "unreadable"
    with pytest.raises(ImageError, match="file does not exist"):
        decode_rgb(tmp_path / "gone.png")


def test_conversions_line_names_what_pil_does():
    line = conversions_line({"L": 12, "CMYK": 1, "I;16": 2})
    assert line == (
        "12 L, 2 I;16 (values above 255 are clipped to 255, as PIL's convert('RGB') does), "
        "1 CMYK (converted without a colour profile)"
    )
