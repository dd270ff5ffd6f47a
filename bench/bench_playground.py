"""Convolution page at 512×512×3: server-side time of one rerun, and the payload sent.

The real app runs under ``streamlit run`` with CNNVIZ_TIMING=1, so ``app.py`` prints
how long each rerun took on the server. Chromium opens the Convolution page on the
astronaut (512×512×3) with a 3×3 preset (box blur) and an 11×11 custom kernel (so the
grid editor is drawn too), then makes two kinds of rerun with new settings:

- **bias**: presses the bias "+" button. The output, its picture and every sum change;
  the page keeps the unbiased whole-image convolution and what depends on the windows
  alone (patches, products, the frames' outlines).
- **zoom**: moves the zoom box one column (the slider's → key). New step data, frames,
  step-through and box on both pictures; the whole-image output and the pictures'
  encodings are kept.

It also prints the bytes of the Plotly figures the page sends to the browser.

The server is pinned to CPU 0 and Chromium to CPU 1 (taskset), as if the browser ran
on the student's laptop: otherwise Plotly drawing the previous figures in Chromium
takes the server's core in the middle of its rerun. ``--shared`` lets them share.

Targets (issue 3): rerun under 50 ms; payload under 2 MB.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appserver import CHROMIUM_FLAGS, IDLE, running_app  # noqa: E402
from timing import record  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz import (  # noqa: E402
    ConvParams,
    conv_steps,
    load_sample,  # noqa: E402
)

PRESSES = 16  # reruns of each kind; timings on this machine vary ±30% from rerun to rerun


def payload(kernel_size: int) -> int:
    """Bytes of the three figures of the page: input, output and step-through."""
    torch.set_num_threads(1)
    image = load_sample("astronaut")
    values = image.astype(np.float64) / 255.0
    params = ConvParams(kernel=np.ones((kernel_size, kernel_size)), padding="same")
    steps = conv_steps(values, params.kernel_array, **params.options(),
                       region=(252, 260, 252, 260), output_dtype=np.float32)
    figs = [cnnviz.picture(image, box=(250, 262, 250, 262)),
            cnnviz.picture(steps.output, box=(252, 260, 252, 260)),
            cnnviz.conv_step_figure(steps)]
    return sum(cnnviz.payload_bytes(f) for f in figs)


def server_reruns(pinned: bool) -> dict[tuple[int, str], list[float]]:
    from playwright.sync_api import sync_playwright

    env = ({"CNNVIZ_PROFILE_DIR": os.environ["BENCH_PROFILE_DIR"]}
           if "BENCH_PROFILE_DIR" in os.environ else {})
    results: dict[tuple[int, str], list[float]] = {}
    with running_app(pinned=pinned, env=env) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=app.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})

        def rerun_times(press) -> list[float]:
            times = []
            for _ in range(PRESSES):
                before = len(app.reruns())
                press()
                times.append(app.next_rerun(before, timeout=60))
                page.wait_for_selector(IDLE)
                page.wait_for_timeout(300)
            return times

        for k in (3, 11):
            # 3×3: a preset (box blur); 11×11: a custom kernel, so the grid editor too
            kernel = ("kernel=box_blur" if k == 3 else "kernel=custom&weights="
                      + ";".join([" ".join(["1"] * k)] * k))
            page.goto(f"{app.url}/convolution?sample=astronaut&{kernel}&padding=same"
                      "&zoom=200,200")
            page.get_by_text("Step through, window by window").wait_for(timeout=120_000)
            page.wait_for_selector(IDLE)
            page.wait_for_timeout(1000)
            bias = page.get_by_test_id("stNumberInput").filter(has_text="Bias")
            results[(k, "bias")] = rerun_times(
                lambda bias=bias: bias.get_by_test_id("stNumberInputStepUp").click())
            zoom = (page.get_by_test_id("stSlider").filter(has_text="first output column")
                    .get_by_role("slider"))
            results[(k, "zoom")] = rerun_times(lambda zoom=zoom: zoom.press("ArrowRight"))
        browser.close()
    return results


KINDS = {
    "bias": "bias + 0.5 each time (the frames' patches and products reused)",
    "zoom": "zoom box moved each time (new steps, frames and step-through)",
}


def main() -> None:
    pinned = "--shared" not in sys.argv and shutil.which("taskset") is not None
    reruns = server_reruns(pinned)
    where = "server on CPU 0, Chromium on CPU 1" if pinned else "server and Chromium share 2 CPUs"
    print(f"Convolution page, 512×512×3 (astronaut), zoom box 8×8 = 64 steps, torch 1 thread; "
          f"{where}")
    print(f"{'kernel':>8} {'rerun':>6} {'ms (median)':>12} {'min':>6} {'max':>6}")
    for (k, kind), times in reruns.items():
        print(f"{f'{k}×{k}':>8} {kind:>6} {statistics.median(times):>12.0f} {min(times):>6.0f} "
              f"{max(times):>6.0f}")
        what = "a preset" if k == 3 else "a custom kernel with its grid editor"
        record(f"Convolution page rerun at 512×512×3, {k}×{k} ({what}), {KINDS[kind]}",
               statistics.median(times), "ms", 50,
               note=f"median of {len(times)}, min {min(times):.0f}, max {max(times):.0f}")
    for k in (3, 11):
        size = payload(k) / 1e6
        print(f"{f'{k}×{k}':>8} figure payload {size:.2f} MB")
        record(f"Convolution page figure payload, {k}×{k}", size, "MB", 2)
    print("each rerun: new settings, measured on the server by app.py; "
          + "; ".join(f"{kind}: {text}" for kind, text in KINDS.items()))
    print("targets: rerun < 50 ms, payload < 2 MB")


if __name__ == "__main__":
    main()
