"""Pooling: max, average and global-average pooling, window by window."""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import numpy as np
import streamlit as st

from cnnviz import arithmetic
from cnnviz.arithmetic import ParameterError
from cnnviz.ops import PoolParams, global_avg_pool
from ui import compute, playground, state
from ui.urlstate import (
    UrlParam,
    choice,
    flag,
    format_flag,
    format_pair,
    pair_in,
    publish,
)

P = "pool."  # widget-key prefix of this page
KINDS = ("max", "avg", "global")
KIND_LABELS = {"max": "Max", "avg": "Average", "global": "Global average"}
#: Outputs up to this many cells are also printed as numbers under the pictures.
MAX_PRINTED_CELLS = 16 * 16


class _StrideParam(UrlParam):
    """`stride` in the URL: absent while the "stride = window" toggle is on."""

    def current(self):
        same, sh, sw = super().current()
        return self.default if same else (False, sh, sw)


def _parse_stride(text: str) -> tuple[bool, int, int]:
    return (False, *pair_in(0, 8)(text))


def _format_stride(value: tuple[bool, int, int]) -> str:
    return format_pair(value[1:])


def _channel_names(channels: int) -> list[str]:
    return ["R", "G", "B"] if channels == 3 else ["gray"]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _as_picture(pooled: np.ndarray, scale: str) -> np.ndarray:
    """A pooled (H, W, C) result as `plots.picture` shows it: RGB uint8, or the gray map."""
    if pooled.shape[2] == 1:
        return pooled[:, :, 0]
    rgb = pooled * 255.0 if scale == "unit" else pooled
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _numbers(matrix: np.ndarray) -> str:
    """A small 2-D array as aligned text rows, e.g. for a teaching matrix."""
    cells = [[_fmt(v) for v in row] for row in matrix]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  ".join(c.rjust(width) for c in row) for row in cells)


image = state.current_image()
# Gray images (digits, teaching matrices) start in grayscale mode, so their numbers match the
# textbook; samples with small integer values start with raw 0-255 values.
PARAMS = [
    UrlParam("kind", (P + "kind",), "max", choice(KINDS)),
    UrlParam("size", (P + "size_h", P + "size_w"), (2, 2), pair_in(1, 8), format_pair),
    _StrideParam("stride", (P + "same_stride", P + "stride_h", P + "stride_w"), (True, 2, 2),
                 _parse_stride, _format_stride),
    UrlParam("padding", (P + "pad_h", P + "pad_w"), (0, 0), pair_in(0, 4), format_pair),
    UrlParam("gray", (P + "gray",), image.is_gray, flag, format_flag),
    UrlParam("scale", (P + "scale",), image.pixel_scale, choice(("unit", "raw"))),
    *playground.step_params(P),
]

st.title("Pooling")
st.markdown(
    "A **pooling** layer shrinks a map: a small window slides over it and each output "
    "cell keeps one number per window, the **maximum** (max pooling) or the **mean** "
    "(average pooling). It works on every channel separately, so the channels stay. "
    "**Global average pooling** takes the mean of a whole channel: one number per channel."
)
playground.show_url_notices(PARAMS)

# --- controls ---------------------------------------------------------------------------
kind_col, geometry_col, values_col = st.columns([1.1, 1.4, 1], gap="large")
with kind_col:
    kind = st.segmented_control("Pooling", KINDS, key=P + "kind", required=True,
                                persist_state="session", format_func=KIND_LABELS.get)
    st.caption({
        "max": "Each output cell is the largest value in its window: the strongest response "
               "wins, wherever it sits in the window.",
        "avg": "Each output cell is the mean of its window (padding zeros count, as in "
               "PyTorch's default).",
        "global": "One window as big as the whole map: each channel becomes its mean.",
    }[kind])
is_global = kind == "global"
with geometry_col:
    c1, c2 = st.columns(2)
    c1.number_input("Window ↓ (rows)", 1, 8, key=P + "size_h", persist_state="session",
                    disabled=is_global)
    c2.number_input("Window → (columns)", 1, 8, key=P + "size_w", persist_state="session",
                    disabled=is_global)
    same_stride = st.toggle("Stride = window (no overlap)", key=P + "same_stride",
                            persist_state="session", disabled=is_global,
                            help="PyTorch's default: the window jumps by its own size, so "
                            "windows neither overlap nor leave gaps.")
    if same_stride:
        # Keep the stride inputs in step, so they start at the window when the toggle goes off.
        st.session_state[P + "stride_h"] = int(st.session_state[P + "size_h"])
        st.session_state[P + "stride_w"] = int(st.session_state[P + "size_w"])
    else:
        c1.number_input("Stride ↓", 0, 8, key=P + "stride_h", persist_state="session",
                        disabled=is_global)
        c2.number_input("Stride →", 0, 8, key=P + "stride_w", persist_state="session",
                        disabled=is_global)
    c1.number_input("Padding ↓ (rows)", 0, 4, key=P + "pad_h", persist_state="session",
                    disabled=is_global, help="At most half the window, as in PyTorch. Max "
                    "pooling pads with −∞ (padding never wins), average pooling with 0.")
    c2.number_input("Padding → (columns)", 0, 4, key=P + "pad_w", persist_state="session",
                    disabled=is_global)
with values_col:
    playground.pixel_controls(P, "Off: each colour channel is pooled on its own and the "
                              "output keeps all three.")

gray = st.session_state[P + "gray"]
scale = st.session_state[P + "scale"]
values = compute.as_values(image.pixels, gray=gray, scale=scale, digest=image.digest)
h, w, channels = values.shape
names = _channel_names(channels)
NO_PARAMETERS = (
    "**Parameters added: 0.** A pooling layer has no weights and no bias: the maximum and "
    "the mean are fixed functions, so there is nothing for training to learn "
    f"(`arithmetic.pool_params() = {arithmetic.pool_params()}`). It only makes the map smaller, "
    "which makes every later layer cheaper."
)

# --- global average pooling ---------------------------------------------------------------
if is_global:
    means = global_avg_pool(values.array)
    st.subheader("Global average pooling")
    st.markdown(
        f"It turns **H×W×C into 1×1×C**: here {h}×{w}×{channels} becomes 1×1×{channels}, one "
        "number per channel, the mean of all its pixels. Networks use it before the "
        "classifier, so any image size gives the same number of features. There is no "
        "window to slide, so there is no step-through."
    )
    cols = st.columns(max(channels, 2))
    for col, name, mean in zip(cols, names, means, strict=False):
        col.metric(f"Mean of {name}", _fmt(float(mean)))
    left, right = st.columns(2)
    left.plotly_chart(compute.picture(
        playground.display_pixels(image.pixels, gray), title=f"Input {h}×{w}×{channels}"),
        key=P + "input_fig")
    right.plotly_chart(compute.picture(
        _as_picture(means.reshape(1, 1, channels), scale),
        title=f"Output 1×1×{channels}" + (" (the mean colour)" if channels == 3 else "")),
        key=P + "global_fig")
    st.markdown(NO_PARAMETERS)
    publish(PARAMS)
    st.stop()

# --- the numbers -----------------------------------------------------------------------------
size = (int(st.session_state[P + "size_h"]), int(st.session_state[P + "size_w"]))
stride = size if same_stride else (int(st.session_state[P + "stride_h"]),
                                   int(st.session_state[P + "stride_w"]))
padding = (int(st.session_state[P + "pad_h"]), int(st.session_state[P + "pad_w"]))
try:
    params = PoolParams(kind=kind, size=size, stride=None if same_stride else stride,
                        padding=padding)
    out_h, out_w = arithmetic.pool_output_shape((h, w), size, stride, padding)
except ParameterError as err:
    st.error(f"These settings do not work together. {err}", icon=":material/block:")
    playground.show_formula_inputs(h, w, size[0], size[1], stride, format_pair(padding), (1, 1))
    publish(PARAMS)
    st.stop()

st.subheader("Output size")
explain_h = arithmetic.explain_output_size(h, size[0], stride[0], padding[0], padding[0], 1)
explain_w = arithmetic.explain_output_size(w, size[1], stride[1], padding[1], padding[1], 1)
f1, f2, f3 = st.columns([1.2, 1.2, 1])
f1.markdown(f"**Height** ({h} pixels)  \n`{explain_h.text}`")
f2.markdown(f"**Width** ({w} pixels)  \n`{explain_w.text}`")
f3.markdown(f"**Output:** {out_h} × {out_w} × {channels}  \n"
            f"formula: `{arithmetic.OUTPUT_SIZE_FORMULA}` (k = window, d = 1)")
st.markdown(NO_PARAMETERS)

# --- full output and the zoom box ---------------------------------------------------------------
region = playground.choose_region(P, out_h, out_w)
steps = compute.pool_result(values, params, region)
output = compute.pool_full(values, params)  # (out_h, out_w, C)
in_box = playground.input_box(steps, region)
left, right = st.columns(2)
left.plotly_chart(compute.picture(
    playground.display_pixels(image.pixels, gray),
    title=f"Input {h}×{w}×{channels} (box: what the zoomed outputs see)", box=in_box,
    name=f"{image.digest}:{gray}"), key=P + "input_fig")
right.plotly_chart(compute.picture(
    _as_picture(output, scale), title=f"{KIND_LABELS[kind]} pooling: {out_h}×{out_w}×{channels}",
    box=region, colorbar_title="value", name=f"{values.key}:{params!r}:{scale}"),
    key=P + "output_fig")

# --- step-through -------------------------------------------------------------------------------
st.subheader("Step through, window by window")
channel = 0
if channels > 1:
    st.session_state.setdefault(P + "channel", 0)
    channel = st.segmented_control(
        "Channel to step through", range(channels), key=P + "channel", required=True,
        persist_state="session", format_func=lambda c: names[c],
        help="Pooling works on every channel separately: the window is the same, the "
        "winner can differ.")
n = len(steps.values)
start, frame_ms = playground.step_controls(P, n)
fig = compute.pool_figure(values, params, region, start, frame_ms, int(channel))
st.plotly_chart(fig, key=P + "steps_fig")
st.caption(
    f"{n} windows in the zoom box. "
    + ("The star marks the cell that wins each window (the first maximum, as in PyTorch). "
       if kind == "max" else "Every cell of the window counts equally. ")
    + "Every number is the one torch computes: the full output comes from "
    + ("torch.nn.functional.max_pool2d." if kind == "max" else "torch.nn.functional.avg_pool2d.")
)
if out_h * out_w <= MAX_PRINTED_CELLS:
    st.markdown(f"**The output in numbers** (channel {names[int(channel)]}):")
    st.code(_numbers(output[:, :, int(channel)]), language=None)

# --- max and average side by side ---------------------------------------------------------------
st.subheader("Max and average, side by side")
st.markdown(
    "The same windows, two rules. Max pooling keeps the strongest value of each window, so "
    "edges and bright details survive; average pooling blurs them into their surroundings."
)
both = {k: compute.pool_full(values, PoolParams(kind=k, size=size, stride=params.stride,
                                               padding=padding)) for k in ("max", "avg")}
s1, s2 = st.columns(2)
for col, k in ((s1, "max"), (s2, "avg")):
    col.plotly_chart(compute.picture(_as_picture(both[k], scale),
                                   title=f"{KIND_LABELS[k]} pooling {out_h}×{out_w}",
                                   colorbar_title="value"), key=P + "side_" + k)

# --- export -------------------------------------------------------------------------------------
st.subheader("For your slides")
e1, e2 = st.columns(2)
picture = _as_picture(output, scale)
e1.download_button("Output as PNG", compute.png(picture), file_name=f"{kind}-pool-output.png", mime="image/png",
                   on_click="ignore", icon=":material/image:")
e2.download_button("Step-through as GIF", compute.pool_gif(steps, frame_ms),
                   file_name=f"{kind}-pool-steps.gif", mime="image/gif", on_click="ignore",
                   icon=":material/animation:")

publish(PARAMS)
