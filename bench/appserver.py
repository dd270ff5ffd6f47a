"""The real app under ``streamlit run`` on a free port, for the benchmark scripts."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.replicas import free_port, start_app, stop, wait_healthy  # noqa: E402

#: Debian's Chromium as the tests and benchmarks launch it (it cannot be downloaded here).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


@dataclass
class App:
    url: str
    log: Path  # the server's output: app.py prints "CNNVIZ_RERUN ms=..." per rerun
    chromium: str  # the browser to launch (pinned to CPU 1 when the server is on CPU 0)
    started: float  # time.monotonic() when the server process was started
    healthy: float  # time.monotonic() when /_stcore/health first answered

    def reruns(self) -> list[float]:
        import re

        return [float(m) for m in re.findall(r"CNNVIZ_RERUN ms=([\d.]+)", self.log.read_text())]

    def next_rerun(self, before: int, timeout: float = 120) -> float:
        """The server-side ms of the first rerun logged after ``before`` reruns."""
        deadline = time.monotonic() + timeout
        while len(self.reruns()) == before:
            if time.monotonic() > deadline:
                raise TimeoutError("no rerun was logged")
            time.sleep(0.02)
        return self.reruns()[before]


@contextmanager
def running_app(pinned: bool | None = None, env: dict[str, str] | None = None) -> Iterator[App]:
    """Start the app with CNNVIZ_TIMING=1. ``pinned`` (default: when taskset exists) puts the
    server on CPU 0 and Chromium on CPU 1, as if the browser ran on a student's laptop."""
    if pinned is None:
        pinned = shutil.which("taskset") is not None
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="cnnviz-bench-"))
    chromium = "/usr/bin/chromium"
    prefix: list[str] = []
    if pinned:
        prefix = ["taskset", "-c", "0"]
        wrapper = tmp / "chromium-cpu1"
        wrapper.write_text('#!/bin/sh\nexec taskset -c 1 /usr/bin/chromium "$@"\n')
        wrapper.chmod(0o755)
        chromium = str(wrapper)
    log = tmp / "server.log"
    started = time.monotonic()
    proc = start_app(port, log, env={"CNNVIZ_TIMING": "1", **(env or {})}, prefix=prefix)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, [proc])
        yield App(url, log, chromium, started, time.monotonic())
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
