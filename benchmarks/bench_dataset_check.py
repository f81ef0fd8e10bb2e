"""`iqabench datasets check` throughput on a KADID-10k-like copy (512x384 PNG images).

Writes ``--images`` images (default 500) named like KADID-10k plus a matching ``dmos.csv`` into a
temporary folder, then times the check with 1 and 2 decoding threads and with ``--no-decode``,
and extrapolates to the full KADID-10k (10,125 + 81 files).

Usage: python benchmarks/bench_dataset_check.py [--images 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from iqabench.dataset_check import check_dataset
from iqabench.registry import datasets


def write_copy(root: Path, n_images: int) -> int:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    lines = ["dist_img,ref_img,dmos,var"]
    n_refs = max(1, n_images // 125)
    yy, xx = np.mgrid[0:384, 0:512] / 512
    for r in range(1, n_refs + 1):
        base = (
            rng.uniform(40, 200, 3)
            + xx[..., None] * rng.uniform(-80, 80, 3)
            + yy[..., None] * rng.uniform(-80, 80, 3)
        )
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(root / "images" / f"I{r:02d}.png")
        for t in range(1, 26):
            for lev in range(1, 6):
                noisy = base + rng.normal(0, 4 * lev, base.shape)
                name = f"I{r:02d}_{t:02d}_{lev:02d}.png"
                Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(root / "images" / name)
                lines.append(f"{name},I{r:02d}.png,{rng.uniform(1, 5):.3f},0.5")
    (root / "dmos.csv").write_text("\n".join(lines) + "\n")
    return n_refs * 126


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "KADID10K"
        n_files = write_copy(root, args.images)
        cls = datasets.get("kadid10k")
        rows = []
        for label, kw in (
            ("decode, 1 thread", {"workers": 1}),
            ("decode, 2 threads", {"workers": 2}),
            ("--no-decode", {"decode": False}),
        ):
            start = time.perf_counter()
            report = check_dataset(cls(root=root), **kw)
            seconds = time.perf_counter() - start
            assert all(p.kind == "count" for p in report.problems), report.problems
            rows.append((label, seconds, n_files / seconds, 10206 / (n_files / seconds)))
    print(f"| check of {n_files} files | seconds | files/s | full KADID-10k (s) |")
    print("|---|---|---|---|")
    for label, seconds, rate, full in rows:
        print(f"| {label} | {seconds:.2f} | {rate:.0f} | {full:.0f} |")


if __name__ == "__main__":
    main()
