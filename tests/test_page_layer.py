"""The whole layer in AppTest: the wiring of groups, depthwise-separable against standard in
the Architecture page's formulas, refusals, and the PyTorch code executed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import cnnviz
from tests.apptest import markdown_text, open_page
from ui import state
from ui.cache import layers

PAGE = "pages/layer.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


def _alts(at: AppTest) -> list[str]:
    return [c.proto.alt for c in at.get("plotly_chart")]


def test_defaults_show_the_wiring_the_costs_and_the_maps():
    at = _open()
    assert at.title[0].value == "The whole layer" and not at.error
    assert "`4 × (3·3·3 + 1) = 112`" in markdown_text(at)
    alts = _alts(at)
    assert any("each output channel sums 3 of them (every channel)" in a for a in alts)
    assert any(a.startswith("The layer output: 4 maps") for a in alts)


def test_depthwise_is_labelled_and_costs_one_slice_per_channel():
    at = _open(channels="8", filters="8", groups="8")
    assert any("(depthwise)" in a and "sums 1 of them" in a for a in _alts(at))
    assert "`8 × (3·3·(8/8) + 1) = 80`" in markdown_text(at)


def test_depthwise_separable_against_one_standard_layer():
    at = _open(channels="8", filters="16", kind="separable")
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["depthwise 3×3", "pointwise 1×1", "depthwise-separable",
                                    "one standard 3×3"]
    expected = cnnviz.separable_costs(8, 16, 3, (64, 96))  # the cat shrunk to 64×96, padding 1
    assert table["parameters"].iloc[2] == f"{expected['separable']['params']:,}"
    assert expected["separable"]["params"] == 8 * (9 + 1) + 16 * (8 + 1)
    assert expected["standard"]["params"] == 16 * (9 * 8 + 1)
    assert "less work than one standard 3×3" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize(("query", "words"), [
    ({"channels": "3", "groups": "2"}, "Groups (2) must divide both the input channels (3)"),
    ({"channels": "4", "filters": "6", "groups": "4"}, "and the filters (6)"),
    ({"stride": "0"}, "Stride"),
])
def test_groups_that_do_not_divide_get_one_sentence(query, words):
    at = _open(**query)
    assert words in " ".join(e.value for e in at.error) and not at.exception
    for key, value in query.items():
        assert at.query_params.get(key, [value]) in ([value], value)


@pytest.mark.parametrize("query", [{}, {"channels": "6", "filters": "6", "groups": "3",
                                        "k": "5", "stride": "2,1", "padding": "2,0"},
                                   {"channels": "4", "filters": "8", "kind": "separable"}])
def test_the_pytorch_code_computes_the_maps_shown(query):
    at = _open(**query)
    codes = [c.value for c in at.code if c.language == "python"]
    image = at.session_state[state.IMAGE]
    x = layers.input_maps(image.pixels, image.digest, 96,
                          int(at.session_state["layer.channels"])).array
    for code in codes:
        namespace: dict = {}
        exec(code, namespace)  # noqa: S102 (the page's own code)
        with torch.no_grad():
            x = namespace["layer"](torch.from_numpy(x.copy()).permute(2, 0, 1)[None])[0] \
                .permute(1, 2, 0).numpy()
    last = next(a for a in reversed(_alts(at)) if "output:" in a)
    assert f"{x.shape[2]} maps of {x.shape[0]}×{x.shape[1]}" in last
    if at.session_state["layer.kind"] == "standard":  # the page's own numbers, from its cache
        k = int(at.session_state["layer.k"])
        settings = layers.LayerSettings(
            kernel=np.random.default_rng(0).normal(size=(k, k)).tolist(),
            channels=int(at.session_state["layer.channels"]),
            filters=int(at.session_state["layer.filters"]),
            groups=int(at.session_state["layer.groups"]),
            stride=tuple(at.session_state[f"layer.stride_{a}"] for a in "hw"),
            padding=tuple(at.session_state[f"layer.pad_{a}"] for a in "hw"))
        values = layers.input_maps(image.pixels, image.digest, 96, settings.channels)
        np.testing.assert_array_equal(x, layers.layer_output(values, settings))
