"""Overview: the whole network at a glance on the current image, one column per layer.

URL keys: ``model``, ``scale`` (local | layer | global), and the map opened large: ``layer``
and ``channel``.
"""

import functools

import streamlit as st

from cnnviz import (
    OVERVIEW_SCALES,
    SKIPPED,
    ImageError,
    LayerError,
    ModelError,
    color_limits,
    maps_figure,
    probability_bars,
    vector_grid,
)
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import models, networks
from ui.urlstate import Link, choice_param
from ui.widgets import shape_text

ensure_app_navigation()

PAGE = catalog.OVERVIEW
P = PAGE.prefix
SHOWN = 8  # maps drawn per layer
SCALE_LABELS = {"local": "per map", "layer": "per layer", "global": "whole network"}
CONTROLS = widgets.NetworkControls(
    PAGE, defaults.network_model(), defaults.overview_layer,
    lambda name: ("input", *networks.overview_layers(name)),
    more=lambda name: [choice_param("scale", P + "scale", "layer", OVERVIEW_SCALES)])


def _take_click(names: list[str]) -> None:
    """A click on a map of the network figure (a point of its invisible marker overlay)."""
    points = st.session_state[P + "network"]["selection"]["points"]
    if points and points[0].get("customdata") is not None:
        column, channel = (int(v) for v in points[0]["customdata"])
        st.session_state[CONTROLS.layer.widget] = names[column]
        st.session_state[CONTROLS.channel.widget] = max(channel, 0)


image = state.current_image()
st.title("Overview")
st.markdown(
    "The whole network at once, on your image. Each column is one layer, in the order the "
    "image flows through them: its first maps (a convolution makes one map per filter), its "
    "output shape, and at the end the class probabilities. Red is positive, blue negative, "
    "white zero, so a **ReLU** column is the column before it with the blue removed, and a "
    "**pool** column is the same maps at half the size."
)
link = Link()
(SCALE,) = CONTROLS.seed(link)

c1, c2 = st.columns([2, 3])
name = CONTROLS.picker(c1)
with c2:
    scale = widgets.segmented(
        SCALE, "Colour scale", format_func=SCALE_LABELS.get,
        help="Per map: every map uses its full red-blue range, so faint maps show their "
        "pattern too. Per layer: maps of one layer can be compared. Whole network: one scale "
        "for every column, so the sizes of values can be compared across layers.",
    )
try:
    network = models.network(name)
    with models.spinner_for(name, f"Running {name} on your image…"):
        columns, probs = networks.outputs(network, image)
except (ModelError, LayerError, ImageError, ValueError) as err:
    link.stop(f"The network cannot run on this image. {err}")
trained = widgets.weights_badge(network.model)

fig_col, prob_col = st.columns([5, 1.3], gap="medium")
with fig_col:
    st.plotly_chart(networks.network_figure(network, image, scale, SHOWN), key=P + "network",
                    on_select=functools.partial(_take_click, [c.name for c in columns]),
                    selection_mode="points", alt=f"{models.short_label(name)} on "
                    f"{image.label}: {len(columns)} columns from the input to the output, each "
                    "the maps of one layer; choose a layer below to open its maps")
    dropped = any(isinstance(m, SKIPPED) for m in network.model.modules())
    st.caption(
        f"{len(columns)} columns: the input as the network sees it and every layer"
        + (" (dropout left out: it passes values on unchanged once a network is trained)"
           if dropped else "")
        + f". Layers with more than {SHOWN} maps show their first {SHOWN}; vectors "
        "(flatten, dense layers) are drawn as grids of cells, read row by row. "
        "The colour bar is " + ("in real values." if scale == "global" else
                                f"relative: −max … +max, {SCALE_LABELS[scale]}.")
        + " Click a map to open it below."
    )
with prob_col:
    classes = models.spec(name).class_names
    st.markdown("**Class probabilities**")
    top = sorted(range(len(probs)), key=lambda i: -float(probs[i]))[:3]
    st.plotly_chart(probability_bars(classes, probs, top=10), key=P + "probs",
                    alt="Class probabilities; the most likely: "
                    + ", ".join(f"{classes[i]} {probs[i]:.1%}" for i in top))
    if not trained:
        st.caption("Random weights: these probabilities are noise, not an answer.")
    elif len(classes) > 10:
        st.caption(f"The 10 most likely of {len(classes):,} classes.")

block = networks.block_figure(name)
if block is not None:
    with st.expander("Inside one block: an inverted residual", expanded=False):
        st.plotly_chart(block, key=P + "block", alt="Diagram of an inverted residual block: "
                        "expand 1×1, depthwise k×k, project 1×1, plus the skip, with the "
                        "shapes between them")
        st.caption(
            "Each MBConv column above is a block like this one. A 1×1 convolution **expands** "
            "the channels six-fold, a **depthwise** k×k convolution filters each channel on "
            "its own (one k×k slice per channel), and a 1×1 convolution **projects** back "
            "down; when the shapes agree the block's input is **added** to its output. It is "
            "*inverted* because ResNet's bottleneck narrows in the middle, and this one "
            "widens: the cheap depthwise step gets the many channels.")

# --- one map, large ---------------------------------------------------------------------------
st.subheader("Open one map")
by_name = {c.name: c for c in columns}
l_col, c_col = st.columns([2, 1])
layer = CONTROLS.layer_picker(name, "Layer", l_col, format_func=lambda n: f"{n} · "
                              f"{by_name[n].kind} · {shape_text(by_name[n].shape)}")
column = by_name[layer]
with c_col:
    if column.is_spatial:
        channel = widgets.channel_box(CONTROLS.channel, column.shape[0])
    else:
        channel = 0
        st.caption("A vector has no channels: all its values are shown.")

limits, _ = color_limits(columns, scale)  # the overview's colours, for every map
lim = float(limits[[c.name for c in columns].index(layer)][channel])
if column.is_spatial:
    values = column.values[channel]
    big = maps_figure(values[None], [lim], labels=[f"{layer} · channel {channel}"], columns=1,
                      tile_px=512, shared_limit=lim, width_px=620,
                      title=f"{layer}, channel {channel} of {column.shape[0]}: "
                      f"{values.shape[0]}×{values.shape[1]}")
else:
    values = column.values
    big = maps_figure(vector_grid(values)[None], [lim], labels=[layer], columns=1,
                      tile_px=4096, shared_limit=lim, width_px=400,
                      title=f"{layer}: {values.size:,} values, row by row")
left, right = st.columns([3, 2])
left.plotly_chart(big, key=P + "big", alt=f"{layer} on {image.label}: "
                  + (f"channel {channel}, {shape_text(values.shape)}" if column.is_spatial
                     else f"{values.size:,} values, row by row")
                  + ", red positive and blue negative")
right.markdown(
    f"**{layer}** ({column.kind}), output {' × '.join(str(s) for s in column.shape)}  \n"
    f"min {float(values.min()):.4g} · max {float(values.max()):.4g} · "
    f"mean {float(values.mean()):.4g}"
)
if column.is_spatial and scale != "local":
    right.caption(f"Coloured as in the overview ({SCALE_LABELS[scale]}: ±{lim:.3g}); "
                  "choose *per map* to stretch it to its own range.")

link.publish()
