"""tsne's part of the report: Figure 1, each method's map per dataset and subset, side by side."""

from __future__ import annotations

from iqabench.reports.collect import latest_by, row_key
from iqabench.reports.figures import TsnePanel, save, tsne_figure
from iqabench.reports.sections import Figure, ReportContext, Section, name_of, summary_of
from iqabench.reports.tables import fmt

from iqabench.results import RunRecord


def sections(runs: list[RunRecord], ctx: ReportContext, summary_type: type) -> list[Section]:
    """``summary_type``: the protocol's typed summary (TsneSummary), read back from each run."""
    if ctx.figures_dir is None:
        return []
    summaries = {r.run_id: summary_of(r, summary_type) for r in runs if r.data["protocol"] == "tsne"}
    latest = latest_by(runs, "tsne", lambda r: (r.data["datasets"][0]["name"], summaries[r.run_id].subset,
                                                row_key(r.data["methods"][0])))
    by_data: dict[tuple, list[RunRecord]] = {}
    for (ds, subset, _), cell in latest.items():
        ctx.use(cell)
        by_data.setdefault((ds, subset), []).append(cell.run)
    out = []
    for k, ((ds, subset), group) in enumerate(sorted(by_data.items(), key=lambda x: str(x[0]))):
        panels = []
        for run in group:
            s = summaries[run.run_id]
            panels.append(
                TsnePanel(
                    title=name_of(run.data["methods"][0]),
                    embedding=run.table("embedding"),
                    caption=(
                        f"silhouette {fmt(s.silhouette_input)} (input) / {fmt(s.silhouette_tsne)} (2-D); "
                        f"k-NN group acc. {fmt(s.knn_group_acc_input)}, level acc. {fmt(s.knn_level_acc_input)}"
                    ),
                    kind=s.map,
                )
            )
        stem = f"figure1_{k + 1}"
        synthetic = any(d.get("synthetic") for r in group for d in r.data["datasets"])
        first = summaries[group[0].run_id]
        t = first.tsne
        title = f"Figure 1 — t-SNE of the embeddings of {ds}" + (" (SYNTHETIC demo data)" if synthetic else "")
        figure = Figure(
            key=f"figure1-{k + 1}",
            title=title,
            caption=(
                f"{first.n_images} images ({subset}); colour = distortion group, "
                f"alpha = level (stronger = more opaque); perplexity {t.get('perplexity')}, seed {t.get('random_state')}. "
                "Numbers under each panel: silhouette of the groups and k-NN accuracy of predicting group and level "
                "from the embedding (cross-validated). A score method (one number per image) is drawn as a strip: "
                "its score per distortion group, since a t-SNE of a single number is only a curve."
            ),
            data_uri=save(tsne_figure(panels), ctx.figures_dir, stem),
            files=[f"{ctx.figures_dir.name}/{stem}.png", f"{ctx.figures_dir.name}/{stem}.pdf"],
        )
        out.append(Section(figure.key, title, 40, [figure]))
    return out
