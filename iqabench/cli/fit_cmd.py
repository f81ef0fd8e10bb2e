"""``iqabench fit``: fit the models that methods load (NIQE's pristine Gaussian)."""

from __future__ import annotations

from pathlib import Path

import click

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@click.group("fit")
def fit_cmd() -> None:
    """Fit models that methods use, from your own images.

    \b
    Example:
      iqabench fit niqe --images pristine/ --out niqe_model.mat
      iqabench run --method niqe --weights niqe_model.mat --protocol within_dataset --dataset demo
    """


@fit_cmd.command("niqe")
@click.option(
    "--images",
    required=True,
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Folder of pristine (undistorted, natural) images. Every .png/.jpg/.jpeg/.bmp/.tif/.tiff/.webp "
    "file directly inside it is used (subfolders are not searched); each needs at least one 96×96 block.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="FILE.mat",
    help="Model file to write (replaced if it exists): a MATLAB .mat with mu_prisparam (1×36) and "
    "cov_prisparam (36×36), the layout of the LIVE release's modelparameters.mat. Use it with "
    "`iqabench run --method niqe --weights FILE.mat`.",
)
@click.option(
    "--sharpness-threshold",
    default=0.75,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Keep, in each image, the 96×96 blocks whose sharpness (mean local standard deviation) exceeds this "
    "fraction of the image's sharpest block, as the LIVE estimatemodelparam.m does (0 keeps every block that is not flat).",
)
def niqe_fit_cmd(images: str, out: str, sharpness_threshold: float) -> None:
    """Fit NIQE's pristine multivariate Gaussian model from a folder of pristine images.

    The images are read as 8-bit RGB (grayscale files are accepted), reduced to their grey level
    and described by NIQE's 36 statistics per 96×96 block; the mean and covariance of the sharp
    blocks of all images form the model.
    """
    from .. import progress
    from ..errors import IQABenchError
    from ..images import load_rgb
    from ..methods.niqe import fit_pristine_model, write_model
    from ..views import to_tensor

    folder = Path(images)
    if not folder.is_dir():
        raise IQABenchError(f"--images {images!r} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise IQABenchError(f"--images {images!r} holds no image files ({', '.join(IMAGE_SUFFIXES)})")

    def loaded():
        for path in progress.bar(files, desc="NIQE features", unit="img"):
            yield str(path), to_tensor(load_rgb(path))

    mu, cov, kept, seen = fit_pristine_model(loaded(), threshold=sharpness_threshold)
    write_model(out, mu, cov)
    click.echo(f"NIQE model fitted from {len(files)} images ({kept} of {seen} blocks kept) -> {out}")
