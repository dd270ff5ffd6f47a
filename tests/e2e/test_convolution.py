"""The Convolution page in Chromium: a prepared link, the output size, playback in the browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app

pytestmark = pytest.mark.e2e


def _current_step(page: Page) -> str:
    """The slider's current-value text ("Step 3 · out[71, 111]"), drawn by Plotly in SVG."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot text'))
                 .map(t => t.textContent).find(t => t.startsWith('Step ')) || ''"""
    )


def test_prepared_link_output_size_and_play(page: Page, app_url, shot):
    open_app(page, f"{app_url}/convolution?kernel=sobel_x&stride=2&padding=1")
    # The cat is 300×451: floor((300 + 2 - 2 - 1) / 2) + 1 = 150, floor((451 + 2 - 2 - 1) / 2) + 1 = 226
    expect(page.get_by_text("150 × 226")).to_be_visible()
    expect(page.get_by_text("⌊(300 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1 = 150")).to_be_visible()
    assert_no_exception(page)
    steps = page.locator(".js-plotly-plot").filter(has=page.locator(".slider-container"))
    expect(steps).to_have_count(1, timeout=30_000)
    steps.scroll_into_view_if_needed()
    first = _current_step(page)
    assert first.startswith("Step 1 ·"), first
    shot("before-play")
    steps.get_by_text("▶ Play").click()
    page.wait_for_timeout(2500)  # 600 ms a step: a few steps play, with no server rerun
    after = _current_step(page)
    assert after != first and after.startswith("Step "), after
    shot("after-play")


def test_hostile_link_gives_a_notice(page: Page, app_url):
    open_app(page, f"{app_url}/convolution?kernel=%3Cscript%3Ealert(1)%3C/script%3E&stride=-3")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("defaults are shown")
    assert_no_exception(page)


def test_stride_zero_explains(page: Page, app_url):
    open_app(page, f"{app_url}/convolution?stride=0")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("a stride of 0")
    assert_no_exception(page)


def test_edit_a_custom_kernel_in_the_grid(page: Page, app_url, shot):
    open_app(page, f"{app_url}/convolution?sample=classic_5x5&kernel=custom"
                   "&weights=1,0,-1;2,0,-2;1,0,-1")
    grid = page.get_by_test_id("stDataFrame").first.locator("canvas").first
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box is not None
    # the middle column of the first row: a 35 px header, then 35 px rows
    page.mouse.dblclick(box["x"] + box["width"] * 0.5, box["y"] + 35 + 17)
    page.wait_for_timeout(300)
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    expect(page.locator("code").last).to_contain_text("1,  7, -1", timeout=20_000)
    assert_no_exception(page)
    shot("edited")
