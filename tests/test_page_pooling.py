"""The Pooling page, through app.py as the server runs it (AppTest)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import global_avg_pool, pool2d
from tests.apptest import open_page
from ui import state
from ui.cache import playground

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "pages/pooling.py"
TIMEOUT = 60
P = "pool."


def _pooling(**query) -> AppTest:
    """The app opened with `query`, then switched to the Pooling page."""
    return open_page(PAGE, **query)


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _query(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def test_renders_with_defaults():
    at = _pooling()
    assert at.title[0].value == "Pooling"
    assert not at.error and not at.warning
    text = _texts(at)
    assert "Parameters added: 0" in text
    assert "150 × 225 × 3" in text  # the 300×451 cat, 2×2 windows, stride 2
    # step-through, input/output pictures, max and average side by side
    assert len(at.get("plotly_chart")) == 5
    assert len(at.get("download_button")) == 2
    assert at.segmented_control(key=P + "channel").value == 0  # colour image: a channel choice


def test_teaching_matrix_max_pooling_gives_the_textbook_numbers():
    at = _pooling(sample="pooling_4x4")
    assert at.session_state[P + "gray"] is True and at.session_state[P + "scale"] == "raw"
    assert "**Output:** 2 × 2 × 1" in _texts(at)
    assert at.code[0].value == "6  8\n3  4"
    # the same numbers straight from the library
    values = playground.as_values(at.session_state[state.IMAGE].pixels, gray=True, scale="raw")
    np.testing.assert_array_equal(pool2d(values.array, kind="max", size=2)[:, :, 0],
                                  [[6, 8], [3, 4]])


def test_average_pooling_and_the_url():
    at = _pooling(sample="pooling_4x4", kind="avg")
    assert at.segmented_control(key=P + "kind").value == "avg"
    assert at.code[0].value == "3.25  5.25\n   2     2"
    # switching back to max from the control updates the numbers and clears the URL key
    at.segmented_control(key=P + "kind").set_value("max").run()
    _no_exception(at)
    assert at.code[0].value == "6  8\n3  4"
    assert "kind" not in at.query_params


def test_stride_toggle_and_overlapping_windows():
    at = _pooling(sample="pooling_4x4")
    assert "stride" not in at.query_params  # stride = window: not in the link
    at.toggle(key=P + "same_stride").set_value(False).run()
    _no_exception(at)
    assert at.number_input(key=P + "stride_h").value == 2  # starts at the window size
    at.number_input(key=P + "stride_h").set_value(1)
    at.number_input(key=P + "stride_w").set_value(1)
    at.run()
    _no_exception(at)
    assert "**Output:** 3 × 3 × 1" in _texts(at)
    assert _query(at, "stride") == "1"
    at.toggle(key=P + "same_stride").set_value(True).run()
    assert "**Output:** 2 × 2 × 1" in _texts(at)
    assert "stride" not in at.query_params


def test_stride_from_the_url():
    at = _pooling(sample="pooling_4x4", size="3", stride="1")
    assert at.toggle(key=P + "same_stride").value is False
    assert "**Output:** 2 × 2 × 1" in _texts(at)  # (4 - 3) // 1 + 1
    assert at.code[0].value == "7  8\n7  8"  # rows 1 and 2 of the matrix hold 7 and 8


def test_global_average_pooling_shows_one_mean_per_channel():
    at = _pooling(kind="global")
    assert not at.error
    means = global_avg_pool(playground.as_values(at.session_state[state.IMAGE].pixels,
                                              gray=False, scale="unit").array)
    shown = [float(m.value) for m in at.metric]
    np.testing.assert_allclose(shown, means, rtol=1e-3)
    assert "H×W×C into 1×1×C" in _texts(at)
    assert "Parameters added: 0" in _texts(at)


def test_zero_stride_is_explained_not_crashed():
    at = _pooling(stride="0")
    assert len(at.error) == 1 and "Stride" in at.error[0].value
    assert "at least 1" in at.error[0].value


def test_padding_over_half_the_window_is_explained():
    at = _pooling(padding="2")
    assert len(at.error) == 1 and "at most half the window" in at.error[0].value


def test_hostile_query_falls_back_with_a_notice():
    at = _pooling(kind="<script>alert(1)</script>", size="-3")
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "`kind`" in warnings[0] and "`size`" in warnings[0]
    assert not any("<script>" in w for w in warnings)
    assert at.segmented_control(key=P + "kind").value == "max"
    assert at.number_input(key=P + "size_h").value == 2


def test_a_64_pixel_image_halves_to_32():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    at.sidebar.file_uploader(key=state.UPLOAD).set_value(
        ("noise.png", _png(pixels), "image/png")).run()
    at.switch_page(PAGE).run()
    _no_exception(at)
    text = _texts(at)
    assert "**Output:** 32 × 32 × 3" in text
    assert "⌊(64 + 2·0 − 1·(2−1) − 1) / 2⌋ + 1 = 32" in text
    # colour: the step-through goes one channel at a time
    at.segmented_control(key=P + "channel").set_value(2).run()
    _no_exception(at)
