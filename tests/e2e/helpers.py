"""Small actions on a Streamlit page in Playwright, shared by the e2e tests."""

from __future__ import annotations

from playwright.sync_api import Page, expect

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until the script has finished its rerun."""
    page.wait_for_timeout(150)  # let a rerun that was just triggered start
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_timeout(100)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    # attached, not visible: presenter links open with the sidebar folded away
    page.wait_for_selector('[data-testid="stSidebar"]', timeout=60_000, state="attached")
    wait_idle(page)


def assert_no_exception(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def sidebar(page: Page):
    return page.get_by_test_id("stSidebar")


def choose_source(page: Page, source: str) -> None:
    sidebar(page).get_by_role("radio", name=source, exact=True).click()
    wait_idle(page)


def image_caption(page: Page):
    return sidebar(page).get_by_test_id("stImageCaption")


#: The axe-core rules the app answers to: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def unnamed_figures(page: Page) -> list[str]:
    """The Plotly charts on the page without an accessible name (their role=figure element's
    aria-label, which a screen reader announces): the first words of each, empty when
    every chart has one."""
    wait_idle(page)
    return page.get_by_test_id("stPlotlyChart").evaluate_all(
        "els => els.filter(e => !(e.getAttribute('aria-label') || '').trim())"
        ".map(e => e.outerHTML.slice(0, 80))")


def axe_violations(page: Page, impacts: tuple[str, ...] = ("critical", "serious"), *,
                   every_node: bool = False) -> list:
    """axe-core's violations on the page as it is now (the engine from the PyPI package
    axe-playwright-python), of the given impacts: (rule, impact, elements: the first three,
    or all of them with ``every_node``)."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                     "resultTypes": ["violations"]}).response["violations"]
    return [(v["id"], v["impact"],
             [n["html"][:120] for n in (v["nodes"] if every_node else v["nodes"][:3])])
            for v in found if v["impact"] in impacts]
