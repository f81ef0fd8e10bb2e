"""No code from a data file: released ARNIQA regressors are read without running the code they may hold."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from iqabench.errors import IQABenchError
from iqabench.models.arniqa import ReleasedRegressor

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")


class _Released(nn.Module):
    """The released regressors' layout: parameters ``weights`` (1×D) and ``biases`` (scalar)."""

    def __init__(self, dim: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        g = torch.Generator().manual_seed(11)
        self.weights = nn.Parameter(torch.randn(1, dim, generator=g).to(dtype))
        self.biases = nn.Parameter(torch.tensor(2.5, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weights.T + self.biases


class _PlantedTuple(nn.Module):
    """A crafted regressor: its ``__setstate__`` creates and writes a file when torch.jit.load reads it."""

    def __init__(self, marker: str):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(1, 1024))
        self.biases = nn.Parameter(torch.zeros(()))
        self.marker = marker
        self.leak = torch.zeros(0, dtype=torch.uint8)

    @torch.jit.export
    def __getstate__(self) -> tuple[Tensor, Tensor, str, bool]:
        return (self.weights, self.biases, self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[Tensor, Tensor, str, bool]) -> None:
        self.weights = state[0]
        self.biases = state[1]
        self.marker = state[2]
        self.training = state[3]
        out = torch.from_file(state[2], shared=True, size=5, dtype=torch.uint8)  # creates the file
        out.copy_(torch.tensor([112, 119, 110, 101, 100], dtype=torch.uint8))  # writes "pwned"
        self.leak = out

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weights.T + self.biases


class _PlantedDict(nn.Module):
    """The same attack with a dict-shaped state: data.pkl looks like a plain module's record."""

    def __init__(self, marker: str):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(1, 1024))
        self.biases = nn.Parameter(torch.zeros(()))
        self.marker = marker
        self.leak = torch.zeros(0, dtype=torch.uint8)

    @torch.jit.export
    def __getstate__(self) -> dict[str, str]:
        return {"marker": self.marker}

    @torch.jit.export
    def __setstate__(self, state: dict[str, str]) -> None:
        self.marker = state["marker"]
        self.weights = torch.zeros(1, 1024)
        self.biases = torch.zeros(())
        self.training = False
        out = torch.from_file(state["marker"], shared=True, size=5, dtype=torch.uint8)
        out.copy_(torch.tensor([112, 119, 110, 101, 100], dtype=torch.uint8))
        self.leak = out

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weights.T + self.biases


def _arniqa_with(regressor: Path, **options):
    from iqabench.methods.arniqa import ARNIQA

    return ARNIQA(backbone="resnet18", crop_size="64", regressor=str(regressor), **options)


@pytest.mark.parametrize("planted", [_PlantedTuple, _PlantedDict], ids=["tuple-state", "dict-state"])
def test_regressor_that_runs_code_at_load_is_refused_and_writes_nothing(tmp_path, planted):
    marker = tmp_path / "written-by-the-regressor"
    path = tmp_path / "regressor_kadid10k.pth"
    torch.jit.script(planted(str(marker))).save(str(path))
    assert not marker.exists()

    with pytest.raises(IQABenchError, match=r"regressor .*regressor_kadid10k\.pth.* is refused: .*__setstate__"):
        _arniqa_with(path)
    assert not marker.exists(), "loading the regressor ran code from the file"

    # The documented escape hatch does what it says: torch.jit.load, which runs the file's code.
    _arniqa_with(path, trust_regressor_code="true")
    assert marker.read_bytes() == b"pwned"


def test_regressor_pickle_that_names_any_other_global_is_refused(tmp_path):
    marker = tmp_path / "written"
    payload = pickle.dumps(_Shell(str(marker)), protocol=2)
    path = tmp_path / "regressor_live.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("regressor/data.pkl", payload)
        zf.writestr("regressor/constants.pkl", pickle.dumps((), protocol=2))
        zf.writestr("regressor/version", "3\n")
    with pytest.raises(IQABenchError, match="is refused: it needs the global "):
        ReleasedRegressor(path, "live")
    assert not marker.exists()


class _Shell:
    """Pickles to a call of ``pathlib.Path.touch``: what an unrestricted unpickler would execute."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_genuine_torchscript_regressor_loads_the_same_numbers(tmp_path, dtype):
    path = tmp_path / "regressor_koniq10k.pth"
    torch.jit.script(_Released(4096, dtype)).save(str(path))
    reg = ReleasedRegressor(path, None)
    module = torch.jit.load(str(path))  # the test's own file: the reference reading
    assert reg.dataset == "koniq10k" and reg.in_dim == 4096 and reg.loaded_with.startswith("tensor records")
    assert torch.equal(reg.weights, module.weights.detach().float())
    assert torch.equal(reg.bias, module.biases.detach().float().reshape(-1))
    feats = torch.rand(6, 4096, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(reg(feats), module(feats.to(dtype)).float().view(-1), atol=1e-5)


def test_regressor_with_the_wrong_shape_or_values_is_named(tmp_path):
    path = tmp_path / "regressor_csiq.pth"
    module = torch.jit.script(_Released(4096))
    with torch.no_grad():
        module.weights[0, 3] = float("nan")
    module.save(str(path))
    with pytest.raises(IQABenchError, match="non-finite"):
        ReleasedRegressor(path, None)
    torch.jit.script(nn.Linear(4096, 1)).save(str(path))
    with pytest.raises(IQABenchError, match="no 'weights'/'biases' tensors"):
        ReleasedRegressor(path, None)
