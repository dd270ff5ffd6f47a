"""Transposed convolution: the upsampling layer, as stamps and as a convolution."""

import numpy as np
import streamlit as st

from cnnviz import (
    PRESETS,
    TRANSPOSE_OUTPUT_SIZE_FORMULA,
    KernelError,
    ParameterError,
    check_groups,
    format_kernel,
    interior,
    parse_kernel,
    plain,
    scatter_captions,
    step_alt,
    torch_code,
    transpose_output_shape,
    transpose_output_size_text,
)
from ui import catalog, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import layers, playground
from ui.urlstate import Link, choice_param, flag_param, int_param, kernel_param, pair_param

ensure_app_navigation()

PAGE = catalog.TRANSPOSED
P = PAGE.prefix
ONES = {"ones2": 2, "ones3": 3, "ones4": 4}
KERNELS = (*ONES, *PRESETS, "custom")
SIDES = (2, 3, 4, 5, 6, 8, 16, 32, 64)
VIEWS = {"scatter": "Stamps: each input cell scatters the kernel",
         "conv": "As a convolution: zeros between the cells, the kernel turned"}
image = state.current_image()
SIDE = choice_param("side", P + "side", 4, SIDES)
GRAY = flag_param("gray", P + "gray", True)
KERNEL = choice_param("kernel", P + "kernel", "ones3", KERNELS)
WEIGHTS = kernel_param("weights", P + "weights", "1, 2, 1\n2, 4, 2\n1, 2, 1")
STRIDE = pair_param("stride", (P + "stride_h", P + "stride_w"), (2, 2), 0, 8)
PADDING = pair_param("padding", (P + "pad_h", P + "pad_w"), (0, 0), 0, 8)
OUT_PAD = pair_param("out_pad", (P + "out_pad_h", P + "out_pad_w"), (0, 0), 0, 8)
DILATION = pair_param("dilation", (P + "dil_h", P + "dil_w"), (1, 1), 0, 4)
FILTERS = int_param("filters", P + "filters", 1, 1, 16)
GROUPS = int_param("groups", P + "groups", 1, 1, 16)
CHANNEL = int_param("channel", P + "channel", 0, 0, 15)
VIEW = choice_param("view", P + "view", "scatter", tuple(VIEWS))
STEPS = widgets.step_params(PAGE)


def _kernel(name: str) -> np.ndarray:
    if name in ONES:
        return np.ones((ONES[name], ONES[name]))
    if name == "custom":
        return parse_kernel(st.session_state[WEIGHTS.widget])
    return PRESETS[name].kernel


def _why_checkerboards() -> None:
    """The classic artefact: kernel 3, stride 2, ones, no padding."""
    for param, value in ((KERNEL, "ones3"), (STRIDE, (2, 2)), (PADDING, (0, 0)),
                         (OUT_PAD, (0, 0)), (DILATION, (1, 1))):
        values = value if len(param.widgets) > 1 else (value,)
        for widget, v in zip(param.widgets, values, strict=True):
            st.session_state[widget] = v


st.title("Transposed convolution")
st.markdown(
    "The layer that makes maps **bigger**: decoders, segmentation networks and GANs use it "
    "to upsample. Each input cell **stamps** a copy of the kernel, scaled by its value, onto "
    "the output, *stride* cells from its neighbour's stamp; where stamps overlap they add "
    "up. The same numbers come from an ordinary convolution of the input with *stride − 1* "
    "zeros between its cells and the kernel turned 180°. It is the backward pass of a "
    "convolution run forwards, not its inverse."
)
link = Link()
link.seed([SIDE, GRAY, KERNEL, WEIGHTS, STRIDE, PADDING, OUT_PAD, DILATION, FILTERS, GROUPS,
           CHANNEL, VIEW, *STEPS])

kernel_col, geometry_col, layer_col = st.columns([1.2, 1.4, 1], gap="large")
with kernel_col:
    name = widgets.select(KERNEL, "Kernel", format_func=lambda n: (
        f"Ones {ONES[n]}×{ONES[n]}" if n in ONES else PRESETS[n].label if n in PRESETS
        else "Custom (your own numbers)"))
    if name == "custom":
        st.text_area("Kernel rows (numbers split by commas)", key=WEIGHTS.widget,
                     persist_state="session", height=110)
    widgets.select(SIDE, "Input: your image shrunk to at most", format_func=lambda s:
                   f"{s} cells a side")
    widgets.toggle(GRAY, "Grayscale (one channel)")
with geometry_col:
    c1, c2 = st.columns(2)
    for col, axis, arrow in ((c1, 0, "↓"), (c2, 1, "→")):
        widgets.number(STRIDE, f"Stride {arrow}", col, index=axis)
        widgets.number(PADDING, f"Padding {arrow}", col, index=axis,
                       help="Cut from each side of the stamped output.")
        widgets.number(OUT_PAD, f"Output padding {arrow}", col, index=axis,
                       help="Rows or columns added at the bottom or right, so the output "
                       "can match a strided convolution's input; smaller than the stride "
                       "or the dilation.")
        widgets.number(DILATION, f"Dilation {arrow}", col, index=axis)
    st.button("Why checkerboards? (kernel 3, stride 2)", on_click=_why_checkerboards,
              icon=":material/grid_4x4:")
with layer_col:
    filters = widgets.number(FILTERS, "Filters (output channels F)",
                             help="Output channel 0 stamps your kernel; the others random "
                             "weights (seed 0), to make a whole layer.")
    groups = widgets.number(GROUPS, "Groups", help="Groups must divide the input channels "
                            "and F; groups = C is depthwise.")
    channel = widgets.number(CHANNEL, "Output channel to step through")

values = layers.small_values(image.pixels, image.digest, st.session_state[SIDE.widget],
                             st.session_state[GRAY.widget])
h, w, c_in = values.shape
try:
    kernel = _kernel(name)
    settings = layers.LayerSettings(
        kernel=kernel.tolist(), channels=c_in, filters=int(filters), groups=int(groups),
        stride=STRIDE.current(), padding=PADDING.current(), dilation=DILATION.current(),
        output_padding=OUT_PAD.current())
    out_h, out_w = transpose_output_shape((h, w), kernel.shape, settings.stride,
                                          settings.padding, settings.output_padding,
                                          settings.dilation)
    check_groups(c_in, settings.filters, settings.groups, "filters")
    if not 0 <= channel < settings.filters:
        raise ParameterError(f"Output channel {channel} does not exist: the layer has "
                             f"{settings.filters}.")
except (KernelError, ParameterError) as err:
    link.stop(f"These settings do not work together. {err}", ":material/block:")

st.subheader("Output size")
f1, f2, f3 = st.columns([1.3, 1.3, 1])
for col, axis, n in ((f1, 0, h), (f2, 1, w)):
    text = transpose_output_size_text(n, kernel.shape[axis], settings.stride[axis],
                                      settings.padding[axis], settings.output_padding[axis],
                                      settings.dilation[axis])
    col.markdown(f"**{'Height' if axis == 0 else 'Width'}** ({n} cells)  \n`{text}`")
f3.markdown(f"**Output:** {out_h} × {out_w} × {settings.filters}  \n"
            f"formula: `{TRANSPOSE_OUTPUT_SIZE_FORMULA}`")

# --- the step-through ---------------------------------------------------------------------
st.subheader("Step through")
view = widgets.segmented(VIEW, "Two views of the same numbers", format_func=VIEWS.get)
if view == "scatter":
    region = widgets.choose_region(STEPS, h, w, "input")
else:
    region = widgets.choose_region(STEPS, out_h, out_w)
data, output = layers.transposed(values, settings, int(channel), view, region)
n = len(data.stamps) if view == "scatter" else len(data.steps.sums)
start, frame_ms = widgets.step_controls(STEPS, n)
figure = layers.transposed_figure(values, settings, int(channel), view, region, start,
                                  frame_ms)
alt = (f"Transposed convolution as stamps, stamp {start + 1} of {n}: "
       + plain(scatter_captions(data)[start]) if view == "scatter" else
       "Transposed convolution as a convolution of the stretched, padded input with the "
       "turned kernel: " + step_alt(data.steps, start))
st.plotly_chart(figure, key=P + "steps_fig", alt=alt)
if view == "scatter":
    whole = region == (0, h, 0, w)
    st.caption(
        f"{n} stamps. " + ("After the last one, the dotted box holds the output: the canvas "
                           "without the padding rows and columns"
                           + (f", and {settings.output_padding} extra at the bottom and right"
                              if any(settings.output_padding) else "")
                           + ". It equals torch.nn.functional.conv_transpose2d to the "
                           "digits shown." if whole else
                           "The zoom box's stamps only: cells near its edge also get stamps "
                           "from input cells outside it."))
else:
    top, bottom, left, right = data.pads
    st.caption(
        f"The input with {settings.stride[0] - 1} zero row(s) and {settings.stride[1] - 1} "
        f"zero column(s) between its cells, padded by d·(k − 1) − p = {top} rows and {left} "
        f"columns before and {bottom} and {right} after (negative: cut), convolved with the "
        "kernel turned 180°, stride 1. Each sum equals torch's conv_transpose2d output cell.")

# --- the whole output and the overlaps ---------------------------------------------------
counts = layers.overlaps((h, w), kernel.shape, settings)
left, right = st.columns(2)
left.plotly_chart(playground.picture(
    output[:, :, int(channel)], title=f"Output channel {channel}: {out_h}×{out_w}",
    colorbar_title="value", name=f"{values.key}:{settings!r}:{channel}:tconv"),
    key=P + "output_fig", alt=f"Output channel {channel} of the transposed convolution of "
    f"{image.label} shrunk to {h}×{w}: {out_h}×{out_w}")
right.plotly_chart(playground.picture(
    counts.astype(np.float64), title="Stamps per output cell", colorbar_title="stamps",
    name=f"overlaps:{h}:{w}:{kernel.shape}:{settings.stride}:{settings.padding}:"
    f"{settings.output_padding}:{settings.dilation}"), key=P + "overlap_fig",
    alt=f"How many stamps land on each output cell: from {counts.min()} to {counts.max()}")
inside = interior(counts, kernel.shape, settings.padding, settings.dilation)
if inside.size and inside.min() != inside.max():
    st.info(f"**Checkerboard.** Away from the border, output cells get between "
            f"{inside.min()} and {inside.max()} stamps: where more overlap, the output is "
            "brighter, in a grid pattern that a trained network has to fight. It happens when "
            "the kernel size is not a multiple of the stride; resize-then-convolve upsampling "
            "avoids it (Odena et al., 2016).", icon=":material/grid_4x4:")

with st.expander("In PyTorch: the layer that computes this output", icon=":material/code:"):
    st.code(torch_code(c_in, settings.weights(transposed=True), None, transposed=True,
                       **settings.options(transposed=True)), language="python")
    st.caption(f"The input is your image shrunk to {h}×{w}, values 0–1: "
               + format_kernel(values.array[:, :, 0]) if h * w <= 16 else
               f"The input is your image shrunk to {h}×{w}, values 0–1.")

link.publish()
