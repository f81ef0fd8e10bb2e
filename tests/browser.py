"""Headless Chromium for the report tests, and `python -m tests.browser REPORT.html OUT.png` for a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Flags that keep Chromium off the (closed) network and out of the user's profile.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def find_chromium(install: bool = True) -> tuple[str | None, str]:
    """(path, reason): the Chromium binary, installing Debian's package when absent and possible."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path, ""
    if not install:
        return None, "chromium is not installed"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "chromium is not installed and cannot be installed here (needs root and apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return None, f"installing chromium failed: {' '.join(cmd)}: {done.stderr.strip()[-300:]}"
    path = shutil.which("chromium")
    return (path, "") if path else (None, "apt-get installed chromium but no binary was found")


@dataclass
class Page:
    dom: str
    console: list[str]  # console messages Chromium logged (errors included)


def load(chromium: str, url: str, *, screenshot: Path | None = None, width: int = 1280, height: int = 2400) -> Page:
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
        console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
        if screenshot is not None:
            shot = subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=120)
            console += [ln for ln in shot.stderr.splitlines() if "CONSOLE" in ln]
    return Page(dom.stdout, console)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.browser REPORT.html OUT.png", file=sys.stderr)
        return 2
    chromium, reason = find_chromium()
    if chromium is None:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    # Tall enough for a full demo report (Chromium screenshots the window, not the page).
    page = load(chromium, Path(argv[0]).resolve().as_uri(), screenshot=Path(argv[1]).resolve(), height=16000)
    for line in page.console:
        print(line, file=sys.stderr)
    print(Path(argv[1]).resolve())
    return 1 if page.console else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
