"""Hostile input in Chromium: broken files through the real uploader, and a hostile query
string on every page of the catalog.

One browser page serves the whole module (each ``goto`` is a fresh app session anyway). A
listener records every JavaScript dialog: an ``alert`` from an injected script or an
``onerror`` handler would land there.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests import hostile_corpus as corpus
from tests.e2e.helpers import (
    assert_no_exception,
    choose_source,
    image_caption,
    open_app,
    sidebar,
    wait_idle,
)
from ui import catalog

pytestmark = pytest.mark.e2e

#: an injected script or element would set this global or open a dialog
PWNED = "<script>window.cnnvizPwned=1;alert('script')</script>"
IMG = "\"'><img src=x onerror=\"window.cnnvizPwned=1;alert('img')\">"
#: the values the keys of a page take in turn; none is valid for any key
PAYLOADS = [PWNED, IMG, "../../x", "\x00", "1e400", "nan", corpus.LONG[:1000]]
WAIT = 30_000  # ms: a rerun can take seconds on a busy 2-core machine


@pytest.fixture(scope="module")
def tab(browser, browser_context_args):
    """One page for the module, with every dialog recorded (and dismissed)."""
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def _not_injected(page: Page) -> None:
    assert page.dialogs == [], page.dialogs  # type: ignore[attr-defined]
    assert page.evaluate("typeof window.cnnvizPwned") == "undefined"
    expect(page.locator('img[src="x"]')).to_have_count(0)


@pytest.mark.parametrize("info", catalog.all_pages(), ids=lambda p: p.url_path)
def test_hostile_query_on_every_page(tab: Page, app_url, info):
    keys = sorted(corpus.url_keys(info))
    query = {key: PAYLOADS[i % len(PAYLOADS)] for i, key in enumerate(keys)}
    open_app(tab, f"{app_url}/{info.url_path}?{urlencode(query)}")
    assert_no_exception(tab)
    # the sidebar says the sample does not exist; the page names each of its own keys
    expect(sidebar(tab).get_by_test_id("stAlertContentWarning")).to_contain_text(
        "does not exist", timeout=WAIT)
    expect(image_caption(tab)).to_contain_text("Cat (Chelsea)", timeout=WAIT)
    page_keys = [k for k in keys if k != "sample"]
    if page_keys:
        notice = tab.get_by_test_id("stMain").get_by_test_id("stAlertContentWarning")
        expect(notice.first).to_contain_text("defaults are shown", timeout=WAIT)
        text = " ".join(notice.all_inner_texts())
        missing = [k for k in page_keys if not re.search(rf"\b{re.escape(k)}\b", text)]
        assert not missing, (missing, text)
    _not_injected(tab)
    body = tab.locator("body").inner_text()
    assert "cnnvizPwned" not in body and "../../x" not in body  # never echoed, even as text
    # the page's own keys leave the address bar once the defaults are shown
    assert "cnnvizPwned" not in tab.url and "..%2F..%2Fx" not in tab.url, tab.url


BAD_UPLOADS = ["garbage.png", "cut.jpg", "logo.png", "bomb-20000.png",
               "<img src=x onerror=alert(1)>.png"]


def test_broken_uploads_explain_and_keep_the_previous_image(tab: Page, app_url):
    # a 28×28 digit keeps each Convolution rerun short
    open_app(tab, f"{app_url}/convolution?sample=digit_3&stride=2")
    choose_source(tab, "Upload")
    dropzone = sidebar(tab).get_by_test_id("stFileUploaderDropzoneInput")
    caption = "MNIST digit 3 · 28×28"
    expect(image_caption(tab)).to_contain_text(caption, timeout=WAIT)
    for name in BAD_UPLOADS:
        f = corpus.by_name(name)
        dropzone.set_input_files(files=[{"name": f.name, "mimeType": f.mime, "buffer": f.data}])
        wait_idle(tab)
        error = sidebar(tab).get_by_test_id("stAlertContentError")
        expect(error).to_contain_text(f"“{f.name}” was not loaded",  # the name, literally
                                      timeout=WAIT)
        expect(error).to_contain_text(f.fragment)
        expect(image_caption(tab)).to_contain_text(caption)  # the previous image stays
        assert_no_exception(tab)
    # a good file replaces the image and clears the error; a bad one then keeps it
    good = corpus.by_name("exif-rotated.jpg")
    markdown_name = "# **bold** [link](https://example.com) $x$ :red[z] www.example.com.jpg"
    dropzone.set_input_files(
        files=[{"name": markdown_name, "mimeType": good.mime, "buffer": good.data}])
    wait_idle(tab)
    expect(image_caption(tab)).to_have_text(f"{markdown_name} · 40×60",  # shown literally
                                            timeout=WAIT)
    expect(sidebar(tab).get_by_test_id("stAlertContentError")).to_have_count(0)
    dropzone.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain",
                                     "buffer": b"not an image"}])
    wait_idle(tab)
    expect(image_caption(tab)).to_have_text(f"{markdown_name} · 40×60")
    # the page kept its settings through all of it
    expect(tab.get_by_label("Stride ↓ (rows)")).to_have_value("2")
    assert "stride=2" in tab.url
    assert_no_exception(tab)
    _not_injected(tab)
