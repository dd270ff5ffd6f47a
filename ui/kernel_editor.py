"""The custom kernel of the Convolution page as an editable grid of numbers.

The kernel's text (``weights`` in the URL, also editable as text) stays the one
source of truth: the grid, the size inputs and the slice buttons each rewrite the
text in a callback, and the grid is drawn from it on the next run.

The grid is a small inline component (``kernel_grid.js``): one element for every
slice, a number per cell. ``st.data_editor`` did the same at about 10 ms a rerun for
an 11×11 kernel (Arrow conversion and column checks), a fifth of the page's budget.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from cnnviz import (
    MAX_KERNEL_SIZE,
    KernelError,
    format_kernel_slices,
    parse_kernel_slices,
    parse_number,
)
from ui.catalog import PageInfo

__all__ = ["apply_edit", "kernel_editor", "resize"]

CHANNEL_NAMES = ("R", "G", "B")
_HERE = Path(__file__).parent
# Without a shadow root (isolate_styles=False): the page's keyboard shortcuts must see that
# a key went to an input, and the CSS is scoped by class instead.
_GRID = st.components.v2.component(
    "cnnviz.kernel_grid", js=(_HERE / "kernel_grid.js").read_text(),
    css=(_HERE / "kernel_grid.css").read_text(), isolate_styles=False,
)


def resize(kernel: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Crop or zero-pad a (kh, kw[, C]) kernel to (rows, cols[, C]), keeping the top-left."""
    out = np.zeros((rows, cols, *kernel.shape[2:]), dtype=np.float32)
    h, w = min(rows, kernel.shape[0]), min(cols, kernel.shape[1])
    out[:h, :w] = kernel[:h, :w]
    return out


def apply_edit(kernel: np.ndarray, edit: object) -> np.ndarray | None:
    """The kernel with one cell changed by the grid's ``edit`` trigger, or None.

    ``edit`` is {"slice", "row", "col", "value"} as the browser sent it: anything out of
    range, malformed or not a finite number (fractions such as 1/9 are numbers) is None.
    """
    if not isinstance(edit, dict):
        return None
    try:
        s, r, c = (int(edit[k]) for k in ("slice", "row", "col"))
        value = parse_number(str(edit["value"]).strip(), r + 1, c + 1)
    except (KeyError, TypeError, ValueError):  # KernelError is a ValueError
        return None
    slices = 1 if kernel.ndim == 2 else kernel.shape[2]
    if not (0 <= s < slices and 0 <= r < kernel.shape[0] and 0 <= c < kernel.shape[1]):
        return None
    out = kernel.astype(np.float32)  # a copy
    if out.ndim == 2:
        out[r, c] = value
    else:
        out[r, c, s] = value
    return out


def _set_text(text_key: str, kernel: np.ndarray) -> None:
    st.session_state[text_key] = format_kernel_slices(kernel)


def _on_size(text_key: str, rows_key: str, cols_key: str) -> None:
    kernel = parse_kernel_slices(st.session_state[text_key])
    _set_text(text_key, resize(kernel, int(st.session_state[rows_key]),
                               int(st.session_state[cols_key])))


def _on_grid(text_key: str, grid_key: str) -> None:
    state = st.session_state.get(grid_key)
    edit = getattr(state, "edit", None) if state is not None else None
    try:
        kernel = parse_kernel_slices(st.session_state[text_key])
    except KernelError:
        return
    edited = apply_edit(kernel, edit)
    if edited is not None:
        _set_text(text_key, edited)


def _on_slices(text_key: str, channels: int) -> None:
    """Toggle between one slice for every channel and one slice per channel."""
    kernel = parse_kernel_slices(st.session_state[text_key])
    if kernel.ndim == 2:
        kernel = np.repeat(kernel[:, :, None], channels, axis=2)
    else:
        kernel = kernel[:, :, 0]
    _set_text(text_key, kernel)


def kernel_editor(page: PageInfo, text_key: str, channels: int) -> None:
    """Size inputs, one grid per slice, and the text form of the kernel in
    ``st.session_state[text_key]`` (the page's ``weights`` control); the size inputs, grid
    and button take the page's key prefix."""
    prefix = page.prefix
    try:
        kernel = parse_kernel_slices(st.session_state[text_key])
    except KernelError:
        kernel = None  # the page reports the error; the text below can fix it
    if kernel is not None:
        rows_key, cols_key = prefix + "kernel_rows", prefix + "kernel_cols"
        st.session_state[rows_key], st.session_state[cols_key] = kernel.shape[:2]
        c1, c2 = st.columns(2)
        c1.number_input("Kernel rows", 1, MAX_KERNEL_SIZE, key=rows_key, on_change=_on_size,
                        args=(text_key, rows_key, cols_key))
        c2.number_input("Kernel columns", 1, MAX_KERNEL_SIZE, key=cols_key, on_change=_on_size,
                        args=(text_key, rows_key, cols_key))
        slices = [kernel] if kernel.ndim == 2 else [kernel[:, :, c] for c in
                                                    range(kernel.shape[2])]
        names = ([""] if len(slices) == 1 else list(CHANNEL_NAMES) if len(slices) == 3
                 else [f"channel {c + 1}" for c in range(len(slices))])
        grid_key = prefix + "grid"
        _GRID(key=grid_key, data={
            "slices": [np.asarray(x, dtype=float).tolist() for x in slices], "names": names,
            "version": hashlib.sha1(st.session_state[text_key].encode()).hexdigest()[:12]},
            on_edit_change=partial(_on_grid, text_key, grid_key))
        if channels > 1:
            per_channel = kernel.ndim == 3
            st.button("Same slice for every channel" if per_channel
                      else "One slice per channel (R, G, B)", key=prefix + "slices",
                      on_click=_on_slices, args=(text_key, channels),
                      help="A conv filter on a colour image has one slice per channel; "
                      "each slice is multiplied with its channel and the results are summed.")
    with st.expander("Edit as text", expanded=kernel is None):
        st.text_area(
            f"Weights: one row per line, up to {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE}", height=150,
            key=text_key, persist_state="session",
            help="Numbers separated by spaces or commas; fractions like 1/9 work. For a "
            "colour image you may give one slice per channel (R, G, B), separated by a "
            "line holding only |.",
        )
