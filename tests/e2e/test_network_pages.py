"""Overview, Feature maps and Filters in Chromium: they draw, a click opens a map, and a learned
kernel travels to the Convolution page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cnnviz import format_kernel_slices, kernel_of, load_model
from tests.e2e.helpers import assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.e2e


def _charts_drawn(page: Page, at_least: int) -> None:
    expect(page.locator(".js-plotly-plot .main-svg").nth(at_least - 1)).to_be_attached(
        timeout=30_000)


@pytest.mark.parametrize("path,title,charts", [
    ("overview?sample=digit_3", "Overview", 3),
    ("feature_maps?sample=digit_3", "Feature maps", 5),
    ("filters?sample=digit_3", "Filters", 5),
    ("overview?model=shapes&sample=shape_star", "Overview", 3),
])
def test_each_page_draws_without_an_exception(page: Page, app_url, shot, path, title, charts):
    open_app(page, f"{app_url}/{path}")
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    _charts_drawn(page, charts)
    assert_no_exception(page)
    shot(title.replace(" ", "-").lower())


def test_a_click_on_the_overview_opens_that_map(page: Page, app_url):
    open_app(page, f"{app_url}/overview?sample=digit_3")
    network = page.locator(".js-plotly-plot").first
    _charts_drawn(page, 1)
    # one scatter layer per column, in column order: the input's (its click markers and
    # the colour bar's marker), then conv1's, then relu1's
    markers = network.locator(".scatterlayer .trace").nth(3).locator("path.point")
    box = markers.nth(3).bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)  # once the hover names the map, the figure takes clicks
    expect(network.locator(".hoverlayer")).to_contain_text("relu1", timeout=20_000)
    page.mouse.click(x, y)
    wait_idle(page)
    expect(page.get_by_text("relu1, channel 3 of 16")).to_be_visible(timeout=20_000)
    assert "layer=relu1" in page.url and "channel=3" in page.url
    assert_no_exception(page)


def test_a_click_on_a_feature_map_chooses_its_channel(page: Page, app_url):
    open_app(page, f"{app_url}/feature_maps?sample=digit_3")
    _charts_drawn(page, 2)
    mosaic = page.locator(".js-plotly-plot").first  # conv1's 16 maps, 4 by 4
    box = mosaic.locator(".scatterlayer .trace").first.locator("path.point").nth(5)
    b = box.bounding_box()
    assert b is not None
    x, y = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
    page.mouse.move(x, y)  # once the hover names the map, the figure takes clicks
    expect(mosaic.locator(".hoverlayer")).to_contain_text("#5", timeout=20_000)
    page.mouse.click(x, y)
    wait_idle(page)
    expect(page.get_by_text("Before ReLU: conv1, channel 5")).to_be_visible(timeout=20_000)
    assert "channel=5" in page.url
    assert_no_exception(page)


def test_apply_the_learned_kernel_on_the_convolution_page(page: Page, app_url, shot):
    open_app(page, f"{app_url}/feature_maps?sample=digit_3&channel=4")
    button = page.get_by_role("button", name="Apply this learned kernel on the Convolution page")
    button.scroll_into_view_if_needed()
    button.click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Convolution", exact=True)).to_be_visible(
        timeout=30_000)
    assert "/convolution" in page.url and "kernel=custom" in page.url
    assert "sample=digit_3" in page.url
    kernel = format_kernel_slices(kernel_of(load_model("digits"), "conv1", 4))
    code = page.locator("code").last
    code.scroll_into_view_if_needed()
    expect(code).to_contain_text(kernel.splitlines()[0].strip())
    expect(code).to_contain_text(kernel.splitlines()[-1].strip())
    assert_no_exception(page)
    shot("convolution")
