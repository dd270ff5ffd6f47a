"""Opening a page of the app in Streamlit's AppTest, as the page tests do."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120  # seconds for one run: the first load of a classic network is slow on 2 cores


def open_page(page: str, **query: str) -> AppTest:
    """Run the app with ``query`` in the URL, switch to ``page`` ("pages/x.py"), and check
    that nothing raised."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    for key, value in query.items():  # the page reads them on its first run
        at.query_params[key] = value
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_text(at: AppTest) -> str:
    """Every markdown element of the page, one per line."""
    return "\n".join(m.value for m in at.markdown)
