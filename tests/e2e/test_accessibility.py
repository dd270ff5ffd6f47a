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
    unnamed_figures,
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
    assert unnamed_figures(page) == []


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
    expect(main.get_by_role("figure", name=re.compile("Confusion matrix of the new head on "
                                                       r"the held-out images: \d+ of \d+ right"))
           ).to_be_attached()
    assert unnamed_figures(page) == []


def _focused_label(page: Page) -> str:
    """The accessible name of the focused element (its aria-label, or its label's text)."""
    return page.evaluate("""() => {
        const e = document.activeElement;
        if (!e) return "";
        const byId = e.id ? document.querySelector(`label[for="${e.id}"]`) : null;
        return (e.getAttribute("aria-label") || (byId && byId.innerText) ||
                (e.labels && e.labels[0] && e.labels[0].innerText) || e.innerText || "").trim();
    }""")


def test_the_convolution_page_works_from_the_keyboard_alone(page: Page, app_url):
    """Tab to the stride box, type a new stride and press Enter, then Tab on to the padding
    picker: no mouse. Each focused control shows a visible focus ring."""
    open_app(page, f"{app_url}/convolution")
    page.locator("h1").first.focus()  # start from the page, not the browser's address bar
    seen = []
    for _ in range(80):
        page.keyboard.press("Tab")
        label = _focused_label(page)
        seen.append(label)
        if label.startswith("Stride ↓ (rows)"):
            break
    else:
        pytest.fail(f"Tab never reached the stride box: {seen}")
    look = """() => { const e = window.__cnnvizFocused; const out = [];
        for (let n = e, i = 0; n && i < 4; n = n.parentElement, i++) {
            const s = getComputedStyle(n);
            out.push([s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow,
                      s.borderColor].join(" "));
        }
        return out.join(" | "); }"""
    page.evaluate("() => { window.__cnnvizFocused = document.activeElement; }")
    page.wait_for_timeout(600)  # the ring fades in (a CSS transition): read it once it is on
    focused = page.evaluate(look)
    page.evaluate("() => window.__cnnvizFocused.blur()")
    page.wait_for_timeout(600)
    assert page.evaluate(look) != focused, "no visible focus ring on the stride box"
    page.evaluate("() => window.__cnnvizFocused.focus()")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(page.get_by_label("Stride ↓ (rows)")).to_have_value("2", timeout=WAIT)
    expect(page).to_have_url(re.compile(r"stride=2(%2C|,)1"), timeout=WAIT)
    # and on: Tab moves past the other controls to the padding picker, which opens with
    # the arrow keys and takes a choice with Enter
    for _ in range(10):
        page.keyboard.press("Tab")
        if _focused_label(page).startswith("Padding"):
            break
    else:
        pytest.fail("Tab never reached the padding picker")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"padding="), timeout=WAIT)
    assert_no_exception(page)


def test_reduced_motion_gets_steps_and_nothing_that_plays_by_itself(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  reduced_motion="reduce")
    try:
        page = context.new_page()
        open_app(page, f"{app_url}/convolution?kernel=sobel_x")
        figure = page.locator(".js-plotly-plot").filter(
            has=page.locator(".slider-container")).first
        expect(figure).to_be_attached(timeout=WAIT)
        motion = figure.evaluate("""gd => ({
            slider: gd.layout.sliders[0].transition.duration,
            play: gd.layout.updatemenus[0].buttons[0].args[1].transition.duration,
            steps: gd.layout.sliders[0].steps[1].args[1].transition.duration,
            active: gd.layout.sliders[0].active})""")
        assert motion["slider"] == motion["play"] == motion["steps"] == 0, motion
        start = motion["active"]
        page.wait_for_timeout(1500)
        assert figure.evaluate("gd => gd.layout.sliders[0].active") == start  # no autoplay
        button = page.get_by_test_id("stSidebar").get_by_role("button").first
        duration = button.evaluate("b => getComputedStyle(b).transitionDuration")
        assert all(float(d.rstrip("ms")) <= 0.01 for d in duration.split(",")), duration
        assert_no_exception(page)
    finally:
        context.close()


@pytest.mark.parametrize("info", catalog.all_pages(), ids=lambda p: p.url_path)
def test_every_page_fits_a_phone_without_sideways_scrolling(browser, app_url, info):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        open_app(page, f"{app_url}/{info.url_path}")
        expect(page.locator("h1").first).to_be_attached()
        widths = page.evaluate("""() => {
            const doc = document.scrollingElement || document.documentElement;
            const main = document.querySelector('[data-testid="stMain"]');
            return {page: [doc.scrollWidth, doc.clientWidth],
                    main: main ? [main.scrollWidth, main.clientWidth] : [0, 0]}; }""")
        for where, (scroll, client) in widths.items():
            assert scroll <= client + 1, (where, scroll, client)
        assert_no_exception(page)
    finally:
        context.close()


_GEOMETRY = """gd => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom]; };
  return {titles: [...gd.querySelectorAll('g.annotation')].map(a => [a.textContent, box(a)]),
          areas: [...gd.querySelectorAll('rect.nsewdrag')].map(box),
          labels: [...gd.querySelectorAll('g.heatmap-label text')]
                    .filter(t => t.textContent).map(t => [t.textContent, box(t)])};
}"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("query", ["kernel=sobel_x&gray=0", "kernel=sobel_x&gray=0&present=1",
                                   "kernel=gaussian_blur&gray=0", "kernel=custom&gray=1&"
                                   "weights=1,2,3,4,5,6,7;1,2,3,4,5,6,7;1,2,3,4,5,6,7;"
                                   "1,2,3,4,5,6,7;1,2,3,4,5,6,7;1,2,3,4,5,6,7;1,2,3,4,5,6,7"],
                         ids=["rgb-3x3", "rgb-3x3-presenter", "rgb-5x5", "grey-7x7"])
def test_the_step_through_reads_cleanly(page: Page, app_url, query):
    """No subplot title touches a plot, and every number written in a cell stays inside
    its plot and clear of its neighbours (it used to run over the output cell's edge)."""
    open_app(page, f"{app_url}/convolution?{query}")
    figure = page.locator(".js-plotly-plot").filter(
        has=page.locator(".slider-container")).first
    expect(figure).to_be_attached(timeout=WAIT)
    page.wait_for_timeout(300)
    found = figure.evaluate(_GEOMETRY)
    assert found["titles"] and (found["labels"] or "7,7" in query), found
    for title, box in found["titles"]:
        touching = [a for a in found["areas"] if _overlap(box, a)]
        assert not touching, (title, box, touching)
    rows: dict[float, list] = {}
    for text, box in found["labels"]:
        inside = [a for a in found["areas"]
                  if a[0] - 1 <= box[0] and box[2] <= a[2] + 1 and a[1] <= box[1] <= a[3]]
        assert inside, (text, box, found["areas"])
        rows.setdefault((round(box[1]), inside[0][0]), []).append(box)
    for boxes in rows.values():
        boxes.sort()
        for left, right in zip(boxes, boxes[1:], strict=False):
            assert left[2] <= right[0] + 0.5, (left, right)  # neighbours never run together
