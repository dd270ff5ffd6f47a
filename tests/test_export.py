"""Animated GIFs of the step-throughs, decoded again with Pillow and checked frame by frame."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz import (
    CLASSIC_5X5,
    ParameterError,
    conv_steps,
    conv_steps_gif,
    pool_steps,
    pool_steps_gif,
)
from cnnviz.export import PENDING, WINDOW, WINNER, _frame_indices

CLASSIC_IMAGE = CLASSIC_5X5  # the worked example's 5×5 binary image
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
MAX_GIF_BYTES = 1_500_000


def _check_gif(gif: bytes, n_frames: int, frame_ms: int = 500, *, rgb: bool = False) -> list:
    """Check the container: frame count, size, loop and timing.

    Returns the frames as RGB arrays (H, W, 3) uint8 when `rgb` (decoding is the slow part).
    """
    im = Image.open(io.BytesIO(gif))
    assert im.format == "GIF"
    assert im.n_frames == n_frames
    assert im.info["loop"] == 0  # forever
    width, height = im.size
    assert 200 <= width <= 2500 and 150 <= height <= 1500, (width, height)
    frames, durations = [], []
    for k in range(n_frames):
        im.seek(k)
        durations.append(im.info["duration"])
        if rgb:
            frames.append(np.asarray(im.convert("RGB")))
    assert durations == [frame_ms] * n_frames
    return frames


def _count(frame: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((frame == colour).all(axis=-1).sum())


def test_classic_example_has_one_frame_per_output_pixel():
    steps = conv_steps(CLASSIC_IMAGE, X_KERNEL)
    assert steps.output.shape == (3, 3)
    frames = _check_gif(conv_steps_gif(steps), 9, rgb=True)
    assert frames[0].shape[2] == 3


def test_the_window_moves_and_the_output_fills_in():
    frames = _check_gif(conv_steps_gif(conv_steps(CLASSIC_IMAGE, X_KERNEL)), 9, rgb=True)
    windows = [(f == WINDOW).all(axis=-1) for f in frames]
    assert all(w.any() for w in windows)  # every frame highlights its window...
    for a, b in zip(windows, windows[1:], strict=False):
        assert (a != b).any()  # ...somewhere else than the frame before
    assert not np.array_equal(frames[0], frames[1])
    pending = [_count(f, PENDING) for f in frames]
    assert all(a > b for a, b in zip(pending, pending[1:], strict=False)), pending


def test_frame_time_is_the_gif_duration():
    _check_gif(conv_steps_gif(conv_steps(CLASSIC_IMAGE, X_KERNEL), frame_ms=120), 9, frame_ms=120)


def test_colour_image_with_dilation_padding_and_bias():
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    steps = conv_steps(image, SOBEL_X, padding=2, dilation=2, bias=-3.5)
    _check_gif(conv_steps_gif(steps), len(steps.sums))


def test_kernel_with_a_different_slice_per_channel():
    rng = np.random.default_rng(1)
    steps = conv_steps(rng.random((6, 6, 4)), rng.normal(size=(3, 3, 4)), stride=2, padding=1)
    _check_gif(conv_steps_gif(steps, cell_px=24), len(steps.sums))


def test_many_steps_are_subsampled_to_max_frames():
    steps = conv_steps(np.arange(100.0).reshape(10, 10), X_KERNEL)  # 64 steps
    _check_gif(conv_steps_gif(steps, max_frames=10), 10)
    _check_gif(conv_steps_gif(steps, max_frames=1), 1)


def test_subsampling_is_even_and_keeps_first_and_last():
    for n, m in [(64, 10), (4096, 144), (145, 144), (7, 7), (3, 10)]:
        idx = _frame_indices(n, m)
        assert len(idx) == min(n, m)
        assert idx[0] == 0 and idx[-1] == n - 1
        assert np.all(np.diff(idx) > 0)
        if n > m:
            gaps = np.diff(idx)
            assert gaps.max() - gaps.min() <= 1
    assert list(_frame_indices(50, 1)) == [49]


def test_max_pooling_marks_the_winner():
    steps = pool_steps(CLASSIC_IMAGE, kind="max", size=2, padding=1)  # -inf padding
    frames = _check_gif(pool_steps_gif(steps), len(steps.values), rgb=True)
    assert all(_count(f, WINNER) > 0 for f in frames)


def test_average_pooling():
    steps = pool_steps(CLASSIC_IMAGE, kind="avg", size=3, stride=2, padding=1)
    frames = _check_gif(pool_steps_gif(steps), len(steps.values), rgb=True)
    assert all(_count(f, WINNER) == 0 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])


def test_colour_max_pooling():
    image = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    steps = pool_steps(image, kind="max", size=2)
    _check_gif(pool_steps_gif(steps), 16)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A smooth 512 x 512 colour image, (H, W, 3) uint8."""
    yy, xx = np.mgrid[:512, :512]
    channels = [128 + 100 * np.sin(xx / 9), 128 + 100 * np.cos(yy / 13), (xx + yy) / 4]
    return np.stack(channels, axis=-1).astype(np.uint8)


def test_zoom_box_on_a_large_image_stays_small(photo):
    steps = conv_steps(photo, SOBEL_X, padding=1, region=(200, 208, 300, 308))  # 64 steps
    gif = conv_steps_gif(steps)
    _check_gif(gif, 64)
    assert len(gif) < MAX_GIF_BYTES
    # only the padded input the windows read is drawn, not the 514 x 514 image
    assert Image.open(io.BytesIO(gif)).width < 1500


def test_largest_zoom_box_is_subsampled_and_small(photo):
    steps = pool_steps(photo, kind="max", size=2, region=(0, 64, 0, 64))  # 4096 steps
    gif = pool_steps_gif(steps)
    _check_gif(gif, 144)
    assert len(gif) < MAX_GIF_BYTES


@pytest.mark.parametrize(
    "options",
    [{"frame_ms": 10}, {"frame_ms": 50.5}, {"max_frames": 0}, {"cell_px": 1}, {"cell_px": True}],
)
def test_bad_options_are_explained(options):
    with pytest.raises(ParameterError):
        conv_steps_gif(conv_steps(CLASSIC_IMAGE, X_KERNEL), **options)


def test_steps_of_the_wrong_kind_are_refused():
    with pytest.raises(TypeError):
        conv_steps_gif(pool_steps(CLASSIC_IMAGE))
    with pytest.raises(TypeError):
        pool_steps_gif(conv_steps(CLASSIC_IMAGE, X_KERNEL))


# --- the page and the GIF read the same -------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_a_sum_reads_the_same_on_the_page_and_in_the_gif(seed):
    """The step-through's caption (plots.steps) and the GIF's (export) write every sum, channel
    sum and bias through plots.figure.format_value, and colour kernels and outputs with the
    same ranges: nothing about a step reads differently in the two."""
    from cnnviz.export import _conv_animation, _map_colours, _pool_animation
    from cnnviz.plots import figure, steps

    rng = np.random.default_rng(seed)
    channels = int(rng.choice([1, 3]))
    image = rng.integers(0, 256, (9, 11, channels)).astype(np.float64)
    if seed % 3 == 0:
        image /= 255.0
    kernel = rng.normal(size=(3, 3, channels)) * 10.0 ** rng.integers(-2, 3)
    bias = float(rng.choice([0.0, 0.5, -1234.5]))
    conv = conv_steps(image, kernel, padding=int(rng.integers(0, 2)), bias=bias)
    gif = _conv_animation(conv, 20)
    for i in range(len(conv.sums)):
        page = steps.conv_caption(conv, i)
        formula, details = gif.caption(i)
        total = figure.format_value(conv.sums[i])
        assert f"<b>{total}</b>" in page and formula.endswith(f"= {total}"), (page, formula)
        # the page writes a negative term as "− 1234", the GIF as "-1234": the digits agree
        if bias:
            assert figure.format_value(abs(bias)) in page
            assert figure.format_value(bias) in formula
        if channels > 1:
            for v in conv.channel_sums[i]:
                assert figure.format_value(abs(v)) in page and figure.format_value(v) in details
    # colours: the page's ranges and colour scales (value_range, colorize) in the GIF too
    np.testing.assert_array_equal(
        gif.out_colours, figure.colorize(conv.sums[None], *figure.value_range(conv.sums))[0])
    k = conv.kernel[:, :, 0]
    np.testing.assert_array_equal(
        _map_colours(k, conv.kernel),
        figure.colorize(k, *figure.value_range(conv.kernel)))
    page_figure = steps.conv_step_figure(conv)
    if channels == 1:
        padded = page_figure.spec["data"][0]
        assert (padded["zmin"], padded["zmax"]) == figure.pixel_range(conv.padded)
    pool = pool_steps(image, kind="max", size=2, padding=1)
    pool_gif = _pool_animation(pool, 20)
    for i in range(len(pool.values)):
        formula, _ = pool_gif.caption(i)
        shown = figure.format_value(pool.values[i, 0])
        assert shown in formula
        assert f"<b>{shown}</b>" in steps.pool_step_figure(pool, start=i).spec["layout"][
            "title"]["text"]
        break  # one figure per image is enough: the captions are built the same way


def test_the_number_format():
    from cnnviz.plots.figure import format_value

    assert [format_value(v) for v in (0.0, -0.0, 1.5, -0.25, 1387.0, 12345.6, 123456.0,
                                      0.000123456, float("inf"), -float("inf"))] == \
        ["0", "0", "1.5", "-0.25", "1387", "12346", "1.235e+05", "0.0001235", "∞", "-∞"]
    assert format_value(float("-inf"), inf="inf") == "-inf"
