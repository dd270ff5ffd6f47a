"""Cold start and every page's rerun time, on the real app in Chromium.

- **Cold start**: from launching ``streamlit run app.py`` (packages installed) until the
  Home page in Chromium shows the image and the script has finished: what a lecturer waits
  for after ``make run``.
- **First open** of each page (default settings, the default image), in the browser:
  includes loading the page's models and filling its caches.
- **Rerun** of each page: server-side time (``app.py`` prints it with CNNVIZ_TIMING=1) of
  a rerun with the same settings, the "R" key, median of 5. Every widget change costs at
  least this; the Convolution page with new settings each time is measured by
  ``bench/bench_playground.py``.

Server on CPU 0, Chromium on CPU 1 (``--shared`` lets them share both).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appserver import CHROMIUM_FLAGS, IDLE, running_app  # noqa: E402
from timing import record  # noqa: E402

from ui import catalog  # noqa: E402

RERUNS = 5


def main() -> None:
    from playwright.sync_api import sync_playwright

    pinned = "--shared" not in sys.argv
    with running_app(pinned=pinned) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=app.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app.url + "/")
        page.get_by_test_id("stSidebar").get_by_test_id("stImageCaption").wait_for(
            timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        cold = time.monotonic() - app.started
        health = app.healthy - app.started
        print(f"cold start: server answers after {health:.1f} s, Home usable after {cold:.1f} s")
        record("Cold start: `streamlit run` to the Home page usable in Chromium", cold, "s",
               note=f"server up after {health:.1f} s")

        print(f"\n{'page':<18}{'first open (browser)':>22}{'rerun, server (median)':>26}")
        for info in catalog.all_pages():
            start = time.monotonic()
            page.goto(f"{app.url}/{info.url_path}")
            page.wait_for_selector('[data-testid="stSidebar"]', state="attached",
                                   timeout=120_000)
            page.wait_for_timeout(200)
            page.wait_for_selector(IDLE, timeout=180_000)
            first = time.monotonic() - start
            times = []
            for _ in range(RERUNS):
                page.wait_for_timeout(300)
                before = len(app.reruns())
                page.locator("body").press("r")  # Streamlit's "rerun" key
                times.append(app.next_rerun(before))
                page.wait_for_selector(IDLE, timeout=120_000)
            rerun = statistics.median(times)
            print(f"{info.title:<18}{first:>20.2f} s{rerun:>24.0f} ms")
            record(f"{info.title} page: rerun, same settings (server, median of {RERUNS})",
                   rerun, "ms",
                   note=f"first open {first:.1f} s")
        browser.close()


if __name__ == "__main__":
    main()
