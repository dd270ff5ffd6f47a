"""cnnviz.network.layers: feature maps, the layers an overview shows, their outputs, colour
limits, rankings, the activation that belongs to a convolution, and the convolution a layer's
channels come from. Expected values are worked out by hand on tiny models whose weights can be
read, or against torch itself (slicing a Sequential)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import (
    MODELS,
    ActivationPair,
    LayerError,
    LayerOutput,
    activation_pair,
    channel_source,
    color_limits,
    feature_maps,
    layer_steps,
    layer_table,
    load_model,
    map_limits,
    network_outputs,
    overview_layers,
    rank_channels,
    softmax,
)
from cnnviz.network import hooks
from cnnviz.network.hooks import hook_count
from tests.toy_models import Boom, Unused, seq


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


# --- feature maps -------------------------------------------------------------------------


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
    with hooks.forward_hooks([(model.conv, lambda m, a, o: seen.append("hit"), False)]):
        other = threading.Thread(target=lambda: model(torch.zeros(1, 1, 5, 5)))
        other.start()
        other.join()
        assert seen == []
        model(torch.zeros(1, 1, 5, 5))
        assert seen == ["hit"]
    assert hook_count(model) == 0


def test_layer_name_helpers():
    model = load_model("resnet18")
    assert cnnviz.conv_layers(load_model("digits")) == ["conv1", "conv2"]
    convs = cnnviz.conv_layers(model)
    assert len(convs) == 20 and convs[0] == "conv1" and "layer2.0.downsample.0" in convs
    assert cnnviz.layer_names(model)[:3] == ["conv1", "bn1", "relu"]


def test_the_convolution_a_layers_channels_come_from():
    steps = layer_steps(load_model("digits"), (1, 28, 28))
    assert channel_source(steps, "conv2") == "conv2"
    assert channel_source(steps, "relu2") == "conv2"  # channel-wise layers pass channels on
    assert channel_source(steps, "pool1") == "conv1"
    assert channel_source(steps, "fc1") is None  # a dense layer mixes them
    assert channel_source(steps, "relu3") is None  # a flatten lies between it and conv2
    resnet = layer_steps(load_model("resnet18"), (3, 224, 224))
    assert channel_source(resnet, "bn1") == "conv1"
    with pytest.raises(LayerError):
        channel_source(steps, "nope")
