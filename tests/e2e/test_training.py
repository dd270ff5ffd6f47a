"""The Training page in Chromium: a run in the background thread, polled by a fragment.

``images=512`` (a URL key with no control) trains on 512 images, so an epoch takes well under
a second on one core.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app

pytestmark = pytest.mark.e2e

TRAIN = re.compile(r"Train$")


def test_one_epoch_shows_curves_filters_and_the_trained_answer(page: Page, app_url, shot):
    open_app(page, f"{app_url}/training?epochs=1&images=512&sample=digit_7")
    expect(page.locator("h1").first).to_have_text("Training")
    page.get_by_role("button", name=TRAIN).click()
    expect(page.get_by_text(re.compile(r"Finished 1 epoch in \d+ s"))).to_be_visible(
        timeout=60_000)
    expect(page.get_by_text("Loss and accuracy, epoch by epoch")).to_be_visible()
    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(3)  # curves, filters before, filters after
    expect(charts.nth(2).locator("text.gtitle")).to_have_text("After epoch 1")
    expect(charts.nth(2).locator("g.hm")).to_have_count(16)  # 16 heatmaps drawn, one per filter
    expect(page.get_by_test_id("stMetricValue").first).to_contain_text("%")
    expect(page.get_by_text("Your trained network")).to_be_visible()
    expect(page.get_by_role("button", name=TRAIN)).to_be_enabled()
    assert_no_exception(page)
    shot("trained")


def test_stop_is_heard_while_the_network_trains(page: Page, app_url, shot):
    open_app(page, f"{app_url}/training?epochs=30&images=512")
    page.get_by_role("button", name=TRAIN).click()
    # The live view polls the thread: the epoch counter moves with no click.
    expect(page.get_by_text(re.compile(r"Epoch [3-9] of 30"))).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name=TRAIN)).to_be_disabled()
    shot("running")
    page.get_by_role("button", name=re.compile(r"Stop$")).click()
    expect(page.get_by_text(re.compile(r"Stopped after \d+ of 30 epochs"))).to_be_visible(
        timeout=15_000)
    expect(page.get_by_role("button", name=TRAIN)).to_be_enabled()
    assert_no_exception(page)
    shot("stopped")
