"""Controls shared by the Convolution and Pooling pages: zoom box, stepping, speed."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz.images import ensure_rgb, to_gray

from cnnviz import arithmetic
from ui.urlstate import UrlParam, choice, format_pair, int_in, pair_in, seed

#: Outputs up to this many cells are stepped through whole; larger ones through a zoom box.
WHOLE_OUTPUT_CELLS = 32 * 32
ZOOM_SIZES = (4, 6, 8, 12, 16)
SPEEDS = {"slow": 1200, "normal": 600, "fast": 250, "very fast": 80}  # ms per step
AUTO = -1  # zoom position "centre of the output"


def show_url_notices(params: list[UrlParam]) -> None:
    """Seed the page's controls from the link; say so when the link had bad values."""
    for notice in seed(params, "page"):
        st.warning(notice, icon=":material/link_off:")


def pixel_controls(prefix: str, gray_help: str) -> None:
    """The grayscale toggle and the 0-1 / 0-255 choice, the same on both playground pages."""
    st.toggle("Grayscale (one channel)", key=prefix + "gray", persist_state="session",
              help=gray_help)
    st.segmented_control("Pixel values", ("unit", "raw"), key=prefix + "scale", required=True,
                         persist_state="session",
                         format_func={"unit": "0 – 1", "raw": "0 – 255"}.get)


def step_params(prefix: str) -> list[UrlParam]:
    return [
        UrlParam("zoom", (prefix + "zoom_r", prefix + "zoom_c"), (AUTO, AUTO),
                 pair_in(0, 100_000), format_pair),
        UrlParam("zoom_size", (prefix + "zoom_size",), 8, _zoom_size),
        UrlParam("step", (prefix + "step",), 1, int_in(1, 100_000)),
        UrlParam("speed", (prefix + "speed",), "normal", choice(tuple(SPEEDS))),
    ]


def _zoom_size(text: str) -> int:
    value = int(text)
    if value not in ZOOM_SIZES:
        raise ValueError("not a zoom size")
    return value


def choose_region(prefix: str, out_h: int, out_w: int) -> tuple[int, int, int, int]:
    """The output cells to step through: all of a small output, or a zoom box."""
    if out_h * out_w <= WHOLE_OUTPUT_CELLS:
        st.caption(f"The output is small ({out_h}×{out_w}), so the step-through covers all of it.")
        return (0, out_h, 0, out_w)
    c1, c2, c3 = st.columns([1, 2, 2])
    size = c1.selectbox("Zoom box (output cells)", ZOOM_SIZES, key=prefix + "zoom_size",
                        persist_state="session", format_func=lambda s: f"{s}×{s}",
                        help="Stepping over every pixel of a big image teaches nothing: "
                        "choose a small box of the output to step through.")
    size_h, size_w = min(size, out_h), min(size, out_w)
    max_r, max_c = out_h - size_h, out_w - size_w
    for key, top, centre in ((prefix + "zoom_r", max_r, max_r // 2),
                             (prefix + "zoom_c", max_c, max_c // 2)):
        current = st.session_state.get(key, AUTO)
        st.session_state[key] = centre if current == AUTO else min(max(int(current), 0), top)
    r = c2.slider("Zoom box: first output row", 0, max(max_r, 1), key=prefix + "zoom_r",
                  persist_state="session", disabled=max_r == 0)
    c = c3.slider("Zoom box: first output column", 0, max(max_c, 1), key=prefix + "zoom_c",
                  persist_state="session", disabled=max_c == 0)
    r, c = min(r, max_r), min(c, max_c)
    return (r, r + size_h, c, c + size_w)


def display_pixels(pixels: np.ndarray, gray: bool) -> np.ndarray:
    """What the input picture shows: the image, or its grayscale version."""
    return ensure_rgb(to_gray(pixels)) if gray else pixels


def input_box(steps, region) -> tuple[int, int, int, int]:
    """The input pixels (unpadded coordinates) that the region's windows touch."""
    top, _, left, _ = steps.pads
    in_h = steps.padded.shape[0] - steps.pads[0] - steps.pads[1]
    in_w = steps.padded.shape[1] - steps.pads[2] - steps.pads[3]
    r0 = max(int(steps.tap_rows.min()) - top, 0)
    r1 = min(int(steps.tap_rows.max()) - top + 1, in_h)
    c0 = max(int(steps.tap_cols.min()) - left, 0)
    c1 = min(int(steps.tap_cols.max()) - left + 1, in_w)
    return (r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))


def step_controls(prefix: str, n: int) -> tuple[int, int]:
    """Step number (its +/- buttons step forward and back) and playback speed.

    Returns (0-based start step, milliseconds per frame).
    """
    key = prefix + "step"
    st.session_state[key] = min(max(int(st.session_state.get(key, 1)), 1), n)
    c1, c2, c3 = st.columns([1, 1, 3])
    step = c1.number_input(f"Step (1–{n})", 1, n, key=key, persist_state="session",
                           help="Use − and + to step back and forward; ▶ Play below runs "
                           "the animation in your browser.")
    speed = c2.selectbox("Speed", tuple(SPEEDS), key=prefix + "speed", persist_state="session")
    c3.caption("▶ Play and the slider under the figure animate in the browser; the step "
               "box opens the figure at that step.")
    return int(step) - 1, SPEEDS[speed]


def show_formula_inputs(h, w, kh, kw, stride, padding, dilation) -> None:
    """When the settings are impossible, still show the formula and what went in."""
    st.markdown(
        f"Formula: `{arithmetic.OUTPUT_SIZE_FORMULA}` with n = {h}×{w}, k = {kh}×{kw}, "
        f"s = {format_pair(stride)}, p = {padding}, d = {format_pair(dilation)}."
    )
