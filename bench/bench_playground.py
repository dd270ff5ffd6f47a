"""Convolution page at 512×512×3: server-side time of one rerun, and the payload sent.

Prints, for a 3×3 and an 11×11 kernel:
- compute: everything the page computes for new settings (conv with torch, the zoomed
  step-through data, the input/output pictures, the animated step figure), cache cold;
- rerun: a whole rerun of the real page in Streamlit's AppTest after a setting changed
  (includes Streamlit's own work), median of several;
- payload: bytes of the Plotly figures the page sends to the browser.
Targets (issue 3): rerun under 50 ms; payload under 2 MB.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnviz import plots  # noqa: E402
from cnnviz.ops import ConvParams, conv_steps  # noqa: E402
from cnnviz.samples import load_sample  # noqa: E402

torch.set_num_threads(1)
IMAGE = load_sample("astronaut")  # 512×512×3
REPEATS = 7


def compute_once(kernel_size: int, shift: int) -> tuple[float, int]:
    values = IMAGE.astype(np.float64) / 255.0
    kernel = np.ones((kernel_size, kernel_size)) / kernel_size**2 + shift * 1e-3
    params = ConvParams(kernel=kernel, padding="same")
    t0 = time.perf_counter()
    steps = conv_steps(values, params.kernel_array, **params.options(),
                       region=(252, 260, 252, 260), output_dtype=np.float32)
    figs = [plots.picture(IMAGE, box=(250, 262, 250, 262)),
            plots.picture(steps.output, box=(252, 260, 252, 260)),
            plots.conv_step_figure(steps)]
    payload = sum(plots.payload_bytes(f) for f in figs)
    return (time.perf_counter() - t0) * 1000, payload


def apptest_reruns(kernel_size: int) -> list[float]:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *a, **k):  # as tests/conftest.py: rerun app.py like a server does
        original(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["sample"] = "astronaut"
    at.query_params["kernel"] = "custom"
    at.query_params["weights"] = ";".join([" ".join(["1"] * kernel_size)] * kernel_size)
    at.query_params["padding"] = "same"
    at.run()
    at.switch_page("pages/convolution.py").run()
    times = []
    for i in range(REPEATS):
        at.number_input(key="conv.bias").set_value(0.5 * (i + 1))  # new settings: cache miss
        t0 = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - t0) * 1000)
        assert not at.exception, at.exception
    return times


def main() -> None:
    print(f"torch threads: {torch.get_num_threads()}; image 512×512×3; zoom box 8×8 (64 steps)")
    print(f"{'kernel':>8} {'compute ms':>11} {'rerun ms (AppTest)':>19} {'payload MB':>11}")
    for k in (3, 11):
        compute_once(k, 0)  # warm-up
        runs = [compute_once(k, i + 1) for i in range(REPEATS)]
        compute = statistics.median(r[0] for r in runs)
        payload = runs[-1][1]
        rerun = statistics.median(apptest_reruns(k))
        print(f"{k}×{k:<6} {compute:>11.0f} {rerun:>19.0f} {payload / 1e6:>11.2f}")
    print("targets: rerun < 50 ms, payload < 2 MB")


if __name__ == "__main__":
    main()
