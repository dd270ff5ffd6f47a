"""Shared fixtures."""

from __future__ import annotations

import os

import pytest

# Tests never download: torchvision's weights are looked up in the torch cache only (the
# download path is tested with local files). The e2e server inherits this.
os.environ.setdefault("CNNVIZ_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _apptest_runs_main_script_with_pages_folder():
    """Make ``AppTest`` rerun ``app.py`` as the real server does.

    Streamlit's ``PagesManager`` sets the class flag ``uses_pages_directory`` when a
    ``pages/`` folder sits beside the main script, and ``st.navigation`` clears it on
    its first run. A server keeps that cleared flag for the life of the process, but
    ``AppTest`` resets it before every run, so from the second run on it takes the
    legacy multipage path and executes only the page script: the sidebar (drawn in
    ``app.py``) silently disappears. Clearing the flag after each ``PagesManager`` is
    built restores the server's behaviour (see streamlit#9446 and PR #14217).
    """
    from streamlit.runtime.pages_manager import PagesManager

    original_init = PagesManager.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    yield
    PagesManager.__init__ = original_init


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, and a busy shared machine makes two erratic.
    Modules that train or time models ask for it with ``pytestmark``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
