"""The one timing helper of the benchmark scripts (run as ``python bench/x.py``)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


#: bench/run_all.py sets this to a file; each script then appends its figures there, one
#: JSON object per line, for the performance table.
RESULTS_ENV = "CNNVIZ_BENCH_RESULTS"


def record(what: str, measured: float, unit: str, target: float | None = None, *,
           at_least: bool = False, note: str = "") -> None:
    """Keep one figure for the performance table (a no-op unless run_all.py runs us).

    ``target`` is the issue's limit in the same unit: measured must stay under it, or reach
    it when ``at_least`` (accuracy, pointing game).
    """
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    row = {"what": what, "measured": float(measured), "unit": unit, "target": target,
           "at_least": at_least, "note": note, "script": Path(sys.argv[0]).name}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
