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
import os
import statistics
import sys
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=8, help="demo images (each whole, at full and half scale)")
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions (median reported)")
    ap.add_argument("--batch", type=int, default=None, help="images per forward pass (default: the method's)")
    ap.add_argument("--workers", type=int, default=0, help="decoding workers of the extraction loop")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)

    import pandas as pd
    import torchvision
    from iqabench.methods.contrique import CONTRIQUE

    from iqabench import progress
    from iqabench.demo import ensure_demo
    from iqabench.features import extract_features
    from iqabench.images import load_rgb
    from iqabench.views import make_views

    progress.set_enabled(False)
    root = ensure_demo()
    index = pd.read_csv(root / "index.csv").sample(n=args.images, random_state=0)
    index["path"] = [str(root / i) for i in index["image_id"]]
    method = CONTRIQUE(device=args.device, random="true")  # the weights do not change the speed
    bs = args.batch or method.batch_size
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    per_scale: list[list[torch.Tensor]] = [[], []]
    for p in index["path"]:
        for s, t in enumerate(make_views(load_rgb(p), method.views)):
            per_scale[s].append(t)
    stacks = [torch.cat(v) for v in per_scale]
    resnet = torchvision.models.resnet50().eval().to(args.device)
    resnet_cl = torchvision.models.resnet50().eval().to(args.device, memory_format=torch.channels_last)

    def bare(net, channels_last: bool) -> None:
        with torch.inference_mode():
            for stack in stacks:
                for i in range(0, len(stack), bs):
                    x = stack[i : i + bs].to(args.device)
                    net(x.contiguous(memory_format=torch.channels_last) if channels_last else x).cpu()
        sync()

    def loop() -> None:
        extract_features(method, index, workers=args.workers, batch_size=bs)
        sync()

    def timed(fn) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w0, time.process_time() - c0

    runs = {"loop": loop, "bare NCHW": lambda: bare(resnet, False), "bare channels_last": lambda: bare(resnet_cl, True)}
    for fn in runs.values():  # warm-up: allocators and kernels of every batch shape
        fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(args.reps):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    n = len(index)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    where = f"{args.device}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
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
