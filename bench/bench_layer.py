"""Transposed convolution and How a layer learns at 64×64×3 with 8 filters: server-side time
of one rerun, and the payload of their step-throughs.

The real app runs under ``streamlit run`` with CNNVIZ_TIMING=1, so ``app.py`` prints how
long each rerun took on the server. Chromium opens each page on the cat shrunk to 64 pixels
a side (43×64×3, colour) with 8 filters, then makes reruns as a student would:

- Transposed convolution, stamps (scatter) and as a convolution: the step box's "+" (the
  step data is kept; a new figure opens at the new step), and the zoom box moved one column
  (new step data and figure);
- How a layer learns: the step box's "+" in dL/dW window by window, and "Take one step" of
  gradient descent (a new forward and backward pass, new maps and step-throughs).

The server is pinned to CPU 0 and Chromium to CPU 1 (taskset), as in bench_playground.py.
Targets (issue 16): each rerun ≤ 50 ms; payload ≤ 2 MB.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appserver import CHROMIUM_FLAGS, IDLE, running_app  # noqa: E402
from timing import record  # noqa: E402

import cnnviz  # noqa: E402

PRESSES = 12
SETTINGS = "side=64&gray=0&filters=8"


def payloads() -> dict[str, float]:
    """MB of each step-through as the pages build it, on the same input and layer."""
    from ui.cache import layers

    image = cnnviz.load_sample("cat")
    small = cnnviz.fit_within(image, 64).astype(np.float64) / 255.0
    values = layers.Values(small, "bench")
    tconv = layers.LayerSettings(kernel=np.ones((3, 3)).tolist(), channels=3, filters=8,
                                 stride=(2, 2))
    out = {}
    for view, region in (("scatter", (18, 26, 28, 36)), ("conv", (40, 48, 60, 68))):
        fig = layers.transposed_figure(values, tconv, 0, view, region, 0, 600)
        out[f"Transposed convolution step-through ({view}), 8×8 zoom box"] = \
            cnnviz.payload_bytes(fig) / 1e6
    learn = layers.LayerSettings(kernel=np.zeros((3, 3)).tolist(), channels=3, filters=8)
    for kind in ("weight", "input"):
        fig, _ = layers.grad_figure(values, learn, "sobel_x", False, "none", 0.05, 0, kind, 0,
                                    (16, 24, 28, 36), 0, 600)
        out[f"How a layer learns, {kind} gradient step-through, 8×8 zoom box"] = \
            cnnviz.payload_bytes(fig) / 1e6
    return out


def server_reruns(pinned: bool) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    results: dict[str, list[float]] = {}
    with running_app(pinned=pinned) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=app.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})

        def times(press, n: int = PRESSES) -> list[float]:
            out = []
            for _ in range(n):
                before = len(app.reruns())
                press()
                out.append(app.next_rerun(before, timeout=60))
                page.wait_for_selector(IDLE)
                page.wait_for_timeout(300)
            return out

        def open_page(query: str, ready: str) -> None:
            page.goto(f"{app.url}/{query}")
            page.get_by_text(ready).first.wait_for(timeout=120_000)
            page.wait_for_selector(IDLE)
            page.wait_for_timeout(1000)

        def step_up():
            page.get_by_test_id("stNumberInput").filter(has_text="Step (1–").get_by_test_id(
                "stNumberInputStepUp").click()

        for view in ("scatter", "conv"):
            open_page(f"transposed?{SETTINGS}&view={view}", "Step through")
            results[f"Transposed convolution ({view}): next step"] = times(step_up)
            zoom = (page.get_by_test_id("stSlider").filter(has_text="first")
                    .filter(has_text="column").get_by_role("slider"))
            results[f"Transposed convolution ({view}): zoom box moved"] = times(
                lambda zoom=zoom: zoom.press("ArrowRight"))
        open_page(f"backprop?{SETTINGS}", "dL/dW, window by window")
        results["How a layer learns: next step of dL/dW"] = times(step_up)
        results["How a layer learns: one step of gradient descent"] = times(
            lambda: page.get_by_role("button", name="Take one step").click())
        browser.close()
    return results


def main() -> None:
    pinned = "--shared" not in sys.argv and shutil.which("taskset") is not None
    reruns = server_reruns(pinned)
    where = "server on CPU 0, Chromium on CPU 1" if pinned else "server and Chromium share 2 CPUs"
    print(f"The cat shrunk to 43×64×3, 8 filters, torch 1 thread; {where}")
    print(f"{'rerun':<58} {'ms (median)':>11} {'min':>5} {'max':>5}")
    for what, t in reruns.items():
        print(f"{what:<58} {statistics.median(t):>11.0f} {min(t):>5.0f} {max(t):>5.0f}")
        record(f"{what}, 64×64×3 input, 8 filters", statistics.median(t), "ms", 50,
               note=f"median of {len(t)}, min {min(t):.0f}, max {max(t):.0f}")
    for what, mb in payloads().items():
        print(f"{what:<70} {mb:.2f} MB")
        record(f"{what} payload", mb, "MB", 2)
    print("targets: rerun ≤ 50 ms, payload ≤ 2 MB")


if __name__ == "__main__":
    main()
