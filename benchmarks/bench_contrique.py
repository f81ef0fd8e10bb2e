"""CONTRIQUE: feature-extraction throughput against a bare torchvision ResNet-50 forward.

The method's whole extraction loop (decode, the half-scale Pillow resize, batching by scale and
size, ``method.extract``: ResNet-50 encoder, global pool, L2 normalisation) on ``--images`` demo
images (512×384 PNG, whole image at full and half scale), against ``torchvision.models.resnet50()``
called on exactly the same tensors in the same batches, made beforehand. Target: loop ≥ 0.9 × bare,
i.e. decoding, resizing and batching are not the bottleneck.

The bare forward is timed twice: as torchvision runs by default (NCHW) and in the channels_last
layout the method uses, so that the layout's share of any difference is visible. Runs alternate
(bare, loop, bare, …) and the median of ``--reps`` is reported; wall-clock and process CPU time
(``time.process_time``; the steadier figure on a shared machine).

Usage: python benchmarks/bench_contrique.py [--images 8 --reps 3 --threads 2 --device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from _bench import encoder_pass, machine_options, set_up, synchronizer, timed, views_by_scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=8, help="demo images (each whole, at full and half scale)")
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions (median reported)")
    ap.add_argument("--batch", type=int, default=None, help="images per forward pass (default: the method's)")
    ap.add_argument("--workers", type=int, default=0, help="decoding workers of the extraction loop")
    machine_options(ap)
    args = ap.parse_args()
    where = set_up(args)

    import pandas as pd
    import torchvision
    from iqabench.methods.contrique import CONTRIQUE

    from iqabench.demo import ensure_demo
    from iqabench.features import extract_features

    root = ensure_demo()
    index = pd.read_csv(root / "index.csv").sample(n=args.images, random_state=0)
    index["path"] = [str(root / i) for i in index["image_id"]]
    method = CONTRIQUE(device=args.device, random="true")  # the weights do not change the speed
    bs = args.batch or method.batch_size
    sync = synchronizer(args.device)

    stacks = views_by_scale(index["path"], method.views)
    resnet = torchvision.models.resnet50().eval().to(args.device)
    resnet_cl = torchvision.models.resnet50().eval().to(args.device, memory_format=torch.channels_last)

    def loop() -> None:
        extract_features(method, index, workers=args.workers, batch_size=bs)
        sync()

    runs = {
        "loop": loop,
        "bare NCHW": lambda: encoder_pass(resnet, stacks, bs, args.device),
        "bare channels_last": lambda: encoder_pass(
            lambda x: resnet_cl(x.contiguous(memory_format=torch.channels_last)), stacks, bs, args.device),
    }
    for fn in runs.values():  # warm-up: allocators and kernels of every batch shape
        fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(args.reps):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    n = len(index)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(f"# CONTRIQUE extraction vs bare torchvision ResNet-50 ({n} demo images 512×384, whole image at full and "
          f"half scale, batch {bs}; {where})\n")
    print("| | img/s (wall) | img/s (CPU time) | loop img/s ÷ this, wall | loop img/s ÷ this, CPU |")
    print("|---|---|---|---|---|")
    lw, lc = med["loop"]
    for name, (w, c) in med.items():
        print(f"| {name} | {n / w:.3f} | {n / c:.3f} | {w / lw:.2f} | {c / lc:.2f} |")
    print(f"\nthroughput ratio, loop vs bare torchvision (NCHW): {med['bare NCHW'][0] / lw:.2f} wall, "
          f"{med['bare NCHW'][1] / lc:.2f} CPU time (target ≥ 0.9)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
