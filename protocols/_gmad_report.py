"""gmad's part of the report: Figure 4, for each pair of methods, each defender at its low and high level."""

from __future__ import annotations

import itertools

from iqabench.reports.collect import latest_by, row_key
from iqabench.reports.figures import GmadPanel, gmad_figure, save
from iqabench.reports.sections import Figure, ReportContext, Section, run_file, slug, summary_of

from iqabench.results import RunRecord


def sections(runs: list[RunRecord], ctx: ReportContext, summary_type: type) -> list[Section]:
    """``summary_type``: the protocol's typed summary (GmadSummary), read back from each run."""
    if ctx.figures_dir is None:
        return []
    latest = latest_by(runs, "gmad", lambda r: (r.data["config"].get("pool"), tuple(sorted(row_key(m) for m in r.data["methods"]))))
    out = []
    for k, cell in enumerate(latest.values()):
        run = cell.run
        s = summary_of(run, summary_type)
        pairs = run.table("pairs")
        if pairs.empty or "best_file" not in pairs.columns:
            continue
        ctx.use(cell)
        names = [c[len("best_"):] for c in pairs.columns if c.startswith("best_") and c not in ("best_image", "best_file")]
        methods = sorted(set(pairs["defender"]))
        for a, b in itertools.combinations(methods, 2):
            panels = []
            letters = iter("abcd")
            for defender, attacker in ((a, b), (b, a)):
                for level in ("low", "high"):
                    sel = pairs[(pairs.defender == defender) & (pairs.attacker == attacker) & (pairs.level == level)
                                & (pairs["rank"] == 1)]
                    if sel.empty:
                        continue
                    p = sel.iloc[0]
                    panels.append(
                        GmadPanel(
                            caption=f"({next(letters)}) Fixed {defender} at the {level}-quality level",
                            best=(run_file(run, p["best_file"]), _scores_text(p, "best", names)),
                            worst=(run_file(run, p["worst_file"]), _scores_text(p, "worst", names)),
                            attacker=attacker,
                        )
                    )
            if not panels:
                continue
            stem = f"figure4_{k + 1}_{slug(a)}_vs_{slug(b)}"
            pool = run.data["config"].get("pool")
            synthetic = any(d.get("synthetic") for d in run.data["datasets"])
            title = f"Figure 4 — gMAD competition between {a} and {b} on {pool}" + (" (SYNTHETIC demo data)" if synthetic else "")
            figure = Figure(
                key=f"figure4-{k + 1}-{slug(a)}-{slug(b)}",
                title=title,
                caption=(
                    f"The defender's scores are split into {s.levels} {s.binning} levels; within its lowest and highest "
                    "level the attacker picks the images it rates best (top) and worst (bottom). A robust defender keeps "
                    "such pairs similar in quality; a strong attacker finds pairs that clearly differ. Scores are oriented "
                    "higher = better; feature methods are scored by their quality model trained on "
                    f"{run.data['config'].get('regressor_dataset') or 'a labelled dataset'} (see the run's provenance)."
                ),
                data_uri=save(gmad_figure(f"gMAD: {a} vs {b}", panels), ctx.figures_dir, stem),
                files=[f"{ctx.figures_dir.name}/{stem}.png", f"{ctx.figures_dir.name}/{stem}.pdf"],
            )
            out.append(Section(figure.key, title, 50, [figure]))
    return out


def _scores_text(pair, side: str, names: list[str]) -> str:
    return ", ".join(f"{n}: {pair[f'{side}_{n}']:.3g}" for n in names)
