"""Hostile and broken input driven through the real app with AppTest.

- every file of ``tests/hostile_corpus.py`` uploaded through the sidebar on Home,
  Convolution, Grad-CAM and Overview: a refused file gives one plain sentence in the sidebar,
  no exception, and the previous image and the page's settings stay; an odd but valid file
  loads with the right shape, colours and orientation, and every page renders it;
- kernels with NaN, inf, text, nothing, 12×12 or ragged rows, through the Convolution
  page's URL and through its text editor;
- strides, paddings, dilations and windows of -3, 0, 10**9, 'abc' and '1e400', through the
  URLs of Convolution and Pooling, and as widget values where the widgets allow them;
- a hostile query string on every page of the catalog: a notice naming the keys, the
  defaults, no exception, and no element that echoes the hostile text.

The upload tests reuse one app session per page (a bad upload is one rerun), so the module
runs in well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from cnnviz import ImageError, fit_within, load_image
from tests import hostile_corpus as corpus
from tests.apptest import APP, TIMEOUT, markdown_text, open_page
from ui import catalog, state

PAGES = {p.url_path: p for p in catalog.all_pages()}


# --- helpers ---------------------------------------------------------------------------------


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _upload(at: AppTest, f: corpus.HostileFile) -> AppTest:
    return at.sidebar.file_uploader(key=state.UPLOAD).set_value((f.name, f.data, f.mime)).run()


def _nodes(node) -> Iterator:
    yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from _nodes(child)


def _element_bytes(at: AppTest) -> list[bytes]:
    """Every element and block of the page (main and sidebar), serialised: the raw strings
    the browser receives, whatever the element type."""
    return [node.proto.SerializeToString() for node in _nodes(at._tree)
            if getattr(node, "proto", None) is not None]


def _assert_not_echoed(at: AppTest, *texts: str) -> None:
    for blob in _element_bytes(at):
        for text in texts:
            assert text.encode() not in blob, f"the page shows {text[:40]!r}: {blob[:300]!r}"


def _query(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def _settings(at: AppTest, prefix: str) -> dict:
    """The page's widget values (session keys with its prefix), for before/after checks."""
    return {k: v for k, v in at.session_state.to_dict().items()
            if k.startswith(prefix) and isinstance(v, (str, int, float, bool, tuple, list))}


# --- the corpus itself, at the library level ----------------------------------------------------


@pytest.mark.parametrize("f", corpus.corpus(), ids=lambda f: f.about or f.name)
def test_load_image_meets_each_corpus_expectation(f):
    if f.refused:
        with pytest.raises(ImageError) as info:
            load_image(f.data)
        message = str(info.value)
        assert f.fragment in message and message.endswith("."), message
    else:
        pixels = load_image(f.data)
        assert pixels.dtype == np.uint8 and pixels.shape == f.shape
        f.check(pixels)


# --- uploads through the sidebar, page by page ----------------------------------------------------

# page url_path -> (its settings in the link, the session-key prefix of its widgets)
UPLOAD_PAGES = {
    "home": ({}, None),
    "convolution": ({"kernel": "box_blur", "stride": "2", "padding": "1", "bias": "0.5"},
                    "conv."),
    "gradcam": ({"colormap": "turbo", "alpha": "0.7", "method": "saliency"}, "gradcam."),
    "overview": ({"model": "shapes", "scale": "global"}, "overview."),
}


def _open_for_upload(url_path: str) -> tuple[AppTest, str | None]:
    query, prefix = UPLOAD_PAGES[url_path]
    at = open_page(PAGES[url_path].path, sample="coffee", **query)
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    _no_exception(at)
    return at, prefix


@pytest.mark.parametrize("url_path", list(UPLOAD_PAGES))
def test_refused_uploads_explain_and_keep_the_image_and_the_settings(url_path):
    at, prefix = _open_for_upload(url_path)
    title = at.title[0].value
    before = at.session_state[state.IMAGE]
    assert before.name == "coffee"
    settings = _settings(at, prefix) if prefix else {}
    query = _query(at)
    if prefix:
        assert settings, "the page has settings to keep"
    for f in corpus.refused():
        _upload(at, f)
        _no_exception(at)
        errors = [e.value for e in at.sidebar.error]
        assert len(errors) == 1, (f, errors)
        message = errors[0]
        assert message.startswith("“") and "was not loaded." in message, message
        assert f.fragment in message and message.endswith("."), message
        assert "Traceback" not in message and "Error" not in message, message
        image = at.session_state[state.IMAGE]
        assert image.digest == before.digest and image.name == "coffee", f
        assert at.title[0].value == title  # the page itself still renders
        if prefix:
            assert _settings(at, prefix) == settings, f
        assert _query(at) == query, f
        assert not at.main.error, [e.value for e in at.main.error]  # nothing broke the page


def test_a_file_name_is_shown_literally_never_as_markdown():
    """Streamlit escapes HTML, but would render **bold**, links, $LaTeX$ and :red[colour] in
    a file name; the sidebar escapes them (bug fixed in ui/sidebar.py)."""
    at = open_page("pages/home.py")
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    name = "# **b** [x](https://example.com) $y$ :red[z] <i> www.a.org me@b.org.png"
    escaped = (r"\# \*\*b\*\* \[x\]\(https\://example.com\) \$y\$ \:red\[z\] \<i\> "
               r"www\.a.org me\@b.org.png")
    f = corpus.by_name("one-pixel.png")
    at.sidebar.file_uploader(key=state.UPLOAD).set_value((name, b"nope", "image/png")).run()
    message = at.sidebar.error[0].value
    assert message.startswith(f"“{escaped}” was not loaded."), message
    at.sidebar.file_uploader(key=state.UPLOAD).set_value((name, f.data, f.mime)).run()
    assert at.session_state[state.IMAGE].label == name  # the label itself stays the real name
    assert not at.sidebar.error
    assert at.sidebar.get("image")[0].captions == [f"{escaped} · 1×1"]


def test_an_upload_error_goes_with_the_attempt():
    """Bug fixed in ui/sidebar.py: the error of a refused file used to stay in the sidebar
    under the Sample picker and the canvas, and after the file was removed."""
    at = open_page("pages/home.py", sample="coffee")
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    _upload(at, corpus.by_name("garbage.png"))
    assert len(at.sidebar.error) == 1
    at.sidebar.file_uploader(key=state.UPLOAD).set_value(None).run()  # the user removes it
    assert not at.sidebar.error
    _upload(at, corpus.by_name("garbage.png"))
    for source in ("Sample", "Draw", "Upload"):
        at.sidebar.button_group(key=state.SOURCE).set_value(source).run()
        _no_exception(at)
        assert not at.sidebar.error, source
        assert at.session_state[state.IMAGE].name == "coffee"


def test_a_file_over_the_upload_limit_is_refused_before_decoding(monkeypatch):
    """The browser refuses images over 20 MB (and the server anything over 200 MB, the
    weights files' limit), but AppTest (like a hand-made request) skips both: the sidebar
    checks the size again, and never decodes."""
    from ui import sidebar

    def no_decoding(data):
        raise AssertionError("a file over the limit was decoded")

    at = open_page("pages/home.py", sample="coffee")
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    monkeypatch.setattr(sidebar, "load_image", no_decoding)
    data = b"\x89PNG\r\n\x1a\n" + bytes(sidebar.UPLOAD_LIMIT_MB * 2**20)
    at.sidebar.file_uploader(key=state.UPLOAD).set_value(("big.png", data, "image/png")).run()
    _no_exception(at)
    errors = [e.value for e in at.sidebar.error]
    assert errors == [f"“big.png” is 20.0 MB; the limit is {sidebar.UPLOAD_LIMIT_MB} MB."]
    assert at.session_state[state.IMAGE].name == "coffee"


def test_odd_but_valid_uploads_load_with_the_right_shape_and_orientation():
    at, prefix = _open_for_upload("convolution")
    settings = _settings(at, prefix)
    for f in corpus.loaded():
        _upload(at, f)
        _no_exception(at)
        assert not at.sidebar.error, (f, [e.value for e in at.sidebar.error])
        image = at.session_state[state.IMAGE]
        assert image.label == f.name and image.original_shape == f.shape
        work = image.pixels
        h, w = f.shape[:2]
        if max(h, w) <= state.WORKING_SIDE:
            f.check(np.asarray(work))  # the pixels, exactly as the library decoded them
        else:
            assert work.shape == fit_within(np.zeros((h, w, 1), np.uint8),
                                            state.WORKING_SIDE).shape[:2] + (3,)
            assert max(work.shape[:2]) == state.WORKING_SIDE
            notices = [c.value for c in at.sidebar.caption]
            assert f"Shrunk from {w}×{h} to {work.shape[1]}×{work.shape[0]}" in " ".join(
                notices)
        # the page's settings survive a new image too
        assert {k: v for k, v in _settings(at, prefix).items()
                if not k.startswith(("conv.zoom", "conv.step", "conv.kernel_"))} == {
            k: v for k, v in settings.items()
            if not k.startswith(("conv.zoom", "conv.step", "conv.kernel_"))}, f
    # EXIF orientation 6: stored 60 wide and 40 high, shown 40 wide and 60 high with the red
    # block (top-left as stored) now at the top right
    _upload(at, corpus.by_name("exif-rotated.jpg"))
    rotated = at.session_state[state.IMAGE].pixels
    assert rotated.shape == (60, 40, 3)
    assert rotated[2, -3, 0] > 200 and rotated[2, -3, 2] < 60  # red
    assert rotated[2, 2, 2] > 200 and rotated[2, 2, 0] < 60  # blue, from the bottom-left
    # the 24-megapixel image keeps its marks after shrinking
    _upload(at, corpus.by_name("huge-6000x4000.png"))
    huge = at.session_state[state.IMAGE].pixels
    assert huge.shape == (341, 512, 3)
    np.testing.assert_array_equal(huge[5, 5], [255, 0, 0])
    np.testing.assert_array_equal(huge[-5, 5], [0, 0, 255])
    # and a refused file after a good upload keeps that upload
    digest = at.session_state[state.IMAGE].digest
    _upload(at, corpus.by_name("cut.jpg"))
    assert at.session_state[state.IMAGE].digest == digest and len(at.sidebar.error) == 1


@pytest.mark.parametrize("name", ["one-pixel.png", "wide-10000x3.png", "tall-3x10000.png"])
def test_every_page_renders_a_degenerate_image(name):
    """1×1, 10000×3 (shrunk to 512×1) and 3×10000: pages whose settings cannot apply say so
    in a sentence; none raises."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.button_group(key=state.SOURCE).set_value("Upload").run()
    _upload(at, corpus.by_name(name))
    assert at.session_state[state.IMAGE].label == name
    for info in catalog.all_pages():
        at.switch_page(info.path).run()
        _no_exception(at)
        assert at.title, info.url_path
        for error in at.main.error:
            assert error.value.endswith(".") and "Traceback" not in error.value, error.value
    # Convolution and Pooling cannot fit a 3×3 kernel / 2×2 window in one pixel: a sentence
    for path, words in (("pages/convolution.py", "larger than the padded input"),
                        ("pages/pooling.py", "larger than the padded input")):
        at.switch_page(path).run()
        assert any(words in e.value for e in at.main.error), path


# --- kernels ----------------------------------------------------------------------------------

BAD_KERNELS = {
    "nan": ("1 nan; 0 1", "finite"),
    "inf": ("inf 0; 0 1", "finite"),
    "huge value": ("1e400", "finite"),
    "text": ("one two; three four", "not a number"),
    "script": ("<script>alert(1)</script>", "not a number"),
    "empty": (" ; ", "empty"),
    "12x12": (";".join([" ".join(["1"] * 12)] * 12), "at most 11"),
    "ragged": ("1 2 3; 4 5", "same number of values"),
    "slices of two sizes": ("1 0; 0 1 | 1", "same size"),
    "divide by zero": ("1/0 1; 1 1", "divides by zero"),
}


@pytest.mark.parametrize("case", list(BAD_KERNELS))
def test_bad_kernel_in_the_url_falls_back_to_the_default_with_a_notice(case):
    text, _ = BAD_KERNELS[case]
    at = open_page("pages/convolution.py", kernel="custom", weights=text, stride="2")
    notices = " ".join(w.value for w in at.warning)
    assert "`weights`" in notices and "defaults are shown" in notices
    assert not at.error, [e.value for e in at.error]
    assert at.number_input(key="conv.stride_h").value == 2  # the rest of the link applies
    assert "**Output:** 149 × 225" in markdown_text(at)  # the default custom kernel, 3×3
    _assert_not_echoed(at, "alert(1)", "nan;", "one two")
    assert "weights" not in _query(at)  # the bad value is gone from the link


def test_bad_kernels_typed_in_the_editor_explain_and_keep_the_settings():
    at = open_page("pages/convolution.py", kernel="custom", stride="2", padding="1", bias="0.5")
    settings = {k: at.session_state[k] for k in ("conv.stride_h", "conv.pad_kind", "conv.pad_t",
                                                 "conv.bias", "conv.kernel")}
    for case, (text, words) in BAD_KERNELS.items():
        at.text_area(key="conv.weights").set_value(text.replace(";", "\n")).run()
        _no_exception(at)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith("This kernel cannot be used."), case
        assert words in errors[0] and errors[0].endswith("."), (case, errors)
        assert {k: at.session_state[k] for k in settings} == settings, case
        assert at.session_state[state.IMAGE].name == "cat"
    at.text_area(key="conv.weights").set_value("0 0 0\n0 1 0\n0 0 0").run()
    assert not at.error
    assert "**Output:** 150 × 226" in markdown_text(at)  # (300 + 2 - 3) // 2 + 1 = 150


# --- strides, paddings, dilations, windows ------------------------------------------------------

GEOMETRY_VALUES = ["-3", "0", str(10**9), "abc", "1e400"]


@pytest.mark.parametrize("value", GEOMETRY_VALUES)
def test_convolution_geometry_in_the_url(value):
    at = open_page("pages/convolution.py", stride=value, padding=value, dilation=value)
    notices = " ".join(w.value for w in at.warning)
    errors = [e.value for e in at.error]
    if value == "0":  # stride 0 and dilation 0 parse, padding 0 is valid: a sentence, why
        assert "`padding`" not in notices
        assert len(errors) == 1 and "a stride of 0 would never move the kernel" in errors[0]
        assert at.number_input(key="conv.stride_h").value == 0
    else:
        for key in ("stride", "padding", "dilation"):
            assert f"`{key}`" in notices, (key, notices)
        assert not errors
        assert at.number_input(key="conv.stride_h").value == 1
        assert at.selectbox(key="conv.pad_kind").value == "valid"
        assert at.number_input(key="conv.dil_h").value == 1
        assert "**Output:** 298 × 449" in markdown_text(at)


@pytest.mark.parametrize("value", GEOMETRY_VALUES)
def test_pooling_geometry_in_the_url(value):
    at = open_page("pages/pooling.py", stride=value, padding=value, size=value)
    notices = " ".join(w.value for w in at.warning)
    errors = [e.value for e in at.error]
    assert "`size`" in notices  # no window of 0 or less, or of a billion pixels
    assert at.number_input(key="pool.size_h").value == 2
    if value == "0":  # stride 0 parses (the widget allows it), padding 0 is the default
        assert len(errors) == 1 and "Stride" in errors[0] and "at least 1" in errors[0]
    else:
        assert "`stride`" in notices and "`padding`" in notices
        assert not errors
        assert at.toggle(key="pool.same_stride").value is True


def test_zero_stride_and_dilation_as_widget_values_get_a_sentence():
    at = open_page("pages/convolution.py", kernel="sharpen", padding="1")
    for key, words in (("conv.stride_w", "a stride of 0 would never move the kernel"),
                       ("conv.dil_h", "Dilation (height) must be at least 1")):
        at.number_input(key=key).set_value(0).run()
        _no_exception(at)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and words in errors[0], errors
        assert "Formula:" in markdown_text(at)  # the formula and what went in stay shown
        assert at.selectbox(key="conv.kernel").value == "sharpen"
        at.number_input(key=key).set_value(1).run()
        assert not at.error
        assert "**Output:** 300 × 451" in markdown_text(at)  # 3×3, padding 1: same size


def test_zero_pooling_stride_as_a_widget_value_gets_a_sentence():
    at = open_page("pages/pooling.py", size="3")
    at.toggle(key="pool.same_stride").set_value(False).run()
    at.number_input(key="pool.stride_h").set_value(0).run()
    _no_exception(at)
    assert len(at.error) == 1 and "at least 1" in at.error[0].value
    assert at.number_input(key="pool.size_h").value == 3
    at.number_input(key="pool.stride_h").set_value(2).run()
    assert not at.error


# --- a hostile query string on every page -------------------------------------------------------

SCRIPT = corpus.SCRIPT
LONG = corpus.LONG
NEVER_VALID = corpus.NEVER_VALID
#: a second run gives the keys these in turn ("-3" and "" are valid for a few keys)
ROTATION = ["../../x", "-3", "\x00", LONG, "1e400", "", "nan", "abc", "%00", "1;2|3"]
url_keys = corpus.url_keys


@contextmanager
def keys_read() -> Iterator[set[str]]:
    """Record every query key the app reads (``st.query_params.get``, ``in`` and ``[]`` all
    go through ``__getitem__``)."""
    from streamlit.runtime.state.query_params_proxy import QueryParamsProxy

    seen: set[str] = set()
    original = QueryParamsProxy.__getitem__

    def getitem(self, key):
        seen.add(key)
        return original(self, key)

    QueryParamsProxy.__getitem__ = getitem
    try:
        yield seen
    finally:
        QueryParamsProxy.__getitem__ = original


def _open_hostile(info: catalog.PageInfo, query: dict[str, str]) -> tuple[AppTest, set[str]]:
    """One run straight onto the page, as a link opens it (the sidebar's notice about
    ``sample`` is shown on the first run only)."""
    with keys_read() as seen:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        for key, value in query.items():
            at.query_params[key] = value
        at.switch_page(info.path).run()
    _no_exception(at)
    return at, seen


def _notices(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


@pytest.fixture(scope="module")
def shell_keys() -> set[str]:
    """The keys the app shell (``app.py``: the sidebar and what else it draws on every page)
    reads, found by opening Home with an empty query."""
    _, seen = _open_hostile(catalog.HOME, {})
    assert "sample" in seen
    return seen


@pytest.mark.parametrize("info", catalog.all_pages(), ids=lambda p: p.url_path)
def test_hostile_query_on_every_page(info, shell_keys):
    page_keys = url_keys(info) - {"sample"}  # the page's own UrlParams: each gets a notice
    keys = page_keys | shell_keys
    # 1. every key holds a script tag
    at, seen = _open_hostile(info, dict.fromkeys(keys, SCRIPT))
    assert seen <= keys, f"the page reads keys the test does not know: {seen - keys}"
    assert seen == keys, f"keys declared but never read: {keys - seen}"
    notices = _notices(at)
    assert "does not exist, so the default image is shown" in notices  # `sample`
    for key in page_keys:
        assert f"`{key}`" in notices, (key, notices)
    assert at.session_state[state.IMAGE].name == "cat"
    _assert_not_echoed(at, SCRIPT, "alert(1)")
    left = _query(at)  # the page's own keys and `sample` leave the link
    assert not [k for k in page_keys | {"sample"} if SCRIPT in left.get(k, "")], left
    assert at.title

    # 2. the keys take the other hostile values in turn
    ordered = sorted(keys)
    query = {k: ROTATION[i % len(ROTATION)] for i, k in enumerate(ordered)}
    at, _ = _open_hostile(info, query)
    notices = _notices(at)
    assert notices, "a notice says the link was not used"
    for key, value in query.items():
        if value in NEVER_VALID and key in page_keys:
            assert f"`{key}`" in notices, (key, value, notices)
    _assert_not_echoed(at, "../../x", LONG)
    left = _query(at)
    assert not [k for k in page_keys | {"sample"} if left.get(k) in ("../../x", LONG)], left
