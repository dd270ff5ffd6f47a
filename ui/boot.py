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

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def ensure_app_navigation() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
