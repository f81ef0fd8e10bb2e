"""``iqabench degrade``: a contact sheet of one image under the 24 ARNIQA distortions × 5 levels."""

from __future__ import annotations

import io

import click


@click.command("degrade")
@click.argument("image", metavar="IMAGE")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), metavar="SHEET.png",
              help="Where to write the contact sheet (PNG, written atomically).")
@click.option("--size", default=224, show_default=True, type=click.IntRange(48, 1024), metavar="PX",
              help="Tile size: IMAGE is resized so its short side is PX, then centre-cropped to PX×PX "
                   "(ARNIQA trains on 224×224 crops). At least 48 (the patch distortions need it).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the random types (noise fields, motion-blur angles, patch positions, …); "
                   "the same seed gives the same sheet.")
@click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda[:N]|auto",
              help="Where the distortions run (JPEG 2000 always runs on the CPU).")
def degrade_cmd(image: str, out: str, size: int, seed: int, device: str) -> None:
    """Write a labelled contact sheet of IMAGE under every distortion type and level.

    \b
    Rows: the 24 types of the ARNIQA degradation model (key, group, KADID id).
    Columns: the input crop, then levels L1 (weakest) to L5, each captioned with its parameter.
    See docs/degradation.md for what each type and level means.
    """
    from ..degradation import contact_sheet
    from ..fileio import atomic_write_bytes
    from ..images import load_rgb
    from .common import resolve_device

    img = load_rgb(image)
    sheet = contact_sheet(img, size=size, seed=seed, device=resolve_device(device))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    click.echo(out)
