"""ARNIQA: training throughput and 10-view feature-extraction throughput.

1. **Training** (``iqabench train arniqa``'s loop, ``--steps`` timed steps after one warm-up step):
   samples/s (a sample = one pair A, B = 4 views of ``--crop`` px) and how a step's time splits
   into data loading (crops), degradation (``apply_compositions`` on the device) and the model
   (forward, NT-Xent, backward, SGD step). The pool is the bundled pristine photographs.
2. **Extraction** for the 10-view protocol (5 crops × 2 scales) on ``--images`` demo images:
   images/s through the real extraction loop (decode, half-scale resize, crops, batching,
   ``method.extract``), and the ratio to the bare encoder forward on pre-made tensors of exactly
   the same crops in the same batches. Target ≥ 0.9: decoding and cropping must not be the
   bottleneck.

Times are wall-clock and process CPU time (``time.process_time``); on a shared machine the CPU
time is the steadier figure. CUDA is used when available (``--device``), with synchronisation
around each timed section.

Usage: python benchmarks/bench_arniqa.py [--backbone resnet18 --crop 64 --batch 8 --steps 8]
       python benchmarks/bench_arniqa.py --backbone resnet50 --crop 224 --batch 16 --steps 2 --images 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch


def train_throughput(args) -> dict:
    from iqabench import progress
    from iqabench.training.arniqa import train_arniqa
    from iqabench.training.config import load_config

    progress.set_enabled(False)
    cfg = load_config("arniqa", "demo")
    cfg["model"]["backbone"] = args.backbone
    cfg["data"].update({"source": "demo-pristine", "crop_size": args.crop, "epoch_repeats": 1000, "workers": args.workers})
    cfg["training"].update({"epochs": 1, "batch_size": args.batch, "max_steps": args.steps + 1, "seed": 0})
    cfg["validation"]["datasets"] = []
    rows: list[dict] = []
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        train_arniqa(cfg, tmp, device=args.device, on_step=rows.append)
    cpu = time.process_time() - cpu0
    timed = rows[1:]  # the first step warms up allocators and kernels
    step = statistics.median(r["step_s"] for r in timed)
    data = statistics.median(r["data_s"] for r in timed)
    degrade = statistics.median(r["prepare_s"] for r in timed)
    model = step - data - degrade
    return {
        "samples_per_s": args.batch / step,
        "views_per_s": 4 * args.batch / step,
        "step_s": step,
        "data_share": data / step,
        "degrade_share": degrade / step,
        "model_share": model / step,
        "cpu_s_per_step": cpu / len(rows),
    }


def extraction_throughput(args) -> dict:
    import pandas as pd
    from iqabench.methods.arniqa import ARNIQA

    from iqabench.demo import ensure_demo
    from iqabench.features import extract_features
    from iqabench.images import load_rgb
    from iqabench.views import make_views

    root = ensure_demo()
    index = pd.read_csv(root / "index.csv").sample(n=args.images, random_state=0)
    index["path"] = [str(root / i) for i in index["image_id"]]
    method = ARNIQA(device=args.device, backbone=args.backbone, crop_size=str(args.crop))
    sync = (lambda: torch.cuda.synchronize()) if args.device.startswith("cuda") else (lambda: None)

    # The same crops, made beforehand, in the same batches (grouped by scale, as the loop does).
    per_scale: list[list[torch.Tensor]] = [[], []]
    for p in index["path"]:
        for s, t in enumerate(make_views(load_rgb(p), method.views)):
            per_scale[s].append(t)
    stacks = [torch.cat(v) for v in per_scale]
    bs = args.extract_batch or method.batch_size

    def bare() -> None:
        with torch.inference_mode():
            for stack in stacks:
                for i in range(0, len(stack), bs):
                    method.extract(stack[i : i + bs].to(method.device)).cpu()
        sync()

    bare()  # warm-up: allocators and the kernels of every batch shape, for both timings alike
    w0, c0 = time.perf_counter(), time.process_time()
    extract_features(method, index, workers=args.extract_workers, batch_size=args.extract_batch)
    sync()
    loop_wall, loop_cpu = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    bare()
    bare_wall, bare_cpu = time.perf_counter() - w0, time.process_time() - c0
    n = len(index)
    return {
        "images_per_s": n / loop_wall,
        "bare_images_per_s": n / bare_wall,
        "ratio": bare_wall / loop_wall,
        "images_per_cpu_s": n / loop_cpu,
        "bare_images_per_cpu_s": n / bare_cpu,
        "ratio_cpu": bare_cpu / loop_cpu,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="resnet18", choices=["resnet18", "resnet50", "se_resnet50"])
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8, help="training pairs per step")
    ap.add_argument("--steps", type=int, default=8, help="timed training steps")
    ap.add_argument("--workers", type=int, default=0, help="training data workers")
    ap.add_argument("--images", type=int, default=40, help="demo images for the extraction benchmark")
    ap.add_argument("--extract-workers", type=int, default=0)
    ap.add_argument("--extract-batch", type=int, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-extract", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    where = f"{args.device}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    print(f"# ARNIQA benchmark: {args.backbone}, {args.crop} px crops ({where})\n")
    if not args.skip_train:
        t = train_throughput(args)
        print(f"## Training ({args.batch} pairs = {4 * args.batch} views per step, median of {args.steps} steps)\n")
        print("| samples/s | views/s | step s | data | degradation | model | CPU s/step |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {t['samples_per_s']:.2f} | {t['views_per_s']:.1f} | {t['step_s']:.3f} | {t['data_share']:.0%} | "
              f"{t['degrade_share']:.0%} | {t['model_share']:.0%} | {t['cpu_s_per_step']:.3f} |\n")
    if not args.skip_extract:
        e = extraction_throughput(args)
        print(f"## Extraction, 10 views per image ({args.images} demo images, 512×384 PNG)\n")
        print("| | loop img/s | bare encoder img/s | ratio |")
        print("|---|---|---|---|")
        print(f"| wall | {e['images_per_s']:.2f} | {e['bare_images_per_s']:.2f} | {e['ratio']:.2f} |")
        print(f"| CPU time | {e['images_per_cpu_s']:.2f} | {e['bare_images_per_cpu_s']:.2f} | {e['ratio_cpu']:.2f} |\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
