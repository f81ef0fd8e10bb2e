"""The report, built from synthetic run folders covering every table and figure."""

import csv
import shutil
import subprocess

import pytest

from tests.fixtures.report_runs import MARKUP_NAME, write_report_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "runs"
    write_report_runs(path)
    return path


@pytest.fixture(scope="module")
def html(runs, tmp_path_factory):
    from iqabench.reports.html import write_report

    out = tmp_path_factory.mktemp("out") / "report.html"
    write_report(runs, out)
    return out


def test_every_table_and_figure_present(html):
    text = html.read_text()
    for anchor in ('id="table1"', 'id="table2"', 'id="table3"', 'id="figure1-1"', 'id="figure4-1-'):
        assert anchor in text, anchor
    assert "Published values beside the measured ones" in text
    assert "Paired comparisons on the same splits" in text
    assert "Wilcoxon" in text
    # figures embedded and also saved as PNG and PDF beside the HTML
    assert text.count("data:image/png;base64,") >= 2
    files = html.with_name("report_files")
    assert sorted(p.suffix for p in files.iterdir()).count(".pdf") >= 2


def test_self_contained_and_no_network(html):
    text = html.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    assert "<script src" not in text and "<link " not in text


def test_markup_in_names_is_shown_as_text(html):
    text = html.read_text()
    assert MARKUP_NAME not in text  # never raw
    assert "&lt;b&gt;evil&lt;/b&gt;&amp;dataset" in text


def test_missing_cells_show_the_command(html):
    text = html.read_text()
    assert "iqabench run --method niqe --protocol within_dataset --dataset kadid10k" in text


def test_synthetic_data_is_labelled(html):
    text = html.read_text()
    assert "Synthetic data." in text and "SYNTHETIC" in text


def test_best_bold_second_underlined(html):
    import re

    table1 = html.read_text().split('id="table1-grid"')[1].split("</table>")[0]
    assert len(re.findall(r'class="best"', table1)) >= 3 and len(re.findall(r'class="second"', table1)) >= 3


def test_csv_export_parses(runs, tmp_path):
    from iqabench.reports.html import write_report

    written = write_report(runs, tmp_path / "tables.html", "csv")
    t1 = next(p for p in written if p.name == "tables_table1.csv")
    rows = list(csv.reader(t1.open()))
    assert rows[0][:2] == ["Method", "Type"] and "demo SRCC" in rows[0] and rows[0][-2:] == ["Average SRCC", "Average PLCC"]
    assert all(len(r) == len(rows[0]) for r in rows)
    values = [float(x) for r in rows[1:] for x in r[2:] if x]
    assert values and all(-1 <= v <= 1 for v in values)


def test_latex_export_compiles(runs, tmp_path):
    from iqabench.reports.html import write_report

    written = write_report(runs, tmp_path / "tables.html", "latex")
    t1 = next(p for p in written if p.name == "tables_table1.tex")
    body = t1.read_text()
    assert "\\textbf{" in body and "\\underline{" in body
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (.ci/run installs texlive-latex-base/recommended)")
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage{booktabs}\\usepackage{geometry}"
        "\\geometry{paperwidth=60cm,paperheight=20cm,margin=1cm}\\begin{document}\n"
        + "\n".join(f"\\input{{{p.name}}}\\par" for p in written)
        + "\n\\end{document}\n"
    )
    out = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_report_cli(cli, runs, tmp_path):
    r = cli("report", "--runs", str(runs), "--out", str(tmp_path / "r.html"))
    assert r.code == 0 and r.out.strip().endswith("r.html")
    r = cli("report", "--runs", str(tmp_path / "nope"))
    assert r.code == 1 and "does not exist" in r.err


def test_delta_vs_paper_only_for_comparable_cells(runs):
    from iqabench.reports.build import build

    table = build(runs).table("table1-published")
    rows = {tuple(labels): cells for labels, cells in table.rows}  # SRCC measured, published, Δ; PLCC the same
    ok = rows[("ARNIQA [arniqa config]", "kadid10k (mos)")]
    assert ok[2].text.startswith(("+", "-")) and ok[5].text != "—" and "not-comparable" not in ok[1].style
    bad = rows[("BRISQUE", "live (dmos_realigned)")]
    assert bad[2].text == "—" and bad[5].text == "—" and "not-comparable" in bad[1].style
    assert "split set 'generated', not the paper's" in bad[2].title
    # runs written before comparability was assessed are never compared
    old = rows[("BRISQUE", "kadid10k (mos)")]
    assert old[2].text == "—" and "recorded before" in old[2].title


def test_not_comparable_reasons_shown(html):
    text = html.read_text()
    assert "BRISQUE on live: not comparable with the paper: live: split set &#39;generated&#39;, not the paper&#39;s (&#39;arniqa&#39;)" in text


def _report_of(runs, tmp_path):
    from iqabench.reports.build import build
    from iqabench.reports.html import write_report

    out = tmp_path / "report.html"
    write_report(runs, out)
    return build(runs), out.read_text()


def test_run_with_skipped_images_is_marked_not_comparable(tmp_path):
    import json

    import numpy as np

    from tests.fixtures.report_runs import _dataset, _method, _within

    runs, rng = tmp_path / "runs", np.random.default_rng(3)
    failures = [{"image_id": f"img{i:03d}.png", "reason": "truncated image"} for i in (4, 9, 17)]
    _within(_method("brisque", method_type="Handcrafted"), _dataset("live"), 0.8, runs, rng,
            images={"total": 60, "scored": 57, "failed": 3, "failures": failures})
    _within(_method("niqe", method_type="Handcrafted"), _dataset("live"), 0.7, runs, rng)
    records = [json.loads(p.read_text()) for p in runs.rglob("result.json")]
    by_method = {r["methods"][0]["name"]: r for r in records}
    [skipped] = by_method["brisque"]["deviations"]
    assert (skipped["kind"], skipped["count"], skipped["total"]) == ("skipped_images", 3, 60)
    assert skipped["first"] == ["img004.png", "img009.png", "img017.png"]
    assert by_method["niqe"]["deviations"] == []

    report, html = _report_of(runs, tmp_path)
    cells = {labels[0]: row for labels, row in report.table("table1").rows}
    assert cells["brisque"][0].mark == "†" and "3 of 60 images skipped" in cells["brisque"][0].title
    assert cells["niqe"][0].mark == ""
    assert any("not comparable with published numbers" in n for n in report.table("table1").notes)
    table1 = html.split('id="table1-grid"')[1].split("</table>")[0]
    assert table1.count('<span class="mark">†</span>') == 2  # brisque's SRCC and PLCC, not niqe's
    assert "3 of 60 images skipped (--on-error skip)" in html


def test_superseded_runs_are_counted_and_listed(tmp_path):
    import numpy as np

    from tests.fixtures.report_runs import _dataset, _method, _within

    runs, rng = tmp_path / "runs", np.random.default_rng(4)
    for quality in (0.5, 0.6, 0.9):  # three runs of one cell, the last one shown
        _within(_method("brisque", method_type="Handcrafted"), _dataset("live"), quality, runs, rng)
    report, html = _report_of(runs, tmp_path)
    [(labels, cells)] = report.table("table1").rows
    newest = max(report.runs, key=lambda r: r.data["finished"])
    assert cells[0].run_id == newest.run_id
    assert "latest of 3 runs of this cell" in cells[0].title
    older = [r.run_id for r in report.runs if r.run_id != newest.run_id]
    assert sorted(r.run_id for r in report.superseded[newest.run_id]) == sorted(older)
    provenance = html.split('id="provenance"')[1]
    assert "2 older runs of the same result" in provenance
    assert all(run_id in provenance for run_id in older)


def test_report_embeds_only_files_inside_a_run_folder(tmp_path):
    import pandas as pd
    from iqabench.reports.html import write_report

    from iqabench.errors import IQABenchError
    from tests.fixtures.report_runs import _png

    runs = tmp_path / "runs"
    write_report_runs(runs)
    [pairs_csv] = list(runs.rglob("pairs.csv"))
    (tmp_path / "private.png").write_bytes(_png((1, 2, 3)))
    pairs = pd.read_csv(pairs_csv)
    pairs.loc[0, "best_file"] = "../../private.png"  # a hand-edited run pointing elsewhere
    pairs.to_csv(pairs_csv, index=False)
    with pytest.raises(IQABenchError, match=r"names the file '\.\./\.\./private\.png', outside its folder"):
        write_report(runs, tmp_path / "report.html")


def test_published_values_from_other_sources(tmp_path):
    """Re-IQA's AGIQA-3K and PIPAL values (not in the ARNIQA paper) appear beside measured ones with
    their source, never with a Δ; Table 1's published values are unchanged."""
    import numpy as np
    from iqabench.reports import published
    from iqabench.reports.build import build
    from iqabench.reports.html import write_report

    from tests.fixtures.report_runs import COMPARABLE, _dataset, _method, _within

    runs = tmp_path / "runs"
    rng = np.random.default_rng(1)
    reiqa = _method("reiqa", "Re-IQA")
    for name, label in (("agiqa3k", "mos_quality"), ("pipal", "elo"), ("live", "dmos_realigned")):
        _within(reiqa, _dataset(name, label=label), 0.8, runs, rng, COMPARABLE)
    table = build(runs).table("table1-published")
    rows = {labels[1].split(" ")[0]: cells for labels, cells in table.rows}  # SRCC measured/published/Δ, PLCC …
    assert set(rows) == {"agiqa3k", "pipal", "live"}
    assert (rows["agiqa3k"][1].text, rows["agiqa3k"][4].text) == ("0.811*", "—")
    assert rows["pipal"][1].text == "0.568*" and "Re-IQA as listed by wizwand.com" in rows["pipal"][1].title
    for name in ("agiqa3k", "pipal"):  # a run the record calls comparable still gets no Δ from this source
        cells = rows[name]
        assert cells[2].text == cells[5].text == "—" and "not documented by its source" in cells[2].title
    assert rows["live"][2].text.startswith(("+", "-")) and rows["live"][1].text == "0.970"
    assert published.table1_value("reiqa", "agiqa3k") is None  # Table 1 keeps the paper's datasets only
    assert published.extra_value("arniqa", "agiqa3k") is None  # no ARNIQA value: no paper gives one
    text = write_report(runs, tmp_path / "r.html")[0].read_text()
    assert "0.811*" in text and "Not from the ARNIQA paper" in text and "wizwand.com" in text


def test_a_rows_training_note_is_printed_under_table1(tmp_path):
    import numpy as np

    from tests.fixtures.report_runs import _dataset, _method, _within

    runs, rng = tmp_path / "runs", np.random.default_rng(5)
    demo = _method("arniqa", "ARNIQA [demo config]") | {"note": "Demo recipe: <b>tiny</b>, so the row is weak."}
    _within(demo, _dataset("live"), 0.6, runs, rng)
    _within(_method("brisque", method_type="Handcrafted"), _dataset("live"), 0.8, runs, rng)
    report, html = _report_of(runs, tmp_path)
    notes = report.table("table1").notes
    assert "ARNIQA [demo config]: Demo recipe: <b>tiny</b>, so the row is weak." in notes
    assert not any(n.startswith("brisque:") for n in notes)
    assert "Demo recipe: &lt;b&gt;tiny&lt;/b&gt;" in html  # escaped like every name
