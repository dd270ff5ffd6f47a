"""How a layer learns: the forward pass, the loss, the backward pass window by window, and
gradient descent, on one conv layer and a small version of your image."""

import dataclasses

import numpy as np
import streamlit as st

from cnnviz import (
    PRESETS,
    ParameterError,
    check_groups,
    format_kernel,
    format_value,
    hot_spot_text,
    objective_curve,
)
from ui import catalog, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import layers, playground
from ui.urlstate import Link, choice_param, flag_param, int_param, pair_param

ensure_app_navigation()

PAGE = catalog.BACKPROP
P = PAGE.prefix
STARTS = ("random", *PRESETS)
POOLS = {"none": "none", "max": "max 2×2", "avg": "average 2×2"}
image = state.current_image()
SIDE = choice_param("side", P + "side", 6, (4, 5, 6, 8, 12, 16, 32, 64))
GRAY = flag_param("gray", P + "gray", True)
START = choice_param("start", P + "start", "random", STARTS)
TARGET = choice_param("target", P + "target", "sobel_x", tuple(PRESETS))
STRIDE = pair_param("stride", (P + "stride_h", P + "stride_w"), (1, 1), 0, 4)
PADDING = pair_param("padding", (P + "pad_h", P + "pad_w"), (0, 0), 0, 4)
FILTERS = int_param("filters", P + "filters", 1, 1, 8)
GROUPS = int_param("groups", P + "groups", 1, 1, 8)
RELU = flag_param("relu", P + "relu", False)
POOL = choice_param("pool", P + "pool", "none", tuple(POOLS))
RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
LR = choice_param("lr", P + "lr", 0.05, RATES, format=lambda v: f"{v:g}")
DONE = int_param("descent", P + "descent", 0, 0, 500)
SHOWN = int_param("filter", P + "filter", 0, 0, 7)
STEPS = widgets.step_params(PAGE)


def _take(n: int) -> None:
    st.session_state[DONE.widget] = min(int(st.session_state[DONE.widget]) + n, 500)


st.title("How a layer learns")
st.markdown(
    "One conv layer, a target and a loss: the layer's output on a small version of your "
    "image should become what the **target kernel** makes of it, and the loss "
    "**L = ½‖out − target‖²** says how far it is. The backward pass asks how L changes with "
    "every weight (**dL/dW**), window by window over the same windows as the forward pass; "
    "gradient descent then moves every weight a little downhill: **W ← W − η·dL/dW**."
)
link = Link()
link.seed([SIDE, GRAY, START, TARGET, STRIDE, PADDING, FILTERS, GROUPS, RELU, POOL, LR, DONE,
           SHOWN, *STEPS])

c1, c2, c3 = st.columns([1.2, 1.3, 1.1], gap="large")
with c1:
    start_kernel = widgets.select(START, "The layer starts as", format_func=lambda n: (
        "random weights (seed 0)" if n == "random" else PRESETS[n].label))
    target = widgets.select(TARGET, "It should learn to do what this kernel does",
                            format_func=lambda n: PRESETS[n].label)
    widgets.select(SIDE, "Input: your image shrunk to at most",
                   format_func=lambda s: f"{s} pixels a side")
    widgets.toggle(GRAY, "Grayscale (one channel)")
with c2:
    a, b = st.columns(2)
    for col, axis, arrow in ((a, 0, "↓"), (b, 1, "→")):
        widgets.number(STRIDE, f"Stride {arrow}", col, index=axis)
        widgets.number(PADDING, f"Padding {arrow}", col, index=axis)
    widgets.number(FILTERS, "Filters (F)", a, help="Filter 0 starts as chosen; the others "
                   "random. The target has as many filters.")
    widgets.number(GROUPS, "Groups", b)
with c3:
    widgets.toggle(RELU, "Then ReLU")
    widgets.segmented(POOL, "Then pooling", format_func=POOLS.get)
    lr = widgets.select_slider(LR, "Learning rate η", format_func=lambda v: f"{v:g}",
                               help="How far each step moves the weights along −dL/dW.")

values = layers.small_values(image.pixels, image.digest, st.session_state[SIDE.widget],
                             st.session_state[GRAY.widget])
h, w, c_in = values.shape
kernel = np.zeros((3, 3)) if start_kernel == "random" else PRESETS[start_kernel].kernel
filters = int(st.session_state[FILTERS.widget])
try:
    settings = layers.LayerSettings(
        kernel=kernel.tolist(), channels=c_in, filters=filters,
        groups=int(st.session_state[GROUPS.widget]), stride=STRIDE.current(),
        padding=PADDING.current(), seed=0)
    check_groups(c_in, filters, settings.groups, "filters")
    if start_kernel == "random":
        settings = dataclasses.replace(
            settings, kernel=np.random.default_rng(0).normal(size=(3, 3)).round(2).tolist())
    done = int(st.session_state[DONE.widget])
    args = (values, settings, target, bool(st.session_state[RELU.widget]),
            st.session_state[POOL.widget], float(lr))
    run, history, aim = layers.backprop(*args, done)
except ParameterError as err:
    link.stop(f"These settings do not work together. {err}", ":material/block:")

# --- forward and loss ----------------------------------------------------------------------
st.subheader(f"After {done} step{'s' if done != 1 else ''} of gradient descent")
b1, b2, b3, b4 = st.columns(4)
b1.button("Take one step", on_click=_take, args=(1,), type="primary",
          icon=":material/arrow_downward:")
b2.button("Take 10 steps", on_click=_take, args=(10,), icon=":material/keyboard_double_arrow_down:")
b3.button("Start again", on_click=st.session_state.__setitem__, args=(DONE.widget, 0),
          icon=":material/restart_alt:")
losses = layers.descent(*args, done)
b4.metric("Loss L", format_value(run.loss), delta=None if done == 0 else
          format_value(run.loss - losses[0]), delta_color="inverse",
          help="½ Σ (out − target)² over every output cell and filter.")

shown = min(int(st.session_state[SHOWN.widget]), filters - 1)
st.session_state[SHOWN.widget] = shown
maps = [("Input", values.array[:, :, 0]), (f"Output, filter {shown}", run.out[:, :, shown]),
        (f"Target, filter {shown}", aim[:, :, shown]),
        ("dL/dout = out − target", run.grad_out[:, :, shown])]
for col, (title, m) in zip(st.columns(4), maps, strict=True):
    col.plotly_chart(playground.picture(
        m, title=f"{title}: {m.shape[0]}×{m.shape[1]}", colorbar_title="value",
        name=f"bprop:{values.key}:{settings!r}:{args[2:]}:{done}:{title}"),
        key=P + "map_" + title[:6], alt=f"{title}, {m.shape[0]}×{m.shape[1]}: "
        f"{hot_spot_text(np.abs(m))}")
if len(losses) > 1 and losses[-1] > losses[0]:
    st.warning(f"The loss went up, from {format_value(losses[0])} to "
               f"{format_value(losses[-1])}: with η = {lr:g} each step overshoots the bottom "
               "of the valley and lands higher on the other side. Try a smaller learning rate.",
               icon=":material/trending_up:")
if len(losses) > 1:
    st.plotly_chart(objective_curve(losses, name="loss", first_step=0, height=240),
                    key=P + "loss_curve", alt=f"Line chart: the loss over {done} steps, from "
                    f"{format_value(losses[0])} to {format_value(losses[-1])}")

# --- the weight gradient, window by window -----------------------------------------------
st.subheader("dL/dW, window by window")
if filters > 1:
    st.number_input(f"Filter to follow (0–{filters - 1})", 0, filters - 1, key=SHOWN.widget,
                    persist_state="session")
grad_shape = run.grad_conv.shape[:2]
region = widgets.choose_region(STEPS, *grad_shape)
n = (region[1] - region[0]) * (region[3] - region[2])
start, frame_ms = widgets.step_controls(STEPS, n)
figure, alt = layers.grad_figure(*args, done, "weight", shown, region, start, frame_ms)
st.plotly_chart(figure, key=P + "wgrad_fig", alt="The weight gradient, window by window: "
                + alt)
weight = history[-1][1] if history else settings.weights()
through = [x for x in ("the ReLU" if args[3] else "", POOLS[args[4]] + " pooling"
                       if args[4] != "none" else "") if x]
st.markdown(
    "Each window adds **dL/dout[i, j] × its patch** to dL/dW: the same windows as the "
    "forward pass, with the gradient where the forward pass had the kernel"
    + (f" (the gradient that reaches the convolution, back through {' and '.join(through)})"
       if through else "")
    + f". Summed over every window it is autograd's `weight.grad`; dL/db for filter {shown} "
    f"is the sum of its dL/dout: **{format_value(run.grad_bias[shown])}**.")
g1, g2 = st.columns(2)
g1.markdown(f"**dL/dW of filter {shown}** (autograd), one slice per input channel")
g1.code("\n\n".join(format_kernel(s) for s in run.grad_weight[shown]), language=None)
g2.markdown(f"**W of filter {shown}** now; one step takes it to W − {lr:g}·dL/dW")
g2.code("\n\n".join(format_kernel(s) for s in weight[shown]), language=None)

# --- the input gradient and pooling -------------------------------------------------------
st.subheader("dL/dinput: the gradient goes back")
st.markdown(
    "Each output cell sends **dL/dout[i, j] × W** back over the pixels its window read, and "
    "where windows overlap the stamps add up. That is a **transposed convolution** of dL/dout "
    "with the same weights: the layer on the Transposed convolution page. A layer below this "
    "one would learn from it.")
st.page_link(catalog.TRANSPOSED.path, label="Open Transposed convolution",
             icon=catalog.TRANSPOSED.icon)
ifig, ialt = layers.grad_figure(*args, done, "input", 0, region, start, frame_ms)
st.plotly_chart(ifig, key=P + "igrad_fig", alt="The input gradient, window by window: "
                + ialt)
if args[4] != "none":
    st.info(
        ("**Max pooling's backward** sends each gradient to the one cell that won its "
         "window (the first of tied ones, as torch breaks ties); every other cell gets 0."
         if args[4] == "max" else
         "**Average pooling's backward** spreads each gradient evenly: a quarter to each cell "
         "of its 2×2 window.")
        + f" Here {int(np.count_nonzero(run.grad_relu[:, :, shown]))} of "
        f"{run.grad_relu[:, :, shown].size} cells before the pooling get a gradient.",
        icon=":material/call_split:")
    routed = run.grad_relu[:, :, shown]
    st.plotly_chart(playground.picture(
        routed, title=f"dL/d(the pooling's input), filter {shown}: {routed.shape[0]}×"
        f"{routed.shape[1]}", colorbar_title="gradient",
        name=f"bprop:{values.key}:{settings!r}:{args[2:]}:{done}:routed:{shown}"),
        key=P + "routed_fig", alt=f"The gradient before the {POOLS[args[4]]} pooling, "
        f"filter {shown}: {int(np.count_nonzero(routed))} of {routed.size} cells non-zero")

link.publish()
