"""The figures of the Overview, Feature maps and Filters pages: plain dicts plotly.js can
draw, whose pictures carry the colours of the numbers."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import plotly.io as pio
import pytest
import torch

import cnnviz
from cnnviz import color_limits, load_model, network_outputs
from cnnviz.plots import figure
from cnnviz.plots import maps as map_figures


def _walk(obj):
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v)


def _decode(source: str) -> np.ndarray:
    data = base64.b64decode(source.split(",", 1)[1])
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _digits_columns():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 8:20, 12:16] = 2.5
    return network_outputs(load_model("digits"), x)


def _figures():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(5, 6, 7)).astype(np.float32)
    cols = _digits_columns()
    limits, shared = color_limits(cols, "global", 8)
    return {
        "maps": cnnviz.maps_figure(maps, [1.0] * 5, labels=list("abcde"), columns=3,
                                  show_labels=True),
        "network": cnnviz.network_figure(cols, limits, shared_limit=shared),
        "probabilities": cnnviz.probability_bars(list("abc"), [0.2, 0.7, 0.1]),
        "ranking": cnnviz.channel_ranking(np.array([0.1, -0.3, 0.5]), [2, 0, 1]),
        "kernel": cnnviz.kernel_slices(rng.normal(size=(3, 3, 3))),
        "kernels own scale": cnnviz.kernel_slices(rng.normal(size=(8, 3, 3)), own_scale=True,
                                                 columns=4),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_figures_serialise_with_explicit_colour_scales(name):
    spec = _figures()[name].to_dict()
    json.loads(pio.to_json(spec, validate=False))
    for node in _walk(spec):
        if "colorscale" in node:
            assert not isinstance(node["colorscale"], str), (name, node["colorscale"])


def test_mosaic_tiles_colours_and_boxes():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[0, 0, 0] = 1.0  # the top of its scale: dark red
    maps[1, 1, 1] = -2.0  # the bottom of its scale: dark blue
    rgb, boxes = map_figures.map_mosaic(maps, [1.0, 2.0, 1.0], columns=2)
    side = 2 * 24  # 2×2 maps are zoomed 24× to reach MOSAIC_MIN_TILE
    assert boxes == [(0, side, 0, side), (0, side, side + 1, 2 * side + 1),
                     (side + 1, 2 * side + 1, 0, side)]
    assert rgb.shape == (2 * side + 1, 2 * side + 1, 3)
    lut = figure.colour_lut(figure.MAPS_SCALE)
    assert tuple(rgb[0, 0]) == tuple(lut[255])  # +limit
    assert tuple(rgb[side - 1, 0]) == tuple(lut[128])  # 0: the white middle
    r0, r1, c0, c1 = boxes[1]
    assert tuple(rgb[r1 - 1, c1 - 1]) == tuple(lut[0])  # -limit
    assert tuple(rgb[0, side]) == map_figures.MOSAIC_GAP_RGB  # the gap column
    assert tuple(rgb[side + 1, side + 1]) == map_figures.MOSAIC_GAP_RGB  # the empty last cell


def test_big_maps_are_shrunk_to_the_tile():
    rgb, boxes = map_figures.map_mosaic(np.zeros((2, 224, 224), np.float32), [1, 1], columns=2,
                                  tile_px=64)
    assert boxes[0] == (0, 64, 0, 64) and rgb.shape == (64, 129, 3)


def test_maps_figure_clicks_name_the_map():
    fig = _figures()["maps"].to_dict()
    markers = [t for t in fig["data"] if t.get("name") == "maps"]
    assert markers[0]["customdata"] == [0, 1, 2, 3, 4]
    assert [a["text"] for a in fig["layout"]["annotations"]] == list("abcde")


def test_network_figure_has_a_column_per_layer_and_its_picture_shows_the_values():
    cols = _digits_columns()
    limits, shared = color_limits(cols, "layer", 8)
    spec = cnnviz.network_figure(cols, limits, shared_limit=shared).to_dict()
    images = [t for t in spec["data"] if t["type"] == "image"]
    assert len(images) == len(cols) == 11
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert titles[1] == "<b>conv1</b><br>conv<br>16×28×28<br>8 of 16"
    assert titles[-1] == "<b>fc2</b><br>dense<br>10<br> "
    # the input column: the stroke (2.5, the layer's max) is dark red, the rest white
    picture = _decode(images[0]["source"])
    lut = figure.colour_lut(figure.MAPS_SCALE)
    zoom = picture.shape[0] // 28
    assert np.abs(picture[10 * zoom, 13 * zoom].astype(int) - lut[255]).max() <= 2
    assert np.abs(picture[2 * zoom, 2 * zoom].astype(int) - lut[128]).max() <= 2
    # a click names (column, channel)
    clicks = [t for t in spec["data"] if t.get("name") == "maps"]
    assert clicks[1]["customdata"][:2] == [[1, 0], [1, 1]]
    assert clicks[-1]["customdata"][0] == [10, -1]  # fc2: a vector


def test_efficientnet_overview_groups_its_16_blocks_by_stage():
    """Every block column sits inside a tinted band of its own stage, with the stage's name
    over it; neighbouring bands differ in tint; the stem and head are in none. The digits
    network has no groups, so no bands."""
    model = load_model("efficientnet_lite0")
    cols = network_outputs(model, torch.zeros(1, 3, 224, 224))
    limits, shared = color_limits(cols, "layer", 8)
    spec = cnnviz.network_figure(cols, limits, shared_limit=shared).to_dict()
    layout = spec["layout"]
    bands = layout["shapes"]
    labels = [a for a in layout["annotations"] if a["text"].startswith("<b>stage ")]
    assert len(bands) == len(labels) >= 7
    assert sorted({a["text"] for a in labels}) == [f"<b>stage {n}</b>" for n in range(1, 8)]
    assert all(a["fillcolor"] != b["fillcolor"] for a, b in zip(bands, bands[1:], strict=False))
    groups = {c.name: c.group for c in cols}
    assert [g for g in groups.values() if g].count("stage 4") == 3
    assert not groups["stem"] and not groups["head"] and not groups["input"]
    axes = {int(k[5:] or 1): v for k, v in layout.items() if k.startswith("xaxis")}
    yaxes = {int(k[5:] or 1): v for k, v in layout.items() if k.startswith("yaxis")}
    for k, col in enumerate(cols, start=1):
        (x0, x1), (y0, y1) = axes[k]["domain"], yaxes[k]["domain"]
        inside = [label["text"] for band, label in zip(bands, labels, strict=True)
                  if band["x0"] <= x0 and x1 <= band["x1"] and band["y0"] <= y0
                  and y1 <= band["y1"]]
        assert inside == ([f"<b>{col.group}</b>"] if col.group else []), col.name
    for band, label in zip(bands, labels, strict=True):  # the name over the middle of its band
        assert label["y"] == band["y1"] and band["x0"] < label["x"] < band["x1"]

    digits = _digits_columns()
    d_limits, d_shared = color_limits(digits, "layer", 8)
    assert not cnnviz.network_figure(digits, d_limits, shared_limit=d_shared).to_dict()[
        "layout"].get("shapes")


def test_probability_bars_most_likely_on_top():
    spec = cnnviz.probability_bars(["cat", "dog", "cow"], [0.2, 0.7, 0.1], top=2).to_dict()
    assert spec["data"][0]["y"] == ["cat", "dog"]  # drawn bottom-up: dog on top
    assert spec["data"][0]["x"] == [0.2, 0.7]
