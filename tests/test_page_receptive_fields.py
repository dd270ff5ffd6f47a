"""The Receptive fields page in AppTest: the lesson numbers, every kind of network, a unit from
the link and the box it draws, bad links."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import HIGHLIGHT, MODELS, load_model, unit_receptive_box
from tests.apptest import markdown_text, open_page

PAGE = "pages/receptive_fields.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


_markdown = markdown_text


def _table(at: AppTest):
    return at.dataframe[0].value


def _drawn_box(at: AppTest, key: str) -> tuple[int, int, int, int]:
    """The highlighted box of the picture with widget key ``key``, read from its figure."""
    charts = [c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["layout"]
              .get("title", {}).get("text", "").startswith(key)]
    assert len(charts) == 1, [json.loads(c.proto.spec)["layout"].get("title") for c in
                              at.get("plotly_chart")]
    spec = json.loads(charts[0].proto.spec)
    (outline,) = [t for t in spec["data"] if t.get("mode") == "lines"
                  and t["line"]["color"] == HIGHLIGHT]
    xs, ys = outline["x"], outline["y"]
    return (round(min(ys) + 0.5), round(max(ys) + 0.5), round(min(xs) + 0.5),
            round(max(xs) + 0.5))


def test_opens_with_the_lesson_3_5_7_and_pools_doubling_the_jump():
    at = _open()
    assert at.title[0].value == "Receptive fields"
    assert at.selectbox(key="rf.model").value == "lesson"
    table = _table(at)
    assert list(table["layer"]) == ["conv1", "conv2", "conv3", "pool1", "conv4", "pool2",
                                    "conv5"]
    assert list(table["field"]) == ["3", "5", "7", "8", "12", "14", "22"]
    assert list(table["jump"]) == ["1", "1", "1", "2", "2", "4", "4"]
    for _, row in table.iterrows():  # every 2×2 pool doubles the jump
        if row["type"] == "AvgPool2d":
            assert int(row["jump"]) == 2 * int(row["jump in"])
    assert list(table["recurrence r_in + (k−1)·d·j_in"][:3]) == [
        "1 + (3−1)·1·1 = 3", "3 + (3−1)·1·1 = 5", "5 + (3−1)·1·1 = 7"]
    text = _markdown(at)
    assert "conv1 **3** → conv2 **5** → conv3 **7** → pool1 **8** (jump 2)" in text
    # the default unit: the centre of conv3's 32×32 map, a 7×7 field
    assert "**unit (16, 16)** of `conv3` sees rows 13–19 and columns 13–19" in text
    assert _drawn_box(at, "Input") == (13, 20, 13, 20)
    assert not at.warning and not at.error


@pytest.mark.parametrize("name", ["digits", "shapes", "resnet18"])
def test_renders_for_each_kind_of_network(name):
    at = _open(model=name)
    assert at.selectbox(key="rf.model").value == name
    layer = at.selectbox(key="rf.layer").value
    y, x = at.number_input(key="rf.unit_y").value, at.number_input(key="rf.unit_x").value
    box = unit_receptive_box(load_model(name), layer, MODELS[name].input_size, y, x)
    assert f"**unit ({y}, {x})** of `{layer}`" in _markdown(at)
    assert _drawn_box(at, "Input") == box
    assert len(at.get("plotly_chart")) == 4  # growth, the map, the input, the effective field
    assert not at.error


def test_a_network_that_runs_on_any_size_is_measured_at_a_larger_input():
    """EfficientNet-Lite0 at 448×448 (scale 2): twice the units per side, the box of the linked
    unit is unit_receptive_box at 448, the input picture is 448×448; back at its own 224 the
    link drops ``scale``. The shapes CNN (global max pooling) doubles from 64 to 128; the
    digits CNN has no size control: its dense layer needs 28×28."""
    name, layer = "efficientnet_lite0", "head.conv"
    at = _open(model=name, scale="2", layer=layer, unit="3,10")
    assert not at.exception and not at.error and not at.warning
    assert at.selectbox(key="rf.scale").value == 2.0
    assert (at.number_input(key="rf.unit_y").value, at.number_input(key="rf.unit_x").value) == (
        3, 10)
    assert at.number_input(key="rf.unit_y").max == 13  # a 14×14 map (7×7 at 224)
    box = unit_receptive_box(load_model(name), layer, (3, 448, 448), 3, 10)
    assert _drawn_box(at, "Input") == box == _drawn_box(at, "Effective")
    assert "of the 448×448 input" in _markdown(at)
    picture = [c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["layout"]
               .get("title", {}).get("text", "").startswith("Input")][0]
    assert "448×448" in json.loads(picture.proto.spec)["layout"]["title"]["text"]

    at.selectbox(key="rf.scale").set_value(1.0).run()
    assert "of the 224×224 input" in _markdown(at)
    assert at.number_input(key="rf.unit_y").max == 6
    assert "scale" not in at.query_params
    y, x = at.number_input(key="rf.unit_y").value, at.number_input(key="rf.unit_x").value
    assert (y, x) == (3, 3)  # a new size starts from the centre unit
    assert _drawn_box(at, "Input") == unit_receptive_box(load_model(name), layer,
                                                         (3, 224, 224), y, x)

    shapes = _open(model="shapes", scale="2")
    assert not shapes.error and "of the 128×128 input" in _markdown(shapes)
    assert shapes.selectbox(key="rf.scale").options == ["64×64 (its own)", "96×96 (×1.5)",
                                                        "128×128 (×2)"]

    digits = _open(model="digits", scale="2")
    assert not any(s.key == "rf.scale" for s in digits.selectbox)
    assert "of the 28×28 input" in _markdown(digits) and not digits.error


def test_resnet_says_its_skip_connections_are_measured_by_autograd():
    at = _open(model="resnet18")
    info = " ".join(i.value for i in at.info)
    assert "F(x) + x" in info and "autograd" in info
    table = _table(at)
    shortcut = table[table["layer"] == "layer2.0.downsample.0"].iloc[0]
    assert shortcut["field in"] == "43" and shortcut["field"] == "43"  # the 1×1 skip path
    assert "untrained: random weights" in _markdown(at)  # no ImageNet weights offline


def test_the_link_sets_the_unit_and_the_box_is_unit_receptive_box():
    at = _open(model="digits", layer="conv2", unit="2,11")
    assert (at.number_input(key="rf.unit_y").value, at.number_input(key="rf.unit_x").value) == (
        2, 11)
    box = unit_receptive_box(load_model("digits"), "conv2", (1, 28, 28), 2, 11)
    assert _drawn_box(at, "Input") == box == (1, 9, 19, 27)
    assert _drawn_box(at, "Effective") == box
    assert "**unit (2, 11)** of `conv2` sees rows 1–8 and columns 19–26" in _markdown(at)
    assert at.query_params["unit"] in (["2,11"], "2,11")


def test_a_unit_at_the_border_says_its_field_is_cut():
    at = _open(model="shapes", layer="conv4", unit="0,0")
    assert "its field is 38×38 pixels, cut to 23×23 by the border" in _markdown(at)


def test_changing_the_unit_and_the_layer_goes_into_the_url():
    at = _open(model="digits")
    at.number_input(key="rf.unit_x").set_value(3).run()
    assert at.query_params["unit"] in (["7,3"], "7,3")
    at.selectbox(key="rf.layer").set_value("pool1").run()
    assert not at.exception
    # a new layer starts at its centre again (pool1 is 14×14)
    assert at.number_input(key="rf.unit_y").value == 7 and at.number_input(
        key="rf.unit_x").value == 7
    assert at.query_params["layer"] in (["pool1"], "pool1")
    assert "unit" not in at.query_params
    at.selectbox(key="rf.model").set_value("shapes").run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="rf.layer").value == "conv3"


def test_one_channel_map():
    at = _open(model="digits", layer="conv1", channel="5")
    assert at.selectbox(key="rf.channel").value == 5
    assert not at.warning and not at.error


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"},
    {"model": "digits", "layer": "../../etc/passwd"},
    {"model": "digits", "unit": "99,99"},
    {"model": "digits", "unit": "abc"},
    {"model": "digits", "channel": "-1"},
    {"model": "resnet18", "scale": "9999"},
])
def test_hostile_links_fall_back_with_a_notice(query):
    at = _open(**query)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "defaults are shown" in warnings[0], warnings
    assert "<script>" not in warnings[0] and "passwd" not in warnings[0]
    assert not at.error
    assert "**unit (" in _markdown(at)
