"""What a channel detects (cnnviz.channels): activation maximisation and the top patches.

References: torch itself (the synthesised input is run through the model here and its
objective recomputed), tiny models whose kernel is a pattern a reader can see, a brute-force
top-k over a subset of the MNIST digits, and the input gradient of each patch's unit measured
here with autograd on the real model.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import (
    MAXIMISE_OBJECTIVES,
    REGULARISERS,
    LayerError,
    MaximiseConfig,
    canvas_shape,
    channel_peaks,
    digit_inputs,
    load_model,
    maximise_channel,
    maximise_config,
    receptive_field,
    to_picture,
    top_patches,
)
from cnnviz.data import mnist
from cnnviz.network.channels import _AdamAscent
from cnnviz.network.hooks import hook_count

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIGIT = (1, 28, 28)


@pytest.fixture(scope="module")
def digits() -> nn.Module:
    return load_model("digits")


@pytest.fixture(scope="module")
def mnist_inputs() -> torch.Tensor:
    """300 of the bundled digits, every class, as the digits model takes them: (300, 1, 28, 28)."""
    images, _ = mnist.mnist_sample()
    chosen = images[mnist.evenly_spaced(len(images), 300)]
    return digit_inputs(chosen)


def _channel_mean(model: nn.Module, upto: int, x: np.ndarray, channel: int) -> float:
    """The channel's mean on the first ``upto`` layers of a Sequential, computed directly."""
    with torch.no_grad():
        return float(model[:upto](torch.from_numpy(x))[0, channel].mean())


# --- activation maximisation -------------------------------------------------------------------


def test_the_synthesised_input_excites_the_channel_far_more_than_noise_or_digits(
        digits, mnist_inputs):
    # relu2 is layer index 4 of the digits Sequential: conv1 relu1 pool1 conv2 relu2
    config = maximise_config("jitter", DIGIT, 64)
    result = maximise_channel(digits, "relu2", 2, DIGIT, config=config)
    assert result.input.shape == (1, 1, 28, 28) and result.image.shape == (28, 28, 1)
    assert result.picture.shape == (28, 28, 3) and result.picture.dtype == np.uint8
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    # the reported numbers are the model's own: recomputed here from the returned input
    assert result.final == pytest.approx(_channel_mean(digits, 5, result.input, 2), rel=1e-4)
    noise = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    noise_input = ((noise - 0.1307) / 0.3081).astype(np.float32)
    with torch.no_grad():
        real = digits[:5](mnist_inputs)[:, 2].mean(dim=(1, 2))  # (300,)
    assert result.final > 5 * result.start > 0
    assert result.final > 1.5 * _channel_mean(digits, 5, noise_input, 2)
    assert result.final > 5 * float(real.max())  # beyond any real digit
    assert len(result.history) == 64
    assert result.history[-8:].mean() > 3 * result.history[:8].mean()


@pytest.mark.parametrize("objective", MAXIMISE_OBJECTIVES)
@pytest.mark.parametrize("regulariser", list(REGULARISERS))
def test_every_regulariser_and_objective_raises_the_objective(digits, regulariser, objective):
    config = maximise_config(regulariser, DIGIT, steps=32, objective=objective)
    result = maximise_channel(digits, "relu2", 2, DIGIT, config=config)
    assert result.final > 2 * result.start > 0


def test_a_channel_that_is_off_on_the_noise_still_learns(digits):
    # the centre unit of relu2's channel 0 is 0 on the grey start: a plain ReLU would pass
    # no gradient at all; the redirected ReLU of the private copy lets the ascent switch it on
    config = maximise_config("jitter", DIGIT, steps=64, objective="centre")
    result = maximise_channel(digits, "relu2", 0, DIGIT, config=config)
    assert result.start == 0.0
    assert result.final > 1.0


def test_the_same_seed_gives_the_same_picture_and_another_seed_another(digits):
    config = maximise_config("blur", DIGIT, steps=16)
    a = maximise_channel(digits, "conv2", 1, DIGIT, config=config)
    b = maximise_channel(digits, "conv2", 1, DIGIT, config=config)
    c = maximise_channel(digits, "conv2", 1, DIGIT, config=MaximiseConfig(**{
        **config.__dict__, "seed": 1}))
    np.testing.assert_array_equal(a.input, b.input)
    np.testing.assert_array_equal(a.history, b.history)
    assert not np.array_equal(a.input, c.input)


def test_the_written_out_adam_is_torchs_adam_going_up():
    generator = torch.Generator().manual_seed(3)
    ours = torch.randn(2, 5, 5, generator=generator)
    theirs = ours.clone().requires_grad_(True)
    ascent = _AdamAscent(ours, lr=0.05)
    reference = torch.optim.Adam([theirs], lr=0.05, maximize=True)
    for _ in range(12):
        grad = torch.randn(2, 5, 5, generator=generator) * 3
        ascent.step(grad)
        theirs.grad = grad.clone()
        reference.step()
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-6, atol=1e-6)


def _edge_kernel(size: int) -> torch.Tensor:
    """A vertical edge: +1 on the left columns, 0 in the middle, -1 on the right. (1, 1, k, k)"""
    k = torch.zeros(size, size)
    k[:, : size // 2] = 1.0
    k[:, size // 2 + 1:] = -1.0
    return k[None, None]


def _edge_model(size: int, relu: bool) -> nn.Sequential:
    conv = nn.Conv2d(1, 1, size, bias=False)
    with torch.no_grad():
        conv.weight.copy_(_edge_kernel(size))
    layers = [("conv", conv)] + ([("relu", nn.ReLU())] if relu else [])
    return nn.Sequential(OrderedDict(layers)).eval()


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("regulariser", ["none", "fourier"])
def test_the_input_that_excites_an_edge_kernel_is_that_edge(regulariser):
    # a 7x7 kernel on a 7x7 input: one unit, the dot product of kernel and image, whose
    # maximum over images in [0, 1] is 1 where the kernel is +1 and 0 where it is -1
    model = _edge_model(7, relu=False)
    config = MaximiseConfig(steps=150, lr=0.1, jitter=0,
                            freq_decay=1.0 if regulariser == "fourier" else 0.0)
    result = maximise_channel(model, "conv", 0, (1, 7, 7), config=config)
    image = result.image[:, :, 0]
    kernel = _edge_kernel(7)[0, 0].numpy()
    weighted = kernel != 0  # the middle column does not count: any value there is as good
    # the spectrum couples every pixel, so on a 7x7 image one or two saturate on the wrong side
    assert _correlation(image[weighted], kernel[weighted]) > (
        0.95 if regulariser == "none" else 0.85)
    assert image[:, :3].mean() > 0.8 and image[:, 4:].mean() < 0.2
    # recomputed with torch: the unit's value is the dot product of kernel and input
    assert result.final == pytest.approx(float((kernel * result.input[0, 0]).sum()), rel=1e-4)


def test_the_centre_unit_shapes_only_its_receptive_field():
    # 5x5 edge kernel, 15x15 input: the centre unit (5, 5) of the 11x11 map sees rows and
    # columns 5..9; the rest of the image cannot change it and stays the grey it started as
    model = _edge_model(5, relu=True)
    config = MaximiseConfig(steps=100, lr=0.1, jitter=0, objective="centre")
    result = maximise_channel(model, "relu", 0, (1, 15, 15), config=config)
    image = result.image[:, :, 0]
    field = receptive_field(model, "relu", (1, 15, 15))
    r0, r1, c0, c1 = field.box_of(5, 5)
    assert (r0, r1, c0, c1) == (5, 10, 5, 10)
    assert _correlation(image[r0:r1, c0:c1], _edge_kernel(5)[0, 0].numpy()) > 0.9
    outside = np.ones_like(image, bool)
    outside[r0:r1, c0:c1] = False
    np.testing.assert_allclose(image[outside], 0.5, atol=0.02)


def test_the_mean_objective_draws_vertical_stripes_for_a_vertical_edge():
    model = _edge_model(5, relu=True)
    config = MaximiseConfig(steps=150, lr=0.1, jitter=1)
    image = maximise_channel(model, "relu", 0, (1, 15, 15), config=config).image[:, :, 0]
    across = np.abs(np.diff(image, axis=1)).mean()  # changes from column to column
    down = np.abs(np.diff(image, axis=0)).mean()  # changes from row to row
    assert across > 4 * down


def _untouched(model: nn.Module, before: dict) -> None:
    assert hook_count(model) == 0
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert not any("Redirected" in type(m).__name__ for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_the_shared_model_is_left_as_it_was_after_success_and_after_an_error(digits):
    before = copy.deepcopy(digits.state_dict())
    maximise_channel(digits, "relu1", 3, DIGIT, config=MaximiseConfig(steps=4))
    _untouched(digits, before)

    def stop(step, total, value):
        if step == 2:
            raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError, match="stopped by the caller"):
        maximise_channel(digits, "conv2", 0, DIGIT, config=MaximiseConfig(steps=8),
                         progress=stop)
    _untouched(digits, before)
    with pytest.raises(LayerError):
        maximise_channel(digits, "fc1", 0, DIGIT)  # the hook fired, then the shape was refused
    with pytest.raises(LayerError):
        channel_peaks(digits, "flatten", torch.zeros(2, 1, 28, 28))
    _untouched(digits, before)


def test_progress_is_reported_after_every_step(digits):
    seen = []
    result = maximise_channel(digits, "conv1", 0, DIGIT, config=MaximiseConfig(steps=5),
                              progress=lambda *args: seen.append(args))
    assert [s[:2] for s in seen] == [(i, 5) for i in range(1, 6)]
    np.testing.assert_array_equal([s[2] for s in seen], result.history)


def test_threads_sharing_one_model_get_the_results_of_a_lone_run(digits, mnist_inputs):
    config = maximise_config("jitter", DIGIT, steps=24)
    alone = {c: maximise_channel(digits, "conv2", c, DIGIT, config=config).input
             for c in range(3)}
    peaks_alone = channel_peaks(digits, "relu2", mnist_inputs[:100])
    got, errors = {}, []

    def synthesise(c):
        try:
            got[c] = maximise_channel(digits, "conv2", c, DIGIT, config=config).input
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    def peaks():
        try:
            got["peaks"] = channel_peaks(digits, "relu2", mnist_inputs[:100])
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=synthesise, args=(c,)) for c in range(3)]
    threads.append(threading.Thread(target=peaks))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for c in range(3):
        np.testing.assert_array_equal(got[c], alone[c])
    np.testing.assert_array_equal(got["peaks"].values, peaks_alone.values)
    assert hook_count(digits) == 0


@pytest.mark.parametrize("call", [
    lambda m: maximise_channel(m, "no_such_layer", 0, DIGIT),
    lambda m: maximise_channel(m, "conv2", 32, DIGIT),
    lambda m: maximise_channel(m, "conv2", -1, DIGIT),
    lambda m: maximise_channel(m, "conv2", 1.5, DIGIT),
    lambda m: maximise_channel(m, "fc2", 0, DIGIT),
    lambda m: maximise_channel(m, "conv1", 0, (1, 28)),
    lambda m: top_patches(m, "conv2", 40, torch.zeros(3, 1, 28, 28)),
    lambda m: top_patches(m, "nope", 0, torch.zeros(3, 1, 28, 28)),
    lambda m: channel_peaks(m, "conv2", torch.zeros(28, 28)),
])
def test_a_bad_layer_channel_or_shape_is_a_layer_error(digits, call):
    with pytest.raises(LayerError) as info:
        call(digits)
    assert len(str(info.value)) > 20  # a sentence, not a bare key


@pytest.mark.parametrize("make", [
    lambda: MaximiseConfig(steps=0),
    lambda: MaximiseConfig(lr=float("nan")),
    lambda: MaximiseConfig(jitter=-1),
    lambda: MaximiseConfig(objective="max"),
    lambda: maximise_config("wild", DIGIT),
])
def test_a_bad_setting_is_a_value_error_that_says_why(make):
    with pytest.raises(ValueError, match="must|no regulariser"):
        make()


def test_the_canvas_keeps_small_inputs_and_shrinks_big_ones():
    assert canvas_shape((1, 28, 28)) == (1, 28, 28)
    assert canvas_shape((3, 224, 224)) == (3, 128, 128)
    assert canvas_shape((3, 300, 150)) == (3, 128, 64)


def test_config_for_sizes_jitter_and_blur_by_the_input():
    assert maximise_config("jitter", DIGIT).jitter == 1
    assert maximise_config("jitter", (3, 224, 224)).jitter == 8
    assert maximise_config("none", DIGIT).jitter == 0
    blur = maximise_config("blur", DIGIT)
    assert blur.blur_every == 4 and blur.blur_sigma == 0.5
    assert maximise_config("fourier", DIGIT).freq_decay == 1.0


# --- the top patches ----------------------------------------------------------------------------


@pytest.mark.parametrize("layer,upto,channel", [("conv2", 4, 7), ("relu1", 2, 3),
                                                 ("pool2", 6, 11)])
def test_the_top_patches_are_the_brute_force_top_k(digits, mnist_inputs, layer, upto, channel):
    patches = top_patches(digits, layer, channel, mnist_inputs, k=9)
    with torch.no_grad():
        maps = digits[:upto](mnist_inputs)[:, channel].numpy()  # (N, h, w), straight torch
    peak = maps.reshape(len(maps), -1).max(axis=1)
    expected = np.argsort(-peak, kind="stable")[:9]
    np.testing.assert_array_equal(patches.indices, expected)
    np.testing.assert_allclose(patches.activations, peak[expected], rtol=1e-5, atol=1e-6)
    assert np.all(patches.activations[:-1] >= patches.activations[1:])
    for i, (y, x) in zip(patches.indices, patches.units, strict=True):
        assert maps[i, y, x] == pytest.approx(peak[i], rel=1e-6)  # the unit is the peak


def test_each_crop_is_the_region_the_unit_sees(digits, mnist_inputs):
    layer, channel = "relu2", 6
    patches = top_patches(digits, layer, channel, mnist_inputs, k=9)
    field = receptive_field(digits, layer, DIGIT)
    assert patches.field_size == field.size == (8, 8)  # 3x3 conv, 2x2 pool, 3x3 conv
    assert patches.crops.shape == (9, 8, 8, 3)
    for n, (i, (y, x), box) in enumerate(zip(patches.indices, patches.units, patches.boxes,
                                             strict=True)):
        r0, r1, c0, c1 = (int(v) for v in box)
        # the unit's input gradient, on the real model, is non-zero only inside the crop
        image = mnist_inputs[i:i + 1].clone().requires_grad_(True)
        value = digits[:5](image)[0, channel, y, x]
        (grad,) = torch.autograd.grad(value, image)
        rows, cols = np.nonzero(grad[0, 0].abs().numpy() > 0)
        assert len(rows) > 0
        assert r0 <= rows.min() and rows.max() < r1 and c0 <= cols.min() and cols.max() < c1
        # and the crop holds exactly the picture's pixels of that box
        picture = to_picture(mnist_inputs[i], "mnist")
        a0, a1, b0, b1 = max(r0, 0), min(r1, 28), max(c0, 0), min(c1, 28)
        inside = patches.inside[n]
        np.testing.assert_array_equal(patches.crops[n][inside],
                                      picture[a0:a1, b0:b1].reshape(-1, 3))
        assert inside.sum() == (a1 - a0) * (b1 - b0)


def test_a_field_past_the_border_is_padded_and_marked():
    # a 3x3 box filter with padding 1: a bright pixel in the corner peaks at unit (0, 0),
    # whose field (rows and columns -1..1) reaches one pixel past the top and left border
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    model = nn.Sequential(OrderedDict([("conv", conv)])).eval()
    images = torch.zeros(4, 1, 8, 8)
    images[1, 0, 0, 0] = 1.0  # the strongest: its 3x3 sums reach 1
    images[2, 0, 4, 4] = 0.5
    patches = top_patches(model, "conv", 0, images, k=2)
    assert patches.indices.tolist() == [1, 2]
    assert patches.units[0].tolist() == [0, 0]
    assert patches.boxes[0].tolist() == [-1, 2, -1, 2]
    assert patches.clipped.tolist() == [True, False]
    expected_inside = np.ones((3, 3), bool)
    expected_inside[0, :] = expected_inside[:, 0] = False
    np.testing.assert_array_equal(patches.inside[0], expected_inside)
    assert (patches.crops[0][~expected_inside] == 0).all()
    assert patches.crops[0][1, 1].tolist() == [255, 255, 255]  # the bright corner pixel


def test_peaks_computed_once_serve_every_channel(digits, mnist_inputs):
    peaks = channel_peaks(digits, "conv2", mnist_inputs)
    assert peaks.values.shape == (300, 32) and peaks.units.shape == (300, 32, 2)
    assert peaks.output_hw == (14, 14)
    for channel in (0, 31):
        a = top_patches(digits, "conv2", channel, mnist_inputs, peaks=peaks)
        b = top_patches(digits, "conv2", channel, mnist_inputs)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.crops, b.crops)
    with pytest.raises(ValueError, match="another layer"):
        top_patches(digits, "conv1", 0, mnist_inputs, peaks=peaks)
