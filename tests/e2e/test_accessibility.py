"""WCAG 2.1 A and AA in Chromium (axe-core): no critical or serious violation on any page,
nor in the main states: after a step, in presenter mode, with an upload refused, after
training on Your own classes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    assert_no_exception,
    axe_violations,
    choose_source,
    open_app,
    sidebar,
    wait_idle,
)
from ui import catalog

pytestmark = pytest.mark.e2e

WAIT = 90_000


@pytest.mark.parametrize("present", [False, True], ids=["default", "presenter"])
@pytest.mark.parametrize("info", catalog.all_pages(), ids=lambda p: p.url_path)
def test_no_serious_violation_on_any_page(page: Page, app_url, info, present):
    open_app(page, f"{app_url}/{info.url_path}" + ("?present=1" if present else ""))
    expect(page.locator("h1").first).to_be_attached()
    assert_no_exception(page)
    assert axe_violations(page) == []


def test_no_serious_violation_after_a_step_and_a_refused_upload(page: Page, app_url):
    open_app(page, f"{app_url}/convolution?kernel=sobel_x&step=3")
    page.get_by_test_id("stMain").get_by_role("button", name="Increment").first.click()
    wait_idle(page)
    assert axe_violations(page) == []
    choose_source(page, "Upload")
    sidebar(page).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"not a png"}])
    wait_idle(page)
    expect(sidebar(page).get_by_text(re.compile("“broken.png” was not loaded"))).to_be_visible(
        timeout=WAIT)
    assert axe_violations(page) == []


def test_no_serious_violation_on_your_own_classes_after_training(page: Page, app_url):
    open_app(page, f"{app_url}/own_classes")
    main = page.get_by_test_id("stMain")
    main.get_by_text("Start from a ready-made set").click()
    main.get_by_role("button", name="Use this set (replaces your classes)").click()
    wait_idle(page)
    main.get_by_role("button", name="Train", exact=True).click()
    expect(main.get_by_test_id("stMetricValue")).to_have_count(2, timeout=WAIT)
    expect(main.get_by_test_id("stMetricValue").nth(1)).to_have_text(re.compile(r"%$"),
                                                                     timeout=WAIT)
    wait_idle(page, WAIT)
    assert axe_violations(page) == []
