"""The Receptive fields page in Chromium: click a unit of a layer's map, see its field."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cnnviz import HIGHLIGHT, load_model, unit_receptive_box
from tests.e2e.helpers import assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.e2e

# The outline (x, y through pixel edges) of the highlighted box in the figure whose title
# contains the given text (Streamlit's theme wraps titles in <b>), read from plotly.js's own
# data in the page.
BOX_JS = """([title, colour]) => {
  const plot = Array.from(document.querySelectorAll('.js-plotly-plot')).find(
      p => ((p.layout.title || {}).text || '').includes(title));
  if (!plot) return null;
  const line = plot.data.find(t => t.mode === 'lines' && t.line && t.line.color === colour);
  return line ? [Array.from(line.x), Array.from(line.y)] : null;
}"""


def _box(page: Page, title: str) -> tuple[int, int, int, int] | None:
    outline = page.evaluate(BOX_JS, [title, HIGHLIGHT])
    if outline is None:
        return None
    xs, ys = outline
    return (round(min(ys) + 0.5), round(max(ys) + 0.5), round(min(xs) + 0.5),
            round(max(xs) + 0.5))


def test_click_a_unit_of_the_map_shows_its_receptive_field(page: Page, app_url, shot):
    # A deep link as a new server's very first request makes Streamlit show a "Page not
    # found" modal over the (correctly rendered) page, which would swallow the click; open
    # the app once first, as the rest of the e2e suite does before this test.
    open_app(page, app_url)
    open_app(page, f"{app_url}/receptive_fields?model=digits&layer=conv2")
    expect(page.get_by_text("unit (7, 7)", exact=False).first).to_be_visible()
    assert_no_exception(page)
    # conv2 of the digits network is 14×14; its map is the figure titled "conv2: 14×14 ..."
    chart = page.locator(".js-plotly-plot").filter(has_text="conv2: 14×14")
    expect(chart).to_have_count(1, timeout=30_000)
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first
    box = area.bounding_box()
    assert box is not None
    y, x = 3, 10  # the unit to click: the centre of its cell in the plot area
    page.mouse.click(box["x"] + (x + 0.5) / 14 * box["width"],
                     box["y"] + (y + 0.5) / 14 * box["height"])
    wait_idle(page)
    expect(page.get_by_text(f"unit ({y}, {x})", exact=False).first).to_be_visible(
        timeout=30_000)
    expected = unit_receptive_box(load_model("digits"), "conv2", (1, 28, 28), y, x)
    page.wait_for_function(BOX_JS, arg=["Input", HIGHLIGHT], timeout=30_000)
    assert _box(page, "Input") == expected
    assert _box(page, "Effective") == expected
    assert re.search(rf"unit={y}(%2C|,){x}", page.url), page.url
    assert_no_exception(page)
    shot("clicked")
