"""What a channel detects, in Chromium: a prepared link, the Synthesise button, its progress bar
running to the end, and the synthesised picture beside the nine MNIST patches."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.e2e

# The titles of every Plotly figure on the page, read from plotly.js's own data.
TITLES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(p => ((p.layout || {}).title || {}).text || '')"""


def test_synthesise_runs_to_the_end_and_draws_the_picture(page: Page, app_url, shot):
    open_app(page, app_url)  # see test_receptive_fields: the first deep link shows a modal
    open_app(page, f"{app_url}/channels?sample=digit_3&channel=4&steps=256")
    expect(page.get_by_role("heading", name="What a channel detects", exact=True)).to_be_visible()
    expect(page.get_by_text("The 9 digits that excite it most")).to_be_visible(timeout=60_000)
    # nothing synthesised yet (titles come wrapped in <b>)
    assert not any("conv2 · channel 4" in t for t in page.evaluate(TITLES_JS))

    page.get_by_role("button", name="Synthesise").click()
    progress = page.get_by_test_id("stProgress")
    expect(progress).to_contain_text("Done: 256 steps in", timeout=60_000)
    wait_idle(page)
    expect(page.get_by_text("The amber box is the centre unit's receptive field, 8×8 pixels"))\
        .to_be_visible(timeout=30_000)
    # the picture: a plotly figure with that title and its image drawn
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(p => "
        "(((p.layout || {}).title || {}).text || '').includes('conv2 · channel 4') && "
        "p.querySelector('image') !== null)", timeout=30_000)
    assert "channel=4" in page.url and "steps=256" in page.url
    assert_no_exception(page)
    shot("synthesised")
