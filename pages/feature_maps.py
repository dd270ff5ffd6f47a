"""Feature maps: every channel of one layer, before and after its activation, ranked, and the
learned kernel behind a channel (which the Convolution page can apply to any image).

URL keys: ``model``, ``layer``, ``scaling`` (shared | independent), ``channel``.
"""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import math

import streamlit as st

from cnnviz import ImageError, LayerError, ModelError, plots
from cnnviz.activations import activation_pair, map_limits, rank_channels, spatial_layers
from cnnviz.filters import carry_problem, conv_weights, first_conv, kernel_of, kernel_query
from cnnviz.models import MODELS, load_model
from ui import network_pages as net
from ui import state
from ui.urlstate import UrlParam, choice, int_in, publish

P = "fmaps."  # widget-key prefix of this page
SCALINGS = ("shared", "independent")
CONVOLUTION_PAGE = "pages/convolution.py"
#: The Convolution page's widget keys that a carried kernel replaces. They are cleared before
#: switching, so that page seeds them from the link even when it was open before.
CONVOLUTION_KEYS = ("conv.kernel", "conv.weights", "conv.gray")
MAIN_PX = 900  # about the width of the page's main column, for sizing figures


def _layers(name: str) -> list[str]:
    return [s.name for s in spatial_layers(net.steps(name))]


def _dependent(name: str) -> list[UrlParam]:
    return [
        UrlParam("layer", (P + "layer",), first_conv(load_model(name)), choice(_layers(name))),
        UrlParam("scaling", (P + "scaling",), "shared", choice(SCALINGS)),
        UrlParam("channel", (P + "channel",), 0, int_in(0, 4095)),
    ]


def _model_changed() -> None:
    try:
        st.session_state[P + "layer"] = first_conv(load_model(st.session_state[P + "model"]))
    except (ModelError, LayerError):
        return  # the page shows the error
    st.session_state[P + "channel"] = 0


def _show_first_layer() -> None:
    st.session_state[P + "layer"] = first_conv(load_model(st.session_state[P + "model"]))


def _take_click(chart_key: str) -> None:
    """A click on a map of a mosaic (a point of its invisible marker overlay)."""
    points = st.session_state[chart_key]["selection"]["points"]
    if points and points[0].get("customdata") is not None:
        st.session_state[P + "channel"] = int(points[0]["customdata"])


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


image = state.current_image()
st.title("Feature maps")
st.markdown(
    "A convolution layer makes one **feature map** per filter: where in the image that "
    "filter's pattern appears. Here are all of a layer's maps on your image, before and after "
    "the activation that follows (a ReLU sets every negative value to 0: blue disappears), "
    "which channels respond most, and the learned kernel behind any channel."
)
PARAMS = net.seed_url(P, _dependent)

c1, c2, c3 = st.columns([2, 2, 1.4])
with c1:
    name = net.model_picker(P, on_change=_model_changed)
try:
    model = net.model(name)
    steps = net.steps(name)
except (ModelError, LayerError) as err:
    st.error(str(err), icon=":material/error:")
    publish(PARAMS)
    st.stop()
options = [s.name for s in spatial_layers(steps)]
shapes = {s.name: s for s in steps}
if st.session_state[P + "layer"] not in options:  # e.g. a layer of the model shown before
    st.session_state[P + "layer"] = first_conv(model)
with c2:
    layer = st.selectbox(
        "Layer", options, key=P + "layer", persist_state="session",
        format_func=lambda n: f"{n} · {shapes[n].kind} · {_shape(shapes[n].output_shape)}",
    )
with c3:
    scaling = st.segmented_control(
        "Colours", SCALINGS, key=P + "scaling", required=True, persist_state="session",
        format_func={"shared": "one scale", "independent": "each map its own"}.get,
        help="One scale: the same colour means the same value in every map of the layer, so "
        "strong and weak maps can be compared. Each map its own: every map uses the full "
        "red-blue range, so a weak map shows its pattern too.",
    )
trained = net.weights_badge(model)

# --- the maps ----------------------------------------------------------------------------------
pair = activation_pair(model, steps, layer)
order = [s.name for s in steps]
wanted = sorted({layer, *((pair.before, pair.after) if pair else ())}, key=order.index)
try:
    with net.spinner_for(name, f"Running {name} on your image…"):
        maps = net.layer_maps(name, image, tuple(wanted))
except (LayerError, ImageError, ValueError) as err:
    st.error(f"The network cannot run on this image. {err}", icon=":material/error:")
    publish(PARAMS)
    st.stop()

shared = scaling == "shared"


def _shared_limit(n: str) -> float:
    """One scale per layer; the activation's input and output share theirs, as after =
    activation(before): the ReLU's output is drawn in its input's colours, and the blue is
    seen to vanish."""
    group = (pair.before, pair.after) if pair is not None and n in (pair.before, pair.after) \
        else (n,)
    return float(max(map_limits(maps[g], True)[0] for g in group))


channels = maps[layer].shape[0]
columns = min(channels, max(4, math.ceil(math.sqrt(channels))))  # 16 maps: 4×4


def _title(n: str) -> str:
    if pair is not None and n == pair.after:
        return f"After {pair.kind}: {n}"
    if pair is not None and n == pair.before:
        # after batch norm: not the convolution's own output, but the activation's input
        return f"What the {pair.kind} receives: {n}" if pair.between else \
            f"Before {pair.kind}: {n}"
    return n


cols = st.columns(len(wanted))
for col, n in zip(cols, wanted, strict=True):
    m = maps[n]
    limits = [_shared_limit(n)] * len(m) if shared else map_limits(m, False)
    key = P + "mosaic." + str(wanted.index(n))
    with col:
        st.markdown(f"**{_title(n)}** · {_shape(m.shape)}")
        st.plotly_chart(
            plots.maps_figure(m, limits, labels=[f"#{c}" for c in range(len(m))],
                              columns=columns, tile_px=96,
                              shared_limit=_shared_limit(n) if shared else None,
                              width_px=MAIN_PX // len(wanted), show_labels=channels <= 64),
            key=key, on_select=lambda key=key: _take_click(key), selection_mode="points")
notes = [f"{channels} channels of {_shape(maps[layer].shape[1:])}. Click a map to open it "
         "below."]
if pair is not None and pair.between:
    notes.append(f"{' → '.join((layer, *pair.between))}: batch norm rescales and shifts each "
                 f"channel before the {pair.kind}.")
if pair is not None and pair.kind == "ReLU":
    notes.append("After the ReLU only red (positive) values remain.")
st.caption(" ".join(notes))

# --- ranking -----------------------------------------------------------------------------------
ranked = pair.after if pair is not None else layer
means, order = rank_channels(maps[ranked])
st.subheader("Which channels respond most")
st.plotly_chart(plots.channel_ranking(means, order, max_bars=64), key=P + "ranking")
st.caption(f"Channels of {ranked} by their mean value on this image"
           + (" (what the next layer receives)" if ranked != layer else "")
           + (f"; the first 64 of {len(means)}." if len(means) > 64 else "."))

# --- one channel ----------------------------------------------------------------------------------
st.subheader("One channel")
channel = net.channel_box(P, channels)
rank = int(list(order).index(channel)) + 1 if len(order) == channels else None
big_cols = st.columns(len(wanted))
for col, n in zip(big_cols, wanted, strict=True):
    m = maps[n][channel]
    lim = _shared_limit(n) if shared else float(map_limits(m[None], True)[0])
    col.plotly_chart(plots.maps_figure(m[None], [lim], labels=[f"{n} · channel {channel}"],
                                       columns=1, tile_px=512, shared_limit=lim,
                                       width_px=MAIN_PX // len(wanted),
                                       title=f"{_title(n)}, channel {channel}"),
                     key=P + "big." + str(wanted.index(n)))
if rank is not None:
    st.caption(f"Channel {channel} ranks {rank} of {channels} by mean activation "
               f"({means[channel]:.4g}).")

if shapes[layer].kind != "Conv2d":
    st.info(f"{layer} is a {shapes[layer].kind} layer: it has no kernel of its own. Choose a "
            "convolution to see the weights behind a channel.", icon=":material/info:")
    publish(PARAMS)
    st.stop()

weights = conv_weights(model, layer)[channel]  # (C_in, kh, kw)
c_in, kh, kw = weights.shape
first = first_conv(model)
slice_names = (["R", "G", "B"] if c_in == 3 and layer == first and MODELS[name].input_size[0] == 3
               else ["grey"] if c_in == 1 and layer == first else None)
st.markdown(f"**The kernel of channel {channel}**: {c_in} slice{'s' if c_in > 1 else ''} of "
            f"{kh}×{kw}, one per channel of the layer's input"
            + (f" (the first 16 of {c_in} shown)" if c_in > 16 else "") + ".")
st.plotly_chart(plots.kernel_slices(weights, names=slice_names), key=P + "kernel")

kernel = kernel_of(model, layer, channel)
problem = carry_problem(kernel)
if problem is None:
    query = kernel_query(kernel, sample=image.name if image.source == "sample" else None)
    if st.button("Apply this learned kernel on the Convolution page",
                 icon=":material/open_in_new:", key=P + "apply", type="primary"):
        for key in CONVOLUTION_KEYS:
            st.session_state.pop(key, None)
        publish(PARAMS)
        st.switch_page(CONVOLUTION_PAGE, query_params=query)
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

publish(PARAMS)
