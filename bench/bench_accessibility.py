"""axe-core (WCAG 2.0/2.1, A and AA) on every page in Chromium, by impact, beside a bare
Streamlit page (a title and a slider) measured in the same run (issue 17).

    python bench/bench_accessibility.py

Prints a Markdown table: per page, the violations (rules broken, and in brackets the
elements) of each impact, in the default look and in presenter mode. The engine is the
axe-core that the PyPI package axe-playwright-python bundles. Target: no critical or serious
violation anywhere.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.appserver import CHROMIUM_FLAGS  # noqa: E402
from bench.timing import record  # noqa: E402
from deploy.replicas import free_port, start_app, stop, wait_healthy  # noqa: E402
from tests.e2e.helpers import axe_violations, open_app  # noqa: E402
from ui import catalog  # noqa: E402

IMPACTS = ("critical", "serious", "moderate", "minor")
BARE_APP = textwrap.dedent("""
    import streamlit as st
    st.title("A bare Streamlit page")
    st.slider("A slider", 0, 10, 3)
""")


def _counts(page) -> dict[str, tuple[int, int]]:
    """impact -> (rules broken, elements), over every WCAG A/AA violation on the page."""
    found = collections.defaultdict(lambda: [0, 0])
    for _, impact, nodes in axe_violations(page, IMPACTS, every_node=True):
        found[impact][0] += 1
        found[impact][1] += len(nodes)
    return {k: tuple(v) for k, v in found.items()}


def _cell(counts: dict, impact: str) -> str:
    rules, nodes = counts.get(impact, (0, 0))
    return f"{rules} ({nodes})" if rules else "0"


def _bare_url(log: Path) -> tuple[object, str]:
    script = Path(tempfile.mkdtemp(prefix="cnnviz-bare-")) / "bare.py"
    script.write_text(BARE_APP)
    port = free_port()
    proc = start_app(port, log, script=script)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, [proc], timeout=90)
    return proc, url


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    logs = Path(tempfile.mkdtemp(prefix="cnnviz-axe-"))
    port = free_port()
    proc = start_app(port, logs / "app.log")
    url = f"http://127.0.0.1:{port}"
    bare_proc, bare_url = None, None
    rows, serious = [], 0
    try:
        wait_healthy(url, [proc], timeout=90)
        bare_proc, bare_url = _bare_url(logs / "bare.log")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(bare_url)
            page.wait_for_selector("h1", timeout=60_000)
            page.wait_for_timeout(500)
            rows.append(("a bare Streamlit page (title, slider)", _counts(page), None))
            for info in catalog.all_pages():
                looks = []
                for query in ("", "?present=1"):
                    open_app(page, f"{url}/{info.url_path}{query}")
                    looks.append(_counts(page))
                    serious += len(axe_violations(page))
                rows.append((info.title, *looks))
            browser.close()
    finally:
        stop(proc)
        if bare_proc is not None:
            stop(bare_proc)
    print("| page | critical | serious | moderate | minor | presenter mode: critical, serious |")
    print("|---|---|---|---|---|---|")
    for title, counts, present in rows:
        cells = " | ".join(_cell(counts, i) for i in IMPACTS)
        extra = "—" if present is None else \
            f"{_cell(present, 'critical')}, {_cell(present, 'serious')}"
        print(f"| {title} | {cells} | {extra} |")
    print(f"\ncritical or serious violations over {len(rows) - 1} pages in both looks: {serious}")
    record(f"axe-core: critical or serious WCAG 2.1 AA violations, {len(rows) - 1} pages × 2 "
           "looks", serious, "violations", 1)


if __name__ == "__main__":
    main()
