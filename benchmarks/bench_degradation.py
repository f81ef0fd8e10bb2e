"""Speed of the ARNIQA degradation model (iqabench.degradation); prints markdown tables.

1. Training-sample throughput: per sample 4 views (A, B × full, half) of size×size, one composition
   drawn as in training ("arniqa" sampler) applied to all four, batches of --batch samples.
   CPU: CPU milliseconds per training sample with --threads torch threads (target ≤ 16 ms with 1
   thread, 10× the reference's ~160 ms). CUDA (when available): samples/s (target ≥ 2,000 on an
   H100-class GPU), with a CUDA generator.
2. Where the CPU time goes: share of each type in the throughput run.
3. Per type and level: milliseconds per crop (CPU; CUDA column when available).

    .venv/bin/python benchmarks/bench_degradation.py [--batch 16] [--size 224] [--iters 30] [--device both]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch

from iqabench.degradation import DISTORTIONS, GROUPS, apply_compositions, compose, distort, sampler_for

REFERENCE_MS_PER_SAMPLE = 160.0


def natural_views(n: int, size: int, seed: int) -> torch.Tensor:
    """n random size×size crops of the bundled pristine photographs."""
    from iqabench.photos import PRISTINE

    rng = np.random.default_rng(seed)
    photos = [np.asarray(p.load(), dtype=np.float32) / 255.0 for p in PRISTINE]
    out = []
    for i in range(n):
        a = photos[i % len(photos)]
        y = rng.integers(0, a.shape[0] - size + 1)
        x = rng.integers(0, a.shape[1] - size + 1)
        out.append(a[y : y + size, x : x + size])
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


class TypeTimer:
    """Wraps compose.distort to accumulate time per type (synchronising CUDA around each call)."""

    def __init__(self, cpu_clock: bool):
        self.seconds: dict[str, float] = defaultdict(float)
        self.views: dict[str, int] = defaultdict(int)
        self.clock = time.process_time if cpu_clock else time.perf_counter
        self._orig = compose.distort

    def __enter__(self):
        def timed(x, key, level, generator=None):
            if x.is_cuda:
                torch.cuda.synchronize()
            t = self.clock()
            out = self._orig(x, key, level, generator)
            if x.is_cuda:
                torch.cuda.synchronize()
            self.seconds[key] += self.clock() - t
            self.views[key] += x.shape[0]
            return out

        compose.distort = timed
        return self

    def __exit__(self, *exc):
        compose.distort = self._orig


def throughput(device: str, batch: int, size: int, iters: int, seed: int) -> dict:
    views_per_sample = 4
    x = natural_views(batch * views_per_sample, size, seed).to(device)
    cuda = device.startswith("cuda")
    sampler = sampler_for("arniqa")
    t = time.process_time()
    comps = [sampler.sample_batch(batch, torch.Generator().manual_seed(seed + i)) for i in range(iters)]
    sampling = time.process_time() - t

    def run(gen: torch.Generator, batches: list) -> None:
        for c in batches:
            apply_compositions(x, c * views_per_sample, gen)  # the same composition on the 4 views

    run(torch.Generator(device=device).manual_seed(seed), comps[:3])  # warm-up: kernel caches, codecs
    if cuda:
        torch.cuda.synchronize()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run(torch.Generator(device=device).manual_seed(seed), comps)
    if cuda:
        torch.cuda.synchronize()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    with TypeTimer(cpu_clock=not cuda) as timer:  # the same work again, timed per type
        run(torch.Generator(device=device).manual_seed(seed), comps)
    samples = iters * batch
    return {
        "cpu_ms_per_sample": 1e3 * cpu / samples,
        "wall_ms_per_sample": 1e3 * wall / samples,
        "samples_per_s": samples / wall,
        "sampling_ms_per_sample": 1e3 * sampling / samples,
        "type_seconds": dict(timer.seconds),
        "type_views": dict(timer.views),
    }


def expected_ms_per_sample(table: dict[str, list[float]]) -> tuple[float, float]:
    """E[ms per training sample] from the per-type table and the sampling law (all types, without
    jpeg2000): 4 views × P(distorted) × E[#groups]/7 per group, uniform type, level weights."""
    sampler = sampler_for("arniqa")
    per_group_share = 4 * (1 - sampler.p_pristine) * ((1 + sampler.max_distortions) / 2) / len(GROUPS)
    total = without = 0.0
    for keys in GROUPS.values():
        for key in keys:
            ms = sum(w * v for w, v in zip(sampler.weights, table[key])) * per_group_share / len(keys)
            total += ms
            without += 0.0 if key == "jpeg2000" else ms
    return total, without


def per_type(device: str, batch: int, size: int, reps: int, seed: int) -> dict[str, list[float]]:
    """Milliseconds per crop for every type and level (min over reps of a batch call)."""
    x = natural_views(batch, size, seed).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    cuda = device.startswith("cuda")
    clock = time.perf_counter if cuda else time.process_time
    out: dict[str, list[float]] = {}
    for key in DISTORTIONS:
        row = []
        for level in range(1, 6):
            distort(x, key, level, gen)  # warm-up
            best = float("inf")
            for _ in range(reps):
                if cuda:
                    torch.cuda.synchronize()
                t = clock()
                distort(x, key, level, gen)
                if cuda:
                    torch.cuda.synchronize()
                best = min(best, clock() - t)
            row.append(1e3 * best / batch)
        out[key] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16, help="training samples per batch (4 views each)")
    ap.add_argument("--size", type=int, default=224, help="crop size")
    ap.add_argument("--iters", type=int, default=30, help="batches timed in the throughput run")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per type and level (minimum kept)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the CPU target is per core)")
    ap.add_argument("--device", choices=["cpu", "cuda", "both"], default="both",
                    help="'both' runs CUDA too when available")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-types", action="store_true", help="only the throughput tables")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu", "cuda"]
    if "cuda" in devices and not torch.cuda.is_available():
        print("CUDA not available: CPU only.\n")
        devices = ["cpu"]

    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), batch {args.batch} samples × 4 views "
          f"of {args.size}², {args.iters} batches\n")
    results = {d: throughput(d, args.batch, args.size, args.iters, args.seed) for d in devices}

    print("## Training-sample throughput (measured)\n")
    print("| device | CPU ms / sample | wall ms / sample | samples/s | target |")
    print("|---|---|---|---|---|")
    for d, r in results.items():
        target = "≤ 16 ms CPU per sample per core" if d == "cpu" else "≥ 2,000 samples/s (H100)"
        print(f"| {d} | {r['cpu_ms_per_sample']:.1f} | {r['wall_ms_per_sample']:.1f} | {r['samples_per_s']:.0f} | {target} |")
    if "cpu" in results:
        r = results["cpu"]
        print(f"\nReference (measured, 1 thread): ~{REFERENCE_MS_PER_SAMPLE:.0f} ms CPU per sample → "
              f"speed-up ×{REFERENCE_MS_PER_SAMPLE / r['cpu_ms_per_sample']:.1f}.")

    for d, r in results.items():
        total = sum(r["type_seconds"].values())
        samples = args.iters * args.batch
        print(f"\n## Where the time goes ({d}, {'CPU' if d == 'cpu' else 'wall'} time inside the types)\n")
        print("| type | group | views / sample | ms / view | ms / sample | share |")
        print("|---|---|---|---|---|---|")
        group_of = {k: g for g, keys in GROUPS.items() for k in keys}
        for key, sec in sorted(r["type_seconds"].items(), key=lambda kv: -kv[1]):
            views = r["type_views"][key]
            print(f"| {key} | {group_of[key]} | {views / samples:.2f} | {1e3 * sec / views:.2f} | "
                  f"{1e3 * sec / samples:.2f} | {100 * sec / total:.0f}% |")
        j2k = r["type_seconds"].get("jpeg2000", 0.0)
        print(f"\nInside the types: {1e3 * total / samples:.1f} ms per sample, of which jpeg2000 "
              f"{1e3 * j2k / samples:.1f}; without jpeg2000: {1e3 * (total - j2k) / samples:.1f} ms. "
              f"Composition sampling: {r['sampling_ms_per_sample']:.2f} ms per sample.")

    if args.skip_types:
        return
    tables = {d: per_type(d, args.batch, args.size, args.reps, args.seed) for d in devices}
    print(f"\n## Per type: ms per {args.size}² crop (batches of {args.batch}, min of {args.reps})\n")
    header = "| type | " + " | ".join(f"CPU L{i}" for i in range(1, 6)) + " | CPU mean |"
    sep = "|---|" + "---|" * 6
    if "cuda" in tables:
        header += " CUDA mean |"
        sep += "---|"
    print(header)
    print(sep)
    for key in DISTORTIONS:
        row = tables["cpu"][key] if "cpu" in tables else [float("nan")] * 5
        line = f"| {key} | " + " | ".join(f"{v:.2f}" for v in row) + f" | {np.mean(row):.2f} |"
        if "cuda" in tables:
            line += f" {np.mean(tables['cuda'][key]):.3f} |"
        print(line)
    for d, table in tables.items():
        total, without = expected_ms_per_sample(table)
        unit = "CPU" if d == "cpu" else "GPU wall"
        print(f"\nExpected {unit} ms per training sample from this table and the sampling law ({d}): "
              f"{total:.1f} ms; without jpeg2000: {without:.1f} ms.")


if __name__ == "__main__":
    main()
