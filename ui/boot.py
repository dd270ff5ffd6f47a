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
import time
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def ensure_app_navigation() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_frozen = False


def freeze_startup_objects() -> None:
    """Move everything imported so far (torch, plotly, streamlit: millions of objects) out
    of the garbage collector's reach, once per process.

    A rerun that builds a step-through allocates tens of thousands of small lists; each
    full collection then walked every long-lived object of the libraries too, which cost
    50-150 ms of a rerun. Objects created later are collected as usual.
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


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
