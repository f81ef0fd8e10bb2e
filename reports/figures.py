"""The report's figures (matplotlib, Agg): Figure 1 (t-SNE panels) and Figure 4 (gMAD pairs).

Each figure is saved as PNG and PDF beside the HTML and embedded in it as a PNG data URI.
"""

from __future__ import annotations

import base64
import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from PIL import Image  # noqa: E402

from iqabench.dataset import GROUP_LABELS, GROUP_RGB, LEVEL_ALPHA  # noqa: E402


@dataclass
class TsnePanel:
    title: str
    embedding: pd.DataFrame  # columns x, y, dist_group, level
    caption: str  # the numbers shown under the panel
    kind: str = "tsne"  # "tsne": a 2-D map; "strip": a score (x) per distortion group (y rows, jittered)


@dataclass
class GmadPanel:
    caption: str  # e.g. "(a) Fixed ARNIQA at the low-quality level"
    best: tuple[Path, str]  # image, scores text
    worst: tuple[Path, str]
    attacker: str


def tsne_figure(panels: list[TsnePanel]) -> plt.Figure:
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.9), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        df = panel.embedding
        groups = df["dist_group"].astype(object).where(df["dist_group"].notna(), None)
        levels = pd.to_numeric(df["level"], errors="coerce").fillna(0).astype(int)
        colours = np.array(
            [
                (*[c / 255 for c in GROUP_RGB[g]], LEVEL_ALPHA.get(lv, 1.0)) if g in GROUP_RGB else (0, 0, 0, 1.0)
                for g, lv in zip(groups, levels)
            ]
        )
        ax.scatter(df["x"], df["y"], c=colours, s=9, linewidths=0)
        ax.set_title(textwrap.fill(panel.title, 42), fontsize=11)  # long method names stay inside the panel
        if panel.kind == "strip":  # a score method: its score per group (no t-SNE of a 1-D embedding)
            names = sorted(set(groups.dropna()))
            ax.set_yticks(range(len(names)), [GROUP_LABELS.get(g, g) for g in names], fontsize=7)
            ax.set_xlabel("score, oriented higher = better\n" + textwrap.fill(panel.caption, 62), fontsize=8)
        else:
            ax.set_xlabel(textwrap.fill(panel.caption, 62), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    handles = [
        Line2D([], [], marker="o", linestyle="", color=[c / 255 for c in GROUP_RGB[g]], label=label)
        for g, label in GROUP_LABELS.items()
    ]
    # One legend row under a wide figure; a single panel (a run's own picture) needs several.
    ncol = min(len(handles), 2 * n + 1)
    rows = -(-len(handles) // ncol)
    bottom = 0.035 + 0.04 * rows
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.03), ncol=ncol, fontsize=8, frameon=False)
    fig.text(0.99, 0.005, "alpha = distortion level (1 faint … 5 opaque)", ha="right", fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def gmad_figure(title: str, panels: list[GmadPanel]) -> plt.Figure:
    n = len(panels)
    fig, axes = plt.subplots(2, n, figsize=(3.6 * n, 7.0), squeeze=False, gridspec_kw={"hspace": 0.55})
    for j, panel in enumerate(panels):
        for i, (which, (path, scores)) in enumerate((("Best", panel.best), ("Worst", panel.worst))):
            ax = axes[i][j]
            with Image.open(path) as img:
                ax.imshow(np.asarray(img.convert("RGB")))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{which} {panel.attacker}", fontsize=9)
            ax.set_xlabel(scores, fontsize=7)
        axes[1][j].text(0.5, -0.32, panel.caption, transform=axes[1][j].transAxes, ha="center", va="top", fontsize=9, wrap=True)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.14, wspace=0.08)
    return fig


def save(fig: plt.Figure, out_dir: Path, stem: str) -> str:
    """Write ``stem.png`` and ``stem.pdf`` into ``out_dir``; return the PNG as a data URI."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    png = buf.getvalue()
    from iqabench.fileio import atomic_write_bytes

    atomic_write_bytes(out_dir / f"{stem}.png", png)
    pdf = io.BytesIO()
    fig.savefig(pdf, format="pdf")
    atomic_write_bytes(out_dir / f"{stem}.pdf", pdf.getvalue())
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
