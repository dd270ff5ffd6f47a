"""Convolution page at 512×512×3: server-side time of one rerun, and the payload sent.

The real app runs under ``streamlit run`` with CNNVIZ_TIMING=1, so ``app.py`` prints
how long each rerun took on the server. Chromium opens the Convolution page on the
astronaut (512×512×3) with a 3×3 preset (box blur) and an 11×11 custom kernel (so the
grid editor is drawn too) and presses the bias "+" button
several times: every press is a rerun with new settings (nothing cached for it).
It also prints the bytes of the Plotly figures the page sends to the browser.

The server is pinned to CPU 0 and Chromium to CPU 1 (taskset), as if the browser ran
on the student's laptop: otherwise Plotly drawing the previous figures in Chromium
takes the server's core in the middle of its rerun. ``--shared`` lets them share.

Targets (issue 3): rerun under 50 ms; payload under 2 MB.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnviz import plots  # noqa: E402
from cnnviz.ops import ConvParams, conv_steps  # noqa: E402
from cnnviz.samples import load_sample  # noqa: E402

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
PRESSES = 8


def payload(kernel_size: int) -> int:
    """Bytes of the three figures of the page: input, output and step-through."""
    torch.set_num_threads(1)
    image = load_sample("astronaut")
    values = image.astype(np.float64) / 255.0
    params = ConvParams(kernel=np.ones((kernel_size, kernel_size)), padding="same")
    steps = conv_steps(values, params.kernel_array, **params.options(),
                       region=(252, 260, 252, 260), output_dtype=np.float32)
    figs = [plots.picture(image, box=(250, 262, 250, 262)),
            plots.picture(steps.output, box=(252, 260, 252, 260)),
            plots.conv_step_figure(steps)]
    return sum(plots.payload_bytes(f) for f in figs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_reruns(pinned: bool) -> dict[int, list[float]]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server_prefix = ["taskset", "-c", "0"] if pinned else []
    chromium = "/usr/bin/chromium"
    if pinned:
        wrapper = Path(tempfile.mkdtemp()) / "chromium-cpu1"
        wrapper.write_text('#!/bin/sh\nexec taskset -c 1 /usr/bin/chromium "$@"\n')
        wrapper.chmod(0o755)
        chromium = str(wrapper)
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [*server_prefix, sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CNNVIZ_TIMING": "1", **({"CNNVIZ_PROFILE_DIR": os.environ["BENCH_PROFILE_DIR"]} if "BENCH_PROFILE_DIR" in os.environ else {})},
    )
    url = f"http://127.0.0.1:{port}"
    results: dict[int, list[float]] = {}
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
            for k in (3, 11):
                # 3×3: a preset (box blur); 11×11: a custom kernel, so the grid editor too
                kernel = ("kernel=box_blur" if k == 3 else "kernel=custom&weights="
                          + ";".join([" ".join(["1"] * k)] * k))
                page.goto(f"{url}/convolution?sample=astronaut&{kernel}&padding=same")
                page.get_by_text("Step through, window by window").wait_for(timeout=120_000)
                page.wait_for_selector(idle)
                page.wait_for_timeout(1000)
                bias = page.get_by_test_id("stNumberInput").filter(has_text="Bias")
                times = []
                for _ in range(PRESSES):
                    log.flush()
                    before = len(_reruns(log.name))
                    bias.get_by_test_id("stNumberInputStepUp").click()
                    deadline = time.monotonic() + 60
                    while len(_reruns(log.name)) == before and time.monotonic() < deadline:
                        time.sleep(0.05)
                    page.wait_for_selector(idle)
                    page.wait_for_timeout(300)
                    times.append(_reruns(log.name)[-1])
                results[k] = times
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return results


def _reruns(path: str) -> list[float]:
    return [float(m) for m in re.findall(r"CNNVIZ_RERUN ms=([\d.]+)", Path(path).read_text())]


def main() -> None:
    pinned = "--shared" not in sys.argv and shutil.which("taskset") is not None
    reruns = server_reruns(pinned)
    where = "server on CPU 0, Chromium on CPU 1" if pinned else "server and Chromium share 2 CPUs"
    print(f"Convolution page, 512×512×3 (astronaut), zoom box 8×8 = 64 steps, torch 1 thread; "
          f"{where}")
    print(f"{'kernel':>8} {'rerun ms (median)':>18} {'min':>6} {'max':>6} {'payload MB':>11}")
    for k, times in reruns.items():
        print(f"{f'{k}×{k}':>8} {statistics.median(times):>18.0f} {min(times):>6.0f} "
              f"{max(times):>6.0f} {payload(k) / 1e6:>11.2f}")
    print("each rerun: new settings (bias + 0.01), measured on the server by app.py")
    print("targets: rerun < 50 ms, payload < 2 MB")


if __name__ == "__main__":
    main()
