"""End-to-end fixtures: the real app on a free localhost port, driven in Debian's Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.appserver import CHROMIUM_FLAGS
from deploy.replicas import free_port, start_app, stop, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("CNNVIZ_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def app_url():
    """Start ``streamlit run app.py`` on a free port; yield its URL; stop it afterwards.
    The server's output goes to test-artifacts/e2e/server.log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "server.log"
    log.write_bytes(b"")  # start_app appends
    port = free_port()
    proc = start_app(port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, [proc], timeout=90)
    except RuntimeError as err:
        stop(proc)
        raise RuntimeError(f"the app did not start ({err}); see {log}") from None
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright: use Debian's Chromium, which needs no download."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture
def shot(page, request):
    """Save a screenshot under test-artifacts/e2e (git-ignored): ``shot("after-upload")``."""

    def take(label: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{label}.png".replace("/", "_")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
