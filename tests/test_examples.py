"""The README's plugin examples (docs/examples/) are printed verbatim, pass the conformance kit and run:
the protocol example shows up in `iqabench report` with its own section and no change elsewhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from iqabench import registry
from iqabench.testing import check_dataset, check_method, check_protocol, natural_photograph

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"
PLUGINS = str(REPO / "tests" / "protocol_plugins.py")


@pytest.mark.parametrize("name", ["gradstats.py", "my_photos.py", "zero_shot.py"])
def test_readme_prints_each_example_verbatim(name):
    assert (EXAMPLES / name).read_text().rstrip() in (REPO / "README.md").read_text()


def test_the_protocol_example_is_short():
    assert len((EXAMPLES / "zero_shot.py").read_text().splitlines()) <= 40


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A copy for the dataset example: 24 photographs under white noise, MOS falling with the noise."""
    root = tmp_path_factory.mktemp("data") / "my-photos"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for k in range(24):
        img = np.asarray(natural_photograph(96, 72, k), dtype=np.float64)
        sigma = 4.0 * (k % 6)
        Image.fromarray(np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)).save(
            root / "images" / f"p{k:02d}.jpg", quality=95)
        rows.append({"image": f"p{k:02d}.jpg", "mos": 5.0 - sigma / 6})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    for name in ("gradstats.py", "my_photos.py", "zero_shot.py"):
        registry.load_plugin_file(EXAMPLES / name)
    return root.parent


def test_the_examples_pass_the_conformance_kit(photos):
    check_method("gradstats")
    check_dataset("my-photos", root=photos)
    check_protocol("zero_shot", kinds=("scores",))


def test_the_examples_run_and_the_protocol_gets_its_own_report_section(cli, photos, tmp_path):
    runs = tmp_path / "runs"
    ex = ["--plugin", str(EXAMPLES / "gradstats.py"), "--plugin", str(EXAMPLES / "my_photos.py"),
          "--plugin", str(EXAMPLES / "zero_shot.py"), "--plugin", PLUGINS]
    r = cli("run", *ex, "-m", "gradstats", "-p", "within_dataset", "-d", "my-photos", "--data-root", str(photos),
            "--runs", str(runs))
    assert r.code == 0 and "gradstats on my-photos: SRCC" in r.out, r
    r = cli("run", *ex, "-m", "tiny-sharp", "-p", "zero_shot", "-d", "my-photos", "--data-root", str(photos),
            "--runs", str(runs))
    assert r.code == 0 and "tiny-sharp on my-photos: SRCC" in r.out, r
    out = tmp_path / "report.html"
    r = cli("report", "--plugin", str(EXAMPLES / "zero_shot.py"), "--runs", str(runs), "--out", str(out))
    assert r.code == 0, r
    html = out.read_text()
    assert 'id="protocol-zero-shot"' in html and "Protocol zero_shot" in html and 'id="table1"' in html
    section = html.split('id="protocol-zero-shot"')[1].split("</section>")[0]
    assert "tiny-sharp" in section and "SRCC" in section and "is not installed here" not in section
