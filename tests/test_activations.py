"""cnnviz.activations: the layers an overview shows, their outputs, colour limits, rankings and
the activation that belongs to a convolution. Expected values are worked out by hand on tiny
models whose weights can be read."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.activations import (
    ActivationPair,
    LayerOutput,
    activation_pair,
    color_limits,
    layer_steps,
    map_limits,
    network_outputs,
    overview_layers,
    rank_channels,
    softmax,
)
from cnnviz.inspect import layer_table
from cnnviz.models import MODELS, load_model


def _tiny() -> nn.Sequential:
    """1 -> 2 channels, 3×3 kernels of ones and of minus ones, a ReLU, flatten, dense sum."""
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight[0] = 1.0
        conv.weight[1] = -1.0
    dense = nn.Linear(2 * 4 * 4, 1, bias=False)
    nn.init.ones_(dense.weight)
    return nn.Sequential(OrderedDict([
        ("conv", conv), ("relu", nn.ReLU()), ("drop", nn.Dropout(0.5)),
        ("flatten", nn.Flatten()), ("fc", dense),
    ])).eval()


def test_outputs_of_a_tiny_network_by_hand():
    model = _tiny()
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    outs = network_outputs(model, x)
    assert [o.name for o in outs] == ["input", "conv", "relu", "flatten", "fc"]  # no dropout
    assert [o.shape for o in outs] == [(1, 4, 4), (2, 4, 4), (2, 4, 4), (32,), (1,)]
    # the centre unit (1, 1) of the ones kernel sums rows 0-2, cols 0-2: 0+1+2+4+5+6+8+9+10
    assert outs[1].values[0, 1, 1] == 45
    assert outs[1].values[1, 1, 1] == -45
    np.testing.assert_array_equal(outs[2].values[1], 0)  # the ReLU removes the negative map
    sums = F.conv2d(x, torch.ones(1, 1, 3, 3), padding=1)[0, 0].numpy()
    np.testing.assert_array_equal(outs[2].values[0], sums)
    assert outs[-1].values[0] == pytest.approx(sums.sum())
    assert outs[0].is_spatial and not outs[3].is_spatial


@pytest.mark.parametrize("name", list(MODELS))
def test_overview_layers_run_in_the_order_shown(name):
    model = load_model(name)
    shown = overview_layers(model)
    called = [r["name"] for r in layer_table(model, MODELS[name].input_size)]
    assert [n for n in called if n in shown] == shown  # every one runs, in this order
    assert not any(isinstance(dict(model.named_modules())[n], nn.Dropout) for n in shown)


def test_resnet_shows_blocks_not_their_insides():
    shown = overview_layers(load_model("resnet18"))
    assert shown == ["conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1", "layer2.0",
                     "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "avgpool", "fc"]


def test_the_last_column_gives_the_models_probabilities():
    model = load_model("digits")
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    outs = network_outputs(model, x)
    with torch.inference_mode():
        expected = torch.softmax(model(x), dim=1)[0].numpy()
    np.testing.assert_allclose(softmax(outs[-1].values), expected, rtol=1e-5, atol=1e-7)


def test_softmax_is_stable_and_sums_to_one():
    p = softmax(np.array([1000.0, 1000.0, 0.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-12)


def test_rank_channels_by_mean_largest_first_ties_in_channel_order():
    maps = np.stack([np.full((2, 2), v, np.float32) for v in (1.0, 3.0, 2.0, 3.0)])
    means, order = rank_channels(maps)
    np.testing.assert_array_equal(means, [1, 3, 2, 3])
    np.testing.assert_array_equal(order, [1, 3, 2, 0])


def _column(name: str, values) -> LayerOutput:
    return LayerOutput(name, "Test", np.asarray(values, np.float32))


def test_colour_limits_per_map_per_layer_and_global():
    a = _column("a", [[[1, -2]], [[0.5, 0]], [[4, 0]]])  # three 1×2 maps
    b = _column("b", [10, -1])  # a vector
    local, shared = color_limits([a, b], "local", shown=2)
    np.testing.assert_array_equal(local[0], [2, 0.5])  # only the 2 maps drawn
    np.testing.assert_array_equal(local[1], [10])
    assert shared is None
    layer, _ = color_limits([a, b], "layer", shown=2)
    np.testing.assert_array_equal(layer[0], [4, 4])  # the whole layer's max |value|
    whole, shared = color_limits([a, b], "global")
    assert shared == 10
    np.testing.assert_array_equal(whole[0], [10, 10, 10])
    with pytest.raises(ValueError):
        color_limits([a], "rainbow")


def test_map_limits_of_an_all_zero_map_is_one():
    maps = np.zeros((2, 3, 3), np.float32)
    maps[1, 0, 0] = -3
    np.testing.assert_array_equal(map_limits(maps, False), [1, 3])
    np.testing.assert_array_equal(map_limits(maps, True), [3, 3])


def test_activation_pairs():
    digits = load_model("digits")
    steps = layer_steps(digits, MODELS["digits"].input_size)
    assert activation_pair(digits, steps, "conv1") == ActivationPair("conv1", "relu1", "ReLU")
    assert activation_pair(digits, steps, "relu2") == ActivationPair("conv2", "relu2", "ReLU")
    assert activation_pair(digits, steps, "pool1") is None
    shapes = load_model("shapes")
    steps = layer_steps(shapes, MODELS["shapes"].input_size)
    assert activation_pair(shapes, steps, "conv1") == ActivationPair("bn1", "relu1", "ReLU",
                                                                     ("bn1",))
    lenet = load_model("lenet5")
    assert activation_pair(lenet, layer_steps(lenet, (1, 28, 28)), "conv2").after == "tanh2"
    resnet = load_model("resnet18")
    steps = layer_steps(resnet, MODELS["resnet18"].input_size)
    assert activation_pair(resnet, steps, "layer1.0.conv1").after == "layer1.0.relu"
    # conv2's ReLU runs after the residual addition, as the block's ReLU's second call:
    # feature_maps records the first call, so there is no honest "after" to show.
    assert activation_pair(resnet, steps, "layer1.0.conv2") is None
