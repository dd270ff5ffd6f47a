"""Make every page run through ``app.py``, even when a deep link is a new server's first request.

Streamlit treats a ``pages/`` folder beside the entry script as an old-style
(v1) multipage app until ``st.navigation`` has run once in the process: a class
flag, ``PagesManager.uses_pages_directory``. If the first request after a server
start is a deep link such as ``/convolution?kernel=sobel_x``, Streamlit runs
``pages/convolution.py`` alone: no sidebar, no shared image. Each page therefore
calls :func:`ensure_app_navigation` first; under the v1 path it clears the flag
and reruns, and the rerun goes through ``app.py`` with the same URL.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

__all__ = [
    "GC_EVERY_S",
    "GC_THRESHOLDS",
    "MALLOC_ARENAS",
    "ensure_app_navigation",
    "freeze_startup_objects",
    "timed_rerun",
]


def ensure_app_navigation() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_frozen = False
#: Young-generation threshold: a rerun allocates tens of thousands of objects (figure
#: dicts), so with Python's default (700) every rerun ran several collections. The
#: measurements behind this and the settings below: bench/RESULTS.md, "History".
GC_THRESHOLDS = (20_000, 20, 20)
#: Seconds between full collections on a background thread. Streamlit's own collection
#: after every rerun is off (.streamlit/config.toml: runner.postScriptGC), because it took
#: much of the server's time with many sessions. Reruns leave a few hundred objects each in
#: reference cycles (frames, run contexts) that hold their arrays; this frees them.
GC_EVERY_S = 30


def freeze_startup_objects() -> None:
    """Move everything imported so far (torch, plotly, streamlit: millions of objects) out
    of the garbage collector's reach, once per process, and tune the collector.

    A rerun that builds a step-through allocates tens of thousands of small lists; each
    full collection would otherwise walk every long-lived object of the libraries too.
    Objects created later are collected as usual: young ones when ``GC_THRESHOLDS`` says,
    all of them every ``GC_EVERY_S`` seconds, followed by a ``malloc_trim`` that gives freed
    memory back to the system.
    """
    global _frozen
    if not _frozen:
        _limit_malloc_arenas()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        threading.Thread(target=_collect_now_and_then, name="cnnviz-gc", daemon=True).start()
        _frozen = True


def _collect_now_and_then() -> None:
    trim = _malloc_trim()
    while True:
        time.sleep(GC_EVERY_S)
        gc.collect()
        trim(0)


#: glibc malloc arenas the process may use. By default every thread that allocates gets an
#: arena of its own, up to 8 per core, and each Streamlit session's reruns run on a thread
#: of their own: memory freed in one arena is not reused by the others. ``make run`` and
#: ``deploy/replicas.py`` set MALLOC_ARENA_MAX=2 from the start, which works better than
#: this ``mallopt`` (it comes after the first threads have their arenas); the environment
#: variable, when set, wins.
MALLOC_ARENAS = 2


def _limit_malloc_arenas() -> None:
    """``mallopt(M_ARENA_MAX, MALLOC_ARENAS)``; threads made later share those arenas."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, MALLOC_ARENAS)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        pass


def _malloc_trim():
    """glibc's ``malloc_trim(0)``: give the memory that freed objects and arrays leave in
    malloc's heaps back to the system. Without it the server's RSS stays near its peak long
    after the sessions close (each script thread allocates in its own malloc arena)."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return lambda *_: None


@contextmanager
def timed_rerun():
    """With CNNVIZ_TIMING=1, print each rerun's server-side time to stderr (for bench/)."""
    if not os.environ.get("CNNVIZ_TIMING"):
        yield
        return
    profile_dir = os.environ.get("CNNVIZ_PROFILE_DIR")
    profiler = None
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    try:
        yield
    finally:
        ms = (time.perf_counter() - start) * 1000
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(os.path.join(profile_dir, f"rerun-{time.time_ns()}.prof"))
        print(f"CNNVIZ_RERUN ms={ms:.1f}", file=sys.stderr, flush=True)
