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

    rows = {(r["method"], r["dataset"]): r for r in build(runs).published_rows}
    ok = rows[("ARNIQA [arniqa config]", "kadid10k")]
    assert ok["comparable"] and ok["srcc_delta"].startswith(("+", "-")) and ok["plcc_delta"] != "—"
    bad = rows[("BRISQUE", "live")]
    assert not bad["comparable"] and bad["srcc_delta"] == "—" and bad["plcc_delta"] == "—"
    assert "split set 'generated', not the paper's" in bad["reasons"]
    # runs written before comparability was assessed are never compared
    old = rows[("BRISQUE", "kadid10k")]
    assert not old["comparable"] and "recorded before" in old["reasons"]


def test_not_comparable_reasons_shown(html):
    text = html.read_text()
    assert "not comparable: live: split set &#39;generated&#39;, not the paper&#39;s (&#39;arniqa&#39;)" in text


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
    rows = {r["dataset"]: r for r in build(runs).published_rows}
    assert set(rows) == {"agiqa3k", "pipal", "live"}
    assert (rows["agiqa3k"]["srcc_pub"], rows["agiqa3k"]["plcc_pub"]) == ("0.811", "—")
    assert rows["pipal"]["srcc_pub"] == "0.568" and rows["pipal"]["source"] == "Re-IQA as listed by wizwand.com"
    for name in ("agiqa3k", "pipal"):  # a run the record calls comparable still gets no Δ from this source
        r = rows[name]
        assert not r["comparable"] and r["srcc_delta"] == r["plcc_delta"] == "—"
        assert "not documented by its source" in r["reasons"]
    assert rows["live"]["comparable"] and rows["live"]["source"] == "" and rows["live"]["srcc_pub"] == "0.970"
    assert published.table1_value("reiqa", "agiqa3k") is None  # Table 1 keeps the paper's datasets only
    assert published.extra_value("arniqa", "agiqa3k") is None  # no ARNIQA value: no paper gives one
    text = write_report(runs, tmp_path / "r.html")[0].read_text()
    assert "0.811*" in text and "Not from the ARNIQA paper" in text and "wizwand.com" in text
