"""The whole layer and the transposed convolution against torch, over hundreds of random
settings: groups (depthwise included), rectangular kernels, strides, padding, dilation,
output padding; the two step-through views of a transposed convolution add up to it."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnviz
from cnnviz import ParameterError

SEEDS = range(300)


def _random_layer(rng: np.random.Generator, transposed: bool = False) -> dict:
    """A random but possible layer: channels, groups, a rectangular kernel, geometry."""
    groups = int(rng.choice([1, 1, 2, 3, 4]))
    c_in = groups * int(rng.integers(1, 4))
    f_out = groups * int(rng.integers(1, 4))
    if rng.random() < 0.2:  # depthwise: one channel a group
        groups, c_in = c_in, c_in
        f_out = c_in * int(rng.integers(1, 3))
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    h, w = (int(v) for v in rng.integers(1, 12, 2))
    if transposed:
        padding = tuple(int(rng.integers(0, 1 + (d * (k - 1)) // 2 + 1))
                        for d, k in zip(dilation, (kh, kw), strict=True))
        output_padding = tuple(int(rng.integers(0, max(s, d)))
                               for s, d in zip(stride, dilation, strict=True))
        # no more padding than leaves one output cell: 2p ≤ (i − 1)·s + d·(k − 1) + a
        padding = tuple(min(p, ((i - 1) * s + d * (k - 1) + a) // 2) for p, i, s, d, k, a in
                        zip(padding, (h, w), stride, dilation, (kh, kw), output_padding,
                            strict=True))
        return dict(image=rng.normal(size=(h, w, c_in)),
                    weight=rng.normal(size=(c_in, f_out // groups, kh, kw)),
                    bias=rng.normal(size=f_out) if rng.random() < 0.7 else None,
                    stride=stride, padding=padding, output_padding=output_padding,
                    dilation=dilation, groups=groups)
    h = max(h, dilation[0] * (kh - 1) + 1)  # the kernel fits, before padding
    w = max(w, dilation[1] * (kw - 1) + 1)
    padding = tuple(int(v) for v in rng.integers(0, 3, 2))
    return dict(image=rng.normal(size=(h, w, c_in)),
                weight=rng.normal(size=(f_out, c_in // groups, kh, kw)),
                bias=rng.normal(size=f_out) if rng.random() < 0.7 else None,
                stride=stride, padding=padding, dilation=dilation, groups=groups)


def _t(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy()


def _opt(b):
    return None if b is None else torch.from_numpy(b)


# --- the contract ----------------------------------------------------------------------------


def test_the_contract_signatures():
    def names(f):
        return list(inspect.signature(f).parameters)

    assert names(cnnviz.conv2d_layer) == ["image", "weight", "bias", "stride", "padding",
                                          "dilation", "groups", "padding_mode"]
    assert names(cnnviz.conv_transpose2d) == ["image", "weight", "bias", "stride", "padding",
                                              "output_padding", "dilation", "groups"]
    assert names(cnnviz.transpose_output_size) == ["i", "k", "stride", "padding",
                                                   "output_padding", "dilation"]
    assert "flip" in names(cnnviz.conv2d)
    assert names(cnnviz.conv_backward) == ["image", "weight", "grad_output", "stride",
                                           "padding", "dilation", "groups"]
    assert names(cnnviz.pool_backward) == ["image", "grad_output", "kind", "size", "stride",
                                           "padding"]


# --- conv2d_layer -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_layer_equals_torch(seed):
    rng = np.random.default_rng(seed)
    layer = _random_layer(rng)
    image, weight, bias = layer.pop("image"), layer.pop("weight"), layer.pop("bias")
    mode = str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"]))
    ph, pw = layer["padding"]
    if mode in ("reflect", "circular") and (ph >= image.shape[0] or pw >= image.shape[1]):
        mode = "replicate"  # torch's limits too, refused in a sentence (tests/test_ops.py)
    out = cnnviz.conv2d_layer(image, weight, bias, padding_mode=mode, **layer)
    module = torch.nn.Conv2d(image.shape[2], weight.shape[0], weight.shape[2:],
                             stride=layer["stride"], padding=layer["padding"],
                             dilation=layer["dilation"], groups=layer["groups"],
                             bias=bias is not None, padding_mode=mode).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        if bias is not None:
            module.bias.copy_(torch.from_numpy(bias))
        expected = _hwc(module(_t(image)))
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_layer_takes_int_settings_and_a_grey_image():
    rng = np.random.default_rng(1)
    image, weight = rng.normal(size=(9, 7)), rng.normal(size=(4, 1, 3, 3))
    out = cnnviz.conv2d_layer(image, weight, None, stride=2, padding=1, dilation=1)
    expected = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(weight),
                        stride=2, padding=1)
    np.testing.assert_allclose(out, _hwc(expected), atol=1e-12)


def test_depthwise_then_pointwise_is_a_separable_layer():
    """groups = C filters each channel alone; a 1×1 layer then mixes them. Together they
    are one standard layer whose kernels are outer products (rank one across channels)."""
    rng = np.random.default_rng(2)
    image = rng.normal(size=(8, 8, 3))
    depthwise = rng.normal(size=(3, 1, 3, 3))
    pointwise = rng.normal(size=(5, 3, 1, 1))
    separable = cnnviz.conv2d_layer(cnnviz.conv2d_layer(image, depthwise, groups=3), pointwise)
    standard = pointwise[:, :, 0, 0][:, :, None, None] * depthwise[:, 0][None]  # (5, 3, 3, 3)
    np.testing.assert_allclose(separable, cnnviz.conv2d_layer(image, standard), atol=1e-12)
    assert cnnviz.group_connections(3, 3, 3).tolist() == np.eye(3, dtype=bool).tolist()


def test_group_connections_are_the_groups():
    links = cnnviz.group_connections(6, 4, 2)
    assert links.shape == (4, 6)
    assert links.tolist() == [[True] * 3 + [False] * 3] * 2 + [[False] * 3 + [True] * 3] * 2
    assert cnnviz.group_connections(4, 8, 1).all()


@pytest.mark.parametrize(("channels", "filters", "groups", "words"), [
    (6, 4, 4, "must divide both the input channels (6)"),
    (6, 4, 0, "at least 1"),
    (6, 3, 2, "output channels (3)"),
])
def test_groups_that_do_not_divide_are_refused_in_a_sentence(channels, filters, groups, words):
    rng = np.random.default_rng(3)
    per = max(channels // max(groups, 1), 1)
    with pytest.raises(ParameterError, match=r"\.$") as err:
        cnnviz.conv2d_layer(rng.normal(size=(5, 5, channels)),
                            rng.normal(size=(filters, per, 3, 3)), groups=groups)
    assert words in str(err.value)


@pytest.mark.parametrize("bad", [
    dict(weight=np.ones((2, 3, 3))),  # three axes
    dict(weight=np.ones((2, 2, 3, 3))),  # 2 slices, the image has 3 channels
    dict(bias=np.ones(3)),  # 2 filters
    dict(stride=0), dict(dilation=(1, 0)), dict(padding=-1),
    dict(weight=np.ones((2, 3, 9, 9))),  # larger than the image
    dict(weight=np.full((2, 3, 3, 3), np.nan)),
    dict(padding="full"),
])
def test_impossible_layers_are_refused(bad):
    settings = dict(weight=np.ones((2, 3, 3, 3)), bias=None) | bad
    with pytest.raises(ParameterError):
        cnnviz.conv2d_layer(np.ones((5, 5, 3)), settings.pop("weight"), settings.pop("bias"),
                            **settings)


def _run_code(code: str, image: np.ndarray) -> np.ndarray:
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (the page's own code)
    with torch.no_grad():
        return _hwc(namespace["layer"](_t(image)))


@pytest.mark.parametrize("seed", range(60))
def test_the_pytorch_code_computes_what_the_page_shows(seed):
    """The code, executed: its layer gives conv2d_layer's numbers to the last digit, for
    every padding mode, groups, and padding with top ≠ bottom (a padding layer in front)."""
    rng = np.random.default_rng(seed)
    layer = _random_layer(rng)
    image, weight, bias = layer.pop("image"), layer.pop("weight"), layer.pop("bias")
    mode = ["zeros", "reflect", "replicate", "circular"][seed % 4]
    pads = tuple(int(v) for v in rng.integers(0, 3, 4)) if seed % 2 else layer["padding"]
    if mode != "zeros" and max(pads) >= min(image.shape[:2]):
        mode = "zeros"
    layer["padding"] = pads
    code = cnnviz.torch_code(image.shape[2], weight, bias, padding_mode=mode, **layer)
    assert f"groups={layer['groups']}" in code and "dilation=" in code and "bias=" in code
    expected = cnnviz.conv2d_layer(image, weight, bias, padding_mode=mode, **layer) \
        if len(pads) == 2 else None
    if expected is None:  # (top, bottom, left, right): pad first, as the code does
        t, b, left, r = pads
        padded = cnnviz.conv2d_layer(image, np.eye(image.shape[2])[:, :, None, None],
                                     padding=0)
        padded = np.pad(padded, ((t, b), (left, r), (0, 0)), mode={
            "zeros": "constant", "reflect": "reflect", "replicate": "edge",
            "circular": "wrap"}[mode])
        expected = cnnviz.conv2d_layer(padded, weight, bias, **(layer | {"padding": 0}))
    np.testing.assert_array_equal(_run_code(code, image), expected)


@pytest.mark.parametrize("seed", range(40))
def test_the_pytorch_code_of_a_transposed_layer(seed):
    rng = np.random.default_rng(seed)
    layer = _random_layer(rng, transposed=True)
    image, weight, bias = layer.pop("image"), layer.pop("weight"), layer.pop("bias")
    code = cnnviz.torch_code(image.shape[2], weight, bias, transposed=True, **layer)
    assert code.count("torch.nn.ConvTranspose2d(") == 1 and "output_padding=" in code
    np.testing.assert_array_equal(_run_code(code, image),
                                  cnnviz.conv_transpose2d(image, weight, bias, **layer))


def test_layer_code_writes_every_argument():
    assert cnnviz.layer_code(3, 8, 3, padding=1) == (
        "torch.nn.Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "dilation=(1, 1), groups=1, bias=True, padding_mode='zeros', dtype=torch.float64)")
    assert cnnviz.layer_code(4, 4, (1, 2), groups=4, bias=False, transposed=True,
                             stride=2, output_padding=1) == (
        "torch.nn.ConvTranspose2d(4, 4, kernel_size=(1, 2), stride=(2, 2), padding=(0, 0), "
        "output_padding=(1, 1), groups=4, bias=False, dilation=(1, 1), padding_mode='zeros', "
        "dtype=torch.float64)")


# --- true convolution -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_flip_is_true_convolution(seed):
    rng = np.random.default_rng(seed)
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    image, kernel = rng.normal(size=(9, 8, 2)), rng.normal(size=(kh, kw, 2))
    out = cnnviz.conv2d(image, kernel, padding=1, flip=True)
    turned = torch.from_numpy(kernel[::-1, ::-1].copy().transpose(2, 0, 1))[None]
    expected = F.conv2d(_t(image), turned, padding=1)[0, 0].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-12)
    steps = cnnviz.conv_steps(image, kernel, padding=1, flip=True)
    np.testing.assert_allclose(steps.sums, out[steps.out_rows, steps.out_cols], atol=1e-12)
    np.testing.assert_array_equal(steps.kernel, kernel[::-1, ::-1])


def test_flip_changes_nothing_for_a_symmetric_kernel_and_everything_for_sobel():
    image = np.random.default_rng(0).normal(size=(7, 7))
    blur = np.ones((3, 3)) / 9
    np.testing.assert_allclose(cnnviz.conv2d(image, blur, flip=True), cnnviz.conv2d(image, blur))
    sobel = cnnviz.PRESETS["sobel_x"].kernel
    np.testing.assert_allclose(cnnviz.conv2d(image, sobel, flip=True),
                               -cnnviz.conv2d(image, sobel))  # turned 180°, Sobel x is −Sobel x


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (1, 4, 2), (3, 1, 1)])
def test_a_reversed_view_of_a_kernel_works(shape):
    """k[::-1, ::-1] has negative strides; a (1, 1, C) one counts as contiguous, which used
    to reach torch and fail there."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=shape)
    channels = shape[2] if len(shape) == 3 else 1
    image = rng.normal(size=(5, 6, channels))
    view = kernel[::-1, ::-1]
    expected = cnnviz.conv2d(image, view.copy())
    np.testing.assert_allclose(cnnviz.conv2d(image, view), expected)
    np.testing.assert_allclose(cnnviz.conv2d(image, view, dtype=np.float32), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cnnviz.conv2d(image, view, flip=True),
                               cnnviz.conv2d(image, kernel))  # turned twice: the kernel
    steps = cnnviz.conv_steps(image[::-1], view)
    np.testing.assert_allclose(steps.sums, cnnviz.conv2d(image[::-1].copy(), view.copy())[
        steps.out_rows, steps.out_cols])
    np.testing.assert_array_equal(cnnviz.pool2d(image[::-1, ::-1], size=1),
                                  image[::-1, ::-1])


# --- the transposed convolution ---------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_transpose2d_equals_torch_and_both_views_add_up_to_it(seed):
    rng = np.random.default_rng(seed)
    layer = _random_layer(rng, transposed=True)
    image, weight, bias = layer.pop("image"), layer.pop("weight"), layer.pop("bias")
    out = cnnviz.conv_transpose2d(image, weight, bias, **layer)
    expected = F.conv_transpose2d(_t(image), torch.from_numpy(weight), _opt(bias),
                                  **layer)
    assert out.shape == _hwc(expected).shape
    np.testing.assert_allclose(out, _hwc(expected), rtol=1e-12, atol=1e-12)
    (kh, kw), sizes = weight.shape[2:], []
    for axis in (0, 1):
        sizes.append(cnnviz.transpose_output_size(
            image.shape[axis], (kh, kw)[axis], layer["stride"][axis], layer["padding"][axis],
            layer["output_padding"][axis], layer["dilation"][axis]))
    assert tuple(sizes) == out.shape[:2]

    f = int(rng.integers(0, out.shape[2]))
    scatter = cnnviz.transpose_scatter(image, weight, bias, channel=f, **layer)
    np.testing.assert_allclose(scatter.crop(scatter.canvas()) + scatter.bias, out[:, :, f],
                               atol=1e-10)
    np.testing.assert_array_equal(scatter.output, out[:, :, f])
    as_conv = cnnviz.transpose_as_conv(image, weight, bias, channel=f, **layer)
    steps = as_conv.steps
    np.testing.assert_allclose(steps.output, out[:, :, f], atol=1e-10)
    np.testing.assert_allclose(steps.sums, out[steps.out_rows, steps.out_cols, f], atol=1e-10)
    # conv_arithmetic's picture: s − 1 zeros between the input's cells
    sh, sw = layer["stride"]
    group = f // weight.shape[1]
    per_in = image.shape[2] // layer["groups"]
    np.testing.assert_array_equal(as_conv.stretched[::sh, ::sw],
                                  image[:, :, group * per_in:(group + 1) * per_in])
    assert np.count_nonzero(as_conv.stretched) <= image.size


def test_a_scatter_region_adds_its_stamps_only():
    rng = np.random.default_rng(7)
    image, weight = rng.normal(size=(4, 5, 1)), rng.normal(size=(1, 1, 3, 3))
    part = cnnviz.transpose_scatter(image, weight, stride=2, region=(1, 2, 1, 3))
    assert part.in_rows.tolist() == [1, 1] and part.in_cols.tolist() == [1, 2]
    assert part.canvas_hw == (9, 11) and part.output.shape == (9, 11)
    first = np.zeros((9, 11))
    first[2:5, 2:5] = image[1, 1, 0] * weight[0, 0]  # input cell (1, 1) stamps at 2·1
    np.testing.assert_allclose(part.canvas(1), first)
    both = first.copy()
    both[2:5, 4:7] += image[1, 2, 0] * weight[0, 0]  # (1, 2) at column 4: they overlap
    np.testing.assert_allclose(part.canvas(), both)


def test_checkerboard_overlaps_of_kernel_3_stride_2():
    counts = cnnviz.overlap_counts((4, 4), 3, stride=2)
    assert counts.shape == (9, 9)
    assert counts[0].tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    assert counts[4, 4] == 4 and counts[3, 3] == 1
    even = cnnviz.overlap_counts((4, 4), 4, stride=2, padding=1)
    assert set(np.unique(even[1:-1, 1:-1])) == {4}  # a kernel the stride divides: even
    # away from the border: uneven for 3 and 2, even for 4 and 2, and for any stride 1
    assert set(np.unique(cnnviz.interior(counts, 3))) == {1, 2, 4}
    assert set(np.unique(cnnviz.interior(even, 4, padding=1))) == {4}
    flat = cnnviz.overlap_counts((6, 6), 4, stride=1, padding=1)
    assert flat.min() < flat.max() and set(np.unique(cnnviz.interior(flat, 4, 1))) == {16}
    assert cnnviz.interior(cnnviz.overlap_counts((1, 1), 3), 3).size == 0


@pytest.mark.parametrize(("settings", "words"), [
    (dict(stride=2, output_padding=2), "smaller than the stride (2) or the dilation (1)"),
    (dict(stride=1, output_padding=1), "smaller than the stride (1)"),
    (dict(stride=0), "at least 1"),
    (dict(padding=5), "leave no output"),
    (dict(dilation=0), "at least 1"),
    (dict(padding=-1), "cannot be negative"),
])
def test_impossible_transposed_settings_are_refused(settings, words):
    with pytest.raises(ParameterError, match=r"\.$") as err:
        cnnviz.conv_transpose2d(np.ones((3, 3, 1)), np.ones((1, 1, 3, 3)), **settings)
    assert words in str(err.value)
    with pytest.raises(ParameterError):
        cnnviz.transpose_output_size(3, 3, **settings)


def test_output_padding_below_the_dilation_is_allowed_as_torch_allows_it():
    out = cnnviz.conv_transpose2d(np.ones((3, 3, 1)), np.ones((1, 1, 2, 2)), dilation=3,
                                  output_padding=2)
    expected = F.conv_transpose2d(torch.ones(1, 1, 3, 3, dtype=torch.float64),
                                  torch.ones(1, 1, 2, 2, dtype=torch.float64), dilation=3,
                                  output_padding=2)
    np.testing.assert_allclose(out[:, :, 0], expected[0, 0].numpy())


@pytest.mark.parametrize("seed", range(200))
def test_transpose_output_size_is_torchs(seed):
    rng = np.random.default_rng(seed)
    i, k, s, d = (int(v) for v in rng.integers(1, 7, 4))
    p, a = int(rng.integers(0, 4)), int(rng.integers(0, max(s, d)))
    try:
        size = cnnviz.transpose_output_size(i, k, s, p, a, d)
    except ParameterError:
        with pytest.raises(RuntimeError):
            F.conv_transpose2d(torch.ones(1, 1, i, i), torch.ones(1, 1, k, k), stride=s,
                               padding=p, output_padding=a, dilation=d)
        return
    out = F.conv_transpose2d(torch.ones(1, 1, i, 1), torch.ones(1, 1, k, 1), stride=(s, 1),
                             padding=(p, 0), output_padding=(a, 0), dilation=(d, 1))
    assert out.shape[2] == size
    assert cnnviz.transpose_output_size_text(i, k, s, p, a, d).endswith(f"= {size}")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("seed", range(40))
def test_same_and_valid_padding_are_nn_conv2ds(seed):
    """Even kernels included: torch puts the odd pixel of "same" padding at the end."""
    rng = np.random.default_rng(seed)
    kh, kw = (int(v) for v in rng.integers(1, 6, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    image = rng.normal(size=(int(rng.integers(9, 14)), int(rng.integers(9, 14)), 2))
    weight = rng.normal(size=(3, 2, kh, kw))
    for padding in ("same", "valid"):
        out = cnnviz.conv2d_layer(image, weight, padding=padding, dilation=dilation)
        expected = F.conv2d(_t(image), torch.from_numpy(weight), padding=padding,
                            dilation=dilation)
        np.testing.assert_allclose(out, _hwc(expected), atol=1e-12)
