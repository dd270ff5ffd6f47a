"""The whole layer: F filters over C channels, groups and depthwise, depthwise-separable
against standard, and the PyTorch line."""

import dataclasses

import numpy as np
import streamlit as st

from cnnviz import (
    ParameterError,
    check_groups,
    conv_macs_text,
    conv_params_text,
    group_connections,
    maps_figure,
    output_shape,
    separable_costs,
    torch_code,
)
from ui import catalog, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import layers, playground
from ui.urlstate import Link, choice_param, int_param, pair_param

ensure_app_navigation()

PAGE = catalog.LAYER
P = PAGE.prefix
MAP_LABELS = {"R": "red", "G": "green", "B": "blue", "sobel_x": "Sobel x", "sobel_y": "Sobel y",
              "laplacian": "Laplacian", "gaussian_blur": "blur", "sharpen": "sharpen"}
LIT, UNLIT = (26, 68, 184), (232, 232, 236)  # the primary blue; a light grey
KINDS = {"standard": "One layer (any groups)", "separable": "Depthwise, then pointwise 1×1"}
image = state.current_image()
CHANNELS = choice_param("channels", P + "channels", 3, (1, 2, 3, 4, 6, 8))
FILTERS = int_param("filters", P + "filters", 4, 1, 16)
GROUPS = int_param("groups", P + "groups", 1, 1, 16)
KERNEL = choice_param("k", P + "k", 3, (1, 3, 5, 7))
STRIDE = pair_param("stride", (P + "stride_h", P + "stride_w"), (1, 1), 0, 4)
PADDING = pair_param("padding", (P + "pad_h", P + "pad_w"), (1, 1), 0, 3)
KIND = choice_param("kind", P + "kind", "standard", tuple(KINDS))
SEED = int_param("seed", P + "seed", 0, 0, 9999)


def _preset(channels: int, filters: int, groups: int, k: int) -> None:
    for param, value in ((CHANNELS, channels), (FILTERS, filters), (GROUPS, groups),
                         (KERNEL, k)):
        st.session_state[param.widget] = value
    st.session_state[KIND.widget] = "standard"


st.title("The whole layer")
st.markdown(
    "A conv layer is **F filters**, each with one k×k slice per input channel: filter f sums "
    "what its slices make of every channel into one output map. With **groups** the channels "
    "are split: each filter sees only its group's channels. **groups = C** is a *depthwise* "
    "layer, one slice per channel, and a 1×1 *pointwise* layer after it mixes the channels: "
    "together a **depthwise-separable** convolution, what MobileNet and EfficientNet are "
    "made of."
)
link = Link()
link.seed([CHANNELS, FILTERS, GROUPS, KERNEL, STRIDE, PADDING, KIND, SEED])

p1, p2, p3, p4 = st.columns(4)
p1.button("Standard 3×3", on_click=_preset, args=(3, 4, 1, 3), width="stretch")
p2.button("Depthwise 3×3 (groups = C)", on_click=_preset, args=(8, 8, 8, 3), width="stretch")
p3.button("Pointwise 1×1", on_click=_preset, args=(8, 4, 1, 1), width="stretch")
p4.button("Depthwise-separable", on_click=st.session_state.__setitem__,
          args=(KIND.widget, "separable"), width="stretch")
c1, c2, c3 = st.columns(3, gap="large")
with c1:
    kind = widgets.segmented(KIND, "Layer", format_func=KINDS.get)
    channels = widgets.select(CHANNELS, "Input channels C", format_func=lambda c: f"{c}: " + ", "
                              .join(MAP_LABELS[m] for m in layers.INPUT_MAPS[:c]))
with c2:
    filters = widgets.number(FILTERS, "Filters F (output channels)")
    groups = widgets.number(GROUPS, "Groups", disabled=kind == "separable",
                            help="Must divide C and F. groups = C is depthwise.")
    k = widgets.select(KERNEL, "Kernel k×k", format_func=lambda v: f"{v}×{v}")
with c3:
    a, b = st.columns(2)
    for col, axis, arrow in ((a, 0, "↓"), (b, 1, "→")):
        widgets.number(STRIDE, f"Stride {arrow}", col, index=axis)
        widgets.number(PADDING, f"Padding {arrow}", col, index=axis)
    widgets.number(SEED, "Random weights: seed")

values = layers.input_maps(image.pixels, image.digest, 96, int(channels))
h, w, _ = values.shape
rng = np.random.default_rng(int(st.session_state[SEED.widget]))
base = layers.LayerSettings(kernel=rng.normal(size=(k, k)).tolist(), channels=int(channels),
                            filters=int(filters), groups=1 if kind == "separable" else
                            int(groups), stride=STRIDE.current(), padding=PADDING.current(),
                            seed=int(st.session_state[SEED.widget]))
try:
    check_groups(int(channels), int(filters), base.groups, "filters")
    out_hw = output_shape((h, w), (k, k), base.stride, base.padding)
    if kind == "separable":
        depthwise = dataclasses.replace(base, filters=int(channels), groups=int(channels))
        middle = layers.layer_output(values, depthwise)
        pointwise = layers.LayerSettings(kernel=[[1.0]], channels=int(channels),
                                         filters=int(filters), seed=base.seed + 1)
        stages = [("Depthwise", depthwise, values), ("Pointwise", pointwise, playground.Values(
            middle, f"{values.key}:{depthwise!r}"))]
    else:
        stages = [("The layer", base, values)]
    outputs = [layers.layer_output(v, s) for _, s, v in stages]
except ParameterError as err:
    link.stop(f"These settings do not work together. {err}", ":material/block:")

# --- which channels each filter sums --------------------------------------------------------
st.subheader("Which input channels each output channel sums")
cols = st.columns(len(stages))
for col, (name, s, _) in zip(cols, stages, strict=True):
    links = group_connections(s.channels, s.filters, s.groups)
    links = np.where(links[:, :, None], LIT, UNLIT).astype(np.uint8)  # a picture: no scale
    label = ("depthwise" if s.groups == s.channels > 1 else
             f"{s.groups} groups" if s.groups > 1 else "every channel")
    col.plotly_chart(playground.picture(
        links, title=f"{name}: {s.filters} filters × {s.channels} channels ({label})",
        name=f"links:{s.channels}:{s.filters}:{s.groups}"), key=P + "links_" + name,
        alt=f"{name}: a grid of {s.filters} output channels by {s.channels} input channels; "
        f"each output channel sums {s.channels // s.groups} of them ({label})")
st.caption("Rows: output channels (filters); columns: input channels. Blue: the filter has a "
           "slice for that channel.")

# --- cost ----------------------------------------------------------------------------------------
st.subheader("Parameters and multiply-adds")
if kind == "separable":
    costs = separable_costs(int(channels), int(filters), k, out_hw)
    st.dataframe([
        {"layer": f"depthwise {k}×{k}", "parameters": costs["depthwise"]["params_text"],
         "multiply-adds": costs["depthwise"]["macs_text"]},
        {"layer": "pointwise 1×1", "parameters": costs["pointwise"]["params_text"],
         "multiply-adds": costs["pointwise"]["macs_text"]},
        {"layer": "depthwise-separable", "parameters": f"{costs['separable']['params']:,}",
         "multiply-adds": f"{costs['separable']['macs']:,}"},
        {"layer": f"one standard {k}×{k}", "parameters": costs["standard"]["params_text"],
         "multiply-adds": costs["standard"]["macs_text"]},
    ], hide_index=True)
    ratio = costs["standard"]["macs"] / costs["separable"]["macs"]
    st.caption(f"The separable pair does {ratio:.1f}× less work than one standard {k}×{k} "
               "layer with the same input and output channels, as on the Architecture page's "
               "EfficientNet blocks (the same formulas).")
else:
    m1, m2 = st.columns(2)
    m1.markdown(f"**Parameters** = F × (k·k·C/groups + 1)  \n"
                f"`{conv_params_text(channels, filters, k, True, base.groups)}`")
    m2.markdown(f"**Multiply-adds** = H_out·W_out·F × k·k·C/groups  \n"
                f"`{conv_macs_text(out_hw, channels, filters, k, base.groups)}`")

# --- the maps -------------------------------------------------------------------------------
st.subheader("The maps, on your image")
names = [MAP_LABELS[m] for m in layers.INPUT_MAPS[:channels]]
shown = [("Input", values.array, names)] + [
    (f"{name} output", out, [f"#{f}" for f in range(out.shape[2])])
    for (name, _, _), out in zip(stages, outputs, strict=True)]
for col, (title, maps, labels) in zip(st.columns(len(shown)), shown, strict=True):
    stack = np.ascontiguousarray(maps.transpose(2, 0, 1))
    limits = [float(np.abs(m).max()) or 1.0 for m in stack]
    col.markdown(f"**{title}**: {maps.shape[0]}×{maps.shape[1]}×{maps.shape[2]}")
    col.plotly_chart(maps_figure(stack, limits, labels=labels, columns=min(4, len(stack)),
                                 tile_px=96, width_px=360, show_labels=True),
                     key=P + "maps_" + title, alt=f"{title}: {len(stack)} maps of "
                     f"{maps.shape[0]}×{maps.shape[1]} ({', '.join(labels[:8])}), red positive "
                     "and blue negative")
st.caption(f"The input is your image shrunk to {h}×{w}: its colours, then what classic kernels "
           "make of its grey version, standing in for the maps of a layer before. Weights are "
           f"random (seed {base.seed}): the point is the wiring, not what they detect.")

with st.expander("In PyTorch: the layer that computes these maps", icon=":material/code:"):
    for name, s, _ in stages:
        st.code(f"# {name}\n" + torch_code(s.channels, s.weights(), None, **s.options()),
                language="python")

link.publish()
