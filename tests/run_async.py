"""Running a coroutine from a test, whatever the test session did before."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` on a thread of its own.

    Once an end-to-end test has used Playwright's sync API, the main thread keeps an event
    loop running, and ``asyncio.run`` there raises "cannot be called from a running event
    loop". A fresh thread has no loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
