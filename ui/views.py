"""Opening a page with settings: a :class:`View` is a page and the URL values to open it with.

The Learn page's buttons and the Feature maps page's "apply this kernel on the Convolution
page" both go through here. A view opens through a callback rather than a plain link:
Streamlit keeps a page's widget values in the session once it has been visited, and the
page's URL seeding then leaves them alone. ``prepare`` clears that page's widget keys (every
key with its catalogue prefix) and chooses the sample the view asks for, so the page starts
from the view's settings every time; no page needs to know another page's session keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from cnnviz import SAMPLES, LayerError, carry_problem, weights_text
from ui import catalog, state

__all__ = ["View", "kernel_view", "open_view", "prepare"]


@dataclass(frozen=True)
class View:
    """A page of the app with settings: ``query`` holds (URL key, value) pairs."""

    page: str  # "pages/convolution.py"
    label: str  # what a button says
    query: tuple[tuple[str, str], ...] = ()
    # The page's widgets (names under its catalogue prefix) the view sets; () for all of them:
    # the page then starts from the view's settings and its own defaults.
    resets: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def url(self) -> str:
        """The shareable path, e.g. ``/convolution?kernel=sobel_x&stride=2``."""
        query = urlencode(self.query, safe=",|")
        return f"/{catalog.page(self.page).url_path}" + (f"?{query}" if query else "")


def prepare(view: View) -> None:
    """Clear the target page's controls (``view.resets``, or all of them) so that it seeds
    them from the view's URL (its defaults for the keys the view leaves out), and pick the
    view's sample in the sidebar. A button callback: it runs before the rerun that draws
    anything."""
    page = catalog.page(view.page)
    if view.resets:
        doomed = [page.key(name) for name in view.resets]
    else:
        doomed = [k for k in st.session_state.keys() if str(k).startswith(page.prefix)]
    for key in doomed:
        st.session_state.pop(key, None)
    sample = view.params.get("sample")
    if sample in SAMPLES:
        if st.session_state.get(state.SOURCE, "Sample") != "Sample":
            del st.session_state[state.SOURCE]  # back to its default, "Sample"
        st.session_state[state.SAMPLE] = sample


def open_view(view: View) -> None:
    """Switch to the view's page with its settings (after ``prepare`` ran, as a callback)."""
    st.switch_page(view.page, query_params=view.params)


def kernel_view(kernel: np.ndarray, *, sample: str | None = None) -> View:
    """The Convolution page with ``kernel`` as its custom kernel: the Feature maps page's
    hand-off of a learned kernel.

    ``kernel``: (kh, kw) for a grey image or (kh, kw, 3) for RGB, as ``cnnviz.kernel_of``
    gives it; LayerError with ``cnnviz.carry_problem``'s reason for any other. ``gray``
    follows its slices. ``sample``
    names the sample image to open (None: keep the session's image). The URL keys are the
    Convolution page's public ones (README, "URL parameters"); only the controls they set are
    reset, so the page keeps the stride, padding and the rest the student chose there.
    """
    problem = carry_problem(kernel)
    if problem:
        raise LayerError(f"This kernel cannot be carried: {problem}.")
    query = [("kernel", "custom"), ("weights", weights_text(kernel)),
             ("gray", "1" if kernel.ndim == 2 else "0")]
    if sample:
        query.append(("sample", sample))
    return View(catalog.CONVOLUTION.path, "Apply this learned kernel on the Convolution page",
                tuple(query), resets=("kernel", "weights", "gray"))
