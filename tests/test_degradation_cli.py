"""``iqabench degrade``: the contact sheet command."""

from __future__ import annotations

from PIL import Image

from iqabench.degradation import DISTORTIONS, contact_sheet
from iqabench.degradation.sheet import sheet_size, square_crop

from .degradation_support import one_thread  # noqa: F401


def test_degrade_writes_a_labelled_sheet(cli, tmp_path):
    src = tmp_path / "in.png"
    Image.new("RGB", (90, 60), (120, 80, 40)).save(src)
    out = tmp_path / "sheets" / "sheet.png"
    r = cli("degrade", str(src), "--out", str(out), "--size", "48", "--seed", "3")
    assert r.code == 0, r
    assert r.out.strip() == str(out)
    with Image.open(out) as sheet:
        assert sheet.format == "PNG" and sheet.mode == "RGB"
        # label column 170 px + 6 tiles (input, L1..L5); header 22 px + 24 rows of (16 px caption + tile)
        assert sheet.size == sheet_size(48) == (170 + 6 * 48, 22 + 24 * (16 + 48))
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left no temporary file


def test_degrade_missing_image_is_a_one_line_error(cli, tmp_path):
    missing = tmp_path / "nope.png"
    r = cli("degrade", str(missing), "--out", str(tmp_path / "s.png"))
    assert r.code == 1
    lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and str(missing) in lines[0] and "does not exist" in lines[0]
    assert not (tmp_path / "s.png").exists()


def test_degrade_help_explains_every_option(cli):
    r = cli("degrade", "--help")
    assert r.code == 0
    for option in ("--out", "--size", "--seed", "--device"):
        assert option in r.out


def test_contact_sheet_is_reproducible_and_shows_the_distortions():
    img = Image.new("RGB", (64, 64))
    img.putdata([((7 * i) % 256, (13 * i) % 256, (i // 64) * 4) for i in range(64 * 64)])
    a, b = contact_sheet(img, size=48, seed=1), contact_sheet(img, size=48, seed=1)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != contact_sheet(img, size=48, seed=2).tobytes()  # the random rows change
    # the input column repeats the crop in every row; the L5 column differs from it in every row
    crop = square_crop(img, 48).tobytes()
    for row in range(len(DISTORTIONS)):
        top = 22 + row * 64 + 16
        assert a.crop((170, top, 170 + 48, top + 48)).tobytes() == crop
        assert a.crop((170 + 5 * 48, top, 170 + 6 * 48, top + 48)).tobytes() != crop, list(DISTORTIONS)[row]
