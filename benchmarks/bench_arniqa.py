"""ARNIQA: training throughput, the share of a step spent waiting for data, JPEG 2000 in worker
processes, and 10-view feature-extraction throughput.

1. **Training** (``iqabench train arniqa``'s loop, ``--steps`` timed steps after one warm-up step):
   samples/s (a sample = one pair A, B = 4 views of ``--crop`` px) and, per step (medians), the
   time the model waited for its inputs (``wait_s``: loading and degradation not hidden behind
   the previous step's model work) as a share of the step, with what loading (decode, half-scale,
   crops; in ``--workers`` DataLoader processes) and degradation (``apply_compositions`` with
   JPEG 2000 in ``--jpeg2000-workers`` processes) cost on their own. ``--compare`` also runs the
   step-by-step path (no look-ahead, JPEG 2000 in the training process), alternating. The pool is a
   folder of ``--pool-images`` 512×384 PNGs cut from the bundled photographs (KADIS-700k-like
   files, decoded on every use), or ``--source demo-pristine`` (in memory, nothing to decode).
   Target on one GPU at the paper's config (ResNet-50, batch 16, 224 px): waiting < 10 % of a step.
2. **JPEG 2000 round trips** (``--jpeg2000-bench N``): ``--j2k-views`` 224² crops at levels 1..5
   encoded and decoded in the process, then by a pool of N worker processes: wall time and speed-up
   (identical bytes are asserted).
3. **Extraction** for the 10-view protocol (5 crops × 2 scales) on ``--images`` demo images:
   images/s through the real extraction loop (decode, half-scale resize, crops, batching,
   ``method.extract``), and the ratio to the bare encoder forward on pre-made tensors of exactly
   the same crops in the same batches. Target ≥ 0.9: decoding and cropping must not be the
   bottleneck.

Times are wall-clock and process CPU time (``time.process_time``); on a shared machine the CPU
time is the steadier figure. CUDA is used when available (``--device``), with synchronisation
around each timed section.

Usage: python benchmarks/bench_arniqa.py [--backbone resnet18 --crop 64 --batch 8 --steps 8]
       python benchmarks/bench_arniqa.py --backbone resnet50 --crop 224 --batch 16 --steps 2 --images 8
       python benchmarks/bench_arniqa.py --skip-extract --compare --workers 1 --jpeg2000-workers 1
       python benchmarks/bench_arniqa.py --skip-train --skip-extract --jpeg2000-bench 2
       # on a GPU host, the paper's config with the defaults a user gets (workers 8, JPEG 2000 auto):
       python benchmarks/bench_arniqa.py --backbone resnet50 --crop 224 --batch 16 --steps 20 --workers 8 \\
           --jpeg2000-workers auto --skip-extract --compare
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from _bench import encoder_pass, machine_options, set_up, synchronizer, timed, views_by_scale


def pool_folder(folder: Path, n: int) -> Path:
    """``n`` 512×384 PNGs (KADID/KADIS-sized) cut from the bundled colour photographs."""
    from bench_extraction import make_images  # this script's folder is on sys.path

    folder.mkdir(parents=True, exist_ok=True)
    make_images(folder, n)
    return folder


def train_throughput(args, source: str, ahead: bool, jpeg2000_workers) -> dict:
    from iqabench import progress
    from iqabench.training.arniqa import ARNIQATask, train_arniqa
    from iqabench.training.config import load_config

    progress.set_enabled(False)
    cfg = load_config("arniqa", "demo")
    cfg["model"]["backbone"] = args.backbone
    cfg["data"].update({"source": source, "crop_size": args.crop, "epoch_repeats": 1000, "workers": args.workers,
                        "jpeg2000_workers": jpeg2000_workers})
    cfg["training"].update({"epochs": 1, "batch_size": args.batch, "max_steps": args.steps + 1, "seed": 0})
    cfg["validation"]["datasets"] = []
    rows: list[dict] = []
    ARNIQATask.prepare_ahead = ahead  # the step-by-step path, for --compare (the loop reads the task's flag)
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        train_arniqa(cfg, tmp, device=args.device, on_step=rows.append)
    cpu = time.process_time() - cpu0
    timed = rows[1:]  # the first step warms up allocators, kernels and the worker processes

    def median(key: str) -> float:
        return statistics.median(r[key] for r in timed)

    step = median("step_s")
    return {
        "samples_per_s": args.batch / step,
        "step_s": step,
        "wait_share": median("wait_s") / step,
        "data_s": median("data_s"),
        "prepare_s": median("prepare_s"),
        "cpu_s_per_step": cpu / len(rows),  # this process only (not the worker processes)
    }


def jpeg2000_pool_speed(args) -> dict:
    from iqabench.degradation import distort
    from iqabench.degradation.codec_pool import JPEG2000Pool
    from iqabench.images import load_rgb
    from iqabench.views import to_tensor

    folder = pool_folder(Path(tempfile.mkdtemp(prefix="bench-j2k-")), 8)
    images = [to_tensor(load_rgb(p)) for p in sorted(folder.iterdir())]
    x = torch.stack([images[i % len(images)][:, (i * 7) % 160 :, (i * 13) % 288 :][:, :224, :224]
                     for i in range(args.j2k_views)])
    levels = torch.arange(args.j2k_views) % 5 + 1
    w0 = time.perf_counter()
    local = distort(x, "jpeg2000", levels)
    local_s = time.perf_counter() - w0
    with JPEG2000Pool(args.jpeg2000_bench) as pool:
        pool.submit(x[: args.jpeg2000_bench], 1).result()  # start the workers
        w0 = time.perf_counter()
        pooled = pool.submit(x, levels).result()
        pooled_s = time.perf_counter() - w0
    assert torch.equal(local, pooled), "the pool's round trips differ from the in-process ones"
    return {"views": args.j2k_views, "local_s": local_s, "pooled_s": pooled_s}


def extraction_throughput(args) -> dict:
    import pandas as pd
    from iqabench.methods.arniqa import ARNIQA

    from iqabench.demo import ensure_demo
    from iqabench.features import extract_features

    root = ensure_demo()
    index = pd.read_csv(root / "index.csv").sample(n=args.images, random_state=0)
    index["path"] = [str(root / i) for i in index["image_id"]]
    method = ARNIQA(device=args.device, backbone=args.backbone, crop_size=str(args.crop))
    sync = synchronizer(args.device)
    stacks = views_by_scale(index["path"], method.views)  # the same crops as the loop's, made beforehand

    def bare() -> None:
        encoder_pass(method.extract, stacks, args.extract_batch or method.batch_size, method.device)

    bare()  # warm-up: allocators and the kernels of every batch shape, for both timings alike
    loop_wall, loop_cpu = timed(lambda: (extract_features(method, index, workers=args.extract_workers,
                                                         batch_size=args.extract_batch), sync()))
    bare_wall, bare_cpu = timed(bare)
    n = len(index)
    return {
        "images_per_s": n / loop_wall,
        "bare_images_per_s": n / bare_wall,
        "ratio": bare_wall / loop_wall,
        "images_per_cpu_s": n / loop_cpu,
        "bare_images_per_cpu_s": n / bare_cpu,
        "ratio_cpu": bare_cpu / loop_cpu,
    }


def _workers_arg(text: str):
    return text if text == "auto" else int(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="resnet18", choices=["resnet18", "resnet50", "se_resnet50"])
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8, help="training pairs per step")
    ap.add_argument("--steps", type=int, default=8, help="timed training steps")
    ap.add_argument("--workers", type=int, default=0, help="training DataLoader workers")
    ap.add_argument("--jpeg2000-workers", type=_workers_arg, default="auto",
                    help="JPEG 2000 worker processes in training (auto: the config's rule)")
    ap.add_argument("--compare", action="store_true",
                    help="also time the step-by-step path (no look-ahead, JPEG 2000 in the training process)")
    ap.add_argument("--source", default=None, help="training images (default: a folder of 512×384 PNGs)")
    ap.add_argument("--pool-images", type=int, default=40, help="PNGs in the default training folder")
    ap.add_argument("--jpeg2000-bench", type=int, default=0, metavar="N",
                    help="time JPEG 2000 round trips in the process and in a pool of N workers")
    ap.add_argument("--j2k-views", type=int, default=64, help="224² views for --jpeg2000-bench")
    ap.add_argument("--images", type=int, default=40, help="demo images for the extraction benchmark")
    ap.add_argument("--extract-workers", type=int, default=0)
    ap.add_argument("--extract-batch", type=int, default=None)
    machine_options(ap)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-extract", action="store_true")
    args = ap.parse_args()
    where = set_up(args)
    print(f"# ARNIQA benchmark: {args.backbone}, {args.crop} px crops ({where})\n")
    if not args.skip_train:
        with tempfile.TemporaryDirectory() as tmp:
            source = args.source or str(pool_folder(Path(tmp) / "pool", args.pool_images))
            variants = [("look-ahead, JPEG 2000 workers " + str(args.jpeg2000_workers), True, args.jpeg2000_workers)]
            if args.compare:
                variants.append(("step by step, JPEG 2000 in the process", False, 0))
                variants = variants + variants  # alternated, so both see the same load
            print(f"## Training ({args.batch} pairs = {4 * args.batch} views per step, median of {args.steps} steps, "
                  f"{args.workers} DataLoader workers, images: {args.source or f'{args.pool_images} PNGs 512×384'})\n")
            print("| path | samples/s | step s | waiting for data | loading s (own) | degradation s (own) | CPU s/step |")
            print("|---|---|---|---|---|---|---|")
            for name, ahead, j2k in variants:
                t = train_throughput(args, source, ahead, j2k)
                print(f"| {name} | {t['samples_per_s']:.2f} | {t['step_s']:.3f} | {t['wait_share']:.1%} | "
                      f"{t['data_s']:.3f} | {t['prepare_s']:.3f} | {t['cpu_s_per_step']:.3f} |", flush=True)
            print()
    if args.jpeg2000_bench:
        j = jpeg2000_pool_speed(args)
        print(f"## JPEG 2000 round trips ({j['views']} views of 224², levels 1..5; identical bytes)\n")
        print("| in the process, s | pool of " + str(args.jpeg2000_bench) + " workers, s | speed-up |")
        print("|---|---|---|")
        print(f"| {j['local_s']:.2f} | {j['pooled_s']:.2f} | {j['local_s'] / j['pooled_s']:.2f}× |\n")
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
