"""Feature extraction: can the CPU decode fast enough to keep the encoder busy? (issue 18, item 4)

On KADID-sized images (512×384 PNG, cut from the bundled colour photographs), for ARNIQA's
10-view protocol (5 crops × 2 scales of ``--crop`` px):

1. **decode + views alone**: PNG decode, the half-scale resize and the crops, as the extraction
   loop's DataLoader workers run them (``iqabench.features._ImageViews``, one torch thread), in
   this process: images/s per core (wall and CPU time);
2. **the same through a DataLoader** with each of ``--workers`` worker processes: images/s;
3. **the encoder alone**: ``ARNIQA.extract`` on the same views, made beforehand, in the loop's
   batches (``--batch`` crops), after a warm-up pass: images/s;
4. **the whole loop** (``extract_features``) with each of ``--workers``: images/s.

The number of decoding cores one encoder needs is (3) ÷ (1). ``iqabench run`` decodes in
``--workers`` processes, by default (on CUDA) every core but one. Random weights (the speed does
not depend on them). CUDA when available (``--device``), synchronised around each timing.

    .venv/bin/python benchmarks/bench_extraction.py [--images 24] [--workers 0 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from _bench import encoder_pass, machine_options, set_up, synchronizer, timed


def make_images(folder: Path, n: int) -> list[Path]:
    """``n`` 512×384 PNGs cut from the bundled colour photographs (mirrored after the first round)."""
    from PIL import Image, ImageOps

    from iqabench.photos import CONTENT

    photos = [p.load() for p in CONTENT if not p.grayscale]
    paths = []
    for i in range(n):
        img = photos[i % len(photos)]
        if (i // len(photos)) % 2:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        paths.append(folder / f"img{i:03d}.png")
        ImageOps.fit(img, (512, 384)).save(paths[-1])
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--backbone", default="resnet50", choices=["resnet50", "resnet18", "se_resnet50"])
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--batch", type=int, default=None, help="crops per forward pass (default: the method's)")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="DataLoader workers to try")
    machine_options(ap)
    args = ap.parse_args()
    where = set_up(args)
    import pandas as pd

    from iqabench import registry
    from iqabench.features import _ImageViews, extract_features

    method = registry.methods.get("arniqa")(device=args.device, backbone=args.backbone, crop_size=str(args.crop))
    bs = args.batch or method.batch_size
    sync = synchronizer(args.device)
    n = args.images
    print(f"# Extraction: decode + views vs the encoder ({args.backbone}, {args.crop} px, 10 views; {where})\n")
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), n)
        data = _ImageViews([str(p) for p in paths], method.views)
        rows = []

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as in a DataLoader worker (torch gives each one thread)
        data[0], data[1]  # warm-up: lazy imports, the files into the page cache
        views: list = []
        wall, cpu = timed(lambda: views.extend(data[i][1][0] for i in range(n)))
        torch.set_num_threads(threads)
        rows.append(("decode + views, this process, 1 thread", n / wall, n / cpu))

        def through_loader(workers: int) -> None:
            loader = torch.utils.data.DataLoader(data, batch_size=1, num_workers=workers, collate_fn=lambda b: b)
            for _ in loader:
                pass

        for w in args.workers:
            if w:
                wall, _ = timed(lambda w=w: through_loader(w))
                rows.append((f"decode + views, DataLoader, {w} worker(s)", n / wall, None))

        stacks = [torch.cat([v[s] for v in views]) for s in range(len(views[0]))]  # by scale, as the loop batches

        def encoder() -> None:
            encoder_pass(method.extract, stacks, bs, method.device)

        encoder()  # warm-up: every batch shape
        wall, cpu = timed(encoder)
        rows.append((f"encoder alone ({args.backbone}, batch {bs})", n / wall, n / cpu))

        index = pd.DataFrame({"image_id": [p.name for p in paths], "path": [str(p) for p in paths]})
        for w in args.workers:
            wall, cpu = timed(lambda w=w: (extract_features(method, index, workers=w, batch_size=args.batch), sync()))
            rows.append((f"whole loop, --workers {w}", n / wall, n / cpu))

    print(f"{n} images, 512×384 PNG\n")
    print("| | images/s (wall) | images/s (CPU time of this process) |")
    print("|---|---|---|")
    for name, per_wall, per_cpu in rows:
        print(f"| {name} | {per_wall:.2f} | {'' if per_cpu is None else f'{per_cpu:.2f}'} |")
    decode_cpu, encoder_wall = rows[0][2], next(r[1] for r in rows if r[0].startswith("encoder"))
    print(f"\nDecoding cores one encoder needs: {encoder_wall / decode_cpu:.2f} "
          "(encoder images/s ÷ decode + views images/s per CPU second)\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
