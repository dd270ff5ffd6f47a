"""The app shell in a real browser: every page, samples, upload, drawing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

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


@pytest.mark.parametrize("info", catalog.all_pages(), ids=lambda p: p.url_path)
def test_every_page_renders(page: Page, app_url, shot, info):
    open_app(page, f"{app_url}/{info.url_path}")
    expect(page.locator("h1").first).to_be_visible()
    assert_no_exception(page)
    shot("page")


def test_pick_a_sample(page: Page, app_url, shot):
    open_app(page, app_url)
    expect(image_caption(page)).to_contain_text("Cat (Chelsea)")
    sidebar(page).get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="MNIST digit: MNIST digit 3").click()
    wait_idle(page)
    expect(image_caption(page)).to_contain_text("MNIST digit 3 · 28×28")
    expect(page).to_have_url(f"{app_url}/?sample=digit_3")
    assert_no_exception(page)
    shot("digit")


def test_sample_survives_page_changes(page: Page, app_url):
    open_app(page, f"{app_url}/?sample=coffee")
    expect(image_caption(page)).to_contain_text("Cup of coffee")
    for info in catalog.LESSON:
        page.get_by_test_id("stSidebarNav").get_by_text(info.title, exact=True).click()
        wait_idle(page)
        expect(image_caption(page)).to_contain_text("Cup of coffee")
        assert_no_exception(page)


def _png_bytes(h: int, w: int) -> bytes:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = [250, 200, 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_png_then_a_broken_file(page: Page, app_url, shot):
    open_app(page, app_url)
    choose_source(page, "Upload")
    dropzone = sidebar(page).get_by_test_id("stFileUploaderDropzoneInput")
    dropzone.set_input_files(
        files=[{"name": "square.png", "mimeType": "image/png", "buffer": _png_bytes(60, 80)}]
    )
    wait_idle(page)
    expect(image_caption(page)).to_contain_text("square.png · 80×60")
    shot("uploaded")
    dropzone.set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"not a png"}]
    )
    wait_idle(page)
    expect(sidebar(page).get_by_test_id("stAlertContentError")).to_contain_text(
        "“broken.png” was not loaded"
    )
    expect(image_caption(page)).to_contain_text("square.png · 80×60")  # the image stayed
    assert_no_exception(page)
    shot("broken")


def test_draw_on_the_canvas(page: Page, app_url, shot):
    open_app(page, app_url)
    choose_source(page, "Draw")
    canvas = sidebar(page).locator("canvas").first
    expect(canvas).to_be_visible(timeout=30_000)
    box = canvas.bounding_box()
    assert box is not None
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 15):
        page.mouse.move(x0 + i * 4, y0 + i * 12, steps=2)
    page.mouse.up()
    wait_idle(page)
    expect(image_caption(page)).to_contain_text("Your drawing · 280×280", timeout=30_000)
    assert_no_exception(page)
    page.wait_for_timeout(1500)
    shot("drawn")
