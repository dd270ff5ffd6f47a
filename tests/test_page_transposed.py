"""The Transposed convolution page in AppTest: the formula with the numbers, both views add
up to torch's conv_transpose2d, refusals in a sentence, the URL, the PyTorch code."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from tests.apptest import markdown_text, open_page
from ui import state
from ui.cache import layers

PAGE = "pages/transposed.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


def _input(at: AppTest) -> np.ndarray:
    image = at.session_state[state.IMAGE]
    return layers.small_values(image.pixels, image.digest, at.session_state["tconv.side"],
                               at.session_state["tconv.gray"]).array


def _torch_output(at: AppTest, query: dict) -> np.ndarray:
    x = _input(at)
    kernel = np.ones((3, 3)) if query.get("kernel", "ones3") == "ones3" else None
    assert kernel is not None
    w = torch.from_numpy(np.broadcast_to(kernel, (x.shape[2], 1, 3, 3)).copy())
    pair = [tuple(int(v) for v in query.get(k, d).split(",")) * (2 // len(query.get(
        k, d).split(","))) for k, d in (("stride", "2"), ("padding", "0"), ("out_pad", "0"),
                                         ("dilation", "1"))]
    out = F.conv_transpose2d(torch.from_numpy(x.copy()).permute(2, 0, 1)[None], w,
                             stride=pair[0], padding=pair[1], output_padding=pair[2],
                             dilation=pair[3])
    return out[0, 0].numpy()


def test_defaults_show_the_formula_with_the_numbers_and_the_stamps():
    at = _open()
    assert at.title[0].value == "Transposed convolution"
    text = markdown_text(at)
    x = _input(at)  # the cat shrunk to at most 4 cells a side: 3×4
    assert x.shape == (3, 4, 1)
    assert "(3 − 1)·2 − 2·0 + 1·(3 − 1) + 0 + 1 = 7" in text
    assert "(4 − 1)·2 − 2·0 + 1·(3 − 1) + 0 + 1 = 9" in text
    assert "**Output:** 7 × 9 × 1" in text
    chart = next(c for c in at.get("plotly_chart") if c.proto.alt.startswith("Transposed"))
    spec = json.loads(chart.proto.spec)
    assert len(spec["frames"]) == 12  # one stamp per input cell
    # the last frame's canvas is the output (no padding to cut): torch's numbers
    final = np.array(spec["frames"][-1]["data"][2]["z"], dtype=float)
    np.testing.assert_allclose(final, _torch_output(at, {}), atol=1e-3)
    assert "Checkerboard" in " ".join(i.value for i in at.info)


@pytest.mark.parametrize("query", [
    {"stride": "2", "padding": "1", "out_pad": "1", "view": "conv"},
    {"stride": "3,2", "padding": "1,0", "dilation": "2", "out_pad": "2,1", "view": "conv",
     "side": "6"},
    {"stride": "2", "padding": "1", "out_pad": "1", "view": "scatter", "side": "3"},
])
def test_both_views_add_up_to_torch(query):
    at = _open(**query)
    assert not at.error, [e.value for e in at.error]
    view = query["view"]
    image = at.session_state[state.IMAGE]
    values = layers.small_values(image.pixels, image.digest, at.session_state["tconv.side"],
                                 True)
    settings = layers.LayerSettings(kernel=np.ones((3, 3)).tolist(), channels=1,
                                    stride=tuple(at.session_state[k] for k in (
                                        "tconv.stride_h", "tconv.stride_w")),
                                    padding=(at.session_state["tconv.pad_h"],
                                             at.session_state["tconv.pad_w"]),
                                    dilation=(at.session_state["tconv.dil_h"],
                                              at.session_state["tconv.dil_w"]),
                                    output_padding=(at.session_state["tconv.out_pad_h"],
                                                    at.session_state["tconv.out_pad_w"]))
    data, output = layers.transposed(values, settings, 0, view, None)
    expected = _torch_output(at, query)
    np.testing.assert_allclose(output[:, :, 0], expected, atol=1e-12)
    if view == "conv":
        np.testing.assert_allclose(data.steps.sums,
                                   expected[data.steps.out_rows, data.steps.out_cols],
                                   atol=1e-12)
    else:
        np.testing.assert_allclose(data.crop(data.canvas()), expected, atol=1e-12)


@pytest.mark.parametrize(("query", "words"), [
    ({"stride": "2", "out_pad": "2"}, "Output padding (2) must be smaller than the stride"),
    ({"stride": "1", "out_pad": "1"}, "smaller than the stride (1) or the dilation (1)"),
    ({"stride": "0"}, "Stride must be at least 1"),
    ({"padding": "5", "side": "2"}, "leave no output"),
    ({"gray": "0", "groups": "2"}, "Groups (2) must divide"),
    ({"channel": "3"}, "Output channel 3 does not exist"),
])
def test_impossible_settings_get_one_sentence_and_keep_the_settings(query, words):
    at = _open(**query)
    errors = " ".join(e.value for e in at.error)
    assert words in errors and "These settings do not work together." in errors
    assert not at.exception
    # the settings stay, and go into the URL as they are (a default is left out)
    for key, value in query.items():
        assert at.query_params.get(key, [value]) in ([value], value)
    assert any(key in at.query_params for key in query)


def test_custom_kernel_and_the_pytorch_code():
    at = _open(kernel="custom", weights="1,2;3,4", stride="2", gray="0", filters="2",
               side="3")
    assert not at.error
    code = next(c.value for c in at.code if c.language == "python")
    assert "torch.nn.ConvTranspose2d(3, 2, kernel_size=(2, 2), stride=(2, 2)" in code
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (the page's own code)
    x = torch.from_numpy(_input(at).copy()).permute(2, 0, 1)[None]
    with torch.no_grad():
        out = namespace["layer"](x)[0].permute(1, 2, 0).numpy()
    image = at.session_state[state.IMAGE]
    values = layers.small_values(image.pixels, image.digest, 3, False)
    settings = layers.LayerSettings(kernel=[[1.0, 2.0], [3.0, 4.0]], channels=3, filters=2,
                                    stride=(2, 2))
    _, output = layers.transposed(values, settings, 0, "scatter", None)
    np.testing.assert_array_equal(out, output)
    # output channel 0 stamps the kernel itself on every input channel
    w = settings.weights(transposed=True)
    np.testing.assert_array_equal(w[:, 0], np.broadcast_to([[1, 2], [3, 4]], (3, 2, 2)))


def test_the_checkerboard_button_sets_kernel_3_stride_2():
    at = _open(kernel="ones4", stride="1", padding="1")
    assert "Checkerboard" not in " ".join(i.value for i in at.info)
    at.button[0].click().run()
    assert at.session_state["tconv.kernel"] == "ones3"
    assert at.session_state["tconv.stride_h"] == 2
    assert "Checkerboard" in " ".join(i.value for i in at.info)
    match = re.search(r"between (\d) and (\d) stamps", " ".join(i.value for i in at.info))
    assert match and match.groups() == ("1", "4")  # the 3×4 cat: 1, 2, 4 in a grid
    assert "kernel" not in at.query_params and "stride" not in at.query_params  # the defaults


@pytest.mark.parametrize("value", ["-3", "0", str(10**9), "abc", "1e400"])
def test_geometry_in_the_url_is_refused_with_a_notice_or_a_sentence(value):
    at = _open(stride=value, padding=value, out_pad=value, dilation=value)
    notices = " ".join(w.value for w in at.warning)
    errors = [e.value for e in at.error]
    assert not at.exception
    if value == "0":  # stride 0 and dilation 0 parse: one sentence says why they cannot work
        assert len(errors) == 1 and "at least 1" in errors[0]
        assert at.session_state["tconv.stride_h"] == 0
    else:
        for key in ("stride", "padding", "out_pad", "dilation"):
            assert f"`{key}`" in notices, (key, notices)
        assert not errors and at.session_state["tconv.stride_h"] == 2
