"""conv2d / pool2d and their step-throughs, checked against torch.nn.functional."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz import (
    ConvParams,
    ParameterError,
    PoolParams,
    conv2d,
    conv_steps,
    global_avg_pool,
    pool2d,
    pool_steps,
)
from cnnviz.ops import MAX_STEPS

CLASSIC_IMAGE = np.array(
    [
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0],
        [0, 1, 1, 0, 0],
    ],
    dtype=np.uint8,
)
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)


def _nchw(image: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) -> float64 (1, C, H, W)."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def _weight(kernel: np.ndarray, channels: int) -> torch.Tensor:
    """(kh, kw) or (kh, kw, C) -> float64 (1, C, kh, kw), a 2-D kernel repeated per channel."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 2:
        k = np.stack([k] * channels, axis=2)
    return torch.from_numpy(np.ascontiguousarray(k.transpose(2, 0, 1)))[None]


# ---------------------------------------------------------------------------
# Hand examples


def test_classic_five_by_five_example():
    out = conv2d(CLASSIC_IMAGE, X_KERNEL)
    np.testing.assert_array_equal(out, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    assert out.dtype == np.float64


def test_all_ones_kernel_sums_windows():
    image = np.arange(16, dtype=np.float64).reshape(4, 4)
    out = conv2d(image, np.ones((2, 2)), stride=2, bias=0.5)
    np.testing.assert_array_equal(out, [[0 + 1 + 4 + 5 + 0.5, 2 + 3 + 6 + 7 + 0.5],
                                        [8 + 9 + 12 + 13 + 0.5, 10 + 11 + 14 + 15 + 0.5]])


def test_pool_64_by_64_with_2_by_2_stride_2_gives_32_by_32():
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = pool2d(image, kind="max", size=2, stride=2)
    assert out.shape == (32, 32, 3)
    assert pool2d(image[:, :, 0], kind="avg").shape == (32, 32)
    assert out[0, 0, 0] == image[:2, :2, 0].max()


def test_two_d_kernel_on_colour_image_applies_to_every_channel():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    kernel = rng.normal(size=(3, 3))
    expected = conv2d(image.astype(np.float64).sum(axis=2), kernel)
    np.testing.assert_allclose(conv2d(image, kernel), expected, atol=1e-9)
    np.testing.assert_allclose(conv2d(image, np.stack([kernel] * 3, 2)), expected, atol=1e-9)


def test_kernel_channels_must_match_image():
    with pytest.raises(ParameterError, match="channels"):
        conv2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 2)))
    with pytest.raises(ParameterError, match="channels"):
        conv2d(np.zeros((5, 5)), np.zeros((3, 3, 3)))


def test_bad_inputs_raise_parameter_error():
    with pytest.raises(ParameterError):
        conv2d(np.zeros((5, 5, 1, 1)), X_KERNEL)
    with pytest.raises(ParameterError):
        conv2d(np.zeros((0, 5)), X_KERNEL)
    with pytest.raises(ParameterError):
        conv2d(np.array([["a"]]), X_KERNEL)
    with pytest.raises(ParameterError, match="Padding mode"):
        conv2d(np.zeros((5, 5)), X_KERNEL, padding=1, padding_mode="mirror")
    with pytest.raises(ParameterError, match="'max' or 'avg'"):
        pool2d(np.zeros((4, 4)), kind="min")
    with pytest.raises(ParameterError, match="bias"):
        conv2d(np.zeros((5, 5)), X_KERNEL, bias="a lot")
    with pytest.raises(ParameterError, match="Reflect padding"):
        conv2d(np.zeros((5, 5)), X_KERNEL, padding=5, padding_mode="reflect")


def test_global_avg_pool():
    image = np.random.default_rng(2).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    np.testing.assert_allclose(global_avg_pool(image), image.mean(axis=(0, 1)))
    assert global_avg_pool(np.ones((3, 3))).shape == (1,)


def test_params_are_hashable_and_normalised():
    a = ConvParams(kernel=X_KERNEL, stride=2, padding=1)
    b = ConvParams(kernel=X_KERNEL.tolist(), stride=(2, 2), padding=(1, 1))
    assert a == b and hash(a) == hash(b)
    out = conv2d(CLASSIC_IMAGE, a.kernel_array, **a.options())
    np.testing.assert_array_equal(out, conv2d(CLASSIC_IMAGE, X_KERNEL, stride=2, padding=1))
    p = PoolParams(kind="avg", size=2)
    assert p == PoolParams(kind="avg", size=(2, 2)) and hash(p) == hash(PoolParams("avg", 2))
    assert pool2d(CLASSIC_IMAGE, **p.options()).shape == (2, 2)
    with pytest.raises(ParameterError):
        ConvParams(padding_mode="mirror")


# ---------------------------------------------------------------------------
# Against torch over random settings, valid and invalid


def _random_padding(rng: np.random.Generator):
    r = rng.random()
    if r < 0.15:
        return "same"
    if r < 0.25:
        return "valid"
    if r < 0.35:
        return int(rng.integers(-1, 3))
    if r < 0.6:
        return int(rng.integers(0, 4))
    return (int(rng.integers(0, 4)), int(rng.integers(0, 4)))


def _random_pair(rng: np.random.Generator, high: int, p_invalid: float = 0.05):
    lo = 0 if rng.random() < p_invalid else 1
    pair = (int(rng.integers(lo, high)), int(rng.integers(lo, high)))
    return pair[0] if pair[0] == pair[1] and rng.random() < 0.5 else pair


def _random_image(rng: np.random.Generator, max_hw: int = 40):
    h, w = int(rng.integers(1, max_hw + 1)), int(rng.integers(1, max_hw + 1))
    c = int(rng.integers(1, 5))
    if rng.random() < 0.3:
        image = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    else:
        image = rng.normal(size=(h, w, c))
    if c == 1 and rng.random() < 0.5:
        image = image[:, :, 0]
    return image, c


def test_conv2d_matches_torch_on_600_random_settings():
    rng = np.random.default_rng(12345)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(600):
        image, c = _random_image(rng)
        khw = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        kernel = rng.normal(size=khw if rng.random() < 0.3 else (*khw, c))
        stride, dilation = _random_pair(rng, 4), _random_pair(rng, 4)
        padding, bias = _random_padding(rng), float(rng.normal())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # 'same' with even kernels warns about a copy
                expected = F.conv2d(
                    _nchw(image), _weight(kernel, c), torch.tensor([bias], dtype=torch.float64),
                    stride=stride, padding=padding, dilation=dilation,
                )[0, 0].numpy()
        except RuntimeError:
            expected = None
        setting = dict(stride=stride, padding=padding, dilation=dilation, bias=bias)
        if expected is None:
            with pytest.raises(ParameterError):
                conv2d(image, kernel, **setting)
            outcomes["refused"] += 1
        else:
            np.testing.assert_allclose(conv2d(image, kernel, **setting), expected, atol=1e-9,
                                       err_msg=str(setting))
            outcomes["ok"] += 1
    assert outcomes["ok"] > 300 and outcomes["refused"] > 60, outcomes


def test_conv2d_padding_modes_match_nn_conv2d_on_200_random_settings():
    rng = np.random.default_rng(99)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(200):
        image, c = _random_image(rng, max_hw=12)
        khw = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        kernel = rng.normal(size=(*khw, c))
        stride, dilation = _random_pair(rng, 3, 0), _random_pair(rng, 3, 0)
        big = rng.random() < 0.3  # often too much padding for reflect and circular
        padding = "same" if rng.random() < 0.2 else _random_pair(rng, 14 if big else 4)
        padding = 0 if padding == (0, 0) else padding
        mode = str(rng.choice(["zeros", "reflect", "replicate", "circular"]))
        try:
            layer = torch.nn.Conv2d(c, 1, khw, stride, padding, dilation, bias=False,
                                    padding_mode=mode, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.copy_(_weight(kernel, c))
                expected = layer(_nchw(image))[0, 0].numpy()
        except (RuntimeError, ValueError):
            expected = None
        setting = dict(stride=stride, padding=padding, dilation=dilation, padding_mode=mode)
        if expected is None:
            with pytest.raises(ParameterError):
                conv2d(image, kernel, **setting)
            outcomes["refused"] += 1
        else:
            np.testing.assert_allclose(conv2d(image, kernel, **setting), expected, atol=1e-9,
                                       err_msg=str(setting))
            outcomes["ok"] += 1
    assert outcomes["ok"] > 100 and outcomes["refused"] > 10, outcomes


def test_explicit_four_tuple_padding_matches_f_pad():
    rng = np.random.default_rng(5)
    for _ in range(50):
        image, c = _random_image(rng, max_hw=10)
        kernel = rng.normal(size=(int(rng.integers(1, 5)), int(rng.integers(1, 5))))
        pads = tuple(int(v) for v in rng.integers(0, 4, size=4))  # (top, bottom, left, right)
        x = F.pad(_nchw(image), (pads[2], pads[3], pads[0], pads[1]))
        try:
            expected = F.conv2d(x, _weight(kernel, c))[0, 0].numpy()
        except RuntimeError:
            with pytest.raises(ParameterError):
                conv2d(image, kernel, padding=pads)
            continue
        np.testing.assert_allclose(conv2d(image, kernel, padding=pads), expected, atol=1e-9)


def test_pool2d_matches_torch_on_600_random_settings():
    rng = np.random.default_rng(4321)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(600):
        image, c = _random_image(rng)
        kind = "max" if rng.random() < 0.5 else "avg"
        size = _random_pair(rng, 6)
        stride = None if rng.random() < 0.3 else _random_pair(rng, 5)
        kh, kw = (size, size) if isinstance(size, int) else size
        # now and then one pixel more than torch allows (half the window)
        extra = 2 if rng.random() < 0.25 else 1
        padding = (int(rng.integers(0, kh // 2 + extra)), int(rng.integers(0, kw // 2 + extra)))
        padding = padding if rng.random() < 0.6 else 0
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d
        try:
            expected = pool(_nchw(image), size, stride, padding)[0].numpy().transpose(1, 2, 0)
        except RuntimeError:
            expected = None
        setting = dict(kind=kind, size=size, stride=stride, padding=padding)
        if expected is None:
            with pytest.raises(ParameterError):
                pool2d(image, **setting)
            outcomes["refused"] += 1
        else:
            got = pool2d(image, **setting)
            assert got.ndim == np.ndim(image)
            np.testing.assert_allclose(got.reshape(expected.shape), expected, atol=1e-9,
                                       err_msg=str(setting))
            outcomes["ok"] += 1
    assert outcomes["ok"] > 300 and outcomes["refused"] > 60, outcomes


# ---------------------------------------------------------------------------
# Step-through data


def test_conv_steps_of_the_classic_example_by_hand():
    steps = conv_steps(CLASSIC_IMAGE, X_KERNEL, stride=1, padding=0, dilation=1, bias=0.0)
    assert len(steps.sums) == 9
    np.testing.assert_array_equal(steps.sums, [4, 3, 4, 2, 4, 3, 2, 3, 4])
    np.testing.assert_array_equal(steps.patches[0, :, :, 0], CLASSIC_IMAGE[:3, :3])
    np.testing.assert_array_equal(steps.products[0, :, :, 0], CLASSIC_IMAGE[:3, :3] * X_KERNEL)
    assert (steps.out_rows[5], steps.out_cols[5]) == (1, 2)
    assert not steps.from_padding.any()
    assert not steps.sums.flags.writeable


def test_conv_steps_refuses_too_many_windows_and_accepts_a_zoom_box():
    image = np.zeros((100, 100))
    with pytest.raises(ParameterError, match="zoom box"):
        conv_steps(image, X_KERNEL, padding=1)
    steps = conv_steps(image, X_KERNEL, padding=1, region=(10, 74, 0, 64))
    assert len(steps.sums) == MAX_STEPS
    assert (steps.out_rows[0], steps.out_cols[-1]) == (10, 63)
    for bad in [(5, 5, 0, 3), (0, 101, 0, 3), (-1, 2, 0, 3), (0, 2)]:
        with pytest.raises(ParameterError):
            conv_steps(image, X_KERNEL, padding=1, region=bad)


def test_pool_steps_winners_match_torch_indices():
    rng = np.random.default_rng(3)
    image = rng.normal(size=(11, 9, 2))  # continuous values: no ties
    steps = pool_steps(image, kind="max", size=3, stride=2, padding=1)
    _, indices = F.max_pool2d(_nchw(image), 3, 2, 1, return_indices=True)
    indices = indices[0].numpy().transpose(1, 2, 0)  # (H_out, W_out, C): flat index into H x W
    flat = indices[steps.out_rows, steps.out_cols]  # (n, C)
    top, _, left, _ = steps.pads
    np.testing.assert_array_equal(steps.winner[..., 0] - top, flat // image.shape[1])
    np.testing.assert_array_equal(steps.winner[..., 1] - left, flat % image.shape[1])
    assert np.isneginf(steps.padded[0]).all()  # max pooling pads with -inf


paddings = st.one_of(
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.sampled_from(["same", "valid"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    data=st.data(),
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    c=st.integers(1, 3),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=paddings,
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    bias=st.floats(-2, 2),
    flat_kernel=st.booleans(),
)
def test_conv_steps_cells_equal_the_full_output(
    data, h, w, c, kh, kw, stride, dilation, padding, mode, bias, flat_kernel
):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    image = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    kernel = rng.normal(size=(kh, kw) if flat_kernel else (kh, kw, c))
    try:
        steps = conv_steps(image, kernel, stride=stride, padding=padding, dilation=dilation,
                           bias=bias, padding_mode=mode)
    except ParameterError:
        assume(False)
    np.testing.assert_allclose(steps.sums, steps.output[steps.out_rows, steps.out_cols], atol=1e-8)
    assert len(steps.sums) == steps.output.size  # the default region is the whole output
    np.testing.assert_allclose(steps.products, steps.patches * steps.kernel[None])
    np.testing.assert_allclose(steps.channel_sums.sum(axis=1) + bias, steps.sums)
    # the patches are the padded pixels at the tap coordinates, the image inside the padding
    i = data.draw(st.integers(0, len(steps.sums) - 1))
    rows, cols = steps.tap_rows[i], steps.tap_cols[i]
    np.testing.assert_array_equal(steps.patches[i], steps.padded[np.ix_(rows, cols)])
    top, _, left, _ = steps.pads
    np.testing.assert_array_equal(steps.padded[top:top + h, left:left + w], image)
    assert rows[0] == steps.window_rows[i] and cols[0] == steps.window_cols[i]
    if mode == "zeros":
        assert (steps.patches[steps.from_padding] == 0).all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    data=st.data(),
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    c=st.integers(1, 3),
    kind=st.sampled_from(["max", "avg"]),
    size=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
)
def test_pool_steps_cells_equal_the_full_output(data, h, w, c, kind, size, stride):
    padding = (data.draw(st.integers(0, size[0] // 2)), data.draw(st.integers(0, size[1] // 2)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    image = rng.integers(0, 6, (h, w, c), dtype=np.uint8)  # few values: ties happen
    try:
        steps = pool_steps(image, kind=kind, size=size, stride=stride, padding=padding)
    except ParameterError:
        assume(False)
    at_steps = steps.output[steps.out_rows, steps.out_cols]  # (n, C)
    np.testing.assert_allclose(steps.values, at_steps, atol=1e-9)
    np.testing.assert_allclose(steps.output, pool2d(image, kind=kind, size=size, stride=stride,
                                                    padding=padding))
    if kind == "max":
        n, channels = np.arange(len(steps.values))[:, None], np.arange(c)[None, :]
        picked = steps.padded[steps.winner[..., 0], steps.winner[..., 1], channels]
        np.testing.assert_array_equal(picked, steps.values)
        assert not steps.from_padding[n, steps.winner[..., 0] - steps.window_rows[:, None],
                                      steps.winner[..., 1] - steps.window_cols[:, None]].any()
    else:
        assert steps.winner is None
        np.testing.assert_allclose(steps.values * size[0] * size[1],
                                   steps.patches.sum(axis=(1, 2)))


def test_float32_path_matches_torch_over_random_settings():
    """The fast path (OpenCV) that draws whole-image outputs gives torch's numbers."""
    rng = np.random.default_rng(32)
    checked = 0
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        c = int(rng.integers(1, 4))
        kh, kw = (int(v) for v in rng.integers(1, 12, 2))  # 11 and up: OpenCV's DFT path
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 4, 2))
        padding = tuple(int(v) for v in rng.integers(0, 4, 4))
        mode = str(rng.choice(["zeros", "reflect", "replicate", "circular"]))
        image = rng.normal(size=(h, w, c)) * 50
        # a third of the kernels have one slice for every channel (ops adds the channels
        # first for those)
        kernel = (rng.normal(size=(kh, kw, c)) if rng.random() < 0.67 else
                  np.repeat(rng.normal(size=(kh, kw, 1)), c, axis=2))
        bias = float(rng.normal())
        try:
            exact = conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation,
                           bias=bias, padding_mode=mode)
        except ParameterError:
            continue
        fast = conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation,
                      bias=bias, padding_mode=mode, dtype=np.float32)
        assert fast.dtype == np.float32 and fast.shape == exact.shape
        scale = np.abs(image).max() * np.abs(kernel).sum() + 1
        np.testing.assert_allclose(fast, exact, atol=2e-6 * scale, rtol=0)
        checked += 1
    assert checked > 150


def test_padding_a_read_only_image_is_remembered_and_stays_right():
    """The playground pads the same read-only picture again on every rerun; the padded copy
    is kept (ops._pad_once) and must equal a fresh one, for every mode, and never be
    written to."""
    from cnnviz import ops

    rng = np.random.default_rng(7)
    img = rng.random((9, 11, 3))
    img.setflags(write=False)
    for mode in ("zeros", "reflect", "replicate", "circular"):
        pads = (1, 2, 3, 1)
        first = ops._pad_once(img, pads, mode)
        again = ops._pad_once(img, pads, mode)
        assert again is first and not first.flags.writeable
        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
        torch_mode = "constant" if mode == "zeros" else mode
        expected = F.pad(x, (3, 1, 1, 2), mode=torch_mode)[0].numpy().transpose(1, 2, 0)
        np.testing.assert_array_equal(first, expected)
    writable = rng.random((5, 5, 1))
    assert ops._pad_once(writable, (1, 1, 1, 1)) is not ops._pad_once(writable, (1, 1, 1, 1))
    image_id = id(img)
    del img, first, again
    import gc

    gc.collect()
    assert not any(key[0] == image_id for key in ops._PADDED)


def test_conv_steps_reuses_a_given_output_for_a_new_region():
    """The page convolves the whole image once and steps through many zoom boxes."""
    rng = np.random.default_rng(7)
    image = rng.random((20, 24, 3))
    kernel = rng.normal(size=(3, 5, 3))
    settings = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), bias=0.25,
                    padding_mode="reflect")
    full = conv2d(image, kernel, **settings, dtype=np.float32)
    for region in [(0, 3, 0, 4), (5, 9, 10, 14)]:
        fresh = conv_steps(image, kernel, **settings, region=region, output_dtype=np.float32)
        reused = conv_steps(image, kernel, **settings, region=region, output=full)
        np.testing.assert_array_equal(reused.output, fresh.output)
        np.testing.assert_array_equal(reused.sums, fresh.sums)
        rows, cols = reused.out_rows, reused.out_cols
        np.testing.assert_allclose(full[rows, cols], reused.sums, rtol=1e-5, atol=1e-5)
    with pytest.raises(ParameterError, match="settings give"):
        conv_steps(image, kernel, **settings, output=np.zeros((3, 3), np.float32))
