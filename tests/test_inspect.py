"""Layer table, feature maps and receptive fields (cnnviz.inspect).

References: torch itself (hooks, slicing a Sequential, torchvision's published GFLOPS), hand
counts on tiny models, published receptive fields, and the input gradient of one unit
measured here independently of the library: on a copy of the *full* model whose weights are
set to positive constants, max pools swapped for average pools of the same windows and
batch norm made the identity, the gradient of a unit is non-zero exactly on its receptive
field (the library's probe instead collapses every layer to one channel).
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import cnnviz
from cnnviz import inspect as cinspect
from cnnviz.inspect import (
    LayerError,
    ReceptiveField,
    effective_receptive_field,
    feature_maps,
    layer_table,
    model_totals,
    receptive_field,
    receptive_field_table,
    rf_step,
    unit_receptive_box,
)
from cnnviz.models import load_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------
# Helpers: an independent autograd reference, hook counting, tiny models


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


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


# ---------------------------------------------------------------------------
# The module name


def test_the_submodule_does_not_shadow_the_standard_inspect_module():
    stdlib_inspect = importlib.import_module("inspect")
    assert stdlib_inspect is not cinspect
    assert "cnnviz" not in stdlib_inspect.__file__
    assert callable(stdlib_inspect.signature)


def test_the_public_names_are_exported_from_cnnviz():
    for name in ("layer_table", "receptive_field", "feature_maps", "effective_receptive_field",
                 "unit_receptive_box", "receptive_field_table", "model_totals", "conv_layers",
                 "layer_names", "ReceptiveField", "LayerError"):
        assert getattr(cnnviz, name) is getattr(cinspect, name)


# ---------------------------------------------------------------------------
# Layer table


@pytest.mark.parametrize("name", ["digits", "resnet18"])
def test_leaf_parameters_add_up_to_torchs_count(name):
    model = load_model(name)
    shape = (1, 28, 28) if name == "digits" else (3, 224, 224)
    rows = layer_table(model, shape)
    total = sum(p.numel() for p in model.parameters())
    assert sum(r["params"] for r in rows if r["is_leaf"]) == total
    assert sum(r["params"] for r in rows) == total
    assert model_totals(model, shape)["params"] == total


def test_the_1792_example():
    model = seq(("conv", nn.Conv2d(3, 64, 3)))
    (row,) = layer_table(model, (3, 32, 32))
    assert row["params"] == 1792 == sum(p.numel() for p in model.parameters())
    assert row["formula"] == "64 × (3·3·3 + 1) = 1,792"
    assert row["output_shape"] == (64, 30, 30)
    assert row["macs"] == 30 * 30 * 64 * 3 * 3 * 3
    assert row["type"] == "Conv2d" and row["is_leaf"] and row["depth"] == 1


def test_resnet18_table_macs_and_order():
    model = load_model("resnet18")
    rows = layer_table(model, (3, 224, 224))
    by_name = {r["name"]: r for r in rows}
    assert by_name["conv1"]["macs"] == 112 * 112 * 64 * 3 * 7 * 7 == 118_013_952
    assert by_name["conv1"]["formula"] == "64 × 7·7·3 = 9,408"  # no bias
    assert by_name["fc"]["macs"] == 512 * 1000
    assert by_name["fc"]["formula"] == "1,000 × (512 + 1) = 513,000"
    assert by_name["bn1"]["macs"] == 0 and by_name["maxpool"]["macs"] == 0
    # torchvision publishes 1.814 GFLOPS (multiply-adds of conv and linear layers)
    meta = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == meta["_ops"]
    names = [r["name"] for r in rows]
    assert names.index("layer1") < names.index("layer1.0") < names.index("layer1.0.conv1")
    assert names.index("layer2.0.conv2") < names.index("layer2.0.downsample")
    assert by_name["layer1.0.relu"]["calls"] == 2  # a BasicBlock uses its ReLU twice
    assert not by_name["layer1"]["is_leaf"] and by_name["layer1"]["params"] == 0
    assert by_name["layer1"]["params_total"] == sum(
        p.numel() for p in model.layer1.parameters())
    assert by_name["layer1.0.conv1"]["depth"] == 3
    assert hook_count(model) == 0


def test_alexnet_macs_match_torchvision():
    rows = layer_table(load_model("alexnet"), (3, 224, 224))
    meta = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.meta
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == meta["_ops"]


def test_output_shapes_are_what_a_hook_sees():
    model = load_model("resnet18")
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen.setdefault(name, tuple(output.shape[1:]))  # the first call, as the table

        return hook

    handles = [m.register_forward_hook(record(name))
               for name, m in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 160, 160))
    finally:
        for h in handles:
            h.remove()
    rows = layer_table(model, (3, 160, 160))
    assert {r["name"]: r["output_shape"] for r in rows} == seen
    assert set(seen) == {name for name, _ in model.named_modules() if name}


def test_model_totals_counts_weight_layers():
    totals = model_totals(load_model("digits"), (1, 28, 28))
    assert (totals["conv_layers"], totals["dense_layers"], totals["layers"]) == (2, 2, 4)
    assert totals["output_shape"] == (10,)
    assert totals["macs"] == (28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 1568 * 128 + 128 * 10)


def test_layer_table_removes_its_hooks_after_an_error():
    model = seq(("conv", nn.Conv2d(1, 2, 3)), ("boom", Boom()), ("fc", nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="boom inside forward"):
        layer_table(model, (1, 8, 8))
    assert hook_count(model) == 0
    digits = load_model("digits")
    with pytest.raises(LayerError, match="cannot run on an input of shape"):
        layer_table(digits, (3, 20, 20))  # wrong channels
    assert hook_count(digits) == 0
    with pytest.raises(LayerError, match="channels, height, width"):
        layer_table(digits, (28, 28))


# ---------------------------------------------------------------------------
# Feature maps


def test_feature_maps_equal_slicing_the_sequential():
    model = load_model("digits")
    x = torch.randn(1, 1, 28, 28)
    names = ["conv1", "relu1", "pool2", "fc1", "fc2"]
    maps = feature_maps(model, x, names)
    assert list(maps) == names
    children = list(model.named_children())
    with torch.no_grad():
        for name in names:
            end = [n for n, _ in children].index(name) + 1
            expected = model[:end](x)[0].numpy()
            assert maps[name].dtype == np.float32
            np.testing.assert_allclose(maps[name], expected, rtol=1e-5, atol=1e-6)
    assert maps["conv1"].shape == (16, 28, 28) and maps["pool2"].shape == (32, 7, 7)
    assert maps["fc1"].shape == (128,)
    assert hook_count(model) == 0


def test_feature_maps_on_resnet18_and_numpy_input():
    model = load_model("resnet18")
    maps = feature_maps(model, np.zeros((3, 64, 64), np.float32), ["conv1", "layer4"])
    assert maps["conv1"].shape == (64, 32, 32) and maps["layer4"].shape == (512, 2, 2)


def test_a_later_in_place_relu_does_not_change_a_captured_map():
    model = seq(("conv", nn.Conv2d(1, 4, 3, padding=1)), ("relu", nn.ReLU(inplace=True)))
    x = torch.randn(1, 1, 9, 9)
    maps = feature_maps(model, x, ["conv", "relu"])
    with torch.no_grad():
        expected = model.conv(x)[0].numpy()
    assert (maps["conv"] < 0).any()
    np.testing.assert_allclose(maps["conv"], expected, rtol=1e-6)
    np.testing.assert_allclose(maps["relu"], np.maximum(expected, 0), rtol=1e-6)


def test_feature_maps_errors_leave_no_hooks():
    model = load_model("digits")
    with pytest.raises(LayerError) as info:
        feature_maps(model, torch.zeros(1, 1, 28, 28), ["conv1", "conv9"])
    assert isinstance(info.value, ValueError)
    assert "'conv9'" in str(info.value) and "conv1, relu1, pool1" in str(info.value)
    assert hook_count(model) == 0
    with pytest.raises(LayerError, match="shape"):
        feature_maps(model, torch.zeros(2, 1, 28, 28), ["conv1"])
    with pytest.raises(LayerError, match="list of names"):
        feature_maps(model, torch.zeros(1, 1, 28, 28), "conv1")
    broken = seq(("conv", nn.Conv2d(1, 2, 3)), ("boom", Boom()), ("after", nn.ReLU()))
    with pytest.raises(ValueError, match="boom inside forward"):
        feature_maps(broken, torch.zeros(1, 1, 8, 8), ["after"])
    assert hook_count(broken) == 0
    unused = Unused()
    with pytest.raises(LayerError, match="never ran 'spare'"):
        feature_maps(unused, torch.zeros(1, 1, 8, 8), ["spare"])
    assert hook_count(unused) == 0


def test_hooks_ignore_forward_passes_of_other_threads():
    model = seq(("conv", nn.Conv2d(1, 1, 3)))
    seen = []
    with cinspect._hooks([(model.conv, lambda m, a, o: seen.append("hit"), False)]):
        other = threading.Thread(target=lambda: model(torch.zeros(1, 1, 5, 5)))
        other.start()
        other.join()
        assert seen == []
        model(torch.zeros(1, 1, 5, 5))
        assert seen == ["hit"]
    assert hook_count(model) == 0


def test_layer_name_helpers():
    model = load_model("resnet18")
    assert cinspect.conv_layers(load_model("digits")) == ["conv1", "conv2"]
    convs = cinspect.conv_layers(model)
    assert len(convs) == 20 and convs[0] == "conv1" and "layer2.0.downsample.0" in convs
    assert cinspect.layer_names(model)[:3] == ["conv1", "bn1", "relu"]


# ---------------------------------------------------------------------------
# Receptive fields: toy models with hand-worked answers, checked against autograd


TOYS = {
    "three 3x3 convs": (
        seq(("c1", nn.Conv2d(1, 2, 3, padding=1)), ("r1", nn.ReLU()),
            ("c2", nn.Conv2d(2, 2, 3, padding=1)), ("r2", nn.ReLU()),
            ("c3", nn.Conv2d(2, 2, 3, padding=1))),
        {"c1": (3, 1), "c2": (5, 1), "c3": (7, 1)},
    ),
    "pools double the jump": (
        seq(("c1", nn.Conv2d(1, 2, 3, padding=1)), ("p1", nn.MaxPool2d(2)),
            ("c2", nn.Conv2d(2, 2, 3, padding=1)), ("p2", nn.MaxPool2d(2)),
            ("c3", nn.Conv2d(2, 2, 3))),
        {"c1": (3, 1), "p1": (4, 2), "c2": (8, 2), "p2": (10, 4), "c3": (18, 4)},
    ),
    "dilation": (
        seq(("c1", nn.Conv2d(1, 2, 3, dilation=2, padding=2)),
            ("c2", nn.Conv2d(2, 2, 3, dilation=4, padding=4)),
            ("c3", nn.Conv2d(2, 2, 3))),
        {"c1": (5, 1), "c2": (13, 1), "c3": (15, 1)},
    ),
    "stride and batch norm": (
        seq(("c1", nn.Conv2d(1, 2, 3, stride=2, padding=1)), ("bn", nn.BatchNorm2d(2)),
            ("c2", nn.Conv2d(2, 2, 3, padding=1)), ("c3", nn.Conv2d(2, 2, 5, stride=3))),
        {"c1": (3, 2), "bn": (3, 2), "c2": (7, 2), "c3": (15, 6)},
    ),
    "residual with a 1x1 stride-2 shortcut": (
        seq(("stem", nn.Conv2d(1, 2, 3, padding=1)), ("block", Residual()),
            ("block2", Residual(3, 3))),
        # stem 3; main branch 3 + 2·1 = 5 (jump 2), 5 + 2·2 = 9; shortcut 3: union 9
        # block2: 9 + 2·2 = 13 (jump 4), 13 + 2·4 = 21; shortcut 9: union 21
        {"stem": (3, 1), "block": (9, 2), "block.shortcut": (3, 2), "block2": (21, 4)},
    ),
    "residual whose shortcut sees more": (
        seq(("block", Residual(1, 2, shortcut_kernel=11))),
        # main branch 3 + 2·2 = 7; the 11×11 shortcut sees 11: the union is 11
        {"block.conv2": (7, 2), "block.shortcut": (11, 2), "block": (11, 2)},
    ),
}


@pytest.mark.parametrize("toy", list(TOYS))
def test_receptive_fields_of_toy_models_match_hand_counts_and_autograd(toy):
    model, expected = TOYS[toy]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for layer, (size, jump) in expected.items():
        for shape in [(1, 48, 40), (1, 13, 16)]:  # unclipped, and clipped by the border
            rf = receptive_field(model, layer, shape)
            assert rf.size == (size, size), (layer, shape)
            assert rf.jump == (jump, jump), (layer, shape)
            box, out_hw = autograd_box(model, layer, shape)
            assert rf.box == box and rf.output_hw == out_hw, (layer, shape)
            assert not rf.input_dependent
    # the model is untouched: same weights, no hooks
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert hook_count(model) == 0


def test_unit_boxes_match_autograd_for_every_unit_of_a_residual_model():
    model, _ = TOYS["residual with a 1x1 stride-2 shortcut"]
    shape = (1, 22, 19)
    rf = receptive_field(model, "block2", shape)
    h, w = rf.output_hw
    for y in range(h):
        for x in range(w):
            box, _ = autograd_box(model, "block2", shape, unit=(y, x))
            assert unit_receptive_box(model, "block2", shape, y, x) == box, (y, x)
    with pytest.raises(LayerError, match="no unit at row"):
        unit_receptive_box(model, "block2", shape, h, 0)


def test_receptive_field_geometry():
    model, _ = TOYS["pools double the jump"]
    rf = receptive_field(model, "p2", (1, 28, 28))  # like the digits CNN's pool2
    assert rf.output_hw == (7, 7) and rf.unit == (3, 3)
    assert rf.origin == (-3, -3)  # unit (0, 0) sees rows -3..6: its field starts in the padding
    assert rf.start == (1.5, 1.5)  # centre of that field
    assert rf.center == (13.5, 13.5)  # 1.5 + 3·4
    assert rf.box == (9, 19, 9, 19) and not rf.clipped
    assert rf.box_of(0, 0) == (0, 7, 0, 7) and rf.full_box_of(0, 0) == (-3, 7, -3, 7)
    assert receptive_field(model, "p2", (1, 28, 28)) is rf  # cached


def test_a_dilated_max_pool():
    model = seq(("pool", nn.MaxPool2d(3, stride=1, dilation=2)))
    rf = receptive_field(model, "pool", (1, 20, 20))
    assert rf.size == (5, 5) and rf.jump == (1, 1)


def test_layers_after_dense_or_adaptive_pooling_see_the_whole_input():
    model = load_model("digits")
    rf = receptive_field(model, "fc1", (1, 28, 28))
    assert rf.input_dependent and rf.box == (0, 28, 0, 28) and rf.size == (28, 28)
    rf = receptive_field(load_model("resnet18"), "avgpool", (3, 96, 96))
    assert rf.input_dependent and rf.box == (0, 96, 0, 96)
    with pytest.raises(LayerError, match="no layer called 'nope'"):
        receptive_field(model, "nope", (1, 28, 28))


# ---------------------------------------------------------------------------
# Receptive fields of the classics


def test_alexnet_features_12_matches_the_published_195():
    model = torchvision.models.alexnet()
    rf = receptive_field(model, "features.12", (3, 224, 224))
    assert rf.size == (195, 195) and rf.jump == (32, 32)
    box, _ = autograd_box(model.features, "12", (3, 224, 224))
    assert rf.box == box
    table = receptive_field_table(model, (3, 224, 224))
    assert [r["rf"][0] for r in table] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [r["jump"][0] for r in table] == [4, 8, 8, 16, 16, 16, 16, 32]


def test_vgg16_features_30_matches_the_published_212():
    with torch.device("meta"):  # the weights are never read: skip initialising 138 M of them
        model = torchvision.models.vgg16()
    rf = receptive_field(model, "features.30", (3, 224, 224))
    assert rf.size == (212, 212) and rf.jump == (32, 32)


def test_resnet18_layer4_equals_the_autograd_extent():
    model = torchvision.models.resnet18()
    rf = receptive_field(model, "layer4", (3, 512, 512))
    box, out_hw = autograd_box(model, "layer4", (3, 512, 512))
    assert rf.box == box and rf.output_hw == out_hw == (16, 16)
    assert rf.size == (435, 435) == (box[1] - box[0], box[3] - box[2])  # nothing clipped
    assert rf.jump == (32, 32)
    assert receptive_field(model, "layer4", (3, 224, 224)).size == (435, 435)
    assert boxed(receptive_field(model, "layer4", (3, 224, 224))) == (224, 224)


def test_resnet18_table_obeys_the_recurrence_in_every_row():
    table = receptive_field_table(load_model("resnet18"), (3, 224, 224))
    assert len(table) == 21  # 20 convolutions and the max pool
    for row in table:
        for a in (0, 1):
            rf, jump = rf_step(row["rf_in"][a], row["jump_in"][a], row["kernel"][a],
                               row["stride"][a], row["dilation"][a])
            assert (rf, jump) == (row["rf"][a], row["jump"][a]), row["name"]
    rows = {r["name"]: r for r in table}
    # a shortcut starts from the block's input, not from the previous row (layer2.0.conv2)
    assert rows["layer2.0.downsample.0"]["rf_in"] == rows["layer2.0.conv1"]["rf_in"] == (43, 43)
    assert rows["layer4.1.conv2"]["rf"] == (435, 435)
    assert rows["layer1.0.conv1"]["formula"] == "11 + (3−1)·1·4 = 19"


def test_digits_table():
    table = receptive_field_table(load_model("digits"), (1, 28, 28))
    assert [(r["name"], r["rf"][0], r["jump"][0]) for r in table] == [
        ("conv1", 3, 1), ("pool1", 4, 2), ("conv2", 8, 2), ("pool2", 10, 4)]
    assert table[0]["padding"] == (1, 1, 1, 1) and table[1]["kernel"] == (2, 2)


# ---------------------------------------------------------------------------
# Effective receptive field


def test_effective_receptive_field_of_one_conv_is_the_kernel_magnitude():
    conv = nn.Conv2d(1, 2, 3, stride=2, bias=False)
    with torch.no_grad():
        conv.weight[0, 0] = torch.tensor([[1.0, -2.0, 0.0], [4.0, -8.0, 2.0], [0.0, 1.0, -1.0]])
        conv.weight[1, 0] = torch.arange(9.0).reshape(3, 3)
    model = seq(("conv", conv))
    x = torch.randn(1, 1, 11, 11)
    erf = effective_receptive_field(model, "conv", x, unit=(0, 2, 1))  # rows 4..6, cols 2..4
    expected = np.zeros((11, 11), np.float32)
    expected[4:7, 2:5] = np.abs(conv.weight[0, 0].detach().numpy()) / 8
    assert erf.dtype == np.float32 and erf.shape == (11, 11)
    np.testing.assert_allclose(erf, expected, atol=1e-7)
    both = effective_receptive_field(model, "conv", x, unit=(None, 2, 1))
    summed = np.abs((conv.weight[0, 0] + conv.weight[1, 0]).detach().numpy())
    np.testing.assert_allclose(both[4:7, 2:5], summed / summed.max(), atol=1e-6)
    with pytest.raises(LayerError, match="no unit"):
        effective_receptive_field(model, "conv", x, unit=(2, 0, 0))


def test_effective_receptive_field_lies_inside_the_theoretical_one():
    model = load_model("resnet18")
    x = torch.randn(1, 3, 128, 128)
    erf = effective_receptive_field(model, "layer3", x)
    rf = receptive_field(model, "layer3", (3, 128, 128))
    r0, r1, c0, c1 = rf.box
    assert erf.max() == 1.0 and erf.min() >= 0
    assert erf.sum() == erf[r0:r1, c0:c1].sum()
    assert all(p.grad is None for p in model.parameters())
    assert hook_count(model) == 0
