"""Export for slides, in Chromium: every figure downloads as PNG, step-throughs as GIF."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.helpers import open_app

pytestmark = pytest.mark.e2e

PNG_BUTTON = '.modebar-btn[data-title="Download plot as a PNG"]'


def _image(download) -> Image.Image:
    with open(download.path(), "rb") as handle:
        return Image.open(io.BytesIO(handle.read()))


@pytest.mark.parametrize("path", ["convolution", "pooling", "overview?model=digits",
                                  "gradcam?model=digits&sample=digit_3", "architecture"])
def test_every_figure_downloads_as_png(page: Page, app_url, path):
    open_app(page, f"{app_url}/{path}")
    charts = page.locator(".js-plotly-plot")
    expect(charts.first).to_be_attached(timeout=30_000)
    # On a busy machine the page may still be drawing when the run looks idle: wait until
    # the number of figures holds still for a second before counting them.
    count, same_since = charts.count(), 0
    for _ in range(60):
        page.wait_for_timeout(250)
        now = charts.count()
        same_since = same_since + 1 if now == count else 0
        count = now
        if same_since >= 4:
            break
    assert count >= 1
    # Plotly's own "Download plot as a PNG" sits in every figure's toolbar
    expect(page.locator(PNG_BUTTON)).to_have_count(count)
    chart = charts.first
    chart.scroll_into_view_if_needed()
    chart.hover()
    with page.expect_download() as info:
        chart.locator(PNG_BUTTON).click()
    picture = _image(info.value)
    assert info.value.suggested_filename.endswith(".png")
    assert picture.format == "PNG" and picture.width > 100 and picture.height > 100


@pytest.mark.parametrize("path, gif", [("convolution", "conv-steps"), ("pooling", "pool-steps")])
def test_step_through_downloads_as_an_animated_gif(page: Page, app_url, path, gif):
    open_app(page, f"{app_url}/{path}")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Step-through as GIF").click()
    picture = _image(info.value)
    assert picture.format == "GIF" and picture.n_frames > 1
    with page.expect_download() as info:
        page.get_by_role("button", name="Output as PNG").click()
    assert _image(info.value).format == "PNG"
