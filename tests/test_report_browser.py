"""The report in a real browser: headless Chromium loads it from a file with no console errors."""

import re
import shutil
from pathlib import Path

import pytest

from tests.browser import find_chromium, load
from tests.fixtures.report_runs import write_report_runs

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / ".cache" / "screenshots"


@pytest.fixture(scope="module")
def chromium():
    path, reason = find_chromium(install=True)
    if path is None:
        pytest.skip(reason)
    return path


def test_console_errors_are_detected(chromium, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png"><script>console.error("boom")</script></body></html>')
    loaded = load(chromium, page.as_uri())
    assert any("boom" in line for line in loaded.console), loaded.console


def test_report_renders_without_console_errors(chromium, tmp_path):
    from iqabench.reports.html import write_report

    write_report_runs(tmp_path / "runs")
    out = tmp_path / "report.html"
    write_report(tmp_path / "runs", out)
    shot = tmp_path / "report.png"
    page = load(chromium, out.as_uri(), screenshot=shot)
    assert page.console == []
    dom = page.dom
    for table in ("table1-grid", "table2-grid", "table3-grid", "table1-published-grid"):
        assert f'id="{table}"' in dom, table
    images = re.findall(r'<img src="data:image/png;base64,', dom)
    assert len(images) >= 2  # Figure 1 and Figure 4
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOT_DIR / "report-synthetic-runs.png")
