"""How a layer learns, in Chromium: take a gradient step and watch the loss fall."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.e2e


def _loss(page: Page) -> float:
    metric = page.get_by_test_id("stMetric").filter(has_text="Loss L")
    return float(metric.get_by_test_id("stMetricValue").inner_text().replace("−", "-"))


def test_one_gradient_step_lowers_the_loss(page: Page, app_url, shot):
    open_app(page, f"{app_url}/backprop")
    main = page.get_by_test_id("stMain")
    assert_no_exception(page)
    before = _loss(page)
    main.get_by_role("button", name="Take one step").click()
    wait_idle(page)
    expect(main.get_by_text("After 1 step of gradient descent")).to_be_visible()
    assert _loss(page) < before
    assert "descent=1" in page.url
    expect(main.get_by_role("figure", name=re.compile("^Line chart: the loss over 1 steps"))
           ).to_be_attached()
    main.get_by_role("figure", name=re.compile("^The weight gradient")) \
        .scroll_into_view_if_needed()
    shot("after-a-step")
    assert_no_exception(page)
