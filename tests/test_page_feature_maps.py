"""The Feature maps page in AppTest: before/after the activation, the ranking, the URL, bad
links, and the learned kernel carried to the Convolution page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import (
    feature_maps,
    format_kernel_slices,
    kernel_of,
    load_model,
    parse_kernel_slices,
    preprocess,
)
from tests.apptest import open_page
from ui import state

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/feature_maps.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _mosaics(at: AppTest) -> list[dict]:
    """The mosaic figures (more than one map), in page order."""
    return [c for c in _charts(at)
            if any(t.get("name") == "maps" and len(t["customdata"]) > 1 for t in c["data"])]


def _ranking(at: AppTest) -> dict:
    return next(c["data"][0] for c in _charts(at)
                if c["data"][0]["type"] == "bar" and "customdata" in c["data"][0])


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption, *at.info])


def _query(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def test_digits_conv1_before_and_after_relu_and_the_ranking():
    at = _open(sample="digit_3")
    assert at.title[0].value == "Feature maps"
    assert at.selectbox(key="fmaps.layer").value == "conv1"
    assert not at.error and not at.warning
    text = _text(at)
    assert "Before ReLU: conv1" in text and "After ReLU: relu1" in text
    assert len(_mosaics(at)) == 2
    # the ranking is the order of the ReLU maps' means, computed here independently
    pixels = at.session_state[state.IMAGE].pixels
    relu = feature_maps(load_model("digits"), preprocess("digits", pixels), ["relu1"])["relu1"]
    means = relu.mean(axis=(1, 2))
    bars = _ranking(at)
    assert bars["customdata"] == list(np.argsort(-means, kind="stable"))
    np.testing.assert_allclose(bars["y"], means[bars["customdata"]], rtol=1e-4, atol=1e-6)
    assert all(a >= b for a, b in zip(bars["y"], bars["y"][1:], strict=False))


def test_shapes_shows_the_batch_norm_between_conv_and_relu():
    at = _open(model="shapes", sample="shape_star")
    text = _text(at)
    assert "What the ReLU receives: bn1" in text and "After ReLU: relu1" in text
    assert "conv1 → bn1" in text
    assert len(_mosaics(at)) == 3


def test_resnet18_renders_with_the_untrained_badge():
    at = _open(model="resnet18")
    assert "untrained: random weights" in _text(at)
    assert at.selectbox(key="fmaps.layer").value == "conv1"
    assert not at.error


def test_url_sets_layer_channel_and_scaling():
    at = _open(model="digits", layer="conv2", channel="7", scaling="independent")
    assert at.selectbox(key="fmaps.layer").value == "conv2"
    assert at.number_input(key="fmaps.channel").value == 7
    assert at.button_group(key="fmaps.scaling").value == "independent"
    bar = _mosaics(at)[0]["data"][-1]["marker"]["colorbar"]
    assert bar["ticktext"] == ["−max", "0", "+max"]  # each map on its own scale
    assert not at.warning


def test_a_pooling_layer_has_maps_but_no_kernel():
    at = _open(model="digits", layer="pool1")
    assert "no kernel of its own" in _text(at)
    assert all(b.key != "fmaps.apply" for b in at.button)


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"}, {"layer": "fc1"}, {"layer": "../../etc"},
    {"scaling": "wild"}, {"channel": "-4"},
])
def test_hostile_query_values_fall_back_with_a_notice(query):
    at = _open(**query)
    warnings = [w.value for w in at.warning]
    assert warnings and "defaults are shown" in warnings[0]
    assert not any("<script>" in w for w in warnings)
    assert not at.error


def _apply(at: AppTest) -> AppTest:
    at.button(key="fmaps.apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Convolution"
    return at


def test_the_learned_kernel_lands_on_the_convolution_page():
    at = _open(sample="digit_3", channel="4")
    _apply(at)
    kernel = kernel_of(load_model("digits"), "conv1", 4)
    assert _query(at, "kernel") == "custom" and _query(at, "sample") == "digit_3"
    # the link's text parses back into the same kernel, bit for bit
    np.testing.assert_array_equal(parse_kernel_slices(_query(at, "weights").replace(";", "\n")),
                                  kernel)
    assert at.selectbox(key="conv.kernel").value == "custom"
    assert at.toggle(key="conv.gray").value is True
    # the Convolution page shows that kernel
    assert at.code[-1].value == format_kernel_slices(kernel)
    assert not at.error


def test_the_kernel_replaces_what_the_convolution_page_showed_before():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["sample"] = "shape_star"
    at.run()
    at.switch_page("pages/convolution.py").run()  # Sobel x, remembered for the session
    assert at.selectbox(key="conv.kernel").value == "sobel_x"
    at.switch_page(PAGE).run()
    at.selectbox(key="fmaps.model").set_value("shapes").run()
    at.number_input(key="fmaps.channel").set_value(9).run()
    _apply(at)
    kernel = kernel_of(load_model("shapes"), "conv1", 9)  # (3, 3, 3): one slice per colour
    assert at.selectbox(key="conv.kernel").value == "custom"
    assert at.toggle(key="conv.gray").value is False
    np.testing.assert_array_equal(parse_kernel_slices(at.session_state["conv.weights"]), kernel)
    assert at.code[-1].value == format_kernel_slices(kernel)
    assert _query(at, "sample") == "shape_star"
    assert not at.error


def test_a_deep_kernel_says_why_it_stays_and_offers_the_first_layer():
    at = _open(model="digits", layer="conv2")
    text = _text(at)
    assert "16 input slices" in text and "cannot be carried" in text
    at.button(key="fmaps.first").click().run()
    assert at.selectbox(key="fmaps.layer").value == "conv1"
    assert at.button(key="fmaps.apply")


def test_kernel_slices_are_drawn_for_the_channel():
    at = _open(model="digits", layer="conv2", channel="3")
    heatmaps = next(c for c in _charts(at) if sum(t["type"] == "heatmap" for t in c["data"]) == 16)
    w = load_model("digits").conv2.weight[3].detach().numpy()
    # shown to 5 significant digits of the largest weight
    np.testing.assert_allclose(heatmaps["data"][5]["z"], w[5], atol=1e-4 * np.abs(w).max())


def test_an_activation_shows_its_input_first():
    at = _open(model="digits", layer="relu2")
    titles = [m.value for m in at.markdown if m.value.startswith("**")]
    assert titles[0].startswith("**Before ReLU: conv2**")
    assert titles[1].startswith("**After ReLU: relu2**")
