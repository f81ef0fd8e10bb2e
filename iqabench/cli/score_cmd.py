"""``iqabench score``: quality scores of your own images with a method and a model saved by a run."""

from __future__ import annotations

import json
import sys

import click

from .common import load_plugins, parse_pairs, plugin_option


@click.command("score")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE_OR_FOLDER...")
@click.option("-m", "--method", required=True, metavar="NAME", help="Method (see 'iqabench list methods').")
@click.option("--weights", default=None, metavar="FILE", help="The method's weights file (as in 'iqabench run').")
@click.option("--model", default=None, metavar="RUN_OR_FILE",
              help="A run folder whose protocol fitted a quality model on this method's features (its models/all.npz, "
                   "refitted on every image of the dataset) or a models/*.npz file. Not needed for score methods "
                   "(niqe, arniqa with --method-option regressor=FILE).")
@click.option("--split", "split", type=click.IntRange(1, 1000), default=None, metavar="K",
              help="Use split K's model of the run (fitted on that split's training images) instead of the final one.")
@click.option("--method-option", "method_options", multiple=True, metavar="KEY=VALUE",
              help="Option of the method, e.g. regressor=regressor_kadid10k.pth (arniqa). Repeatable.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the scores here (default: standard output).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="Output format (default: from --out's suffix, else csv).")
@click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="An image that cannot be read or scored stops the command (raise) or is skipped and listed (skip).")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
              help="Device the method runs on (auto: CUDA when available).")
@click.option("--batch-size", type=click.IntRange(1, None), default=None, metavar="N",
              help="Crops per forward pass (default: the method's).")
@click.option("--workers", type=click.IntRange(0, None), default=0, show_default=True, metavar="N",
              help="Image-decoding worker processes.")
@plugin_option
def score_cmd(images, method, weights, model, split, method_options, out, fmt, on_error, device, batch_size, workers,
              plugins):
    """Score IMAGEs (files, folders searched recursively, glob patterns) with METHOD and a saved model.

    One row per image: its path, the score on the scale of the label the model was trained on (e.g.
    KADID-10k MOS 1-5), whether higher is better on that scale, and the scale itself.

    \b
    Examples:
      iqabench run --method brisque --protocol within_dataset --dataset demo
      iqabench score --method brisque --model runs/<that run> photos/ --out scores.csv
      iqabench score --method arniqa --weights ARNIQA.pth --model runs/<run> --split 3 'shots/*.jpg'
      iqabench score --method niqe photo.png
    """
    from ..errors import IQABenchError
    from ..fileio import atomic_write_text
    from ..scoring import expand_inputs, scorer

    load_plugins(plugins)
    paths = expand_inputs(list(images))
    s = scorer(method, weights, model, split=split, device=device, **parse_pairs(method_options, "--method-option"))
    click.echo(f"scoring {len(paths)} image(s): {s.describe()}", err=True)
    result = s.score_sources(paths, paths, on_error=on_error, batch_size=batch_size, workers=workers,
                             desc=f"score with {method}")
    label = s.label
    scale = (f"{label['dataset']} {label['label']}" + (f" {label['range'][0]:g}-{label['range'][1]:g}" if label.get("range") else "")
             if label.get("dataset") else label["label"])
    frame = result.frame.assign(higher_better=s.higher_better, scale=scale)
    fmt = fmt or ("json" if out and out.lower().endswith(".json") else "csv")
    if fmt == "json":
        text = json.dumps({"method": s.method.identity().get("display_name"),
                           "model": str(s.model_path) if s.model_path else None,
                           "higher_better": s.higher_better, "scale": scale,
                           "scores": [{"image": i, "score": float(v)} for i, v in zip(frame["image"], frame["score"])],
                           "failures": [{"image": i, "reason": r} for i, r in result.failures]}, indent=2) + "\n"
    else:
        text = frame.to_csv(index=False, lineterminator="\n")
    if out:
        atomic_write_text(out, text)
        click.echo(f"wrote {len(frame)} score(s) to {out}", err=True)
    else:
        sys.stdout.write(text)
    if result.failures:
        shown = "; ".join(f"{i} ({r})" for i, r in result.failures[:3])
        click.echo(f"skipped {len(result.failures)} image(s): {shown}" + (" …" if len(result.failures) > 3 else ""),
                   err=True)
    if frame.empty:
        raise IQABenchError("no image could be scored")
