"""Convolution: pick a kernel, stride, padding and dilation, and watch it slide."""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import numpy as np
import streamlit as st

from cnnviz import arithmetic
from cnnviz.arithmetic import ParameterError
from cnnviz.kernels import (
    PRESETS,
    KernelError,
    format_kernel_slices,
    parse_kernel_slices,
)
from cnnviz.ops import PADDING_MODES, ConvParams
from ui import compute, playground, state
from ui.kernel_editor import kernel_editor
from ui.urlstate import (
    UrlParam,
    choice,
    flag,
    float_in,
    format_flag,
    format_float,
    format_pair,
    int_in,
    pair_in,
    publish,
)

P = "conv."  # widget-key prefix of this page
KERNELS = [*PRESETS, "custom"]
DEFAULT_CUSTOM = "1, 0, -1\n2, 0, -2\n1, 0, -1"
PAD_KINDS = ("valid", "same", "custom")


def _parse_padding(text: str) -> tuple:
    text = text.strip()
    if text in ("valid", "same"):
        return (text, 0, 0, 0, 0)
    parts = [int(p) for p in text.split(",")]
    if any(not 0 <= p <= 64 for p in parts):
        raise ValueError("padding out of range")
    if len(parts) == 1:
        parts *= 4
    elif len(parts) == 2:  # (h, w)
        parts = [parts[0], parts[0], parts[1], parts[1]]
    elif len(parts) != 4:
        raise ValueError("expected 1, 2 or 4 numbers")
    return ("custom", *parts)


def _format_padding(value: tuple) -> str:
    kind, *sides = value
    if kind != "custom":
        return kind
    if len(set(sides)) == 1:
        return str(sides[0])
    if sides[0] == sides[1] and sides[2] == sides[3]:
        return f"{sides[0]},{sides[2]}"
    return ",".join(str(s) for s in sides)


def _parse_weights(text: str) -> str:
    text = text.replace(";", "\n")
    parse_kernel_slices(text)  # raises KernelError (a ValueError) when unusable
    return text


def _format_weights(text: str) -> str:
    return ";".join(line.strip() for line in text.strip().splitlines() if line.strip())


image = state.current_image()
# Gray images (digits, teaching matrices) start in grayscale mode, so their numbers match the
# textbook; samples with small integer values start with raw 0-255 values.
def _start_custom_from_preset() -> None:
    """Switching to Custom starts from the preset shown before, ready to be changed."""
    last = st.session_state.get(P + "last_preset")
    if st.session_state[P + "kernel"] == "custom" and last in PRESETS:
        st.session_state[P + "weights"] = format_kernel_slices(PRESETS[last].kernel)


PARAMS = [
    UrlParam("kernel", (P + "kernel",), "sobel_x", choice(KERNELS)),
    UrlParam("weights", (P + "weights",), DEFAULT_CUSTOM, _parse_weights, _format_weights),
    UrlParam("stride", (P + "stride_h", P + "stride_w"), (1, 1), pair_in(0, 16), format_pair),
    UrlParam("padding", (P + "pad_kind", P + "pad_t", P + "pad_b", P + "pad_l", P + "pad_r"),
             ("valid", 1, 1, 1, 1), _parse_padding, _format_padding),
    UrlParam("pad_mode", (P + "pad_mode",), "zeros", choice(PADDING_MODES)),
    UrlParam("dilation", (P + "dil_h", P + "dil_w"), (1, 1), pair_in(0, 8), format_pair),
    UrlParam("bias", (P + "bias",), 0.0, float_in(-1e4, 1e4), format_float),
    UrlParam("relu", (P + "relu",), False, flag, format_flag),
    UrlParam("gray", (P + "gray",), image.is_gray, flag, format_flag),
    UrlParam("scale", (P + "scale",), image.pixel_scale, choice(("unit", "raw"))),
    UrlParam("filters", (P + "filters",), 64, int_in(1, 4096)),
    *playground.step_params(P),
]

st.title("Convolution")
st.markdown(
    "A **kernel** (a small grid of weights) slides over the image. At every position it "
    "multiplies the pixels under it by its weights and adds the products up: that sum is "
    "one pixel of the output. *Stride* is how far it jumps, *padding* adds a border so it "
    "can reach the edges, and *dilation* spreads its taps apart."
)
playground.show_url_notices(PARAMS)

# --- controls ---------------------------------------------------------------------------
kernel_col, geometry_col, values_col = st.columns([1.3, 1.2, 1], gap="large")
with kernel_col:
    name = st.selectbox(
        "Kernel", KERNELS, key=P + "kernel", persist_state="session",
        format_func=lambda n: PRESETS[n].label if n in PRESETS else "Custom (your own numbers)",
        on_change=_start_custom_from_preset,
    )
    if name != "custom":
        st.session_state[P + "last_preset"] = name
    if name == "custom":
        kernel_editor(P, 1 if st.session_state[P + "gray"] else 3)
    else:
        st.caption(PRESETS[name].explanation)
with geometry_col:
    c1, c2 = st.columns(2)
    c1.number_input("Stride ↓ (rows)", 0, 16, key=P + "stride_h", persist_state="session")
    c2.number_input("Stride → (columns)", 0, 16, key=P + "stride_w", persist_state="session")
    c1.number_input("Dilation ↓", 0, 8, key=P + "dil_h", persist_state="session",
                    help="1 means the taps touch; 2 leaves one pixel between them.")
    c2.number_input("Dilation →", 0, 8, key=P + "dil_w", persist_state="session")
    pad_kind = c1.selectbox(
        "Padding", PAD_KINDS, key=P + "pad_kind", persist_state="session",
        format_func={"valid": "valid (none)", "same": "same (keep size)",
                     "custom": "pixels per side"}.get,
    )
    c2.selectbox("Padding holds", PADDING_MODES, key=P + "pad_mode", persist_state="session",
                 help="zeros: a black border. reflect / replicate / circular: copies of the "
                 "image's own edge pixels.")
    if pad_kind == "custom":
        sides = st.columns(4)
        for col, side, label in zip(sides, "tblr", ("top", "bottom", "left", "right"),
                                    strict=True):
            col.number_input(label, 0, 64, key=P + "pad_" + side, persist_state="session")
with values_col:
    st.number_input("Bias", -1e4, 1e4, step=0.5, key=P + "bias", persist_state="session",
                    help="Added to every output pixel.")
    st.toggle("ReLU after (max(0, x))", key=P + "relu", persist_state="session")
    playground.pixel_controls(P, "Off: the kernel has one slice per colour channel and the "
                              "three results are summed, as in a real conv layer.")

# --- the kernel and the numbers -------------------------------------------------------------
gray = st.session_state[P + "gray"]
values = compute.as_values(image.pixels, gray=gray, scale=st.session_state[P + "scale"],
                           digest=image.digest)
channels = values.shape[2]
try:
    if name == "custom":
        kernel = parse_kernel_slices(st.session_state[P + "weights"])
    else:
        kernel = PRESETS[name].kernel
    if kernel.ndim == 3 and kernel.shape[2] != channels:
        raise KernelError(
            f"The kernel has {kernel.shape[2]} channel slices but the image has {channels} "
            f"channel{'s' if channels > 1 else ''}: give {channels} slices, or one slice to use "
            "on every channel."
        )
except KernelError as err:
    st.error(f"This kernel cannot be used. {err}", icon=":material/grid_off:")
    publish(PARAMS)
    st.stop()

if pad_kind == "custom":
    padding = tuple(int(st.session_state[P + "pad_" + s]) for s in "tblr")
else:
    padding = pad_kind
h, w = values.shape[:2]
kh, kw = kernel.shape[:2]
stride = (int(st.session_state[P + "stride_h"]), int(st.session_state[P + "stride_w"]))
dilation = (int(st.session_state[P + "dil_h"]), int(st.session_state[P + "dil_w"]))
try:
    params = ConvParams(kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                        bias=float(st.session_state[P + "bias"]),
                        padding_mode=st.session_state[P + "pad_mode"])
    pads = arithmetic.resolve_padding(padding, (kh, kw), dilation, stride)
    out_h, out_w = arithmetic.output_shape((h, w), (kh, kw), stride, pads, dilation)
except ParameterError as err:
    st.error(f"These settings do not work together. {err}", icon=":material/block:")
    playground.show_formula_inputs(h, w, kh, kw, stride, padding, dilation)
    publish(PARAMS)
    st.stop()

# Output size, with the actual numbers.
st.subheader("Output size")
explain_h = arithmetic.explain_output_size(h, kh, stride[0], pads[0], pads[1], dilation[0])
explain_w = arithmetic.explain_output_size(w, kw, stride[1], pads[2], pads[3], dilation[1])
f1, f2, f3 = st.columns([1.2, 1.2, 1])
f1.markdown(f"**Height** ({h} pixels)  \n`{explain_h.text}`")
f2.markdown(f"**Width** ({w} pixels)  \n`{explain_w.text}`")
f3.markdown(f"**Output:** {out_h} × {out_w}  \nformula: `{arithmetic.OUTPUT_SIZE_FORMULA}`")

# --- full output and the zoom box ---------------------------------------------------------------
region = playground.choose_region(P, out_h, out_w)
relu = bool(st.session_state[P + "relu"])
try:
    steps, output = compute.conv_result(values, params, region, relu)
except ParameterError as err:  # e.g. reflect padding wider than the image
    st.error(f"These settings do not work together. {err}", icon=":material/block:")
    publish(PARAMS)
    st.stop()

in_box = playground.input_box(steps, region)
left, right = st.columns(2)
left.plotly_chart(compute.picture(
    playground.display_pixels(image.pixels, gray),
    title=f"Input {h}×{w}×{channels} (box: what the zoomed outputs see)", box=in_box,
    name=f"{image.digest}:{gray}"), key=P + "input_fig")
right.plotly_chart(compute.picture(output, title=f"Output {out_h}×{out_w}"
                                 + (" after ReLU" if relu else ""),
                                 box=region, colorbar_title="value",
                                 name=f"{values.key}:{params!r}:{relu}"), key=P + "output_fig")

# --- step-through -------------------------------------------------------------------------------
st.subheader("Step through, window by window")
n = len(steps.sums)
start, frame_ms = playground.step_controls(P, n)
fig = compute.conv_figure(values, params, region, steps, start, frame_ms)
st.plotly_chart(fig, key=P + "steps_fig")
st.caption(
    f"{n} windows in the zoom box. Every number is the one torch computes: the full output "
    "comes from torch.nn.functional.conv2d, and each sum here equals its output cell."
    + (" The ReLU is applied to the full output on the right." if relu else "")
)

# --- layer cost ------------------------------------------------------------------------------
st.subheader("What a layer of such filters costs")
filters = st.number_input("Filters in the layer (F)", 1, 4096, key=P + "filters",
                          persist_state="session")
cost1, cost2 = st.columns(2)
cost1.markdown(
    f"**Parameters** = F × (kh·kw·C + 1)  \n"
    f"`{arithmetic.conv_params_text(channels, filters, (kh, kw))}`"
)
cost2.markdown(
    f"**Multiply-adds** = H_out·W_out·F × kh·kw·C  \n"
    f"`{arithmetic.conv_macs_text((out_h, out_w), channels, filters, (kh, kw))}`"
)

# --- export -------------------------------------------------------------------------------------
st.subheader("For your slides")
e1, e2, e3 = st.columns(3)
e1.download_button("Output as PNG", compute.png(output), file_name="conv-output.png",
                   mime="image/png", on_click="ignore", icon=":material/image:")
e2.download_button("Step-through as GIF", compute.conv_gif(steps, frame_ms),
                   file_name="conv-steps.gif", mime="image/gif", on_click="ignore",
                   icon=":material/animation:")
e3.code(format_kernel_slices(np.asarray(kernel)), language=None)

publish(PARAMS)
