"""Fast page tests with Streamlit's AppTest: every page renders; the shared image picker works."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui import catalog, state

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 60


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", catalog.all_pages(), ids=lambda p: p.url_path)
def test_every_page_renders(page):
    at = _app().run()
    if page is not catalog.HOME:
        at.switch_page(page.path).run()
    _no_exception(at)
    assert at.title, "every page has a title"
    # the shared picker is on every page
    assert at.sidebar.selectbox(key=state.SAMPLE).value == "cat"
    # every figure has a text alternative that names what it shows (a screen reader reads
    # the chart's accessible name, not its SVG)
    for chart in at.get("plotly_chart"):
        assert len(chart.proto.alt.strip()) >= 20, chart.proto.alt


def test_url_paths_are_the_file_names():
    """While a pages/ folder sits beside app.py, a new server's first request runs
    Streamlit's old file-name routing (see ui/boot.py): a URL that is not a file's stem
    would show "Page not found" before app.py takes over."""
    for page in catalog.all_pages():
        assert page.url_path == Path(page.path).stem, page


def test_home_lists_the_lesson_and_shows_the_image():
    at = _app().run()
    _no_exception(at)
    assert "cnnviz" in at.title[0].value
    image = at.session_state[state.IMAGE]
    assert image.label == "Cat (Chelsea)" and image.pixels.shape == (300, 451, 3)
    assert at.main.get("image") and at.sidebar.get("image")  # shown on the page and in the picker


def test_sample_choice_survives_reruns_and_goes_into_the_url():
    at = _app().run()
    at.sidebar.selectbox(key=state.SAMPLE).set_value("digit_7").run()
    _no_exception(at)
    assert at.session_state[state.IMAGE].label == "MNIST digit 7"
    assert at.query_params[state.SAMPLE] in (["digit_7"], "digit_7")
    at.run()
    assert at.session_state[state.IMAGE].label == "MNIST digit 7"
    for page in catalog.LESSON:
        at.switch_page(page.path).run()
        _no_exception(at)
        assert at.session_state[state.IMAGE].label == "MNIST digit 7"


def test_sample_from_the_url():
    at = _app(sample="classic_5x5").run()
    _no_exception(at)
    image = at.session_state[state.IMAGE]
    assert image.pixels.shape == (5, 5, 3)
    assert set(np.unique(image.pixels)) == {0, 255}


def test_hostile_sample_in_the_url_falls_back_with_a_notice():
    at = _app(sample="<script>alert(1)</script>").run()
    _no_exception(at)
    assert at.session_state[state.IMAGE].label == "Cat (Chelsea)"
    warnings = [w.value for w in at.sidebar.warning]
    assert any("does not exist" in w for w in warnings)
    assert not any("<script>" in w for w in warnings)


def _upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    return at.sidebar.file_uploader(key=state.UPLOAD).set_value((name, data, mime)).run()


def test_upload_a_png_becomes_the_image_on_every_page():
    at = _app().run()
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[5:15, 10:20] = [255, 128, 0]
    _upload(at, "square.png", _png(pixels))
    _no_exception(at)
    image = at.session_state[state.IMAGE]
    assert image.label == "square.png"
    np.testing.assert_array_equal(image.pixels, pixels)
    for page in catalog.LESSON:
        at.switch_page(page.path).run()
        assert at.session_state[state.IMAGE].label == "square.png"


@pytest.mark.parametrize(
    "name,data",
    [
        ("garbage.png", b"this is not an image at all"),
        ("empty.png", b""),
        ("drawing-really-svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'),
        ("paper-really-pdf.jpg", b"%PDF-1.4\n%%EOF\n"),
    ],
)
def test_bad_upload_shows_an_error_and_keeps_the_previous_image(name, data):
    at = _app(sample="coffee").run()
    before = at.session_state[state.IMAGE]
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    _upload(at, name, data)
    _no_exception(at)
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and name in errors[0] and "was not loaded" in errors[0]
    assert at.session_state[state.IMAGE] is before  # the image stays
    # and the error goes away once a good image arrives
    _upload(at, "ok.png", _png(np.full((4, 4, 3), 9, np.uint8)))
    assert not at.sidebar.error
    assert at.session_state[state.IMAGE].label == "ok.png"


def test_big_upload_is_shrunk_to_the_working_size():
    at = _app().run()
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    _upload(at, "big.png", _png(np.zeros((1200, 900, 3), np.uint8)))
    image = at.session_state[state.IMAGE]
    assert image.pixels.shape == (state.WORKING_SIDE, 384, 3)
    assert image.original_shape == (1200, 900, 3)
    assert any("Shrunk from 900×1200" in c.value for c in at.sidebar.caption)


def test_draw_mode_shows_the_canvas_without_error():
    at = _app().run()
    at.sidebar.button_group(key=state.SOURCE).set_value("Draw").run()
    _no_exception(at)
    # until something is drawn, the previous image stays
    assert at.session_state[state.IMAGE].label == "Cat (Chelsea)"
