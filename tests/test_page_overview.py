"""The Overview page in AppTest: a column per layer, the probabilities, the URL, bad links."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import load_model, overview_layers, predict
from tests.apptest import open_page
from ui import state

PAGE = "pages/overview.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _network(at: AppTest) -> dict:
    return next(c for c in _charts(at)
                if any(t.get("name") == "maps" and t.get("xaxis") for t in c["data"]))


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption])


def test_digits_by_default_one_column_per_layer_and_the_probabilities():
    at = _open(sample="digit_3")
    assert at.title[0].value == "Overview"
    assert at.selectbox(key="overview.model").value == "digits"
    assert at.button_group(key="overview.scale").value == "layer"
    assert not at.error and not at.warning
    assert ":green-badge[:material/check_circle: trained weights]" in _text(at)
    fig = _network(at)
    images = [t for t in fig["data"] if t["type"] == "image"]
    layers = ["input", *overview_layers(load_model("digits"))]
    assert len(images) == len(layers) == 11
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert [t.split("</b>")[0].removeprefix("<b>") for t in titles] == layers
    assert titles[1].endswith("conv<br>16×28×28<br>8 of 16")  # kind, shape, maps shown
    bars = next(c for c in _charts(at) if c["data"][0].get("orientation") == "h")["data"][0]
    expected = predict("digits", at.session_state[state.IMAGE].pixels)
    assert bars["y"][-1] == "3"  # the most likely class, drawn on top
    assert bars["x"][-1] == pytest.approx(expected.max(), abs=1e-4)


@pytest.mark.parametrize("name", ["shapes", "resnet18"])
def test_other_models_render(name):
    at = _open(model=name)
    assert not at.error
    fig = _network(at)
    assert len([t for t in fig["data"] if t["type"] == "image"]) == 1 + len(
        overview_layers(load_model(name)))
    if name == "resnet18":
        assert "untrained: random weights" in _text(at)
        assert "Random weights: these probabilities are noise" in _text(at)


def test_url_sets_model_scale_and_the_opened_map():
    at = _open(model="shapes", scale="global", layer="conv2", channel="5")
    assert at.selectbox(key="overview.model").value == "shapes"
    assert at.button_group(key="overview.scale").value == "global"
    assert at.selectbox(key="overview.layer").value == "conv2"
    assert at.number_input(key="overview.channel").value == 5
    big = next(c for c in _charts(at) if "conv2, channel 5 of 32" in
               c["layout"].get("title", {}).get("text", ""))
    assert big["data"][-1]["marker"]["colorbar"]  # the colour bar is drawn
    assert not at.warning


def test_global_scale_shows_real_values_on_the_colour_bar():
    at = _open(scale="global")
    bar = _network(at)["data"][-1]["marker"]
    assert bar["cmax"] > 1 and "ticktext" not in bar["colorbar"]
    at.button_group(key="overview.scale").set_value("local").run()
    bar = _network(at)["data"][-1]["marker"]
    assert bar["colorbar"]["ticktext"] == ["−max", "0", "+max"]
    assert at.query_params["scale"] in (["local"], "local")


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"}, {"scale": "rainbow"}, {"layer": "../../etc"},
    {"channel": "-1"}, {"channel": "1e99"},
])
def test_hostile_query_values_fall_back_with_a_notice(query):
    at = _open(**query)
    warnings = [w.value for w in at.warning]
    assert warnings and "defaults are shown" in warnings[0]
    assert not any("<script>" in w for w in warnings)
    assert not at.error
    # the fallback is the network that fits the sidebar image: the cat photo's
    assert at.selectbox(key="overview.model").value == "efficientnet_lite0"


def test_a_channel_past_the_last_is_clamped():
    at = _open(model="digits", layer="conv1", channel="99")
    assert at.number_input(key="overview.channel").value == 15


def test_changing_the_model_resets_the_opened_layer():
    at = _open(model="digits", layer="pool2", channel="3")
    at.selectbox(key="overview.model").set_value("resnet18").run()
    assert not at.exception
    assert at.selectbox(key="overview.layer").value == "conv1"
    assert at.number_input(key="overview.channel").value == 0


def test_a_vector_layer_opens_as_a_grid_of_its_values():
    at = _open(model="digits", layer="fc1")
    big = next(c for c in _charts(at) if "fc1: 128 values" in
               c["layout"].get("title", {}).get("text", ""))
    assert big["data"][0]["type"] == "image"
    assert not at.get("number_input") or all(
        n.key != "overview.channel" for n in at.number_input)
