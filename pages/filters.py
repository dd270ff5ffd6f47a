"""Filters: the first layer's kernels as pictures, beside the hand-made kernels of image
processing, and the kernels of deeper layers slice by slice.

URL keys: ``model``, and the deeper filter shown: ``layer``, ``filter``.
"""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import numpy as np
import streamlit as st

from cnnviz import ImageError, LayerError, ModelError, plots
from cnnviz.filters import (
    COMPARED_PRESETS,
    closest_filters,
    conv_weights,
    first_conv,
    preset_responses,
)
from cnnviz.inspect import conv_layers
from cnnviz.kernels import PRESETS
from cnnviz.models import MODELS, load_model
from ui import network_pages as net
from ui import state
from ui.urlstate import UrlParam, choice, int_in, publish

P = "filters."  # widget-key prefix of this page


def _default_layer(name: str) -> str:
    """The second convolution (the first one that looks at maps, not pixels)."""
    convs = conv_layers(load_model(name))
    return convs[1] if len(convs) > 1 else convs[0]


def _dependent(name: str) -> list[UrlParam]:
    return [
        UrlParam("layer", (P + "layer",), _default_layer(name),
                 choice(conv_layers(load_model(name)))),
        UrlParam("filter", (P + "filter",), 0, int_in(0, 4095)),
    ]


def _model_changed() -> None:
    try:
        st.session_state[P + "layer"] = _default_layer(st.session_state[P + "model"])
    except (ModelError, LayerError):
        return  # the page shows the error
    st.session_state[P + "filter"] = 0


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def _preset_responses(name: str, digest: str, _x: np.ndarray) -> np.ndarray:
    """The compared presets on the grey version (channel mean) of the model's input."""
    return preset_responses(_x[0].mean(axis=0))


image = state.current_image()
st.title("Filters")
st.markdown(
    "A convolution layer is a stack of small kernels, and a trained network **learned** "
    "every number in them. The first layer's kernels look at the pixels themselves, so they "
    "can be drawn as tiny pictures; deeper kernels look at the maps of the layer before, one "
    "slice per map."
)
PARAMS = net.seed_url(P, _dependent)
name = net.model_picker(P, on_change=_model_changed)
try:
    model = net.model(name)
    first = first_conv(model)
    convs = conv_layers(model)
    first_weights = conv_weights(model, first)  # (F, C, kh, kw)
except (ModelError, LayerError) as err:
    st.error(str(err), icon=":material/error:")
    publish(PARAMS)
    st.stop()
trained = net.weights_badge(model)
n_filters, c_in, kh, kw = first_weights.shape

# --- the first layer --------------------------------------------------------------------------
st.subheader(f"The first layer: {n_filters} kernels of {kh}×{kw}"
             + (" × 3 colours" if c_in == 3 else ""))
st.plotly_chart(plots.filter_grid(first_weights, columns=16 if n_filters > 32 else 8),
                key=P + "first")
if c_in == 3:
    st.caption(
        "Each kernel's three slices (for R, G and B) are drawn as one colour patch, stretched "
        "from its own smallest weight (black) to its largest (white), as in the famous "
        "picture of AlexNet's first layer. **Grey** means the three slices are equal: the "
        "kernel ignores colour and responds to brightness (edges, spots). **Colour** means "
        "the kernel weighs one colour more: it looks for that colour, or for an edge between "
        "two colours."
    )
else:
    st.caption("Each kernel on its own scale: red weights are positive, blue negative, white "
               "zero. A kernel with red on one side and blue on the other responds to an edge "
               "there, like a Sobel kernel.")
if not trained:
    st.warning("These weights are random: the kernels are noise. With trained weights "
               "(digits, shapes; the classics when their ImageNet weights are available) "
               "patterns appear.", icon=":material/casino:")

# --- learned vs hand-made ---------------------------------------------------------------------
st.subheader("Who told the first layer to look for edges? Nobody.")
st.markdown(
    "Image processing uses hand-made kernels: Sobel for edges, a blur, the Laplacian for "
    "spots. Nobody gave the network these: training only asked it to classify, and it found "
    "kernels like them on its own, because edges and strokes are what tell the classes "
    "apart."
)
try:
    with net.spinner_for(name, f"Running {name} on your image…"):
        x = net.model_input(name, image)
        learned_maps = net.layer_maps(name, image, (first,))[first]
        preset_maps = _preset_responses(name, image.digest, x)
except (LayerError, ImageError, ValueError) as err:
    st.error(f"The network cannot run on this image. {err}", icon=":material/error:")
    publish(PARAMS)
    st.stop()

matches = closest_filters(first_weights)
labels = [PRESETS[p].label for p in COMPARED_PRESETS]
if matches:
    picked = [m.filter for m in matches]
    learned_labels = [f"#{m.filter} ≈ {PRESETS[m.preset].label}" for m in matches]
    summed = first_weights.sum(axis=1)  # (F, kh, kw): the kernel a grey image meets
    stack = np.concatenate([np.stack([PRESETS[p].kernel for p in COMPARED_PRESETS]),
                            summed[picked]])
    st.plotly_chart(plots.kernel_slices(stack, names=[*labels, *learned_labels],
                                        columns=len(COMPARED_PRESETS), own_scale=True,
                                        max_slices=len(stack)), key=P + "pairs")
    st.dataframe(
        [{"hand-made": PRESETS[m.preset].label, "most similar learned kernel": f"#{m.filter}",
          "cosine similarity": round(m.cosine, 3),
          "reading": ("same pattern" if m.cosine > 0 else "the pattern inverted")
          if abs(m.cosine) >= 0.5 else "only a faint likeness"} for m in matches],
        hide_index=True,
    )
    st.caption("Top row: the hand-made kernels. Bottom row: for each, the learned kernel most "
               "like it (the largest |cosine similarity|, 1 = the same pattern up to scale; "
               "−1 = inverted, an edge the other way round)"
               + (", its three colour slices summed: that is the kernel a grey image meets."
                  if c_in == 3 else "."))
else:
    picked = list(range(min(4, n_filters)))
    learned_labels = [f"#{i}" for i in picked]
    st.caption(f"The presets are 3×3 and these kernels are {kh}×{kw}, so they are not "
               "compared number by number; their responses are shown side by side below.")

left, right = st.columns(2)
with left:
    st.markdown("**Hand-made kernels** on the grey input")
    st.plotly_chart(plots.maps_figure(preset_maps, [float(np.abs(m).max()) or 1.0
                                                     for m in preset_maps],
                                      labels=labels, columns=2, tile_px=224, width_px=440,
                                      show_labels=True),
                    key=P + "preset_maps")
with right:
    st.markdown(f"**Learned kernels** of {first} on the same input")
    chosen = learned_maps[picked]
    st.plotly_chart(plots.maps_figure(chosen, [float(np.abs(m).max()) or 1.0 for m in chosen],
                                      labels=learned_labels, columns=2, tile_px=224,
                                      width_px=440, show_labels=True), key=P + "learned_maps")
st.caption(f"Both on the {x.shape[2]}×{x.shape[3]} input the network sees (the hand-made ones "
           "on its grey version), each map on its own red-blue scale. The learned maps are "
           f"{first}'s own outputs, before any activation.")

# --- deeper layers ------------------------------------------------------------------------------
st.subheader("Deeper layers: one slice per input map")
if st.session_state[P + "layer"] not in convs:  # e.g. a layer of the model shown before
    st.session_state[P + "layer"] = _default_layer(name)
l_col, f_col = st.columns([2, 1])
with l_col:
    layer = st.selectbox("Convolution", convs, key=P + "layer", persist_state="session")
weights = conv_weights(model, layer)  # (F, C, kh, kw)
with f_col:
    st.session_state[P + "filter"] = min(int(st.session_state[P + "filter"]), len(weights) - 1)
    f = int(st.number_input(f"Filter (0–{len(weights) - 1})", 0, len(weights) - 1,
                            key=P + "filter", persist_state="session"))
kernel = weights[f]  # (C, kh, kw)
names = (["R", "G", "B"] if kernel.shape[0] == 3 and MODELS[name].input_size[0] == 3
         and layer == first else None)
st.plotly_chart(plots.kernel_slices(kernel, names=names), key=P + "slices")
c = kernel.shape[0]
st.caption(
    f"Filter {f} of {layer}: {c} slice{'s' if c > 1 else ''} of {kernel.shape[1]}×"
    f"{kernel.shape[2]}" + (" (the first 16 shown)" if c > 16 else "") + ", on one red-blue "
    "scale. " + ("Each slice is slid over one map of the layer before and the results are "
                 "summed: the filter looks for a combination of the patterns those maps "
                 "found, which is why deeper kernels are hard to read as pictures."
                 if layer != first else "This is a first-layer kernel: its slices meet the "
                 "image's channels.")
)

publish(PARAMS)
