"""Presenter mode in Chromium: the link, the switch, the keyboard stepping, "copy link"."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import assert_no_exception, open_app, sidebar, wait_idle

pytestmark = pytest.mark.e2e


def _step_text(page: Page) -> str:
    """The step-through slider's current value ("Step 3 · out[145, 222]"), drawn in SVG."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot text'))
                 .map(t => t.textContent).find(t => t.startsWith('Step ')) || ''"""
    )


def _step_number(page: Page) -> int:
    return int(_step_text(page).split()[1])


def _expect_font(page: Page, px: int) -> None:
    """Presenter mode sets the root font size (Streamlit sizes text in rem)."""
    expect(page.locator("html")).to_have_css("font-size", f"{px}px")


def _wait_for_steps(page: Page) -> None:
    steps = page.locator(".js-plotly-plot").filter(has=page.locator(".slider-container"))
    expect(steps).to_have_count(1, timeout=30_000)
    steps.scroll_into_view_if_needed()
    page.mouse.click(5, 300)  # focus the page, not a widget: keys typed in a box are left alone


def test_a_presenter_link_and_the_keyboard(page: Page, app_url, shot):
    open_app(page, f"{app_url}/convolution?present=1&kernel=laplacian")
    _expect_font(page, 22)
    # the link opens with the sidebar shut, so the figures get the whole projector
    expect(sidebar(page)).to_have_attribute("data-collapsed", "true")
    assert_no_exception(page)
    _wait_for_steps(page)
    assert _step_number(page) == 1
    for _ in range(3):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(150)
    assert _step_number(page) == 4, _step_text(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(150)
    assert _step_number(page) == 3
    shot("stepped")
    # space plays in the browser (no rerun), space again pauses
    page.keyboard.press(" ")
    page.wait_for_timeout(2000)
    playing = _step_number(page)
    assert playing > 3
    page.keyboard.press(" ")
    page.wait_for_timeout(200)
    paused = _step_number(page)
    page.wait_for_timeout(1500)
    assert _step_number(page) == paused
    # a key typed into a number box changes the box, not the animation
    box = page.get_by_label("Stride ↓ (rows)")
    box.click()
    box.press("ArrowRight")
    page.wait_for_timeout(150)
    assert _step_number(page) == paused
    assert "present=1" in page.url and "kernel=laplacian" in page.url


def test_the_switch_lasts_across_pages(page: Page, app_url):
    open_app(page, f"{app_url}/")
    _expect_font(page, 16)
    sidebar(page).get_by_text("Presenter mode").click()
    wait_idle(page)
    _expect_font(page, 22)
    assert parse_qs(urlparse(page.url).query).get("present") == ["1"]
    # the sidebar folds away for the projector; the lesson list on Home leads on
    expect(sidebar(page)).to_have_attribute("data-collapsed", "true")
    page.get_by_test_id("stMain").get_by_role("link", name="Pooling").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Pooling").first).to_be_visible()
    _expect_font(page, 22)
    assert "present=1" in page.url
    page.get_by_test_id("stExpandSidebarButton").click()
    sidebar(page).get_by_text("Presenter mode").click()
    wait_idle(page)
    _expect_font(page, 16)
    assert "present" not in page.url
    assert_no_exception(page)


def test_copy_link_reopens_the_same_view(browser: Browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    open_app(page, f"{app_url}/pooling?kind=avg&size=3&sample=coffee")
    sidebar(page).get_by_role("button", name="Copy link to this view").click()
    expect(sidebar(page).get_by_text("Link copied ✓")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.url
    query = parse_qs(urlparse(copied).query)
    assert query["kind"] == ["avg"] and query["size"] == ["3"] and query["sample"] == ["coffee"]
    context.close()

    # a student opens it in a browser of their own: the same page, image and settings
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = other.new_page()
    open_app(page, copied)
    expect(page.get_by_role("heading", name="Pooling").first).to_be_visible()
    expect(sidebar(page).get_by_test_id("stImageCaption")).to_contain_text("Cup of coffee")
    assert parse_qs(urlparse(page.url).query) == query
    assert_no_exception(page)
    other.close()
