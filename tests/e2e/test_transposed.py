"""The Transposed convolution page in Chromium: step the stamps, then the same numbers as a
convolution."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app, wait_idle
from tests.e2e.test_convolution import _current_step

pytestmark = pytest.mark.e2e


def test_the_stamps_step_and_the_convolution_view_agrees(page: Page, app_url, shot):
    open_app(page, f"{app_url}/transposed?sample=classic_5x5&side=3&stride=2&padding=1"
             "&out_pad=1")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text(re.compile(r"Output: 6 × 6 × 1"))).to_be_visible()
    assert_no_exception(page)
    figure = main.get_by_role("figure", name=re.compile("^Transposed convolution as stamps, "
                                                        "stamp 1 of 9"))
    expect(figure).to_be_attached()
    main.get_by_test_id("stNumberInput").filter(has_text="Step (1–9)").get_by_role(
        "button", name="Increment").click()  # the step box's +
    wait_idle(page)
    expect(main.get_by_role("figure", name=re.compile("stamp 2 of 9: Stamp 2: in\\[0, 1\\]"))
           ).to_be_attached()
    assert _current_step(page).startswith("Step 2 ·")
    main.locator(".js-plotly-plot").filter(has=page.locator(".slider-container")) \
        .scroll_into_view_if_needed()
    shot("stamps")
    main.get_by_text(re.compile("^As a convolution")).click()
    wait_idle(page)
    expect(main.get_by_role("figure", name=re.compile("as a convolution of the stretched"))
           ).to_be_attached()
    assert_no_exception(page)
    assert "view=conv" in page.url
    main.locator(".js-plotly-plot").filter(has=page.locator(".slider-container")) \
        .scroll_into_view_if_needed()
    shot("as-conv")
