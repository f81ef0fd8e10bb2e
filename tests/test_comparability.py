"""Comparability with the paper: every reason a result cannot stand beside a published number."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from iqabench import comparability
from iqabench.dataset import Dataset, ScoreSpec
from iqabench.models.arniqa import ARNIQANet
from tests.test_arniqa_method import _layouts


@pytest.fixture(scope="module")
def release_file(tmp_path_factory):
    torch.manual_seed(0)
    return _layouts(ARNIQANet("resnet18"), tmp_path_factory.mktemp("w"))["arniqa-release"]


def _arniqa(**kw):
    from iqabench.methods.arniqa import ARNIQA

    return ARNIQA(**kw)


def test_weights_must_be_a_known_release_or_asserted(release_file, monkeypatch):
    random = _arniqa(backbone="resnet18")
    assert any("no weights file (random initialisation)" in r for r in random.paper_issues())
    loaded = _arniqa(weights=release_file)
    (issue,) = loaded.paper_issues()
    assert "are not a known arniqa release" in issue and "--published-as arniqa" in issue
    loaded.published_as = "arniqa"
    assert loaded.paper_issues() == []
    other = _arniqa(weights=release_file)
    monkeypatch.setattr(comparability, "published_weights", lambda: {"arniqa": [other.weights_sha256]})
    assert other.paper_issues() == []


class _Data(Dataset):
    name = "kadid10k"
    labels = {"mos": ScoreSpec("mos", True, (1, 5)), "other": ScoreSpec("other", True, (0, 1))}
    needs_root = False

    def locate_root(self, root):
        return None

    def load_index(self):
        return pd.DataFrame({"image_id": ["a"], "path": ["a"], "score": [1.0], "ref": ["r"]})


def _result(summary, images, split_sets, protocol="within_dataset"):
    from iqabench.results import Result

    return Result(protocol, {}, [], [], summary, images=images, split_sets=split_sets)


def test_every_reason_is_listed():
    from iqabench.methods.brisque import BRISQUE

    class Subset(_Data):
        def card(self):
            return {**super().card(), "subset": {"n_images": 1, "complete": False}}

    record = comparability.assess(
        _result({"regressor": "ridge"}, {"failed": 3, "total": 60, "failures": []},
                {"kadid10k": {"set": "generated", "reference_disjoint": False}}),
        [BRISQUE()],
        [Subset(label="other")],
    )
    assert record["comparable"] is False
    reasons = "\n".join(record["reasons"])
    for expected in (
        "brisque regressed with ridge; its published numbers use svr",
        "kadid10k: label 'other', the paper's is 'mos'",
        "kadid10k: a subset of the dataset (1 images)",
        "kadid10k: split set 'generated', not the paper's ('arniqa')",
        "kadid10k: splits not reference-disjoint",
        "3 skipped images",
    ):
        assert expected in reasons
    clean = comparability.assess(_result({"regressor": "svr"}, {"failed": 0},
                                         {"kadid10k": {"set": "arniqa", "reference_disjoint": True}}),
                                 [BRISQUE()], [_Data()])
    assert clean == {"paper": comparability.PAPER, "comparable": True, "reasons": []}
    assert comparability.assess(_result({}, {}, {}, "gmad"), [BRISQUE()], [_Data()]) is None


def test_released_regressor_on_its_own_dataset(release_file, tmp_path, caplog):
    from tests.test_arniqa_method import _TinyRegressor as _Reg

    reg = tmp_path / "regressor_kadid10k.pth"
    torch.jit.save(torch.jit.script(_Reg(1024)), str(reg))
    method = _arniqa(weights=release_file, regressor=str(reg))
    assert method.fitted_on() == {"kadid10k"}
    record = comparability.assess(_result({"regressor": "identity"}, {}, {"kadid10k": {"set": "arniqa"}}),
                                  [method], [_Data()])
    assert "kadid10k: arniqa's regressor was fitted on this dataset's images" in record["reasons"]
    assert any("released kadid10k regressor" in r for r in record["reasons"])


def test_published_as_must_name_a_method_of_the_run(cli, tmp_path):
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--published-as", "arniqa",
            "--runs", str(tmp_path))
    assert r.code == 1 and "no method of this run has published 'arniqa' weights" in r.err


def test_niqe_is_comparable_with_the_standard_model_only():
    from iqabench.methods.niqe import NIQE

    assert NIQE().paper_issues() == []
    (issue,) = NIQE(model="iqabench").paper_issues()
    assert "'iqabench model' is not the standard LIVE model" in issue
