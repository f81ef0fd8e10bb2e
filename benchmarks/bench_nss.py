"""Per-image time of iqabench's BRISQUE features and NIQE score against pyiqa's, at 512×384.

    .venv/bin/python benchmarks/bench_nss.py [--repeats 15] [--threads N]

Image: Kodak I03 from pyiqa's ResultsCalibra folder (512×384 RGB). Each implementation is warmed
up twice, then the implementations are run in alternation (so that they see the same machine
load) and the median per-image wall time is reported; torch's thread count is left at its default
unless --threads is given. pyiqa's BRISQUE metric needs SVM weights that are not available offline,
so its feature extraction (what iqabench's BRISQUE computes) is timed, and also its full brisque()
with a dummy 100-support-vector SVM to show the cost of the regression step. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def _image() -> torch.Tensor:
    import pyiqa

    from iqabench.images import load_rgb
    from iqabench.views import to_tensor

    path = Path(pyiqa.__file__).resolve().parent.parent / "ResultsCalibra" / "ref_dir" / "I03.bmp"
    return to_tensor(load_rgb(path)).unsqueeze(0)


def _contenders(x: torch.Tensor) -> dict[str, Callable[[], object]]:
    import pyiqa
    from iqabench.methods.niqe import IQABENCH_MODEL
    from pyiqa.archs.brisque_arch import brisque, natural_scene_statistics
    from pyiqa.matlab_utils import imresize
    from pyiqa.utils.color_util import to_y_channel

    from iqabench.registry import methods

    ours_brisque, ours_niqe = methods.get("brisque")(), methods.get("niqe")(model="iqabench")
    pyiqa_niqe = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=str(IQABENCH_MODEL))
    g = torch.Generator().manual_seed(0)
    dummy_sv, dummy_coef = torch.rand(100, 36, generator=g) * 2 - 1, torch.randn(100, generator=g)

    def pyiqa_brisque_features():
        y = to_y_channel(x, 255.0)
        feats = []
        for _ in range(2):
            feats.append(natural_scene_statistics(y))
            y = imresize(y, scale=0.5, antialiasing=True)
        return torch.cat(feats, dim=-1)

    return {
        "iqabench brisque (36 features)": lambda: ours_brisque.extract(x),
        "pyiqa brisque features (to_y_channel + natural_scene_statistics ×2 + imresize)": pyiqa_brisque_features,
        "pyiqa brisque() with a dummy 100-SV SVM (real weights unavailable offline)": lambda: brisque(
            x, sv_coef=dummy_coef, sv=dummy_sv
        ),
        "iqabench niqe (score)": lambda: ours_niqe.extract(x),
        "pyiqa niqe (create_metric, same pristine model)": lambda: pyiqa_niqe(x),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per implementation (default 15)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    x = _image()
    runs = _contenders(x)
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for fn in runs.values():
            fn()
            fn()
        for _ in range(args.repeats):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)

    med = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"512×384 RGB (Kodak I03), median of {args.repeats} runs after 2 warm-ups, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, 1-min load average {load:.1f}\n"
    )
    print("| implementation | ms per image | iqabench speed-up |")
    print("|---|---:|---:|")
    pairs = {"brisque": "iqabench brisque (36 features)", "niqe": "iqabench niqe (score)"}
    for name, ms in med.items():
        ours = pairs["brisque" if "brisque" in name else "niqe"]
        ratio = "" if name == ours else f"{ms / med[ours]:.1f}×"
        print(f"| {name} | {ms:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
