"""Pooling: max, average and global-average pooling, window by window."""

import numpy as np
import streamlit as st

from cnnviz import (
    OUTPUT_SIZE_FORMULA,
    ParameterError,
    PoolParams,
    explain_output_size,
    format_value,
    global_avg_pool,
    pool_output_shape,
    pool_params,
    step_alt,
)
from ui import catalog, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import playground
from ui.urlstate import (
    Link,
    choice_param,
    flag_param,
    format_pair,
    pair_param,
    switched_pair_param,
)

ensure_app_navigation()

PAGE = catalog.POOLING
P = PAGE.prefix
KIND_LABELS = {"max": "Max", "avg": "Average", "global": "Global average"}
#: Outputs up to this many cells are also printed as numbers under the pictures.
MAX_PRINTED_CELLS = 16 * 16
image = state.current_image()
# Gray images (digits, teaching matrices) start in grayscale mode, so their numbers match the
# textbook; samples with small integer values start with raw 0-255 values.
KIND = choice_param("kind", P + "kind", "max", tuple(KIND_LABELS))
SIZE = pair_param("size", (P + "size_h", P + "size_w"), (2, 2), 1, 8)
STRIDE = switched_pair_param("stride", (P + "same_stride", P + "stride_h", P + "stride_w"),
                             (2, 2), 0, 8)
PADDING = pair_param("padding", (P + "pad_h", P + "pad_w"), (0, 0), 0, 4)
GRAY = flag_param("gray", P + "gray", image.is_gray)
SCALE = choice_param("scale", P + "scale", image.pixel_scale, ("unit", "raw"))
STEPS = widgets.step_params(PAGE)


def _channel_names(channels: int) -> list[str]:
    return ["R", "G", "B"] if channels == 3 else ["gray"]


def _as_picture(pooled: np.ndarray, scale: str) -> np.ndarray:
    """A pooled (H, W, C) result as a picture shows it: RGB uint8, or the gray map."""
    if pooled.shape[2] == 1:
        return pooled[:, :, 0]
    rgb = pooled * 255.0 if scale == "unit" else pooled
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _numbers(matrix: np.ndarray) -> str:
    """A small 2-D array as aligned text rows, e.g. for a teaching matrix."""
    cells = [[format_value(v) for v in row] for row in matrix]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  ".join(c.rjust(width) for c in row) for row in cells)


st.title("Pooling")
st.markdown(
    "A **pooling** layer shrinks a map: a small window slides over it and each output "
    "cell keeps one number per window, the **maximum** (max pooling) or the **mean** "
    "(average pooling). It works on every channel separately, so the channels stay. "
    "**Global average pooling** takes the mean of a whole channel: one number per channel."
)
link = Link()
link.seed([KIND, SIZE, STRIDE, PADDING, GRAY, SCALE, *STEPS])

# --- controls ---------------------------------------------------------------------------
kind_col, geometry_col, values_col = st.columns([1.1, 1.4, 1], gap="large")
with kind_col:
    kind = widgets.segmented(KIND, "Pooling", format_func=KIND_LABELS.get)
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
    widgets.number(SIZE, "Window ↓ (rows)", c1, index=0, disabled=is_global)
    widgets.number(SIZE, "Window → (columns)", c2, index=1, disabled=is_global)
    same_stride = st.toggle("Stride = window (no overlap)", key=STRIDE.widget,
                            persist_state="session", disabled=is_global,
                            help="PyTorch's default: the window jumps by its own size, so "
                            "windows neither overlap nor leave gaps.")
    if same_stride:
        # Keep the stride inputs in step, so they start at the window when the toggle goes off.
        for size_key, stride_key in zip(SIZE.widgets, STRIDE.widgets[1:], strict=True):
            st.session_state[stride_key] = int(st.session_state[size_key])
    else:
        widgets.number(STRIDE, "Stride ↓", c1, index=1, disabled=is_global)
        widgets.number(STRIDE, "Stride →", c2, index=2, disabled=is_global)
    widgets.number(PADDING, "Padding ↓ (rows)", c1, index=0, disabled=is_global,
                   help="At most half the window, as in PyTorch. Max pooling pads with −∞ "
                   "(padding never wins), average pooling with 0.")
    widgets.number(PADDING, "Padding → (columns)", c2, index=1, disabled=is_global)
with values_col:
    widgets.pixel_controls(GRAY, SCALE, "Off: each colour channel is pooled on its own and "
                           "the output keeps all three.")

gray = st.session_state[GRAY.widget]
scale = st.session_state[SCALE.widget]
values = playground.as_values(image.pixels, gray=gray, scale=scale, digest=image.digest)
h, w, channels = values.shape
names = _channel_names(channels)
NO_PARAMETERS = (
    "**Parameters added: 0.** A pooling layer has no weights and no bias: the maximum and "
    "the mean are fixed functions, so there is nothing for training to learn "
    f"(`pool_params() = {pool_params()}`). It only makes the map smaller, which makes every "
    "later layer cheaper."
)
input_picture = widgets.display_pixels(image.pixels, gray)

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
    for col, name, mean in zip(st.columns(max(channels, 2)), names, means, strict=False):
        col.metric(f"Mean of {name}", format_value(float(mean)))
    left, right = st.columns(2)
    left.plotly_chart(playground.picture(input_picture, title=f"Input {h}×{w}×{channels}",
                                         name=f"{image.digest}:{gray}"), key=P + "input_fig",
                      alt=f"Input: {state.describe(image)}")
    right.plotly_chart(playground.picture(
        _as_picture(means.reshape(1, 1, channels), scale),
        title=f"Output 1×1×{channels}" + (" (the mean colour)" if channels == 3 else ""),
        name=f"{values.key}:global:{scale}"), key=P + "global_fig",
        alt=f"Output of global average pooling: 1×1×{channels}, one mean per channel")
    st.markdown(NO_PARAMETERS)
    link.stop()

# --- the numbers -----------------------------------------------------------------------------
size = tuple(int(v) for v in SIZE.current())
stride = size if same_stride else tuple(int(v) for v in STRIDE.current()[1:])
padding = tuple(int(v) for v in PADDING.current())
try:
    params = PoolParams(kind=kind, size=size, stride=None if same_stride else stride,
                        padding=padding)
    out_h, out_w = pool_output_shape((h, w), size, stride, padding)
except ParameterError as err:
    st.error(f"These settings do not work together. {err}", icon=":material/block:")
    widgets.show_formula_inputs(h, w, size[0], size[1], stride, format_pair(padding), (1, 1))
    link.stop()

st.subheader("Output size")
f1, f2, f3 = st.columns([1.2, 1.2, 1])
for col, axis, n in ((f1, 0, h), (f2, 1, w)):
    explained = explain_output_size(n, size[axis], stride[axis], padding[axis], padding[axis], 1)
    col.markdown(f"**{'Height' if axis == 0 else 'Width'}** ({n} pixels)  \n`{explained.text}`")
f3.markdown(f"**Output:** {out_h} × {out_w} × {channels}  \n"
            f"formula: `{OUTPUT_SIZE_FORMULA}` (k = window, d = 1)")
st.markdown(NO_PARAMETERS)

# --- full output and the zoom box ---------------------------------------------------------------
region = widgets.choose_region(STEPS, out_h, out_w)
steps = playground.pool_result(values, params, region)
output = playground.pool_full(values, params)  # (out_h, out_w, C)
left, right = st.columns(2)
left.plotly_chart(playground.picture(
    input_picture, title=f"Input {h}×{w}×{channels} (box: what the zoomed outputs see)",
    box=steps.input_box, name=f"{image.digest}:{gray}"), key=P + "input_fig",
    alt=f"Input: {state.describe(image)}; a box marks the pixels that the zoomed outputs read, "
    f"{widgets.region_text(steps.input_box)}")
right.plotly_chart(playground.picture(
    _as_picture(output, scale), title=f"{KIND_LABELS[kind]} pooling: {out_h}×{out_w}×{channels}",
    box=region, colorbar_title="value", name=f"{values.key}:{params!r}:{scale}"),
    key=P + "output_fig", alt=f"Output of {KIND_LABELS[kind].lower()} pooling on {image.label}, "
    f"{out_h}×{out_w}×{channels}; a box marks the zoomed cells, {widgets.region_text(region)}")

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
start, frame_ms = widgets.step_controls(STEPS, n)
st.plotly_chart(playground.pool_figure(values, params, region, start, frame_ms, int(channel)),
                key=P + "steps_fig", alt=step_alt(steps, start, channel=int(channel)))
torch_name = "max_pool2d" if kind == "max" else "avg_pool2d"
st.caption(
    f"{n} windows in the zoom box. "
    + ("The star marks the cell that wins each window (the first maximum, as in PyTorch). "
       if kind == "max" else "Every cell of the window counts equally. ")
    + f"The output is torch.nn.functional.{torch_name}'s; each window's value here is worked "
    "out from its cells (NumPy, float64) and equals its output cell."
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
for col, k in zip(st.columns(2), ("max", "avg"), strict=True):
    both = PoolParams(kind=k, size=size, stride=params.stride, padding=padding)
    col.plotly_chart(playground.picture(
        _as_picture(playground.pool_full(values, both), scale),
        title=f"{KIND_LABELS[k]} pooling {out_h}×{out_w}", colorbar_title="value",
        name=f"{values.key}:{both!r}:{scale}"), key=P + "side_" + k,
        alt=f"{KIND_LABELS[k]} pooling of {image.label}, {out_h}×{out_w}×{channels}")

# --- export -------------------------------------------------------------------------------------
st.subheader("For your slides")
e1, e2 = st.columns(2)
e1.download_button("Output as PNG", playground.png(_as_picture(output, scale)),
                   file_name=f"{kind}-pool-output.png", mime="image/png", on_click="ignore",
                   icon=":material/image:")
e2.download_button("Step-through as GIF", playground.pool_gif(steps, frame_ms),
                   file_name=f"{kind}-pool-steps.gif", mime="image/gif", on_click="ignore",
                   icon=":material/animation:")

link.publish()
