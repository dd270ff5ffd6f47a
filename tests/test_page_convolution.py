"""The Convolution page in AppTest: URL state, the numbers it shows, bad settings."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from cnnviz import PRESETS
from tests.apptest import markdown_text, open_page
from ui import state

PAGE = "pages/convolution.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


_markdown = markdown_text


def _shown_output_size(at: AppTest) -> tuple[int, int]:
    match = re.search(r"\*\*Output:\*\* (\d+) × (\d+)", _markdown(at))
    assert match, _markdown(at)
    return int(match[1]), int(match[2])


def test_defaults_render_with_formula_and_cost():
    at = _open()
    assert at.title[0].value == "Convolution"
    assert _shown_output_size(at) == (298, 449)  # the cat is 300×451, 3×3 valid
    text = _markdown(at)
    assert "⌊(300 + 2·0 − 1·(3−1) − 1) / 1⌋ + 1 = 298" in text
    assert "64 × (3·3·3 + 1) = 1,792" in text  # parameters of 64 such filters on RGB
    assert at.selectbox(key="conv.kernel").value == "sobel_x"
    assert not at.error and not at.warning


def test_url_sets_the_controls_and_the_output_size():
    at = _open(kernel="sobel_x", stride="2", padding="1")
    assert at.number_input(key="conv.stride_h").value == 2
    assert at.selectbox(key="conv.pad_kind").value == "custom"
    # floor((300 + 2 - 2 - 1) / 2) + 1 = 150 ; floor((451 + 2 - 2 - 1) / 2) + 1 = 226
    assert _shown_output_size(at) == (150, 226)


def test_classic_example_gives_the_textbook_numbers():
    at = _open(sample="classic_5x5", kernel="x_shape")
    assert at.toggle(key="conv.gray").value is True  # a gray image starts in grayscale mode
    assert _shown_output_size(at) == (3, 3)
    image = at.session_state[state.IMAGE].pixels
    from cnnviz import ConvParams
    from ui.cache.playground import as_values, conv_result

    values = as_values(image, gray=True, scale="unit")
    steps, output = conv_result(values, ConvParams(kernel=PRESETS["x_shape"].kernel), (0, 3, 0, 3),
                                False)
    np.testing.assert_allclose(output, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    np.testing.assert_allclose(steps.sums, [4, 3, 4, 2, 4, 3, 2, 3, 4])


def test_step_through_sums_match_torch_on_the_page_image():
    at = _open(kernel="laplacian", stride="2,1", dilation="2", padding="1,2,0,3", zoom="10,20",
               bias="0.5")
    image = at.session_state[state.IMAGE].pixels
    from cnnviz import ConvParams
    from ui.cache.playground import as_values, conv_result

    values = as_values(image, gray=False, scale="unit")
    kernel = PRESETS["laplacian"].kernel
    params = ConvParams(kernel=kernel, stride=(2, 1), padding=(1, 2, 0, 3), dilation=(2, 2),
                        bias=0.5)
    steps, _ = conv_result(values, params, (10, 18, 20, 28), False)
    x = F.pad(torch.from_numpy(values.array.copy()).permute(2, 0, 1)[None], (0, 3, 1, 2))
    w = torch.from_numpy(np.repeat(kernel[:, :, None], 3, 2).astype(np.float64)).permute(2, 0, 1)
    ref = F.conv2d(x, w[None], torch.tensor([0.5], dtype=torch.float64), stride=(2, 1),
                   dilation=2)[0, 0].numpy()
    np.testing.assert_allclose(steps.sums, ref[steps.out_rows, steps.out_cols], rtol=1e-12)


def test_kept_parts_give_what_a_fresh_convolution_gives():
    """The page convolves once without the bias and adds it, keeps the frames of a geometry,
    and gathers new windows for a new zoom box: every number must be what conv2d and
    conv_steps give from scratch, in any order of changes."""
    from cnnviz import ConvParams, conv2d, conv_steps
    from ui.cache.playground import as_values, conv_figure, conv_result

    rng = np.random.default_rng(3)
    pixels = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
    values = as_values(pixels, gray=False, scale="unit")
    kernel = rng.normal(size=(5, 3, 3))
    for bias, relu, region in [(0.0, False, (0, 8, 0, 8)), (0.7, False, (0, 8, 0, 8)),
                               (-1.3, True, (0, 8, 0, 8)), (-1.3, True, (5, 13, 9, 17)),
                               (0.0, True, (5, 13, 9, 17)), (0.7, False, (0, 8, 0, 8))]:
        params = ConvParams(kernel=kernel, stride=(1, 2), padding=(2, 1), bias=bias,
                            padding_mode="reflect")
        steps, shown = conv_result(values, params, region, relu)
        fresh = conv2d(values.array, kernel, **params.options(), dtype=np.float32)
        np.testing.assert_array_equal(shown, np.maximum(fresh, 0) if relu else fresh)
        again = conv_steps(values.array, kernel, **params.options(), region=region)
        np.testing.assert_allclose(steps.sums, again.sums, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(steps.patches, again.patches)
        spec = conv_figure(values, params, region, steps, 2, 600).to_dict()
        caption = spec["frames"][0]["layout"]["title"]["text"]
        assert f"{again.sums[0]:.4g}" in caption and f"out[{region[0]}, {region[2]}]" in caption


def test_custom_kernel_with_one_slice_per_channel():
    at = _open(kernel="custom", weights="1 0;0 1|0 0;0 0|0 0;0 0")
    assert not at.error
    assert _shown_output_size(at) == (299, 450)


@pytest.mark.parametrize(
    "query,message",
    [
        ({"stride": "0"}, "a stride of 0 would never move the kernel"),
        ({"sample": "classic_5x5", "kernel": "custom", "weights": "1 1 1 1 1 1 1"},
         "larger than the padded input"),
        ({"padding": "same", "stride": "2"}, "same"),
        ({"sample": "classic_5x5", "padding": "9", "pad_mode": "reflect"},
         "Reflect padding must be smaller"),
        ({"kernel": "custom", "weights": "1 0;0 1|1 0;0 1"}, "2 channel slices"),
    ],
)
def test_impossible_settings_get_a_sentence_not_a_crash(query, message):
    at = _open(**query)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0], errors
    # the image and the sidebar stay
    assert at.session_state[state.IMAGE] is not None
    assert at.sidebar.selectbox(key=state.SAMPLE) is not None


def test_bad_custom_text_typed_by_the_user_keeps_the_settings():
    at = _open(kernel="custom", stride="2")
    at.text_area(key="conv.weights").set_value("1 2 nope").run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)
    assert at.number_input(key="conv.stride_h").value == 2  # the settings stay
    at.text_area(key="conv.weights").set_value("1 2\n3 4").run()
    assert not at.error


@pytest.mark.parametrize("query", [
    {"kernel": "<script>alert(1)</script>"}, {"stride": "-3"}, {"padding": "../../x"},
    {"dilation": "1e9"}, {"bias": "nan"}, {"step": "abc"}, {"zoom_size": "7"},
])
def test_hostile_query_values_fall_back_with_a_notice(query):
    at = _open(**query)
    warnings = [w.value for w in at.warning]
    assert warnings and "defaults are shown" in warnings[0]
    assert "<script>" not in warnings[0]
    assert not at.error


def test_controls_go_into_the_url():
    at = _open()
    at.number_input(key="conv.stride_w").set_value(3).run()
    at.selectbox(key="conv.kernel").set_value("box_blur").run()
    assert at.query_params["stride"] in (["1,3"], "1,3")
    assert at.query_params["kernel"] in (["box_blur"], "box_blur")


def test_custom_kernel_grid_editor_and_size():
    at = _open(kernel="custom", weights="1 2;3 4")
    assert at.number_input(key="conv.kernel_rows").value == 2
    at.number_input(key="conv.kernel_rows").set_value(3).run()
    assert not at.exception
    assert at.session_state["conv.weights"].splitlines() == ["1, 2", "3, 4", "0, 0"]
    assert _shown_output_size(at) == (298, 450)
    # one slice per channel, then back to one slice for all
    at.button(key="conv.slices").click().run()
    assert at.session_state["conv.weights"].count("|") == 2
    at.button(key="conv.slices").click().run()
    assert "|" not in at.session_state["conv.weights"]


def test_switching_to_custom_starts_from_the_preset():
    at = _open(kernel="sobel_y")
    at.selectbox(key="conv.kernel").set_value("custom").run()
    assert not at.exception
    from cnnviz import parse_kernel_slices

    np.testing.assert_array_equal(parse_kernel_slices(at.session_state["conv.weights"]),
                                  PRESETS["sobel_y"].kernel)


def _page_code(at: AppTest) -> str:
    codes = [c.value for c in at.code if c.language == "python"]
    assert len(codes) == 1, codes
    return codes[0]


@pytest.mark.parametrize(("query", "gray"), [
    ({}, False),
    ({"kernel": "sobel_y", "stride": "2,1", "padding": "1,2,0,3", "dilation": "2",
      "bias": "0.5", "pad_mode": "reflect", "flip": "1"}, False),
    ({"sample": "digit_7", "kernel": "laplacian", "padding": "same", "pad_mode": "circular",
      "flip": "1", "bias": "-1"}, True),
])
def test_the_pytorch_code_on_the_page_computes_its_output(query, gray):
    """The code in the expander, executed: its layer gives the page's step-through sums and
    its whole output (OpenCV float32, so to float32's digits)."""
    from ui.cache.playground import as_values

    at = _open(**query)
    assert not at.exception and not at.error
    code = _page_code(at)
    assert "groups=1" in code and "dilation=" in code and "bias=True" in code
    assert "padding_mode=" in code or "Pad2d((" in code  # (top ≠ bottom: a padding layer)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (the page's own code)
    image = at.session_state[state.IMAGE].pixels
    values = as_values(image, gray=gray, scale=at.session_state["conv.scale"])
    x = torch.from_numpy(values.array.copy()).permute(2, 0, 1)[None]
    with torch.no_grad():
        out = namespace["layer"](x)[0, 0].numpy()
    picture = next(c for c in at.get("plotly_chart") if c.proto.alt.startswith("Output of"))
    assert f"{out.shape[0]}×{out.shape[1]}" in picture.proto.alt
    from cnnviz import ConvParams
    from ui.cache.playground import conv_result

    kept = at.session_state  # the page's own settings, read back from its widgets
    padding = query.get("padding", "valid")
    shown = ConvParams(
        kernel=PRESETS[kept["conv.kernel"]].kernel,
        stride=(kept["conv.stride_h"], kept["conv.stride_w"]),
        padding=padding if padding in ("valid", "same") else tuple(
            int(v) for v in padding.split(",")),
        dilation=(kept["conv.dil_h"], kept["conv.dil_w"]), bias=kept["conv.bias"],
        padding_mode=kept["conv.pad_mode"], flip=kept["conv.flip"])
    steps, whole = conv_result(values, shown, (0, 4, 0, 4), False)
    np.testing.assert_allclose(out[steps.out_rows, steps.out_cols], steps.sums, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(out, whole, rtol=1e-4, atol=1e-4)


def test_true_convolution_turns_the_kernel_and_says_what_changes():
    at = _open(kernel="sobel_x", flip="1", zoom="0,0")
    assert at.toggle(key="conv.flip").value is True
    note = " ".join(i.value for i in at.info)
    assert "True convolution" in note and "cross-correlation" in note
    # Sobel x turned 180° is −Sobel x: the two numbers are each other's negatives
    turned, written = re.search(r"is \*\*(\S+)\*\* turned, (\S+) as written", note).groups()
    assert float(turned.replace("−", "-")) == -float(written.replace("−", "-"))
    at.toggle(key="conv.flip").set_value(False).run()
    assert at.query_params.get("flip") in (None, ["0"], "0", [])
    assert not any("True convolution" in i.value for i in at.info)
