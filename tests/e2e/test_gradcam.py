"""The Grad-CAM page in Chromium: a prepared link, moving through the layers, adding a method."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, image_caption, open_app, sidebar, wait_idle

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


# The images inside Plotly figures (the overlays are layout images or image traces).
IMAGES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).reduce((n, p) =>
    n + (p.data || []).filter(t => t.type === 'image').length
      + ((p.layout || {}).images || []).length, 0)"""


def test_the_cat_photo_opens_on_efficientnet_and_explains_a_cat(page: Page, app_url, shot):
    open_app(page, f"{app_url}/?sample=coffee")
    sidebar(page).get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Photo: Cat (Chelsea)").click()
    wait_idle(page)
    expect(image_caption(page)).to_contain_text("Cat (Chelsea)")
    page.get_by_test_id("stSidebarNav").get_by_text("Grad-CAM", exact=True).click()
    wait_idle(page)
    # the network that fits a photograph, its top class a cat, at its recommended layer
    expect(page.get_by_text(re.compile(r"Grad-CAM of “(tiger cat|Egyptian cat|tabby)” at head")))\
        .to_be_visible(timeout=60_000)
    model = page.locator('[class~="st-key-gradcam-model"] input')
    expect(model).to_have_value(re.compile(r"^efficientnet_lite0: "))
    wait_idle(page)
    # the overlay and the other methods' maps, once Plotly has drawn them
    page.wait_for_function(f"() => ({IMAGES_JS})() >= 2", timeout=60_000)
    assert_no_exception(page)
    shot("efficientnet-cat")
