"""Feature maps: every channel of one layer, before and after its activation, ranked, and the
learned kernel behind a channel (which the Convolution page can apply to any image).

URL keys: ``model``, ``layer``, ``scaling`` (shared | independent), ``channel``.
"""

import math

import streamlit as st

from cnnviz import (
    ImageError,
    LayerError,
    ModelError,
    activation_pair,
    carry_problem,
    channel_ranking,
    conv_weights,
    kernel_of,
    kernel_slices,
    map_limits,
    maps_figure,
    rank_channels,
)
from ui import catalog, defaults, state, views, widgets
from ui.boot import ensure_app_navigation
from ui.cache import models, networks
from ui.urlstate import Link, choice_param
from ui.widgets import shape_text

ensure_app_navigation()

PAGE = catalog.FEATURE_MAPS
P = PAGE.prefix
MAIN_PX = 900  # about the width of the page's main column, for sizing figures
CONTROLS = widgets.NetworkControls(
    PAGE, defaults.network_model(), defaults.feature_map_layer, networks.spatial_layers,
    more=lambda name: [choice_param("scaling", P + "scaling", "shared",
                                    ("shared", "independent"))])


def _show_first_layer() -> None:
    name = st.session_state[CONTROLS.model.widget]
    st.session_state[CONTROLS.layer.widget] = defaults.feature_map_layer(name)


def _take_click(chart_key: str) -> None:
    """A click on a map of a mosaic (a point of its invisible marker overlay)."""
    points = st.session_state[chart_key]["selection"]["points"]
    if points and points[0].get("customdata") is not None:
        st.session_state[CONTROLS.channel.widget] = int(points[0]["customdata"])


image = state.current_image()
st.title("Feature maps")
st.markdown(
    "A convolution layer makes one **feature map** per filter: where in the image that "
    "filter's pattern appears. Here are all of a layer's maps on your image, before and after "
    "the activation that follows (a ReLU sets every negative value to 0: blue disappears), "
    "which channels respond most, and the learned kernel behind any channel."
)
link = Link()
(SCALING,) = CONTROLS.seed(link)

c1, c2, c3 = st.columns([2, 2, 1.4])
name = CONTROLS.picker(c1)
try:
    network = models.network(name)
    steps = networks.layer_steps(name)
except (ModelError, LayerError) as err:
    link.stop(str(err))
shapes = {s.name: s for s in steps}
layer = CONTROLS.layer_picker(name, "Layer", c2, steps=steps)
with c3:
    scaling = widgets.segmented(
        SCALING, "Colours", format_func={"shared": "one scale",
                                         "independent": "each map its own"}.get,
        help="One scale: the same colour means the same value in every map of the layer, so "
        "strong and weak maps can be compared. Each map its own: every map uses the full "
        "red-blue range, so a weak map shows its pattern too.",
    )
trained = widgets.weights_badge(network.model)

# --- the maps ----------------------------------------------------------------------------------
pair = activation_pair(network.model, steps, layer)
order = [s.name for s in steps]
wanted = sorted({layer, *((pair.before, pair.after) if pair else ())}, key=order.index)
try:
    with models.spinner_for(name, f"Running {name} on your image…"):
        maps = networks.layer_maps(network, image, wanted)
except (LayerError, ImageError, ValueError) as err:
    link.stop(f"The network cannot run on this image. {err}")

shared = scaling == "shared"


def _shared_limit(n: str) -> float:
    """One scale per layer; the activation's input and output share theirs, as after =
    activation(before): the ReLU's output is drawn in its input's colours, and the blue is
    seen to vanish."""
    group = (pair.before, pair.after) if pair is not None and n in (pair.before, pair.after) \
        else (n,)
    return float(max(map_limits(maps[g], True)[0] for g in group))


def _title(n: str) -> str:
    if pair is not None and n == pair.after:
        return f"After {pair.kind}: {n}"
    if pair is not None and n == pair.before:
        # after batch norm: not the convolution's own output, but the activation's input
        return f"What the {pair.kind} receives: {n}" if pair.between else \
            f"Before {pair.kind}: {n}"
    return n


channels = maps[layer].shape[0]
columns = min(channels, max(4, math.ceil(math.sqrt(channels))))  # 16 maps: 4×4
for i, (col, n) in enumerate(zip(st.columns(len(wanted)), wanted, strict=True)):
    m = maps[n]
    limits = [_shared_limit(n)] * len(m) if shared else map_limits(m, False)
    key = P + f"mosaic.{i}"
    col.markdown(f"**{_title(n)}** · {shape_text(m.shape)}")
    col.plotly_chart(
        maps_figure(m, limits, labels=[f"#{c}" for c in range(len(m))], columns=columns,
                    tile_px=96, shared_limit=_shared_limit(n) if shared else None,
                    width_px=MAIN_PX // len(wanted), show_labels=channels <= 64),
        key=key, on_select=lambda key=key: _take_click(key), selection_mode="points",
        alt=f"{len(m)} feature maps of {_title(n)} on {image.label}, {shape_text(m.shape[1:])} "
        "each, red positive and blue negative; choose one below to see it large")
notes = [f"{channels} channels of {shape_text(maps[layer].shape[1:])}. Click a map to open it "
         "below."]
if pair is not None and pair.between:
    notes.append(f"{' → '.join((layer, *pair.between))}: batch norm rescales and shifts each "
                 f"channel before the {pair.kind}.")
if pair is not None and pair.kind == "ReLU":
    notes.append("After the ReLU only red (positive) values remain.")
st.caption(" ".join(notes))

# --- ranking -----------------------------------------------------------------------------------
ranked = pair.after if pair is not None else layer
means, ranking = rank_channels(maps[ranked])
st.subheader("Which channels respond most")
st.plotly_chart(channel_ranking(means, ranking, max_bars=64), key=P + "ranking",
                alt=f"Bar chart: the channels of {ranked} by mean value; the highest are "
                + ", ".join(f"#{int(c)} ({means[c]:.3g})" for c in ranking[:3]))
st.caption(f"Channels of {ranked} by their mean value on this image"
           + (" (what the next layer receives)" if ranked != layer else "")
           + (f"; the first 64 of {len(means)}." if len(means) > 64 else "."))

# --- one channel ----------------------------------------------------------------------------------
st.subheader("One channel")
channel = widgets.channel_box(CONTROLS.channel, channels)
for i, (col, n) in enumerate(zip(st.columns(len(wanted)), wanted, strict=True)):
    m = maps[n][channel]
    lim = _shared_limit(n) if shared else float(map_limits(m[None], True)[0])
    col.plotly_chart(maps_figure(m[None], [lim], labels=[f"{n} · channel {channel}"], columns=1,
                                 tile_px=512, shared_limit=lim, width_px=MAIN_PX // len(wanted),
                                 title=f"{_title(n)}, channel {channel}"), key=P + f"big.{i}",
                 alt=f"Channel {channel} of {_title(n)} on {image.label}, "
                 f"{shape_text(m.shape)}, red positive and blue negative")
if len(ranking) == channels:
    st.caption(f"Channel {channel} ranks {list(ranking).index(channel) + 1} of {channels} by "
               f"mean activation ({means[channel]:.4g}).")

conv = layer if shapes[layer].kind == "Conv2d" else (
    shapes[layer].source if shapes[layer].unit else None)  # a block: the conv it passes on
if conv is None:
    st.info(f"{layer} is a {shapes[layer].kind} block: its output adds the block's input to "
            "what its convolutions made, so no one kernel is behind a channel; the Filters "
            "page shows the kernels inside it." if shapes[layer].unit else
            f"{layer} is a {shapes[layer].kind} layer: it has no kernel of its own. Choose a "
            "convolution to see the weights behind a channel.", icon=":material/info:")
    link.stop()

weights = conv_weights(network.model, conv)[channel]  # (C_in, kh, kw)
c_in, kh, kw = weights.shape
first = defaults.feature_map_layer(name)
st.markdown(f"**The kernel of channel {channel}**" + (f" (of {conv})" if conv != layer else "")
            + f": {c_in} slice{'s' if c_in > 1 else ''} of {kh}×{kw}, one per channel of "
            "the layer's input" + (f" (the first 16 of {c_in} shown)" if c_in > 16 else "")
            + ".")
st.plotly_chart(kernel_slices(weights, names=widgets.slice_names(name, conv, c_in)),
                key=P + "kernel",
                alt=widgets.kernel_alt(f"The kernel of channel {channel} of {conv}", weights))

kernel = kernel_of(network.model, conv, channel)
problem = carry_problem(kernel)
if problem is None:
    view = views.kernel_view(kernel, sample=image.name if image.source == "sample" else None)
    if st.button(view.label, icon=":material/open_in_new:", key=P + "apply", type="primary",
                 on_click=views.prepare, args=(view,)):
        link.publish()
        views.open_view(view)
    st.caption("The Convolution page then slides exactly these weights over "
               + ("your image" if image.source != "sample" else f"the {image.label} image")
               + ", step by step. Without the network's input standardisation and bias the "
               "numbers differ from the map above; the pattern it picks out is the same."
               + ("" if trained else " (With random weights there is no pattern to find.)"))
else:
    st.info(f"This kernel cannot be carried to the Convolution page: {problem}. The first "
            f"layer's kernels ({first}) look at the image itself and can.",
            icon=":material/block:")
    st.button(f"Show the first layer ({first}) instead", key=P + "first",
              on_click=_show_first_layer)

link.publish()
