"""The one timing helper of the benchmark scripts (run as ``python bench/x.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_ms(call: Callable[[], object], n: int, warmup: int = 0) -> float:
    """Median wall time of ``call()`` over ``n`` calls, in milliseconds, after ``warmup``
    calls that are not timed."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))
