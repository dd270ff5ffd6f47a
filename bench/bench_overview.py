"""Server-side time of the Overview page: compute the activations and draw the figures, for the
digits CNN (28×28, target under 150 ms), ResNet-18 at 224×224 (target under 1 s) and
EfficientNet-Lite0 on a new photo (target under 400 ms).

    python bench/bench_overview.py [--calls 9]

Two measurements, torch on one thread as ``app.py`` sets it:

1. The page itself: Streamlit's ``AppTest`` runs the real app (``app.py``, the sidebar, the
   Overview page) in this process with CNNVIZ_TIMING=1, so ``app.py`` prints each rerun's
   server-side time. Each timed rerun picks a sample image the page has not seen, so nothing
   is cached for it: preprocessing, the forward pass, the colour limits, the three figures
   and their JSON are all computed, as when a student picks a new image. A rerun on an image
   already seen (everything cached) is printed too, and the CPU time the process spent on a
   rerun: on this shared 2-core machine other jobs stretch the wall time, not the CPU time.
2. Where the time goes: the library calls the page makes, in its order, timed one by one
   (median of --calls calls on one image), with each figure turned into JSON as
   ``st.plotly_chart`` does.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
os.environ.setdefault("CNNVIZ_OFFLINE", "1")  # random ResNet weights rather than a download
os.environ["CNNVIZ_TIMING"] = "1"  # app.py prints "CNNVIZ_RERUN ms=..." after each rerun

import plotly.io as pio  # noqa: E402
import plotly.tools as ptools  # noqa: E402
from timing import median_ms, record  # noqa: E402  (bench/timing.py)

import cnnviz  # noqa: E402
from cnnviz import (  # noqa: E402  # noqa: E402  # noqa: E402
    MODELS,
    SAMPLES,
    color_limits,
    load_model,
    load_sample,
    network_outputs,
    overview_layers,
    preprocess,
    softmax,
)

PAGE = "pages/overview.py"
SHOWN = 8  # pages/overview.py: maps drawn per layer
CASES = [  # model, target ms, a warm-up image, then images new to the page (one per rerun)
    ("digits", 150, "digit_0", [f"digit_{d}" for d in range(1, 10)]),
    ("resnet18", 1000, "cat", [n for n, s in SAMPLES.items()
                               if s.group in ("Photo", "Shapes") and n != "cat"]),
    ("efficientnet_lite0", 400, "cat", [n for n, s in SAMPLES.items()
                                        if s.group in ("Photo", "Shapes") and n != "cat"]),
]


class _Tee(io.TextIOBase):
    """stderr that also keeps what is written, to read app.py's CNNVIZ_RERUN lines."""

    def __init__(self, stream):
        self.stream, self.text = stream, []

    def write(self, s: str) -> int:
        self.text.append(s)
        return len(s)  # the app's other chatter is not shown

    def rerun_ms(self) -> list[float]:
        return [float(v) for v in re.findall(r"CNNVIZ_RERUN ms=([\d.]+)", "".join(self.text))]


def _run_through_app_py() -> None:
    """Make AppTest rerun app.py as the real server does (see tests/conftest.py: otherwise
    every rerun after the first runs the page twice, once through the old pages/ path)."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


def page_reruns(name: str, warm_up: str, samples: list[str],
                ) -> tuple[list[float], list[float], list[float], float]:
    """Per uncached rerun: server-side ms (app.py's own timing), AppTest wall ms, and the CPU
    ms this process used for it (close to the wall time on a quiet machine, whatever else
    runs on this one); and the server-side ms of a cached rerun."""
    from streamlit.testing.v1 import AppTest

    from ui import state

    tee, saved = _Tee(sys.stderr), sys.stderr
    server, wall, cpu = [], [], []
    sys.stderr = tee
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.query_params["model"] = name
        at.query_params["sample"] = warm_up  # of the same kind as the timed ones: its data
        at.run()  # (the bundled digits, say) is read before the timing starts
        at.switch_page(PAGE).run()  # loads the model, warms its first forward pass up
        for sample in samples:
            before = len(tee.rerun_ms())
            start, start_cpu = time.perf_counter(), time.process_time()
            at.sidebar.selectbox(key=state.SAMPLE).set_value(sample).run()
            wall.append(1000 * (time.perf_counter() - start))
            cpu.append(1000 * (time.process_time() - start_cpu))
            server.append(tee.rerun_ms()[before])  # the rerun that drew the new image
        before = len(tee.rerun_ms())
        at.run()  # the last image again: everything cached
        cached = tee.rerun_ms()[before]
    finally:
        sys.stderr = saved
    if at.exception or at.error:
        raise RuntimeError(f"the Overview page failed: {[e.value for e in at.exception]}"
                           f"{[e.value for e in at.error]}")
    return server, wall, cpu, cached


def _json(fig) -> str:
    """A figure's JSON exactly as ``st.plotly_chart`` makes it."""
    return pio.to_json(ptools.return_figure_from_figure_or_data(fig, True), validate=False)


def breakdown(name: str, calls: int) -> list[tuple[str, float]]:
    """The library calls of pages/overview.py on one new image, timed one by one."""
    model = load_model(name)
    pixels = load_sample("digit_3" if name == "digits" else "cat")
    x = preprocess(name, pixels)
    columns = network_outputs(model, x)
    probs = softmax(columns[-1].values)
    limits, shared = color_limits(columns, "layer", SHOWN)
    network = cnnviz.network_figure(columns, limits, shown=SHOWN, shared_limit=shared)
    bars = cnnviz.probability_bars(MODELS[name].class_names, probs, top=10)
    all_limits, _ = color_limits(columns, "layer")
    lim = float(all_limits[1][0])
    big = cnnviz.maps_figure(columns[1].values[0][None], [lim], labels=["map"], columns=1,
                            tile_px=512, shared_limit=lim, width_px=620, title="map")
    return [
        ("overview_layers", median_ms(lambda: overview_layers(model), calls)),
        ("preprocess", median_ms(lambda: preprocess(name, pixels), calls)),
        ("network_outputs (forward, every layer)",
         median_ms(lambda: network_outputs(model, x), calls)),
        ("color_limits x2", median_ms(lambda: (color_limits(columns, "layer", SHOWN),
                                               color_limits(columns, "layer")), calls)),
        ("network_figure", median_ms(lambda: cnnviz.network_figure(
            columns, limits, shown=SHOWN, shared_limit=shared), calls)),
        ("probability_bars + maps_figure (one map)", median_ms(lambda: (
            cnnviz.probability_bars(MODELS[name].class_names, probs, top=10),
            cnnviz.maps_figure(columns[1].values[0][None], [lim], labels=["map"], columns=1,
                              tile_px=512, shared_limit=lim, width_px=620, title="map")),
            calls)),
        ("JSON of the three figures", median_ms(lambda: [_json(f) for f in
                                                         (network, bars, big)], calls)),
        (f"  (payload {sum(len(_json(f)) for f in (network, bars, big)) / 1e3:.0f} kB)", 0.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _run_through_app_py()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; {os.cpu_count()} CPUs")
    for name, target, warm_up, samples in CASES:
        weights = "trained" if load_model(name).cnnviz_pretrained else "random weights"
        server, wall, cpu, cached = page_reruns(name, warm_up, samples)
        c, h, w = MODELS[name].input_size
        print(f"\nOverview, {name} ({h}×{w}, {weights}), {len(samples)} new images")
        print(f"  {'page rerun, server side (median)':<44}{statistics.median(server):8.1f} ms"
              f"   target < {target} ms   (min {min(server):.0f}, max {max(server):.0f})")
        print(f"  {'  the same, AppTest wall time (median)':<44}"
              f"{statistics.median(wall):8.1f} ms")
        print(f"  {'  the same, CPU time of this process':<44}"
              f"{statistics.median(cpu):8.1f} ms   (load average {os.getloadavg()[0]:.1f})")
        print(f"  {'page rerun, image seen before (cached)':<44}{cached:8.1f} ms")
        record(f"Overview page rerun, {name} at {h}×{w}, a new image (server, median of "
               f"{len(samples)})", statistics.median(server), "ms", target)
        for label, ms in breakdown(name, args.calls):
            print(f"  {label:<44}{ms:8.1f} ms" if ms else f"  {label}")


if __name__ == "__main__":
    main()
