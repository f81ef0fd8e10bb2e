"""``iqabench datasets``: check, describe and import splits for datasets on disk."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import load_plugins, parse_pairs, plugin_option

DATA_ROOT_HELP = (
    "Folder holding the dataset, or a folder holding it under one of its conventional names "
    "(see `iqabench datasets describe NAME`). Default: $IQABENCH_DATA."
)


def _common_options(f):
    f = plugin_option(f)
    f = click.option(
        "--dataset-option",
        "dataset_options",
        multiple=True,
        metavar="KEY=VALUE",
        help="Dataset option, e.g. split=official (FLIVE, KonIQ-10k), annotations=txt (LIVE, CSIQ), "
        "images=512x384 (KonIQ-10k), resize=false (SPAQ), type_order=jpeg,jp2k,wn,gblur (Waterloo); "
        "repeatable. `describe NAME` lists the dataset's options.",
    )(f)
    f = click.option(
        "--label",
        default=None,
        help="Which label to use where a dataset has several (LIVE: dmos_realigned, dmos; "
        "KonIQ-10k: mos, mos_zscore).",
    )(f)
    return f


def _make(
    name: str, data_root: str | None, label: str | None, options: tuple[str, ...], plugins: tuple[str, ...]
) -> Any:
    from ..registry import datasets

    load_plugins(plugins)
    return datasets.get(name)(root=data_root, label=label, **parse_pairs(options, "--dataset-option"))


@click.group("datasets")
def datasets_cmd() -> None:
    """Check, describe and import splits for IQA datasets you downloaded.

    \b
    Examples:
      iqabench datasets check kadid10k --data-root /data
      iqabench datasets describe live
      iqabench datasets import-splits live --arniqa ARNIQA/datasets/LIVE/splits \\
          --data-root /data --out live_arniqa.csv
    """


# -- check ---------------------------------------------------------------------------------------
@datasets_cmd.command("check")
@click.argument("name")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help=DATA_ROOT_HELP)
@_common_options
@click.option(
    "--no-decode", is_flag=True, help="Only check that image files exist; do not decode them (faster)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Threads decoding images (default: CPU count, at most 8).",
)
@click.option("--all", "show_all", is_flag=True, help="Print every problem (default: at most 20 per kind).")
def check_cmd(
    name: str,
    data_root: str | None,
    label: str | None,
    dataset_options: tuple[str, ...],
    plugins: tuple[str, ...],
    no_decode: bool,
    workers: int | None,
    show_all: bool,
) -> None:
    """Check that the copy of dataset NAME is complete and intact.

    Checks the annotation files, the image count against a complete copy, duplicate rows, labels
    that are missing, not numbers or outside the label's range, and every image (missing,
    unreadable, corrupt or truncated); for Waterloo, that the images show the distortion types the
    folders are taken to hold. Prints one line per problem, the images converted to 8-bit RGB
    (greyscale, alpha, palette, CMYK, 16-bit) counted per mode, notes, and a verdict; exits 1 when
    the copy is broken.
    """
    from .. import progress
    from ..dataset_check import check_dataset

    ds = _make(name, data_root, label, dataset_options, plugins)
    report = check_dataset(ds, decode=not no_decode, workers=workers, progress=progress.bar)
    if report.root:
        click.echo(f"{name}: {report.root}")
    shown: dict[str, int] = {}
    for problem in report.problems:
        shown[problem.kind] = shown.get(problem.kind, 0) + 1
        if show_all or shown[problem.kind] <= 20:
            click.echo(problem.line())
    for kind, n in shown.items():
        if not show_all and n > 20:
            click.echo(f"{kind}: … and {n - 20} more {kind} problem(s) (--all prints every one)")
    conversions = report.conversions_line()
    if conversions:
        click.echo(f"conversions: {conversions}")
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(report.verdict())
    if not report.ok:
        sys.exit(1)  # not ctx.exit: click's standalone_mode=False would turn it into a return value


# -- describe ------------------------------------------------------------------------------------
@datasets_cmd.command("describe")
@click.argument("name")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help=DATA_ROOT_HELP + " Without one, only what a complete copy holds is shown.",
)
@_common_options
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the splits whose sizes are shown."
)
@click.option(
    "--splits",
    "n_splits",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Number of splits.",
)
def describe_cmd(
    name: str,
    data_root: str | None,
    label: str | None,
    dataset_options: tuple[str, ...],
    plugins: tuple[str, ...],
    seed: int,
    n_splits: int,
) -> None:
    """Describe dataset NAME: labels, direction and range, folder names, and, with a data root,
    counts, references, distortion types and split sizes of the copy."""
    from ..paths import data_root as resolve_data_root

    ds = _make(name, data_root, label, dataset_options, plugins)
    for line in static_lines(ds):
        click.echo(line)
    if ds.needs_root and resolve_data_root(data_root) is None:
        click.echo("  copy:          none given (--data-root DIR or IQABENCH_DATA shows counts and splits)")
        return
    for line in copy_lines(ds, seed, n_splits):
        click.echo(line)


def _range(r: tuple[float, float]) -> str:
    return f"{r[0]:g}..{r[1]:g}"


def static_lines(ds: Any) -> list[str]:
    cls = type(ds)
    out = [f"{ds.name}: {ds.description or ''}".rstrip()]
    if ds.labels:
        for key, spec in ds.labels.items():
            mark = " (selected)" if key == ds.label else ""
            direction = "higher = better" if spec.higher_better else "lower = better"
            out.append(
                f"  label:         {key}{mark}: {direction}, nominal range {_range(spec.range)}; {spec.description}"
            )
    else:
        out.append("  label:         none (no quality labels)")
    if ds.needs_root:
        out.append(f"  folder names:  {', '.join(cls.folder_names or (ds.name,))}")
    totals = []
    if cls.expected_count is not None:
        totals.append(f"{cls.expected_count} images")
    if cls.expected_refs is not None:
        totals.append(f"{cls.expected_refs} references")
    out.append(f"  complete copy: {', '.join(totals) if totals else 'total not pinned'}")
    if ds.labels:
        rule = "by reference" if ds.split_by_reference else "by image"
        shipped = getattr(cls, "shipped_splits", None)
        extra = f"; seed 0 from shipped datasets/splits/{shipped} (complete copies)" if shipped else ""
        out.append(f"  split rule:    10 x 70/10/20 {rule}{extra}")
    if ds.option_defaults:
        out.append("  options:       " + ", ".join(f"{k}={v}" for k, v in ds.options.items()))
    groups = cls.type_groups
    if groups:
        out.append("  type -> group: " + ", ".join(f"{t}->{g}" for t, g in groups.items()))
    return out


def copy_lines(ds: Any, seed: int, n_splits: int) -> list[str]:
    from ..errors import IQABenchError

    ds = ds.for_description()
    index = ds.index()
    out = [f"  root:          {ds.root}"] if ds.needs_root else []
    files = ds.annotation_files()
    if files:
        out.append(f"  annotations:   {', '.join(str(f) for f in files)}")
    expected = ds.expected_count
    suffix = (
        ""
        if expected is None
        else (" (complete)" if len(index) == expected else f" (a complete copy has {expected})")
    )
    out.append(f"  images:        {len(index)}{suffix}")
    if index["ref"].notna().any():
        out.append(f"  references:    {index['ref'].nunique()}")
    if ds.labelled:
        out.append(
            f"  label values:  {index['score'].min():g}..{index['score'].max():g} (mean {index['score'].mean():.4g})"
        )
    if index["dist_type"].notna().any():
        counts = index["dist_type"].value_counts(sort=False)
        parts = []
        for kind in index["dist_type"].dropna().unique():
            group = index.loc[index["dist_type"] == kind, "dist_group"].iloc[0]
            parts.append(f"{kind} {counts[kind]} [{group}]")
        out.append(f"  distortions:   {len(parts)} types: {', '.join(parts)}")
        levels = index["level"].dropna()
        if len(levels):
            out.append(f"  levels:        {int(levels.min())}..{int(levels.max())}")
    if ds.labelled:
        try:
            splits = ds.splits(seed=seed, n_splits=n_splits)
        except IQABenchError as exc:
            out.append(f"  splits:        unavailable: {exc}")
        else:
            sizes = {
                p: [len(splits.part(k, p)) for k in range(len(splits))] for p in ("train", "val", "test")
            }
            shown = ", ".join(
                f"{p} {min(v)}" + (f"-{max(v)}" if max(v) != min(v) else "") for p, v in sizes.items()
            )
            out.append(f"  splits:        {len(splits)} x {splits.source}: {shown} images")
    else:
        out.append("  splits:        none (no labels)")
    return out


# -- import-splits -------------------------------------------------------------------------------
@datasets_cmd.command("import-splits")
@click.argument("name", required=False)
@click.option(
    "--arniqa-repo",
    "arniqa_repo",
    type=click.Path(file_okay=False),
    default=None,
    help="A checkout of the ARNIQA repository (github.com/miccunifi/ARNIQA): the splits of every dataset found "
    "in its datasets/<NAME>/splits/ (LIVE, CSIQ, TID2013, KADID10K, KonIQ-10k, SPAQ, FLIVE, CLIVE) and under the "
    "data root are stored as the split set 'arniqa'.",
)
@click.option(
    "--arniqa",
    "arniqa_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder with ARNIQA's train.npy, val.npy, test.npy for dataset NAME (ARNIQA's datasets/<NAME>/splits/, "
    "or the folder above it).",
)
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help=DATA_ROOT_HELP)
@click.option(
    "--set",
    "set_name",
    default=None,
    help="Store the splits as this named split set under $IQABENCH_HOME/splits/ (default with --arniqa-repo: "
    "'arniqa'); runs select it with --split-set NAME.",
)
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also (or instead) write dataset NAME's splits to this CSV (image_id, split_01, ...), for run --splits.",
)
@_common_options
def import_splits_cmd(
    name: str | None,
    arniqa_repo: str | None,
    arniqa_dir: str | None,
    data_root: str | None,
    set_name: str | None,
    out: str | None,
    label: str | None,
    dataset_options: tuple[str, ...],
    plugins: tuple[str, ...],
) -> None:
    """Convert ARNIQA's official split files into iqabench splits: a named split set and/or a CSV.

    ARNIQA's .npy files hold row indices into the annotation file it reads (LIVE.txt, CSIQ.txt,
    mos_with_names.txt, dmos.csv, labels_image.csv, the SPAQ .xlsx); -1 padding is dropped. Stored
    as a split set (default 'arniqa' with --arniqa-repo), the splits are used by every protocol of
    every later run (`iqabench run` picks 'arniqa' by default where it exists).

    \b
    Examples:
      iqabench datasets import-splits --arniqa-repo ~/src/ARNIQA --data-root ~/iqa-data
      iqabench datasets import-splits live --arniqa ARNIQA/datasets/LIVE/splits --data-root ~/iqa-data --out live.csv
    """
    from ..arniqa_splits import ARNIQA_FOLDERS, import_arniqa_splits
    from ..errors import IQABenchError
    from ..split_sets import ARNIQA, store
    from ..splits import write_splits_csv

    if (arniqa_repo is None) == (arniqa_dir is None):
        raise IQABenchError("give either --arniqa-repo DIR (every dataset) or NAME --arniqa FOLDER (one dataset)")
    if arniqa_dir is not None:
        if name is None:
            raise IQABenchError("--arniqa FOLDER needs the dataset NAME")
        if out is None and set_name is None:
            raise IQABenchError("say where the splits go: --out FILE.csv and/or --set NAME")
        jobs = [(name, Path(arniqa_dir))]
    else:
        set_name = set_name or ARNIQA
        base = Path(arniqa_repo).expanduser() / "datasets"
        if not base.is_dir():
            raise IQABenchError(f"{str(arniqa_repo)!r} is not an ARNIQA checkout: it has no datasets/ folder")
        jobs = [(ds, base / folder / "splits") for folder, ds in ARNIQA_FOLDERS.items() if (base / folder / "splits").is_dir()]
        if name is not None:
            jobs = [(n, f) for n, f in jobs if n == name]
        if not jobs:
            raise IQABenchError(f"no ARNIQA split folder {'for ' + repr(name) + ' ' if name else ''}under {str(base)!r}")
        if out is not None and len(jobs) != 1:
            raise IQABenchError("--out writes one dataset's splits: give NAME with --arniqa-repo")
    stored = 0
    for ds_name, folder in jobs:
        try:
            ds = _make(ds_name, data_root, label if arniqa_dir else None, dataset_options if arniqa_dir else (), plugins)
            splits = import_arniqa_splits(ds, folder)
        except IQABenchError as exc:
            if arniqa_dir is not None or name is not None:
                raise
            click.echo(f"{ds_name}: not imported: {exc}", err=True)
            continue
        if not splits.meta.get("documented", True):
            click.echo(f"warning: {ds_name}: {splits.meta['order']}; check the result before relying on it", err=True)
        sizes = " / ".join(f"{p} {len(splits.part(0, p))}" for p in ("train", "val", "test"))
        dropped = splits.meta.get("padding_dropped", 0)
        pad = f"; {dropped} padding entries (-1) dropped" if dropped else ""
        if out is not None:
            write_splits_csv(splits, Path(out))
            click.echo(f"wrote {len(splits)} split(s) of {ds_name!r} to {out} (split 1: {sizes}){pad}")
        if set_name is not None:
            path = store(set_name, ds_name, splits)
            stored += 1
            click.echo(f"{ds_name}: {len(splits)} split(s) stored as split set {set_name!r} ({path}; split 1: {sizes}){pad}")
    if arniqa_repo is not None and not stored:
        raise IQABenchError("no dataset's splits could be imported (see the lines above)")
