"""Receptive fields (cnnviz.network.fields).

References: hand counts on tiny models, published receptive fields, and the input gradient of
one unit measured here independently of the library: on a copy of the *full* model whose
weights are set to positive constants, max pools swapped for average pools of the same windows
and batch norm made the identity, the gradient of a unit is non-zero exactly on its receptive
field (the library's probe instead collapses every layer to one channel).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from cnnviz import (
    LayerError,
    effective_receptive_field,
    load_model,
    receptive_field,
    receptive_field_table,
    rf_step,
    unit_receptive_box,
)
from cnnviz.network.hooks import hook_count
from tests.toy_models import Residual, autograd_box, boxed, seq

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
