"""The custom kernel of the Convolution page as an editable grid of numbers.

The kernel's text (``weights`` in the URL, also editable as text) stays the one
source of truth: the grids, the size inputs and the slice buttons each rewrite the
text in a callback, and the grids are rebuilt from it on the next run.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from cnnviz.kernels import (
    MAX_KERNEL_SIZE,
    KernelError,
    format_kernel_slices,
    parse_kernel_slices,
)

CHANNEL_NAMES = ("R", "G", "B")


def resize(kernel: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Crop or zero-pad a (kh, kw[, C]) kernel to (rows, cols[, C]), keeping the top-left."""
    out = np.zeros((rows, cols, *kernel.shape[2:]), dtype=np.float32)
    h, w = min(rows, kernel.shape[0]), min(cols, kernel.shape[1])
    out[:h, :w] = kernel[:h, :w]
    return out


def apply_edits(slice_2d: np.ndarray, edited_rows: dict) -> np.ndarray:
    """A data-editor's ``edited_rows`` ({row: {column name: value}}) applied to a slice.

    Columns are named "1".."kw"; a cleared cell counts as 0; values that are not finite
    numbers are ignored (the grid only accepts numbers, but a paste may bring text).
    """
    out = slice_2d.astype(np.float32).copy()
    for row, changes in edited_rows.items():
        r = int(row)
        for column, value in changes.items():
            c = int(column) - 1
            if not (0 <= r < out.shape[0] and 0 <= c < out.shape[1]):
                continue
            try:
                number = 0.0 if value is None else float(value)
            except (TypeError, ValueError):
                continue
            if np.isfinite(number):
                out[r, c] = number
    return out


def _set_text(text_key: str, kernel: np.ndarray) -> None:
    st.session_state[text_key] = format_kernel_slices(kernel)


def _on_size(text_key: str, rows_key: str, cols_key: str) -> None:
    kernel = parse_kernel_slices(st.session_state[text_key])
    _set_text(text_key, resize(kernel, int(st.session_state[rows_key]),
                               int(st.session_state[cols_key])))


def _on_grid(text_key: str, grid_key: str, channel: int) -> None:
    kernel = parse_kernel_slices(st.session_state[text_key])
    edits = st.session_state[grid_key].get("edited_rows", {})
    if kernel.ndim == 2:
        kernel = apply_edits(kernel, edits)
    else:
        kernel = kernel.copy()
        kernel[:, :, channel] = apply_edits(kernel[:, :, channel], edits)
    _set_text(text_key, kernel)


def _on_slices(text_key: str, channels: int) -> None:
    """Toggle between one slice for every channel and one slice per channel."""
    kernel = parse_kernel_slices(st.session_state[text_key])
    if kernel.ndim == 2:
        kernel = np.repeat(kernel[:, :, None], channels, axis=2)
    else:
        kernel = kernel[:, :, 0]
    _set_text(text_key, kernel)


def kernel_editor(prefix: str, channels: int) -> None:
    """Size inputs, one grid per slice, and the text form of the kernel in
    ``st.session_state[prefix + "weights"]``."""
    text_key = prefix + "weights"
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
        # A new key whenever the text changes, so each grid starts from the kernel as it is.
        version = hashlib.sha1(st.session_state[text_key].encode()).hexdigest()[:10]
        slices = [kernel] if kernel.ndim == 2 else [kernel[:, :, c] for c in
                                                    range(kernel.shape[2])]
        for c, values in enumerate(slices):
            if len(slices) > 1:
                name = CHANNEL_NAMES[c] if len(slices) == 3 else f"channel {c + 1}"
                st.caption(f"Slice for {name}")
            frame = pd.DataFrame(values.astype(float),
                                 columns=[str(j + 1) for j in range(values.shape[1])],
                                 index=[str(i + 1) for i in range(values.shape[0])])
            grid_key = f"{prefix}grid.{c}.{version}"
            st.data_editor(frame, key=grid_key, on_change=_on_grid,
                           args=(text_key, grid_key, c), width="content",
                           column_config={col: st.column_config.NumberColumn(col, format="%g")
                                          for col in frame.columns})
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
