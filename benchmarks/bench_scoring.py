"""Time of ``iqabench.scorer`` against the method's feature extraction alone, on the demo images.

    .venv/bin/python benchmarks/bench_scoring.py [--method brisque] [--images 200] [--run RUN_FOLDER]

Without ``--run`` a within_dataset run of the method on ``demo`` is made first (in a temporary
folder) for its saved model. The first N demo images are then (1) passed through
``extract_features`` (what every protocol does; no feature cache) and (2) scored by the scorer
(extraction + the saved model's prediction + per-image averaging), alternately, ``--repeats`` times
each; the median wall times are printed as a markdown table. Scoring should cost extraction plus a
few milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="brisque")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--run", default=None, help="a within_dataset run folder of --method on demo")
    args = ap.parse_args()

    import pandas as pd

    import iqabench
    from iqabench import registry
    from iqabench.features import extract_features

    run = args.run
    if run is None:
        runs = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
        subprocess.run([sys.executable, "-m", "iqabench", "-q", "run", "-m", args.method, "-p", "within_dataset",
                        "-d", "demo", "--runs", str(runs), "--no-cache"], check=True)
        run = str(next(p for p in runs.iterdir() if (p / "result.json").is_file()))
    score = iqabench.scorer(args.method, model=run, device="cpu")
    index = registry.datasets.get("demo")().load_index().head(args.images)
    paths = index["path"].astype(str).tolist()
    frame = pd.DataFrame({"image_id": paths, "path": paths})

    times: dict[str, list[float]] = {"extraction alone": [], "scorer (extraction + model)": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        extract_features(score.method, frame, desc="extract")
        times["extraction alone"].append(time.perf_counter() - t)
        t = time.perf_counter()
        out = score(paths)
        times["scorer (extraction + model)"].append(time.perf_counter() - t)
    assert len(out) == len(paths)

    print(f"{args.method}, {len(paths)} demo images, model {run}, median of {args.repeats}\n")
    print("| path | total s | ms / image |\n|---|---:|---:|")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {m:.2f} | {1000 * m / len(paths):.1f} |")


if __name__ == "__main__":
    main()
