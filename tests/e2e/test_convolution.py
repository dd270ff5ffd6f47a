"""The Convolution page in Chromium: a prepared link, the output size, playback in the browser."""

from __future__ import annotations

import re

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
    # The cat is 300×451: floor((300 + 2 - 2 - 1) / 2) + 1 = 150,
    # floor((451 + 2 - 2 - 1) / 2) + 1 = 226
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
    cell = page.get_by_label("Kernel weight, row 1, column 2")
    expect(cell).to_have_value("0")
    cell.click()
    page.keyboard.type("7")
    page.keyboard.press("Enter")  # commits, and moves to the cell below
    expect(page.locator("code").last).to_contain_text("1,  7, -1", timeout=20_000)
    expect(page.get_by_label("Kernel weight, row 2, column 2")).to_be_focused()
    # a fraction is a number; the grid shows its value
    below = page.get_by_label("Kernel weight, row 2, column 2")
    below.fill("1/4")
    below.press("Tab")
    expect(page.locator("code").last).to_contain_text("0.25", timeout=20_000)
    expect(below).to_have_value("0.25")
    # text that is not a number is refused in the browser and changes nothing
    corner = page.get_by_label("Kernel weight, row 3, column 3")
    corner.fill("nope")
    corner.press("Enter")
    expect(corner).to_have_class(re.compile("bad"))
    page.wait_for_timeout(500)
    expect(page.locator("code").last).to_contain_text("1,  0, -1", timeout=5_000)
    corner.fill("3")  # a number again: the outline and the warning go
    corner.press("Enter")
    expect(corner).not_to_have_class(re.compile("bad"))
    expect(corner).to_have_attribute("title", "row 3, column 3")
    assert_no_exception(page)
    shot("edited")


def test_grid_keeps_the_keyboard_shortcuts_out(page: Page, app_url):
    """Arrow keys in a kernel cell move between cells; they do not step the animation."""
    open_app(page, f"{app_url}/convolution?sample=classic_5x5&kernel=custom"
                   "&weights=1,0,-1;2,0,-2;1,0,-1")
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot text')]
                                .some(t => t.textContent.startsWith('Step '))""")
    before = _current_step(page)
    assert before.startswith("Step 1 ·"), before
    cell = page.get_by_label("Kernel weight, row 1, column 1")
    cell.click()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Kernel weight, row 2, column 1")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert _current_step(page) == before
