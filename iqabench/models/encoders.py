"""ResNet encoders in torchvision's layout, classifier removed: ``resnet50``, ``se_resnet50``, ``resnet18``,
``resnet18_quarter``.

The encoder is torchvision's ``ResNet`` with ``fc`` replaced by the identity, so its output is the
global-average-pooled feature (2048-d for the Bottleneck networks, 512-d for ResNet-18) and its
``state_dict`` keys are torchvision's (``conv1.*``, ``bn1.*``, ``layer1.0.conv1.*``, …) without
``fc.*``: ImageNet weights a user has for ``torchvision.models.resnet50`` load as they are.

``se_resnet50`` adds a squeeze-and-excitation block to every bottleneck (Hu et al., CVPR 2018):
global average pool → ``fc1`` (C → C/16) → ReLU → ``fc2`` (C/16 → C) → gate, scaling the output
channels of the bottleneck (after ``bn3``) before the residual addition. Its ResNet-50 parts keep
ResNet-50's names, so ResNet-50 weights load into it; the SE parameters are the only extra keys
(``layerX.Y.se.fc1.*``, ``layerX.Y.se.fc2.*``, as ``nn.Linear``). Two architecture options,
recorded in iqabench checkpoints (``model_info["encoder_arch"]``, see :func:`arch_from_model_info`):

``se_gate``
    ``sigmoid`` (default): the gate is ``sigmoid(fc2(·))``, as specified by Hu et al. and by the
    SE-ResNet-50 variant's description; both layers keep PyTorch's default ``nn.Linear``
    initialisation. Standard ImageNet SE-ResNet-50 weights use this gate.
    ``identity_start``: ``2·sigmoid(fc2(·))`` with ``fc2`` initialised to zero, so every gate is
    exactly 1 at the start and a fresh SE-ResNet-50 computes what the ResNet-50 it was loaded from
    computes. This was iqabench's only gate before the record existed: SE-ResNet-50 checkpoints
    without ``encoder_arch`` were trained with it and are read with it.
``stride_layout``
    ``torchvision`` (default): a bottleneck's stride sits in its 3×3 convolution and the stem's
    max-pool pads by 1 (torchvision, timm's ``seresnet50``).
    ``caffe``: the stride sits in the first 1×1 convolution and the max-pool uses ``ceil_mode``
    without padding, as the original Caffe SENet release (Cadene's ``pretrainedmodels``
    ``se_resnet50``, timm's ``legacy_seresnet50``); only weights in that layout need it.

:func:`standard_se_layout` and :func:`convert_standard_se` read standard ImageNet SE-ResNet-50
weights by key mapping: timm's ``seresnet50`` (SE layers are 1×1 convolutions ``se.fc1``/``se.fc2``)
and the Caffe-converted ``legacy_seresnet50`` (``layer0.conv1``, ``layer0.bn1``, ``se_module.*``,
``last_linear.*``).

``resnet18`` (512-d) and ``resnet18_quarter`` (ResNet-18 with a quarter of the channels in every
stage, 16-32-64-128, 128-d) exist for the offline demo configurations only: they are small enough to
train on two CPU cores in a few minutes. Neither is a configuration of the paper.
``resnet18_quarter`` keeps torchvision's module names and initialisation; only the widths differ, so
key names alone cannot tell it from ``resnet18`` (iqabench checkpoints record the backbone).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from ..errors import IQABenchError

BACKBONES = ("resnet50", "se_resnet50", "resnet18", "resnet18_quarter")
FEATURE_DIMS = {"resnet50": 2048, "se_resnet50": 2048, "resnet18": 512, "resnet18_quarter": 128}
SE_REDUCTION = 16
SE_GATES = ("sigmoid", "identity_start")
STRIDE_LAYOUTS = ("torchvision", "caffe")
DEFAULT_SE_ARCH = {"se_gate": "sigmoid", "stride_layout": "torchvision"}
# What every SE-ResNet-50 checkpoint written before model_info recorded the architecture used.
UNRECORDED_SE_ARCH = {"se_gate": "identity_start", "stride_layout": "torchvision"}


class SqueezeExcite(nn.Module):
    """Channel gate ``sigmoid(fc2(relu(fc1(gap(x)))))``, or ``2·sigmoid`` with ``fc2`` zero-initialised
    (``gate="identity_start"``: exactly 1 at initialisation; see the module doc)."""

    def __init__(self, channels: int, gate: str = "sigmoid", reduction: int = SE_REDUCTION):
        super().__init__()
        if gate not in SE_GATES:
            raise IQABenchError(f"SE gate {gate!r} is not one of {', '.join(SE_GATES)}")
        self.gate = gate
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)
        if gate == "identity_start":
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean(dim=(2, 3))
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))
        if self.gate == "identity_start":
            gate = 2.0 * gate
        return x * gate[:, :, None, None]


class SEBottleneck(Bottleneck):
    """torchvision's Bottleneck with an SE gate on its output channels before the residual add.

    Subclasses made by :func:`_se_block` fix the gate and where the stride sits."""

    se_gate = "sigmoid"
    stride_in_1x1 = False

    def __init__(self, inplanes: int, planes: int, stride: int = 1, *args, **kwargs):
        super().__init__(inplanes, planes, stride, *args, **kwargs)
        if self.stride_in_1x1 and stride != 1:  # Caffe SENet: the first 1×1 convolution strides
            self.conv1.stride, self.conv2.stride = (stride, stride), (1, 1)
        self.se = SqueezeExcite(self.conv3.out_channels, self.se_gate)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def _se_block(se_gate: str, stride_layout: str) -> type[SEBottleneck]:
    attrs = {"se_gate": se_gate, "stride_in_1x1": stride_layout == "caffe"}
    return type("SEBottleneck", (SEBottleneck,), attrs)


def encoder_arch(backbone: str, se_gate: str | None = None, stride_layout: str | None = None,
                 what: str = "encoder") -> dict[str, str]:
    """The architecture options of ``backbone``, validated: ``{}`` for backbones without SE blocks."""
    if backbone != "se_resnet50":
        if se_gate not in (None, DEFAULT_SE_ARCH["se_gate"]) or stride_layout not in (None, DEFAULT_SE_ARCH["stride_layout"]):
            raise IQABenchError(f"{what}: se_gate and stride_layout apply to se_resnet50 only, not {backbone}")
        return {}
    arch = {"se_gate": se_gate or DEFAULT_SE_ARCH["se_gate"], "stride_layout": stride_layout or DEFAULT_SE_ARCH["stride_layout"]}
    if arch["se_gate"] not in SE_GATES:
        raise IQABenchError(f"{what}: se_gate {arch['se_gate']!r} is not one of {', '.join(SE_GATES)}")
    if arch["stride_layout"] not in STRIDE_LAYOUTS:
        raise IQABenchError(f"{what}: stride_layout {arch['stride_layout']!r} is not one of {', '.join(STRIDE_LAYOUTS)}")
    return arch


def arch_from_model_info(info: dict[str, Any], what: str = "checkpoint") -> dict[str, str]:
    """The encoder architecture an iqabench checkpoint's ``model_info`` records.

    SE-ResNet-50 checkpoints written before the record existed have none and used the
    identity-at-start gate (:data:`UNRECORDED_SE_ARCH`)."""
    backbone = str(info.get("backbone"))
    record = info.get("encoder_arch")
    if backbone != "se_resnet50" or record is None:
        return dict(UNRECORDED_SE_ARCH) if backbone == "se_resnet50" else {}
    if not isinstance(record, dict) or set(record) != set(DEFAULT_SE_ARCH):
        raise IQABenchError(f"{what}: model_info encoder_arch must hold se_gate and stride_layout, not {record!r}")
    return encoder_arch(backbone, record["se_gate"], record["stride_layout"], what)


def arch_label(arch: dict[str, str]) -> str:
    """Short text for names and identities: "" for the default architecture."""
    parts = []
    if arch.get("se_gate", "sigmoid") != "sigmoid":
        parts.append(f"{arch['se_gate'].replace('_', '-')} SE gate")
    if arch.get("stride_layout", "torchvision") != "torchvision":
        parts.append(f"{arch['stride_layout']} strides")
    return ", ".join(parts)


def build_encoder(backbone: str, se_gate: str = "sigmoid", stride_layout: str = "torchvision") -> ResNet:
    """A randomly initialised encoder (torchvision's default initialisation) with ``fc`` = identity.

    ``se_gate`` and ``stride_layout``: the SE-ResNet-50 options of the module doc."""
    if backbone == "resnet50":
        net = ResNet(Bottleneck, [3, 4, 6, 3])
    elif backbone == "se_resnet50":
        encoder_arch(backbone, se_gate, stride_layout)
        # ResNet's constructor re-initialises only convolutions and norms: the SE layers keep theirs.
        net = ResNet(_se_block(se_gate, stride_layout), [3, 4, 6, 3])
        if stride_layout == "caffe":
            net.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
    elif backbone == "resnet18":
        net = ResNet(BasicBlock, [2, 2, 2, 2])
    elif backbone == "resnet18_quarter":
        net = _narrow_resnet18(16)
    else:
        raise IQABenchError(f"unknown backbone {backbone!r} (backbones: {', '.join(BACKBONES)})")
    net.fc = nn.Identity()
    return net


def _narrow_resnet18(width: int) -> ResNet:
    """torchvision's ResNet-18 with stage widths ``width·(1, 2, 4, 8)`` instead of ``64·(1, 2, 4, 8)``."""
    net = ResNet(BasicBlock, [2, 2, 2, 2])  # its forward and module names; the layers are rebuilt narrower
    net.inplanes = width
    net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    net.layer1 = net._make_layer(BasicBlock, width, 2)
    net.layer2 = net._make_layer(BasicBlock, 2 * width, 2, stride=2)
    net.layer3 = net._make_layer(BasicBlock, 4 * width, 2, stride=2)
    net.layer4 = net._make_layer(BasicBlock, 8 * width, 2, stride=2)
    for m in net.modules():  # torchvision's initialisation, applied to the rebuilt layers
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


class TrainingRecord:
    """What an iqabench checkpoint says about its training, for the models' read weight files
    (dataclasses with an ``info`` field: config, model_info, epoch, …; empty for other layouts)."""

    info: dict[str, Any]

    @property
    def model_info(self) -> dict[str, Any]:
        return self.info.get("model_info") or {}

    @property
    def downscale(self) -> float:
        """Input downscale factor the network was trained with (demo configurations), else 1."""
        return float(self.model_info.get("downscale") or 1.0)


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


def standard_se_layout(state: dict[str, Any]) -> str | None:
    """``"timm"`` or ``"senet-caffe"`` when ``state`` is a standard SE-ResNet state dict, else None.

    timm's ``seresnet50``: torchvision names, SE layers as 1×1 convolutions (4-d ``se.fc1.weight``).
    Caffe-converted SENet (timm's ``legacy_seresnet50``, Cadene's ``se_resnet50``): ``layer0.conv1``,
    ``layer0.bn1``, ``layerX.Y.se_module.fc{1,2}`` (1×1 convolutions), ``last_linear``."""
    keys = [k for k in state if isinstance(k, str)]
    if "layer0.conv1.weight" in keys and any(".se_module.fc1." in k for k in keys):
        return "senet-caffe"
    se = [state[k] for k in keys if k.endswith(".se.fc1.weight")]
    if "conv1.weight" in keys and se and all(isinstance(v, Tensor) and v.ndim == 4 for v in se):
        return "timm"
    return None


def convert_standard_se(state: dict[str, Tensor], layout: str) -> dict[str, Tensor]:
    """A :func:`standard_se_layout` state dict → this module's names and shapes (classifier dropped).

    Only names and the 1×1 convolutions' trailing 1×1 dims change; anything unknown is kept under
    its own name, so that :func:`load_encoder_state` reports it."""
    out = {}
    for key, value in state.items():
        if layout == "senet-caffe":
            if key.startswith("last_linear."):
                continue
            if key.startswith(("layer0.conv1.", "layer0.bn1.")):
                key = key[len("layer0.") :]
            key = key.replace(".se_module.", ".se.")
        elif key.startswith("fc."):
            continue
        if ".se.fc" in key and key.endswith(".weight") and value.ndim == 4 and value.shape[2:] == (1, 1):
            value = value[:, :, 0, 0]
        out[key] = value
    return out


def load_encoder_state(encoder: nn.Module, state: dict[str, Tensor], what: str, *, allow_missing_se: bool = False) -> None:
    """Load a torchvision-layout state dict; ``fc.*`` is ignored (the classifier is removed).

    ``allow_missing_se``: ResNet-50 weights into an SE-ResNet-50 (the SE blocks keep their
    initialisation). Missing ``num_batches_tracked`` counters (files written before PyTorch 0.4.1,
    e.g. the Caffe-converted SENet weights) keep 0; they only matter for a momentum-free batch
    norm. Any other missing or unexpected key fails with a one-line error.
    """
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    expected = encoder.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
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


# -- state-dict layouts shared by the released checkpoints ---------------------------------------------
# The reference codes' nn.Sequential(*resnet.children()[:-1 or -2]) numbering → torchvision names.
SEQUENTIAL_NAMES = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Tensor]:
    """The entries of ``state`` under ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)}


def from_sequential(state: dict[str, Tensor], label: str, prefix: str) -> dict[str, Tensor]:
    """A ``Sequential(*resnet.children())`` state dict (keys ``0.*``, ``1.*``, ``4.*``–``7.*``, as found under
    ``prefix`` in the file named by ``label``) in torchvision names; an unexpected key is a one-line error."""
    out = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head not in SEQUENTIAL_NAMES:
            raise IQABenchError(f"{label}: unexpected key {prefix + key!r} in the reference encoder layout")
        out[f"{SEQUENTIAL_NAMES[head]}.{rest}"] = value
    return out
