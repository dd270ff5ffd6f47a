"""cnnviz.filters: learned kernels in the Convolution page's orientation, their trip through
the URL, and the comparison with the hand-made presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz import (
    COMPARED_PRESETS,
    PRESETS,
    LayerError,
    carry_problem,
    closest_filters,
    conv2d,
    conv_weights,
    first_conv,
    kernel_of,
    load_model,
    parse_kernel_slices,
    preset_responses,
    weights_text,
)


def test_kernel_orientation_matches_the_weights():
    model = load_model("shapes")
    w = model.conv1.weight.detach().numpy()  # (16, 3, 3, 3)
    k = kernel_of(model, "conv1", 5)
    assert k.shape == (3, 3, 3)
    np.testing.assert_array_equal(k[:, :, 1], w[5, 1])  # slice c is input channel c
    digits = kernel_of(load_model("digits"), "conv1", 2)
    assert digits.shape == (3, 3)
    np.testing.assert_array_equal(conv_weights(load_model("digits"), "conv1")[2, 0], digits)


def test_a_learned_kernel_applied_like_the_layer_gives_the_layers_map():
    """The kernel handed out, slid by cnnviz.conv2d, is the layer's own computation."""
    model = load_model("digits")
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    kernel = kernel_of(model, "conv1", 7)
    ours = conv2d(x[0, 0].numpy(), kernel, padding=1) + float(model.conv1.bias[7].detach())
    with torch.inference_mode():
        ref = model.conv1(x)[0, 7].numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["digits", "shapes", "resnet18", "alexnet"])
def test_every_first_layer_kernel_survives_the_url_exactly(name):
    model = load_model(name)
    layer = first_conv(model)
    for f in range(model.get_submodule(layer).out_channels):
        kernel = kernel_of(model, layer, f)
        text = weights_text(kernel)
        assert "\n" not in text
        back = parse_kernel_slices(text.replace(";", "\n"))  # as the Convolution page reads it
        np.testing.assert_array_equal(back, kernel)


def test_deep_kernels_cannot_be_carried_and_say_why():
    deep = kernel_of(load_model("digits"), "conv2", 0)  # 16 input slices
    assert "16 input slices" in carry_problem(deep)
    assert carry_problem(np.zeros((12, 12), np.float32)).startswith("this filter is 12×12")
    assert carry_problem(kernel_of(load_model("alexnet"), "features.0", 0)) is None  # 11×11×3


def test_not_a_convolution():
    with pytest.raises(LayerError, match="not a convolution"):
        kernel_of(load_model("digits"), "relu1", 0)
    with pytest.raises(LayerError, match="no filter 16"):
        kernel_of(load_model("digits"), "conv1", 16)


def test_closest_filters_finds_a_planted_sobel_inverted_and_scaled():
    rng = np.random.default_rng(0)
    weights = rng.normal(scale=0.01, size=(5, 3, 3, 3))
    # filter 3: its three slices sum to -2 × Sobel x (the grey image meets the sum)
    weights[3] = -2 / 3 * PRESETS["sobel_x"].kernel[None]
    match = {m.preset: m for m in closest_filters(weights)}["sobel_x"]
    assert match.filter == 3 and match.cosine == pytest.approx(-1.0)


def test_closest_filters_skips_presets_of_another_size():
    assert closest_filters(np.ones((4, 3, 7, 7))) == []


def test_preset_responses_are_same_size_cross_correlations():
    rng = np.random.default_rng(2)
    gray = rng.random((9, 11)).astype(np.float32)
    out = preset_responses(gray)
    assert out.shape == (len(COMPARED_PRESETS), 9, 11)
    x = torch.from_numpy(gray)[None, None]
    for got, name in zip(out, COMPARED_PRESETS, strict=True):
        k = torch.from_numpy(np.array(PRESETS[name].kernel))[None, None]
        np.testing.assert_allclose(got, F.conv2d(x, k, padding=1)[0, 0].numpy(), atol=1e-5)
