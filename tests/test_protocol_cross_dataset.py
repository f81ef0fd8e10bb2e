"""cross_dataset: orientation of lower-better labels, the alpha rule and refit, and a run on the demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iqabench import registry
from iqabench.evaluation import Labelled
from iqabench.metrics import srcc
from iqabench.progress import set_enabled
from iqabench.quality_models import Ridge, select
from iqabench.ridge import RidgePath

PLUGIN = Path(__file__).with_name("protocol_plugins.py")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    plugins = registry.load_plugin_file(PLUGIN)
    root = tmp_path_factory.mktemp("cross-data")
    plugins.make_synth_pair(root, 8)
    return root


def _runs(path: Path) -> dict[str, Path]:
    return {json.loads((p / "result.json").read_text())["methods"][0]["name"]: p for p in path.iterdir()}


def test_lower_better_target_and_source_give_positive_srcc(cli, synth, tmp_path):
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "tiny-stats", "-m", "tiny-sharp", "-p", "cross_dataset",
            "-d", "synth-mos", "-d", "synth-dmos", "--data-root", str(synth), "--runs", str(runs), "--no-cache")
    assert r.code == 0, r
    by = _runs(runs)
    for name in ("tiny-stats", "tiny-sharp"):
        m = pd.read_csv(by[name] / "cross_srcc.csv").set_index("train")
        assert np.isnan(m.loc["synth-mos", "synth-mos"]) and np.isnan(m.loc["synth-dmos", "synth-dmos"])
        assert m.loc["synth-mos", "synth-dmos"] > 0.9  # MOS-trained regressor, DMOS target
        assert m.loc["synth-dmos", "synth-mos"] > 0.9  # DMOS-trained regressor, MOS target
        pred = pd.read_csv(by[name] / "predictions.csv")
        to_dmos = pred[pred["test"] == "synth-dmos"]
        assert np.allclose(to_dmos["label_oriented"], -to_dmos["label"])
        # Without orientation the same numbers would correlate negatively with the raw DMOS.
        assert srcc(to_dmos["prediction"], to_dmos["label"]) < -0.9
    stats = json.loads((by["tiny-stats"] / "result.json").read_text())["summary"]
    assert set(stats["alpha"]) == {"synth-mos", "synth-dmos"}
    assert "none" in json.loads((by["tiny-sharp"] / "result.json").read_text())["summary"]["training"]


def test_alpha_by_the_within_dataset_rule_then_refit_on_all_source_images(synth, tmp_path):
    from iqabench.cache import FeatureCache  # noqa: F401  (the protocol runs with and without the cache)
    from iqabench.protocol import RunContext

    set_enabled(False)
    source = registry.datasets.get("synth-dmos")(root=synth)
    target = registry.datasets.get("synth-mos")(root=synth)
    method = registry.methods.get("tiny-stats")()
    ctx = RunContext(methods=[method], datasets=[source, target])
    proto = registry.protocols.get("cross_dataset")()
    proto.check(ctx)
    (result,) = proto.run(ctx)

    table = ctx.features(method, source)
    data = Labelled.join(table, source.index(), higher_better=False)
    expected_alpha = select(Ridge(np.geomspace(1e-3, 1e3, 100)), data, source.splits(seed=0)).params["alpha"]
    assert result.summary["alpha"]["synth-dmos"] == expected_alpha
    path = RidgePath(table.rows, data.labels[table.row_image])
    ttable = ctx.features(method, target)
    manual = -path.predict(ttable.rows, np.array([expected_alpha]))[:, 0]  # DMOS → higher = better
    got = result.tables["predictions"].query("train == 'synth-dmos'")["prediction"].to_numpy()
    assert np.allclose(got, manual)
    labels = target.index().set_index("image_id").loc[ttable.image_ids, "score"].to_numpy()
    assert result.summary["srcc_matrix"]["synth-dmos"]["synth-mos"] == pytest.approx(srcc(manual, labels))


def test_demo_a_to_demo_b_with_brisque_and_niqe(cli, demo_root, tmp_path):
    # demo-a / demo-b on their first 6 references, one distortion type each (30 images per side).
    runs = tmp_path / "runs"
    r = cli("run", "--plugin", str(PLUGIN), "-m", "brisque", "-m", "niqe", "-p", "cross_dataset",
            "-d", "demo-few-a", "-d", "demo-few-b", "--dataset-option", "demo-few-a:types=jpeg",
            "--dataset-option", "demo-few-b:types=darken", "--runs", str(runs))
    assert r.code == 0, r
    by = _runs(runs)
    assert set(by) == {"brisque", "niqe"}
    for path in by.values():
        m = pd.read_csv(path / "cross_plcc.csv").set_index("train")
        assert list(m.columns) == ["demo-few-a", "demo-few-b"] and list(m.index) == ["demo-few-a", "demo-few-b"]
        pairs = pd.read_csv(path / "pairs.csv")
        assert len(pairs) == 2 and pairs["srcc"].between(-1, 1).all() and (pairs["n_test"] == 30).all()
    summary = json.loads((by["brisque"] / "result.json").read_text())["summary"]
    assert summary["regressors"]["demo-few-a"]["n_train_images"] == 30 and summary["regressors"]["demo-few-a"]["regressor"] == "svr"
    assert summary["params"]["demo-few-b"]["C"] > 0 and summary["params"]["demo-few-b"]["gamma"] > 0  # BRISQUE: its SVR
