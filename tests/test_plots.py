"""The figures: plain dicts that plotly.js can draw, with the numbers of the step data."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
import pytest

import cnnviz
from cnnviz import CLASSIC_5X5, conv_steps, pool_steps
from cnnviz.plots import figure

X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float)


def _walk(obj):
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v)


def _figures():
    rng = np.random.default_rng(0)
    image = rng.random((20, 24, 3))
    conv = conv_steps(image, rng.normal(size=(3, 3)), padding=1, dilation=(2, 1), bias=0.5,
                      region=(2, 6, 3, 8))
    gray = conv_steps(CLASSIC_5X5.astype(float), X_KERNEL)
    pool = pool_steps(image, kind="max", size=2, padding=1, region=(0, 4, 0, 4))
    return {
        "conv rgb": cnnviz.conv_step_figure(conv, start=3),
        "conv gray": cnnviz.conv_step_figure(gray),
        "pool": cnnviz.pool_step_figure(pool, channel=2),
        "picture map": cnnviz.picture(rng.normal(size=(30, 40)), box=(1, 3, 2, 5)),
        "picture rgb": cnnviz.picture((image * 255).astype(np.uint8)),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_figures_serialise_and_name_no_colour_scale_plotly_js_lacks(name):
    spec = _figures()[name].to_dict()
    json.loads(pio.to_json(spec, validate=False))  # serialisable
    for node in _walk(spec):
        if "colorscale" in node:
            assert not isinstance(node["colorscale"], str), (name, node["colorscale"])
            assert all(len(stop) == 2 for stop in node["colorscale"])


def test_classic_example_frames_carry_the_textbook_numbers():
    steps = conv_steps(CLASSIC_5X5.astype(float), X_KERNEL)
    spec = cnnviz.conv_step_figure(steps).to_dict()
    assert len(spec["frames"]) == 9
    outputs = [t for t in spec["data"] if t.get("name") == "output"]
    assert outputs[0]["z"] == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    # frame i covers the cells after step i: 2 rectangles, then 1, then none at the end
    assert [len(f["layout"]["shapes"]) for f in spec["frames"]] == [2, 2, 1, 2, 2, 1, 1, 1, 0]
    first_cover = spec["frames"][0]["layout"]["shapes"]
    assert (first_cover[0]["x0"], first_cover[0]["y0"]) == (0.5, -0.5)  # right of out[0, 0]
    captions = [f["layout"]["title"]["text"] for f in spec["frames"]]
    assert "<b>4</b>" in captions[0] and "out[0, 0]" in captions[0]
    # every frame's products are patch × kernel, as the step data says
    for i, frame in enumerate(spec["frames"]):
        np.testing.assert_allclose(figure.matrix(frame["data"][2]["z"]), steps.products[i, :, :, 0])


def test_opening_step_and_slider():
    steps = conv_steps(CLASSIC_5X5.astype(float), X_KERNEL)
    spec = cnnviz.conv_step_figure(steps, start=4, frame_ms=250).to_dict()
    assert spec["layout"]["sliders"][0]["active"] == 4
    play = spec["layout"]["updatemenus"][0]["buttons"][0]
    assert play["args"][1]["frame"]["duration"] == 250
    assert "out[1, 1]" in spec["layout"]["title"]["text"]


def test_max_pooling_frames_star_the_winner():
    image = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)
    steps = pool_steps(image, kind="max", size=2)
    spec = cnnviz.pool_step_figure(steps).to_dict()
    stars = [(f["data"][1]["y"][0], f["data"][1]["x"][0]) for f in spec["frames"]]
    assert stars == [(1, 1), (1, 3), (2, 0), (3, 3)]
    values = [f["layout"]["title"]["text"] for f in spec["frames"]]
    assert ["<b>6</b>" in values[0], "<b>8</b>" in values[1], "<b>3</b>" in values[2],
            "<b>4</b>" in values[3]] == [True] * 4


def test_dilated_window_outlines_every_tap():
    steps = conv_steps(np.zeros((9, 9)), np.ones((2, 2)), dilation=3)
    spec = cnnviz.conv_step_figure(steps).to_dict()
    xs = spec["frames"][0]["data"][0]["x"]
    assert xs.count(None) == 4  # four separate squares, with the gaps between them


def test_colorize_matches_the_colour_bar_ends():
    rgb = cnnviz.colorize(np.array([[-1.0, 0.0, 1.0]]), -1, 1, True)
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 0], [5, 48, 97])  # RdBu_r's first stop
    np.testing.assert_array_equal(rgb[0, 2], [103, 0, 31])  # and its last


def test_payload_is_small_for_a_whole_mnist_sized_output():
    steps = conv_steps(np.random.default_rng(2).random((28, 28)), np.ones((3, 3)))
    assert len(steps.sums) == 676
    assert cnnviz.payload_bytes(cnnviz.conv_step_figure(steps)) < 1_000_000


def test_payload_is_small_for_a_big_zoom():
    rng = np.random.default_rng(1)
    image = rng.random((512, 512, 3))
    steps = conv_steps(image, np.ones((11, 11)), padding="same", region=(100, 108, 100, 108),
                       output_dtype=np.float32)
    assert cnnviz.payload_bytes(cnnviz.conv_step_figure(steps)) < 2_000_000
    assert cnnviz.payload_bytes(cnnviz.picture(steps.output)) < 600_000


# --- text alternatives ------------------------------------------------------------------------


def test_a_step_alt_says_which_window_and_writes_its_sum_in_plain_text():
    steps = conv_steps(CLASSIC_5X5.astype(float), X_KERNEL)  # 3×3 output
    for i in range(len(steps.sums)):
        alt = cnnviz.step_alt(steps, i)
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        assert alt.startswith(f"Convolution step-through, window {i + 1} of 9;")
        assert f"row {int(steps.window_rows[i])}, column {int(steps.window_cols[i])}" in alt
        assert f"out[{r}, {c}]" in alt and "<" not in alt
        # the sum it reads out is the output cell's value, as the caption writes it
        assert alt.endswith(f"= {cnnviz.format_value(steps.output[r, c])}")


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_a_pooling_step_alt_reads_the_channel_and_the_value(kind):
    rng = np.random.default_rng(3)
    steps = pool_steps(rng.random((6, 6, 3)), kind=kind, size=2, padding=1)
    alt = cnnviz.step_alt(steps, 4, channel=1)
    assert alt.startswith(f"{'Max' if kind == 'max' else 'Average'} pooling (channel 1) "
                          f"step-through, window 5 of {len(steps.values)};")
    value = cnnviz.format_value(steps.values[4, 1])
    assert f"= {value}" in alt and "<b>" not in alt
    assert cnnviz.pool_caption(steps, 4, 1).count("<b>") == 2
    if kind == "max":
        wr, wc = steps.winner[4, 1]
        assert f"from padded row {wr}, col {wc}" in alt


@pytest.mark.parametrize(("peak", "where"), [
    ((0, 0), "top left"), ((0, 6), "top"), ((0, 13), "top right"), ((6, 0), "left"),
    ((7, 7), "centre"), ((7, 13), "right"), ((13, 0), "bottom left"), ((13, 7), "bottom"),
    ((13, 13), "bottom right")])
def test_hot_spot_text_names_the_ninth_of_the_map_with_the_peak(peak, where):
    values = np.zeros((14, 14))
    values[peak] = 1.0
    values[peak[0], (peak[1] + 1) % 14] = 0.75  # above half the peak
    values[(peak[0] + 1) % 14, peak[1]] = 0.25  # below
    assert cnnviz.hot_spot_text(values) == (
        f"strongest at the {where} (row {peak[0]}, column {peak[1]} of 14×14); 1% of its "
        "cells above half the peak")


def test_hot_spot_text_of_a_map_with_nothing_positive():
    assert cnnviz.hot_spot_text(np.zeros((3, 4))) == "no positive values anywhere"
    assert cnnviz.hot_spot_text(-np.ones((3, 4))) == "no positive values anywhere"


def test_hot_spot_text_of_a_needle():
    values = np.zeros((224, 224))
    values[100, 200] = 1.0
    assert cnnviz.hot_spot_text(values).endswith("; under 1% of its cells above half the peak")
