"""``iqabench run``: evaluate methods on datasets with a protocol and write the results under runs/."""

from __future__ import annotations

import logging
import sys

import click

from ..errors import IQABenchError
from .common import load_plugins, parse_pairs, plugin_option, resolve_device


def _per_name(values: tuple[str, ...], names: list[str], option: str, what: str,
              others=lambda name: False) -> dict[str, str]:
    """``--weights FILE`` (one method) or ``--weights NAME=FILE`` (several) → {name: value}.

    ``others(name)`` admits names beyond ``names`` (datasets a protocol builds, e.g. gMAD's regressor dataset)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if sep and (key in names or others(key)):
            out[key] = value
        elif len(names) == 1:
            out[names[0]] = item
        else:
            raise IQABenchError(f"{option} {item!r}: with several {what}s, write {option} {what.upper()}=VALUE")
    return out


def _scoped(values: tuple[str, ...], names: list[str], option: str, others=lambda name: False) -> dict[str, dict[str, str]]:
    """``KEY=VALUE`` for every name, or ``NAME:KEY=VALUE`` for one name (``others`` as in :func:`_per_name`)."""
    out: dict[str, dict[str, str]] = {n: {} for n in names}
    for key, value in parse_pairs(values, option).items():
        scope, sep, bare = key.rpartition(":")  # METHOD may itself hold a colon (pyiqa:NAME)
        if sep:
            if scope not in out and not others(scope):
                raise IQABenchError(f"{option} {key}={value}: {scope!r} is not one of {', '.join(names)}")
            out.setdefault(scope, {})[bare] = value
        else:
            for n in names:
                out[n][key] = value
    return out


@click.command("run")
@click.option("-m", "--method", "methods", multiple=True, required=True, metavar="NAME",
              help="Method to evaluate (see 'iqabench list methods'). Repeatable.")
@click.option("-p", "--protocol", required=True, metavar="NAME",
              help="Protocol: within_dataset, cross_dataset, gmad, tsne, waterloo (see 'iqabench list protocols').")
@click.option("-d", "--dataset", "datasets", multiple=True, required=True, metavar="NAME",
              help="Dataset (see 'iqabench list datasets'); 'demo' needs no download. Repeatable.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Folder holding the datasets (default: $IQABENCH_DATA).")
@click.option("--weights", multiple=True, metavar="[METHOD=]FILE",
              help="Weights file for a method that takes one (e.g. ARNIQA.pth, a training checkpoint, NIQE's "
                   "modelparameters.mat). With several methods write METHOD=FILE. Nothing is downloaded.")
@click.option("--label", multiple=True, metavar="[DATASET=]LABEL",
              help="Which label of a dataset to use (e.g. live=dmos); default: the dataset's documented default. "
                   "Also for the dataset a protocol trains on (gmad, waterloo: --label regressor_dataset=LABEL).")
@click.option("--method-option", "method_options", multiple=True, metavar="[METHOD:]KEY=VALUE",
              help="Option passed to the method(s), e.g. backbone=se_resnet50. Repeatable.")
@click.option("--dataset-option", "dataset_options", multiple=True, metavar="[DATASET:]KEY=VALUE",
              help="Option passed to the dataset(s), e.g. split=official; DATASET:KEY=VALUE for one of them, or for "
                   "the dataset a protocol trains on (gmad, waterloo: regressor_dataset:KEY=VALUE). Repeatable.")
@click.option("--protocol-option", "protocol_options", multiple=True, metavar="KEY=VALUE",
              help="Option of the protocol, e.g. levels=10 for gmad. Repeatable.")
@click.option("--split-set", "split_set", default=None, metavar="NAME",
              help="Splits of every dataset of the run, in every protocol: 'arniqa' (the paper's, imported with "
                   "'iqabench datasets import-splits --arniqa-repo DIR'), 'generated' (the dataset's own) or a set you "
                   "stored. Default: 'arniqa' for each dataset that has it, else 'generated'; the run says which.")
@click.option("--splits", "splits_file", type=click.Path(dir_okay=False), default=None, metavar="FILE.csv",
              help="Use these splits (CSV: image_id, split_01, ...; e.g. from 'iqabench datasets import-splits "
                   "--out') instead of a split set. Single dataset only.")
@click.option("--allow-reference-overlap", is_flag=True,
              help="Accept splits whose parts share a reference image (content); results are then marked "
                   "'not reference-disjoint'. Default: such splits are refused.")
@click.option("--published-as", "published_as", default=None, metavar="NAME",
              help="Assert that the --weights of the run's NAME method are the released NAME weights (e.g. "
                   "--published-as arniqa for ARNIQA.pth) when their SHA-256 is not yet in iqabench's list of "
                   "known releases; only then is a result compared with the paper's numbers.")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
              help="Where methods run; auto picks CUDA when available.")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs", show_default=True,
              metavar="DIR", help="Folder receiving one sub-folder per result (never overwritten).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the generated splits and of any randomness in the protocol.")
@click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="An image that cannot be read or scored stops the run (raise) or is skipped, counted in the "
                   "result and shown in the report (skip).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Crops per forward pass (default: the method's).")
@click.option("--workers", type=click.IntRange(min=0), default=None, metavar="N",
              help="Image-decoding worker processes (default: 0 on CPU; on CUDA the cores this process may use, "
                   "less one).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the feature cache ($IQABENCH_HOME/cache).")
@click.option("--verify-cache", is_flag=True,
              help="Re-hash the file of every cached image and recompute those whose content changed since their "
                   "features were stored (for file systems whose inodes or change times are unreliable).")
@plugin_option
@click.pass_context
def run_cmd(ctx, methods, protocol, datasets, data_root, weights, label, method_options, dataset_options,
            protocol_options, split_set, splits_file, allow_reference_overlap, published_as, device, runs_dir, seed,
            on_error, batch_size, workers, no_cache, verify_cache, plugins):
    """Evaluate METHODs on DATASETs with a PROTOCOL; write runs/<run-id>/result.json and tables.

    Under torchrun every process extracts a share of the images into the feature cache and the
    first runs the protocol and writes the results.

    \b
    Examples:
      iqabench run --method brisque --protocol within_dataset --dataset demo
      iqabench run --method arniqa --weights ARNIQA.pth --protocol cross_dataset \\
          --dataset live --dataset kadid10k --data-root ~/iqa-data
      torchrun --nproc-per-node 4 -m iqabench run --method arniqa --weights ARNIQA.pth \\
          --protocol within_dataset --dataset kadid10k --data-root ~/iqa-data
    """
    from .. import registry, sharding
    from ..runner import DatasetSpec, MethodSpec, execute, headline, skipped_summary

    load_plugins(plugins)
    weights_by = _per_name(weights, list(methods), "--weights", "method")
    # Datasets a protocol builds itself (gMAD/Waterloo's regressor_dataset) take --label/--dataset-option too,
    # scoped by their role (regressor_dataset:KEY=VALUE) or by their name.
    roles = registry.protocols.get(protocol).dataset_roles

    def known(scope: str) -> bool:
        return scope in roles or scope in registry.datasets
    labels_by = _per_name(label, list(datasets), "--label", "dataset", others=known)
    mopts = _scoped(method_options, list(methods), "--method-option")
    dopts = _scoped(dataset_options, list(datasets), "--dataset-option", others=known)
    others = [n for n in dict.fromkeys([*labels_by, *dopts]) if n not in datasets]
    shards = sharding.join()  # under torchrun: this process's place among its processes
    try:
        written = execute(
            [MethodSpec(name, weights_by.get(name), mopts[name]) for name in methods],
            protocol,
            [DatasetSpec(name, labels_by.get(name), dopts[name]) for name in datasets],
            other_datasets=[DatasetSpec(name, labels_by.get(name), dopts.get(name, {})) for name in others],
            protocol_options=parse_pairs(protocol_options, "--protocol-option"),
            data_root=data_root,
            device=resolve_device(device),
            runs_dir=runs_dir,
            seed=seed,
            on_error=on_error,
            batch_size=batch_size,
            workers=workers,
            splits_file=splits_file,
            split_set=split_set,
            allow_reference_overlap=allow_reference_overlap,
            published_as=published_as,
            use_cache=not no_cache,
            verify_cache=verify_cache,
            command=["iqabench", *(ctx.find_root().obj or {}).get("argv", sys.argv[1:])],
            shards=shards,
        )
    finally:
        sharding.leave(shards)
    for path, result in written:
        click.echo(f"{path}  {headline(result)}")
    skipped = skipped_summary(written)
    if skipped:
        logging.getLogger("iqabench").warning(skipped)
