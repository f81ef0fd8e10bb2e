"""The conformance kit (iqabench.testing) over every built-in plugin, and on plugins that break its rules."""

from __future__ import annotations

import pytest
import torch

from iqabench import registry
from iqabench.method import Method
from iqabench.testing import check_dataset, check_method, check_protocol
from iqabench.views import Views
from tests.fixtures.dataset_fixtures import BUILDERS, install

# Construction options that keep the big networks small and let untrained encoders run (the kit checks the
# contract, not the weights); orientation is checked for score methods whose scores mean something untrained.
METHOD_OPTIONS = {
    "arniqa": {"backbone": "resnet18", "crop_size": "64"},
    "reiqa": {"backbone": "resnet18", "quality_random": "true", "content_random": "true"},
    "reiqa-quality": {"backbone": "resnet18", "quality_random": "true"},
    "reiqa-content": {"backbone": "resnet18", "content_random": "true"},
    "contrique": {"backbone": "resnet18", "random": "true"},
}


def test_every_builtin_plugin_is_checked():
    names = set(registry.methods.names()) | set(registry.datasets.names()) | set(registry.protocols.names())
    builtin = {n for n in names if registry.methods.builtin(n) or registry.datasets.builtin(n) or registry.protocols.builtin(n)}
    checked = set(registry.methods.names()) | set(BUILDERS) | {"demo", "demo-a", "demo-b"} | set(registry.protocols.names())
    assert builtin <= checked, builtin - checked


@pytest.mark.parametrize("name", sorted(n for n in registry.methods.names() if registry.methods.builtin(n)))
def test_builtin_method(name):
    check_method(name, **METHOD_OPTIONS.get(name, {}))


def test_pyiqa_namespace_method():
    check_method("pyiqa:piqe")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builtin_dataset(name, tmp_path, monkeypatch):
    fx = install(name, tmp_path / "data", monkeypatch, complete=True)
    # A tiny copy declared complete is not the copy the shipped seed-0 split file lists: generate.
    monkeypatch.setattr(registry.datasets.get(name), "shipped_splits", None, raising=False)
    check_dataset(name, root=fx.data_root)


@pytest.mark.parametrize("name", ["demo", "demo-a", "demo-b"])
def test_builtin_demo_dataset(name, demo_root):
    check_dataset(name)


PROTOCOL_OPTIONS = {
    "gmad": {"regressor_dataset": "conformance-a", "levels": "2"},
    "waterloo": {"regressor_dataset": "conformance-a"},
    "tsne": {"perplexity": "10", "cv_folds": "2"},
    "within_dataset": {"n_alphas": "5"},
    "cross_dataset": {"n_alphas": "5"},
}


@pytest.mark.parametrize("name", sorted(n for n in registry.protocols.names() if registry.protocols.builtin(n)))
def test_builtin_protocol(name):
    check_protocol(name, **PROTOCOL_OPTIONS.get(name, {}))


# -- the kit catches what it promises to --------------------------------------------------------------
class _Good(Method):
    name = "kit-good"
    description = "kit test: grey mean and spread"
    views = Views(crops=0)

    def extract(self, batch):
        return torch.stack([batch.mean((1, 2, 3)), batch.std((1, 2, 3))], dim=1)


def test_a_good_method_passes():
    check_method(_Good)


def test_a_method_touching_the_global_rng_fails():
    class Seeds(_Good):
        def extract(self, batch):
            torch.manual_seed(0)  # the wrong way to be reproducible
            return super().extract(batch)

    with pytest.raises(AssertionError, match="changed the global random state"):
        check_method(Seeds)


def test_a_non_deterministic_method_fails():
    class Noisy(_Good):
        def extract(self, batch):
            with torch.random.fork_rng(devices=[]):
                torch.seed()
                return super().extract(batch) + torch.rand(len(batch), 1)

    with pytest.raises(AssertionError, match="gave different outputs"):
        check_method(Noisy)


def test_a_score_method_with_the_wrong_direction_fails():
    class Backwards(_Good):
        kind = "scores"
        higher_better = True  # but a sharper, cleaner image has less gradient energy here: lower is better

        def extract(self, batch):
            g = batch.mean(1)
            return (g[:, :, 1:] - g[:, :, :-1]).abs().mean((1, 2))

    with pytest.raises(AssertionError, match="check the direction"):
        check_method(Backwards)


def test_a_method_with_a_bad_option_default_fails():
    class BadOption(_Good):
        option_defaults = {"mode": ["a", "b"]}

    with pytest.raises(AssertionError, match="option 'mode' default"):
        check_method(BadOption)
