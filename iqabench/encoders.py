"""ResNet encoders in torchvision's layout, classifier removed: ``resnet50``, ``se_resnet50``, ``resnet18``.

The encoder is torchvision's ``ResNet`` with ``fc`` replaced by the identity, so its output is the
global-average-pooled feature (2048-d for the Bottleneck networks, 512-d for ResNet-18) and its
``state_dict`` keys are torchvision's (``conv1.*``, ``bn1.*``, ``layer1.0.conv1.*``, …) without
``fc.*``: ImageNet weights a user has for ``torchvision.models.resnet50`` load as they are.

``se_resnet50`` adds a squeeze-and-excitation block to every bottleneck (Hu et al., CVPR 2018):
global average pool → ``fc1`` (C → C/16) → ReLU → ``fc2`` (C/16 → C) → sigmoid, scaling the
output channels of the bottleneck (after ``bn3``) before the residual addition. Its ResNet-50
parts keep ResNet-50's names, so ResNet-50 weights load into it; the SE parameters are the only
extra keys (``layerX.Y.se.fc1.*``, ``layerX.Y.se.fc2.*``).

SE initialisation, *identity at start*: the gate is ``2·sigmoid(fc2(·))`` and ``fc2`` starts with
zero weight and zero bias, so every gate is exactly 1 and a fresh SE-ResNet-50 computes exactly
what the ResNet-50 it was loaded from computes; ``fc1`` keeps PyTorch's default Linear
initialisation. The factor 2 keeps the gate's range symmetric around 1 ((0, 2)) and its slope at
the start healthy (0.5), whereas a plain sigmoid biased towards 1 (e.g. bias 6 → 0.9975) would
start nearly saturated and barely train at ARNIQA's learning rate of 1e-3.

``resnet18`` (512-d) exists for the offline demo configuration only: it is small enough to train
on two CPU cores in a couple of minutes. It is not a configuration of the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from .errors import IQABenchError

BACKBONES = ("resnet50", "se_resnet50", "resnet18")
FEATURE_DIMS = {"resnet50": 2048, "se_resnet50": 2048, "resnet18": 512}
SE_REDUCTION = 16


class SqueezeExcite(nn.Module):
    """Channel gate ``2·sigmoid(fc2(relu(fc1(gap(x)))))``; exactly 1 at initialisation (see module doc)."""

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean(dim=(2, 3))
        gate = 2.0 * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))
        return x * gate[:, :, None, None]


class SEBottleneck(Bottleneck):
    """torchvision's Bottleneck with an SE gate on its output channels before the residual add."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.se = SqueezeExcite(self.conv3.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def build_encoder(backbone: str) -> ResNet:
    """A randomly initialised encoder (torchvision's default initialisation) with ``fc`` = identity."""
    if backbone == "resnet50":
        net = ResNet(Bottleneck, [3, 4, 6, 3])
    elif backbone == "se_resnet50":
        # ResNet's constructor re-initialises only convolutions and norms: the SE gates stay at 1.
        net = ResNet(SEBottleneck, [3, 4, 6, 3])
    elif backbone == "resnet18":
        net = ResNet(BasicBlock, [2, 2, 2, 2])
    else:
        raise IQABenchError(f"unknown backbone {backbone!r} (backbones: {', '.join(BACKBONES)})")
    net.fc = nn.Identity()
    return net


def infer_backbone(keys: list[str]) -> str | None:
    """The backbone a torchvision-layout encoder state dict belongs to, from its key names."""
    keys = set(keys)
    if any(".se.fc1." in k for k in keys):
        return "se_resnet50"
    if "layer1.0.conv3.weight" in keys:
        return "resnet50"
    if "layer1.0.conv2.weight" in keys:
        return "resnet18"
    return None


def split_keys(keys: list[str]) -> str:
    """A short, one-line listing of key names (first few, then a count)."""
    keys = sorted(keys)
    shown = ", ".join(keys[:4])
    return shown + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")


def load_encoder_state(encoder: nn.Module, state: dict[str, Tensor], what: str, *, allow_missing_se: bool = False) -> None:
    """Load a torchvision-layout state dict; ``fc.*`` is ignored (the classifier is removed).

    ``allow_missing_se``: ResNet-50 weights into an SE-ResNet-50 (the SE blocks keep their
    identity initialisation). Any other missing or unexpected key fails with a one-line error.
    """
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    expected = encoder.state_dict()
    missing = [k for k in expected if k not in state]
    if allow_missing_se:
        missing = [k for k in missing if ".se." not in k]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing keys {split_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {split_keys(unexpected)}")
        if wrong_shape:
            k = wrong_shape[0]
            parts.append(f"shape mismatch at {k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})")
        raise IQABenchError(f"{what} does not match the encoder: {'; '.join(parts)}")
    encoder.load_state_dict(state, strict=False)
