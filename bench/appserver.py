"""The real app under ``streamlit run`` on a free port, for the benchmark scripts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "CNNVIZ_TIMING": "1", **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start: {log.read_text()[-2000:]}")
                time.sleep(0.05)
        yield App(url, log, chromium, started, time.monotonic())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
