"""The Grad-CAM page in Chromium: a prepared link, moving through the layers, adding a method."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.e2e

# The titles of every Plotly figure on the page, read from plotly.js's own data.
TITLES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(p => ((p.layout || {}).title || {}).text || '')"""


def _titles(page: Page) -> list[str]:
    return page.evaluate(TITLES_JS)


def test_layers_and_methods_update_the_maps(page: Page, app_url, shot):
    open_app(page, app_url)  # see test_receptive_fields: the first deep link shows a modal
    open_app(page, f"{app_url}/gradcam?sample=shape_star")
    expect(page.get_by_text("Grad-CAM of “star” at relu4")).to_be_visible()
    expect(page.get_by_text("At the layer's own resolution: 8×8")).to_be_visible()
    assert_no_exception(page)
    shot("relu4")

    # Two steps towards the input on the layer slider: relu4 -> conv4 -> relu3 (16×16).
    thumb = page.get_by_test_id("stSlider").filter(has_text="Layer").get_by_role("slider")
    thumb.focus()
    for _ in range(2):
        thumb.press("ArrowLeft")
        wait_idle(page)
    expect(page.get_by_text("Grad-CAM of “star” at relu3")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("At the layer's own resolution: 16×16")).to_be_visible()
    assert "layer=relu3" in page.url
    assert_no_exception(page)
    shot("relu3")

    # Add Occlusion beside Guided Grad-CAM and Saliency.
    assert not any("Occlusion" in t for t in _titles(page))  # titles come wrapped in <b>
    methods = page.get_by_test_id("stMultiSelect").filter(has_text="Methods")
    methods.locator("input").click()
    page.keyboard.type("Occlusion")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(page.get_by_text("How much the class score drops when a grey square covers"))\
        .to_be_visible(timeout=60_000)
    assert any("Occlusion" in t for t in _titles(page))
    assert "occlusion" in page.url
    assert_no_exception(page)
    shot("occlusion")


def test_hostile_link_gives_a_notice(page: Page, app_url):
    open_app(page, f"{app_url}/gradcam?model=%3Cscript%3E&layer=nope&class=dragon")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("defaults are shown")
    assert_no_exception(page)
