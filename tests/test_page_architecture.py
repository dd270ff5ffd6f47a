"""The Architecture page in AppTest: the totals side by side, the layer table, the dense vs
convolution calculator and the timeline."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import MODELS, load_model
from tests.apptest import markdown_text, open_page

PAGE = "pages/architecture.py"
PUBLISHED = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet18": 11_689_512}


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


_markdown = markdown_text


def _frame(at: AppTest, column: str):
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def test_dense_against_convolution_gives_the_lesson_numbers():
    at = _open()
    text = _markdown(at)
    assert "`1,000 × (150,528 + 1) = 150,529,000`" in text
    assert "`64 × (3·3·3 + 1) = 1,792`" in text
    assert "**84,001 times**" in text
    assert not at.warning and not at.error


def test_totals_side_by_side_equal_torch_and_the_published_counts():
    at = _open()
    totals = _frame(at, "weight layers").set_index("model")
    assert list(totals.index) == list(MODELS)
    for name in ("digits", "lenet5", "shapes"):
        assert totals.loc[name, "parameters"] == sum(
            p.numel() for p in load_model(name).parameters())
    for name, count in PUBLISHED.items():
        assert totals.loc[name, "parameters"] == count
    assert totals.loc["vgg16", "weight layers"] == 16
    assert totals.loc["alexnet", "weight layers"] == 8
    # multiply-adds as torchvision publishes them (GFLOPS 15.47, 0.71, 1.81)
    assert totals.loc["vgg16", "multiply-adds"] == 15_470_264_320
    assert totals.loc["alexnet", "multiply-adds"] == 714_188_480
    assert totals.loc["resnet18", "multiply-adds"] == 1_814_073_344


def test_layer_table_writes_out_every_count_and_adds_up():
    at = _open(model="digits")
    rows = _frame(at, "parameters, written out")
    conv1 = rows[rows["layer"] == "conv1"].iloc[0]
    assert conv1["output shape"] == "16×28×28"
    assert conv1["parameters, written out"] == "16 × (3·3·1 + 1) = 160"
    assert conv1["multiply-adds, written out"] == "28·28·16 × 3·3·1 = 112,896"
    fc1 = rows[rows["layer"] == "fc1"].iloc[0]
    assert fc1["parameters, written out"] == "128 × (1,568 + 1) = 200,832"
    assert rows["parameters"].sum() == sum(p.numel() for p in load_model("digits").parameters())
    assert at.metric[0].value == "206,922"


def test_vgg16_layer_table_opens_with_1792():
    at = _open()
    assert at.selectbox(key="arch.model").value == "vgg16"
    rows = _frame(at, "parameters, written out")
    assert rows.iloc[0]["parameters, written out"] == "64 × (3·3·3 + 1) = 1,792"
    assert rows["parameters"].sum() == PUBLISHED["vgg16"]


def test_resnet_layer_table_has_the_blocks_leaves():
    at = _open(model="resnet18")
    rows = _frame(at, "parameters, written out")
    assert "layer1.0.conv1" in set(rows["layer"]) and "layer1" not in set(rows["layer"])
    assert rows["parameters"].sum() == PUBLISHED["resnet18"]


def test_calculator_from_the_link_and_into_the_link():
    at = _open(h="28", w="28", c="1", neurons="100", filters="16", kernel="5")
    text = _markdown(at)
    assert "`100 × (784 + 1) = 78,500`" in text
    assert "`16 × (5·5·1 + 1) = 416`" in text
    at.number_input(key="arch.neurons").set_value(10).run()
    assert "`10 × (784 + 1) = 7,850`" in _markdown(at)
    assert at.query_params["neurons"] in (["10"], "10")


def test_timeline_takes_its_counts_from_the_totals():
    at = _open()
    timeline = _frame(at, "what it introduced").set_index("network")
    assert list(timeline["year"]) == [1998, 2012, 2014, 2014, 2015, 2019]
    assert timeline.loc["EfficientNet", "parameters"] == 4_652_008
    assert "depthwise-separable" in timeline.loc["EfficientNet", "what it introduced"]
    assert timeline.loc["ResNet", "parameters"] == PUBLISHED["resnet18"]
    assert timeline.loc["AlexNet", "parameters"] == PUBLISHED["alexnet"]
    assert timeline.loc["VGG-16", "parameters"] == PUBLISHED["vgg16"]
    assert "F(x) + x" in timeline.loc["ResNet", "what it introduced"]
    assert "1×1" in timeline.loc["GoogLeNet", "what it introduced"]
    assert "dropout" in timeline.loc["AlexNet", "what it introduced"]


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"}, {"h": "-1"}, {"kernel": "abc"},
    {"neurons": "1e9"}, {"c": "0"},
])
def test_hostile_links_fall_back_with_a_notice(query):
    at = _open(**query)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "defaults are shown" in warnings[0], warnings
    assert "<script>" not in warnings[0]
    assert "`1,000 × (150,528 + 1) = 150,529,000`" in _markdown(at)
    assert not at.error
