"""Tiny models whose answers a reader can work out by hand, and an independent autograd
reference, for the tests of ``cnnviz.network`` (tables, layers, fields)."""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from cnnviz import ReceptiveField

__all__ = ["Boom", "Residual", "Unused", "autograd_box", "boxed", "positive_copy", "seq"]


def positive_copy(model: nn.Module) -> nn.Module:
    """A full-size copy whose input gradient is non-zero exactly on the receptive field."""
    model = copy.deepcopy(model).float().eval()
    for name, m in list(model.named_modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                m.weight.fill_(1.0 / m.weight[0].numel())  # positive, averaging
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # weight 1, bias 0, running mean 0, running var 1
        elif isinstance(m, nn.ReLU6):  # positive sums can pass 6, where ReLU6's slope is 0
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, nn.ReLU())
        elif isinstance(m, nn.MaxPool2d):
            assert m.dilation in (1, (1, 1))
            parent, _, child = name.rpartition(".")
            avg = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)
            setattr(model.get_submodule(parent) if parent else model, child, avg)
    return model


def autograd_box(model: nn.Module, layer: str, input_shape, unit=None):
    """Half-open box of the non-zero input gradient of one unit (default: the centre one),
    measured on positive_copy(model); also returns the layer's (h, w)."""
    ref = positive_copy(model)
    x = torch.rand(1, *input_shape, dtype=torch.float64) + 0.5  # positive: every ReLU passes
    x.requires_grad_(True)
    ref = ref.double()
    out = {}

    class Stop(Exception):
        pass

    def hook(module, args, output):
        out["t"] = output
        raise Stop

    handle = ref.get_submodule(layer).register_forward_hook(hook)
    try:
        ref(x)
    except Stop:
        pass
    finally:
        handle.remove()
    t = out["t"]
    h, w = t.shape[2:]
    y, xx = unit if unit is not None else (h // 2, w // 2)
    (grad,) = torch.autograd.grad(t[0, :, y, xx].sum(), x)
    mask = grad[0].abs().sum(0) > 0
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1), (h, w)


def seq(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers)).eval()


class Residual(nn.Module):
    """A ResNet basic block that halves the size: 3×3 stride-2 then 3×3 convs, 1×1 stride-2
    shortcut; out = relu(main + shortcut)."""

    def __init__(self, cin: int = 2, cout: int = 3, shortcut_kernel: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        pad = shortcut_kernel // 2
        self.shortcut = nn.Conv2d(cin, cout, shortcut_kernel, stride=2, padding=pad, bias=False)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Boom(nn.Module):
    def forward(self, x):
        raise ValueError("boom inside forward")


class Unused(nn.Module):
    """Registers a layer that its forward never calls."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.spare = nn.ReLU()

    def forward(self, x):
        return self.conv(x)


def boxed(rf: ReceptiveField) -> tuple[int, int]:
    """The (h, w) extent of the centre unit's clipped box."""
    r0, r1, c0, c1 = rf.box
    return r1 - r0, c1 - c0
