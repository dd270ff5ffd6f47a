"""Convolution: pick a kernel, stride, padding and dilation, and watch it slide."""

import numpy as np
import streamlit as st

from cnnviz import (
    OUTPUT_SIZE_FORMULA,
    PADDING_MODES,
    PRESETS,
    ConvParams,
    KernelError,
    ParameterError,
    conv_macs_text,
    conv_params_text,
    explain_output_size,
    format_kernel_slices,
    format_value,
    output_shape,
    parse_kernel_slices,
    resolve_padding,
    slices_for,
    step_alt,
    torch_code,
)
from ui import catalog, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import playground
from ui.kernel_editor import kernel_editor
from ui.urlstate import (
    Link,
    choice_param,
    flag_param,
    float_param,
    int_param,
    kernel_param,
    padding_param,
    pair_param,
)

ensure_app_navigation()

PAGE = catalog.CONVOLUTION
P = PAGE.prefix
KERNELS = (*PRESETS, "custom")
BAD = ":material/block:"
image = state.current_image()
# Gray images (digits, teaching matrices) start in grayscale mode, so their numbers match the
# textbook; samples with small integer values start with raw 0-255 values.
KERNEL = choice_param("kernel", P + "kernel", "sobel_x", KERNELS)
WEIGHTS = kernel_param("weights", P + "weights", "1, 0, -1\n2, 0, -2\n1, 0, -1")
STRIDE = pair_param("stride", (P + "stride_h", P + "stride_w"), (1, 1), 0, 16)
PADDING = padding_param("padding", tuple(P + k for k in ("pad_kind", "pad_t", "pad_b", "pad_l",
                                                         "pad_r")), ("valid", 1, 1, 1, 1))
PAD_MODE = choice_param("pad_mode", P + "pad_mode", "zeros", PADDING_MODES)
DILATION = pair_param("dilation", (P + "dil_h", P + "dil_w"), (1, 1), 0, 8)
BIAS = float_param("bias", P + "bias", 0.0, -1e4, 1e4)
RELU = flag_param("relu", P + "relu", False)
FLIP = flag_param("flip", P + "flip", False)
GRAY = flag_param("gray", P + "gray", image.is_gray)
SCALE = choice_param("scale", P + "scale", image.pixel_scale, ("unit", "raw"))
FILTERS = int_param("filters", P + "filters", 64, 1, 4096)
STEPS = widgets.step_params(PAGE)


def _start_custom_from_preset() -> None:
    """Switching to Custom starts from the preset shown before, ready to be changed."""
    last = st.session_state.get(P + "last_preset")
    if st.session_state[KERNEL.widget] == "custom" and last in PRESETS:
        st.session_state[WEIGHTS.widget] = format_kernel_slices(PRESETS[last].kernel)


st.title("Convolution")
st.markdown(
    "A **kernel** (a small grid of weights) slides over the image. At every position it "
    "multiplies the pixels under it by its weights and adds the products up: that sum is "
    "one pixel of the output. *Stride* is how far it jumps, *padding* adds a border so it "
    "can reach the edges, and *dilation* spreads its taps apart."
)
link = Link()
link.seed([KERNEL, WEIGHTS, STRIDE, PADDING, PAD_MODE, DILATION, BIAS, RELU, FLIP, GRAY,
           SCALE, FILTERS, *STEPS])

# --- controls ---------------------------------------------------------------------------
kernel_col, geometry_col, values_col = st.columns([1.3, 1.2, 1], gap="large")
with kernel_col:
    name = widgets.select(KERNEL, "Kernel", on_change=_start_custom_from_preset,
                          format_func=lambda n: PRESETS[n].label if n in PRESETS
                          else "Custom (your own numbers)")
    if name != "custom":
        st.session_state[P + "last_preset"] = name
        st.caption(PRESETS[name].explanation)
    else:
        kernel_editor(PAGE, WEIGHTS.widget, 1 if st.session_state[GRAY.widget] else 3)
with geometry_col:
    c1, c2 = st.columns(2)
    widgets.number(STRIDE, "Stride ↓ (rows)", c1, index=0)
    widgets.number(STRIDE, "Stride → (columns)", c2, index=1)
    widgets.number(DILATION, "Dilation ↓", c1, index=0,
                   help="1 means the taps touch; 2 leaves one pixel between them.")
    widgets.number(DILATION, "Dilation →", c2, index=1)
    pad_kind = widgets.select(PADDING, "Padding", c1,
                              format_func={"valid": "valid (none)", "same": "same (keep size)",
                                           "custom": "pixels per side"}.get)
    widgets.select(PAD_MODE, "Padding holds", c2,
                   help="zeros: a black border. reflect / replicate / circular: copies of the "
                   "image's own edge pixels.")
    if pad_kind == "custom":
        for i, (col, label) in enumerate(zip(st.columns(4), ("top", "bottom", "left", "right"),
                                             strict=True), start=1):
            widgets.number(PADDING, label, col, index=i)
with values_col:
    widgets.number(BIAS, "Bias", step=0.5, help="Added to every output pixel.")
    widgets.toggle(RELU, "ReLU after (max(0, x))")
    widgets.toggle(FLIP, "True convolution (kernel turned 180°)",
                   help="Mathematics' convolution turns the kernel round before it slides. "
                   "Deep learning skips the turn (cross-correlation): the network learns its "
                   "weights either way, so the turn changes nothing but the picture of them.")
    widgets.pixel_controls(GRAY, SCALE, "Off: the kernel has one slice per colour channel and "
                           "the three results are summed, as in a real conv layer.")

# --- the kernel and the numbers -------------------------------------------------------------
gray = st.session_state[GRAY.widget]
values = playground.as_values(image.pixels, gray=gray, scale=st.session_state[SCALE.widget],
                              digest=image.digest)
channels = values.shape[2]
try:
    kernel = slices_for(parse_kernel_slices(st.session_state[WEIGHTS.widget])
                        if name == "custom" else PRESETS[name].kernel, channels)
except KernelError as err:
    link.stop(f"This kernel cannot be used. {err}", ":material/grid_off:")

_, *sides = PADDING.current()
padding = tuple(int(s) for s in sides) if pad_kind == "custom" else pad_kind
h, w = values.shape[:2]
kh, kw = kernel.shape[:2]
stride, dilation = (tuple(int(v) for v in p.current()) for p in (STRIDE, DILATION))
try:
    params = ConvParams(kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                        bias=float(st.session_state[BIAS.widget]),
                        padding_mode=st.session_state[PAD_MODE.widget],
                        flip=bool(st.session_state[FLIP.widget]))
    pads = resolve_padding(padding, (kh, kw), dilation, stride)
    out_h, out_w = output_shape((h, w), (kh, kw), stride, pads, dilation)
except ParameterError as err:
    st.error(f"These settings do not work together. {err}", icon=BAD)
    widgets.show_formula_inputs(h, w, kh, kw, stride, padding, dilation)
    link.stop()

# Output size, with the actual numbers.
st.subheader("Output size")
f1, f2, f3 = st.columns([1.2, 1.2, 1])
for col, axis, n in ((f1, 0, h), (f2, 1, w)):
    explained = explain_output_size(n, kernel.shape[axis], stride[axis], pads[2 * axis],
                                    pads[2 * axis + 1], dilation[axis])
    col.markdown(f"**{'Height' if axis == 0 else 'Width'}** ({n} pixels)  \n`{explained.text}`")
f3.markdown(f"**Output:** {out_h} × {out_w}  \nformula: `{OUTPUT_SIZE_FORMULA}`")

# --- full output and the zoom box ---------------------------------------------------------------
region = widgets.choose_region(STEPS, out_h, out_w)
relu = bool(st.session_state[RELU.widget])
try:
    steps, output = playground.conv_result(values, params, region, relu)
except ParameterError as err:  # e.g. reflect padding wider than the image
    link.stop(f"These settings do not work together. {err}", BAD)

left, right = st.columns(2)
left.plotly_chart(playground.picture(
    widgets.display_pixels(image.pixels, gray),
    title=f"Input {h}×{w}×{channels} (box: what the zoomed outputs see)", box=steps.input_box,
    name=f"{image.digest}:{gray}"), key=P + "input_fig",
    alt=f"Input: {state.describe(image)}{', in grey' if gray else ''}; a box marks the pixels "
    f"that the zoomed outputs read, {widgets.region_text(steps.input_box)}")
right.plotly_chart(playground.picture(
    output, title=f"Output {out_h}×{out_w}" + (" after ReLU" if relu else ""), box=region,
    colorbar_title="value", name=f"{values.key}:{params!r}:{relu}"), key=P + "output_fig",
    alt=f"Output of {PRESETS[name].label if name in PRESETS else 'your kernel'} on "
    f"{image.label}, {out_h}×{out_w}{' after ReLU' if relu else ''}; a box marks the zoomed "
    f"cells, {widgets.region_text(region)}")

# --- step-through -------------------------------------------------------------------------------
st.subheader("Step through, window by window")
n = len(steps.sums)
start, frame_ms = widgets.step_controls(STEPS, n)
st.plotly_chart(playground.conv_figure(values, params, region, steps, start, frame_ms),
                key=P + "steps_fig", alt=step_alt(steps, start))
st.caption(
    f"{n} windows in the zoom box. Each window's products and sum are worked out in float64 "
    "from the padded image (NumPy); the output picture is OpenCV's filter2D in float32. The "
    "tests check both against torch.nn.functional.conv2d over hundreds of random settings, "
    "and each sum here equals its output cell to the digits shown."
    + (" The ReLU is applied to the full output on the right." if relu else "")
)
if params.flip:
    crossed = float((steps.patches[start] * steps.kernel[::-1, ::-1]).sum() + params.bias)
    r, c = int(steps.out_rows[start]), int(steps.out_cols[start])
    st.info(f"**True convolution** slides the kernel turned 180° (the step-through shows it "
            f"turned). Deep learning's \"convolution\" is cross-correlation, the kernel as "
            f"written: the weights are learned, so turning them changes nothing but their "
            f"picture. Here out[{r}, {c}] is **{format_value(steps.sums[start])}** turned, "
            f"{format_value(crossed)} as written.", icon=":material/rotate_right:")
with st.expander("In PyTorch: the layer that computes this output", icon=":material/code:"):
    st.code(torch_code(channels, np.asarray(steps.kernel).transpose(2, 0, 1)[None],
                       np.array([params.bias]), stride=stride, padding=pads,
                       dilation=dilation, padding_mode=params.padding_mode,
                       note="the kernel turned 180° (true convolution)" if params.flip
                       else "") + ("\n# then torch.relu(out)" if relu else ""),
            language="python")

# --- layer cost ------------------------------------------------------------------------------
st.subheader("What a layer of such filters costs")
filters = widgets.number(FILTERS, "Filters in the layer (F)")
cost1, cost2 = st.columns(2)
cost1.markdown(f"**Parameters** = F × (kh·kw·C + 1)  \n"
               f"`{conv_params_text(channels, filters, (kh, kw))}`")
cost2.markdown(f"**Multiply-adds** = H_out·W_out·F × kh·kw·C  \n"
               f"`{conv_macs_text((out_h, out_w), channels, filters, (kh, kw))}`")

# --- export -------------------------------------------------------------------------------------
st.subheader("For your slides")
e1, e2, e3 = st.columns(3)
e1.download_button("Output as PNG", playground.png(output), file_name="conv-output.png",
                   mime="image/png", on_click="ignore", icon=":material/image:")
e2.download_button("Step-through as GIF", playground.conv_gif(steps, frame_ms),
                   file_name="conv-steps.gif", mime="image/gif", on_click="ignore",
                   icon=":material/animation:")
e3.code(format_kernel_slices(np.asarray(kernel)), language=None)

link.publish()
