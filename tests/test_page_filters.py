"""The Filters page in AppTest: the first layer, the presets beside the learned kernels, deeper
layers, the URL and bad links."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import closest_filters, conv_weights, load_model
from tests.apptest import open_page

PAGE = "pages/filters.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption, *at.warning, *at.subheader])


def test_digits_first_layer_and_the_presets_beside_it():
    at = _open(sample="digit_3")
    assert at.title[0].value == "Filters"
    assert not at.error and not at.warning
    assert "The first layer: 16 kernels of 3×3" in _text(at)
    grid = _charts(at)[0]
    assert sum(t["type"] == "heatmap" for t in grid["data"]) == 16
    # the table of matches holds the library's numbers
    table = at.dataframe[0].value
    matches = closest_filters(conv_weights(load_model("digits"), "conv1"))
    assert list(table["hand-made"]) == ["Sobel x", "Sobel y", "Gaussian blur", "Laplacian"]
    assert list(table["most similar learned kernel"]) == [f"#{m.filter}" for m in matches]
    np.testing.assert_allclose(table["cosine similarity"], [m.cosine for m in matches],
                               atol=1e-3)
    # the two mosaics: hand-made and learned responses, four maps each, labelled
    mosaics = [c for c in _charts(at) if c["layout"].get("annotations") and
               any(t.get("name") == "maps" for t in c["data"])]
    assert [a["text"] for a in mosaics[0]["layout"]["annotations"]] == [
        "Sobel x", "Sobel y", "Gaussian blur", "Laplacian"]
    assert [a["text"] for a in mosaics[1]["layout"]["annotations"]] == [
        f"#{m.filter} ≈ {name}" for m, name in
        zip(matches, ["Sobel x", "Sobel y", "Gaussian blur", "Laplacian"], strict=True)]


def test_shapes_first_layer_is_drawn_in_colour_with_the_note():
    at = _open(model="shapes")
    grid = _charts(at)[0]
    assert sum(t["type"] == "image" for t in grid["data"]) == 16  # RGB patches
    assert "Grey** means the three slices are equal" in _text(at)


def test_resnet18_random_weights_are_said_and_big_kernels_not_compared():
    at = _open(model="resnet18")
    text = _text(at)
    assert "untrained: random weights" in text
    assert "These weights are random" in text
    assert "these kernels are 7×7" in text
    assert not at.error


def test_url_sets_the_deeper_filter():
    at = _open(model="digits", layer="conv2", filter="3")
    assert at.selectbox(key="filters.layer").value == "conv2"
    assert at.number_input(key="filters.filter").value == 3
    slices = _charts(at)[-1]
    w = load_model("digits").conv2.weight[3].detach().numpy()  # (16, 3, 3)
    heatmaps = [t for t in slices["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 16
    np.testing.assert_allclose(heatmaps[0]["z"], w[0], atol=1e-4 * np.abs(w).max())
    assert not at.warning


def test_model_change_moves_to_that_models_second_convolution():
    at = _open(model="digits", layer="conv2", filter="30")
    at.selectbox(key="filters.model").set_value("resnet18").run()
    assert not at.exception
    assert at.selectbox(key="filters.layer").value == "layer1.0.conv1"
    assert at.number_input(key="filters.filter").value == 0


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"}, {"layer": "relu1"}, {"filter": "x"},
    {"filter": "-2"},
])
def test_hostile_query_values_fall_back_with_a_notice(query):
    at = _open(sample="digit_3", **query)  # a digit: the digits network fits it
    warnings = [w.value for w in at.warning]
    assert warnings and "defaults are shown" in warnings[0]
    assert not any("<script>" in w for w in warnings)
    assert not at.error
