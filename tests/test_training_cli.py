"""``iqabench train arniqa`` end to end on a tiny config, then the checkpoint as a method."""

from __future__ import annotations

import pandas as pd
import torch
import yaml

from tests.test_training_arniqa import make_images

torch.set_num_threads(1)


def test_train_checkpoint_resume_then_evaluate(cli, tmp_path, demo_root):
    images = make_images(tmp_path / "pristine", 6)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"backbone": "resnet18"},
        "data": {"source": str(images), "crop_size": 64, "workers": 0},
        "training": {"epochs": 2, "batch_size": 2, "seed": 3},
        "optimizer": {"lr": 0.01},
        "validation": {"datasets": []},
    }))
    out = tmp_path / "run"
    r = cli("train", "arniqa", "--config", str(config), "--out", str(out), "--max-steps", "2")
    assert r.code == 0, r
    assert f"{out}/last.pt  step 2, epoch 0" in r.out
    assert (out / "config.yaml").is_file() and yaml.safe_load((out / "config.yaml").read_text())["name"] == "tiny"

    # Resuming keeps the checkpoint's configuration: no --config, no changed hyper-parameters.
    r = cli("train", "arniqa", "--resume", str(out), "--lr", "0.5")
    assert r.code == 1 and "cannot change optimizer.lr when resuming" in r.err and r.err.count("\n") == 1
    r = cli("train", "arniqa", "--resume", str(out), "--config", "demo")
    assert r.code == 1 and "drop --config" in r.err
    r = cli("train", "arniqa", "--resume", str(out), "--set", "training.max_steps=null")
    assert r.code == 0, r
    assert pd.read_csv(out / "metrics.csv")["step"].tolist() == [1, 2, 3, 4, 5, 6]

    runs = tmp_path / "runs"
    r = cli("run", "--method", "arniqa", "--weights", str(out / "last.pt"), "--protocol", "within_dataset",
            "--dataset", "demo", "--dataset-option", "types=jpeg", "--runs", str(runs), "--no-cache")
    assert r.code == 0, r
    assert "ARNIQA [tiny config, from random init; ResNet-18, 64 px crops] on demo: SRCC" in r.out
    result = next(runs.glob("*/result.json")).read_text()
    assert '"crop_size": 64' in result and '"backbone": "resnet18"' in result


def test_train_errors_are_one_line(cli, tmp_path):
    r = cli("train", "arniqa", "--config", "nope")
    assert r.code == 1 and "neither a packaged configuration" in r.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epoch: 3\n")
    r = cli("train", "arniqa", "--config", str(bad))
    assert r.code == 1 and "unknown key 'training.epoch'" in r.err
    r = cli("train", "arniqa", "--config", "demo", "--data", str(tmp_path / "missing"))
    assert r.code == 1 and "not a folder" in r.err
    r = cli("train", "arniqa", "--set", "training.nope=1")
    assert r.code == 1 and "no such configuration key" in r.err
