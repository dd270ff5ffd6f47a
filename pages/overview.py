"""Overview: the whole network at a glance on the current image, one column per layer.

URL keys: ``model``, ``scale`` (local | layer | global), and the map opened large: ``layer``
and ``channel``.
"""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import functools

import streamlit as st

from cnnviz import ImageError, LayerError, ModelError, plots
from cnnviz.activations import SCALES, SKIPPED, color_limits, overview_layers
from cnnviz.models import MODELS, load_model
from cnnviz.plots import vector_grid
from ui import network_pages as net
from ui import state
from ui.urlstate import UrlParam, choice, int_in, publish

P = "overview."  # widget-key prefix of this page
SHOWN = 8  # maps drawn per layer
SCALE_LABELS = {"local": "per map", "layer": "per layer", "global": "whole network"}


def _layer_options(name: str) -> list[str]:
    return ["input", *overview_layers(load_model(name))]


def _default_layer(name: str) -> str:
    options = _layer_options(name)
    return options[1] if len(options) > 1 else options[0]


def _dependent(name: str) -> list[UrlParam]:
    return [
        UrlParam("scale", (P + "scale",), "layer", choice(SCALES)),
        UrlParam("layer", (P + "layer",), _default_layer(name), choice(_layer_options(name))),
        UrlParam("channel", (P + "channel",), 0, int_in(0, 4095)),
    ]


def _model_changed() -> None:
    try:
        st.session_state[P + "layer"] = _default_layer(st.session_state[P + "model"])
    except ModelError:
        return  # the page shows the error
    st.session_state[P + "channel"] = 0


def _take_click(names: list[str]) -> None:
    """A click on a map of the network figure (a point of its invisible marker overlay)."""
    points = st.session_state[P + "network"]["selection"]["points"]
    if points and points[0].get("customdata") is not None:
        column, channel = (int(v) for v in points[0]["customdata"])
        st.session_state[P + "layer"] = names[column]
        st.session_state[P + "channel"] = max(channel, 0)


@st.cache_resource(max_entries=32, ttl=3600, show_spinner=False)
def _network_figure(name: str, digest: str, scale: str, _columns):
    limits, shared = color_limits(_columns, scale, SHOWN)
    return plots.network_figure(_columns, limits, shown=SHOWN, shared_limit=shared)


image = state.current_image()
st.title("Overview")
st.markdown(
    "The whole network at once, on your image. Each column is one layer, in the order the "
    "image flows through them: its first maps (a convolution makes one map per filter), its "
    "output shape, and at the end the class probabilities. Red is positive, blue negative, "
    "white zero, so a **ReLU** column is the column before it with the blue removed, and a "
    "**pool** column is the same maps at half the size."
)
PARAMS = net.seed_url(P, _dependent)

c1, c2 = st.columns([2, 3])
with c1:
    name = net.model_picker(P, on_change=_model_changed)
with c2:
    scale = st.segmented_control(
        "Colour scale", SCALES, key=P + "scale", required=True, persist_state="session",
        format_func=SCALE_LABELS.get,
        help="Per map: every map uses its full red-blue range, so faint maps show their "
        "pattern too. Per layer: maps of one layer can be compared. Whole network: one scale "
        "for every column, so the sizes of values can be compared across layers.",
    )
try:
    model = net.model(name)
    options = _layer_options(name)
    with net.spinner_for(name, f"Running {name} on your image…"):
        columns, probs = net.outputs(name, image)
except (ModelError, LayerError, ImageError, ValueError) as err:
    st.error(f"The network cannot run on this image. {err}", icon=":material/error:")
    publish(PARAMS)
    st.stop()
trained = net.weights_badge(model)

fig_col, prob_col = st.columns([5, 1.3], gap="medium")
with fig_col:
    st.plotly_chart(_network_figure(name, image.digest, scale, columns), key=P + "network",
                    on_select=functools.partial(_take_click, [c.name for c in columns]),
                    selection_mode="points")
    dropped = any(isinstance(m, SKIPPED) for m in model.modules())
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
    spec = MODELS[name]
    st.markdown("**Class probabilities**")
    st.plotly_chart(plots.probability_bars(spec.class_names, probs, top=10),
                    key=P + "probs")
    if not trained:
        st.caption("Random weights: these probabilities are noise, not an answer.")
    elif len(spec.class_names) > 10:
        st.caption(f"The 10 most likely of {len(spec.class_names):,} classes.")

# --- one map, large ---------------------------------------------------------------------------
st.subheader("Open one map")
if st.session_state[P + "layer"] not in options:  # e.g. a layer of the model shown before
    st.session_state[P + "layer"] = _default_layer(name)
by_name = {c.name: c for c in columns}
l_col, c_col = st.columns([2, 1])
with l_col:
    layer = st.selectbox(
        "Layer", options, key=P + "layer", persist_state="session",
        format_func=lambda n: f"{n} · {by_name[n].kind} · "
        f"{'×'.join(str(s) for s in by_name[n].shape)}",
    )
column = by_name[layer]
with c_col:
    if column.is_spatial:
        channels = column.shape[0]
        channel = net.channel_box(P, channels)
    else:
        channel = 0
        st.caption("A vector has no channels: all its values are shown.")

limits, _ = color_limits(columns, scale)  # the overview's colours, for every map
lim = float(limits[[c.name for c in columns].index(layer)][channel])
if column.is_spatial:
    values = column.values[channel]
    big = plots.maps_figure(values[None], [lim], labels=[f"{layer} · channel {channel}"],
                            columns=1, tile_px=512, shared_limit=lim, width_px=620,
                            title=f"{layer}, channel {channel} of {column.shape[0]}: "
                            f"{values.shape[0]}×{values.shape[1]}")
else:
    values = column.values
    big = plots.maps_figure(vector_grid(values)[None], [lim], labels=[layer], columns=1,
                            tile_px=4096, shared_limit=lim, width_px=400,
                            title=f"{layer}: {values.size:,} values, row by row")
left, right = st.columns([3, 2])
left.plotly_chart(big, key=P + "big")
right.markdown(
    f"**{layer}** ({column.kind}), output {' × '.join(str(s) for s in column.shape)}  \n"
    f"min {float(values.min()):.4g} · max {float(values.max()):.4g} · "
    f"mean {float(values.mean()):.4g}"
)
if column.is_spatial and scale != "local":
    right.caption(f"Coloured as in the overview ({SCALE_LABELS[scale]}: ±{lim:.3g}); "
                  "choose *per map* to stretch it to its own range.")

publish(PARAMS)
