"""The Pooling page in Chromium: the classic 4×4 example and playback."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app
from tests.e2e.test_convolution import _current_step

pytestmark = pytest.mark.e2e


def test_classic_max_pooling_and_play(page: Page, app_url, shot):
    open_app(page, f"{app_url}/pooling?sample=pooling_4x4")
    expect(page.get_by_text("2 × 2 × 1").first).to_be_visible()
    expect(page.get_by_text("Parameters added: 0").first).to_be_visible()
    assert_no_exception(page)
    steps = page.locator(".js-plotly-plot").filter(has=page.locator(".slider-container"))
    expect(steps).to_have_count(1, timeout=30_000)
    steps.scroll_into_view_if_needed()
    assert _current_step(page).startswith("Step 1 ·")
    steps.get_by_text("▶ Play").click()
    page.wait_for_timeout(2000)
    assert not _current_step(page).startswith("Step 1 ·")
    shot("played")


def test_average_and_global(page: Page, app_url, shot):
    open_app(page, f"{app_url}/pooling?kind=avg&size=3&stride=3")
    assert_no_exception(page)
    open_app(page, f"{app_url}/pooling?kind=global")
    expect(page.get_by_text("H×W×C into 1×1×C")).to_be_visible()
    assert_no_exception(page)
    shot("global")
