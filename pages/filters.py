"""Filters: the first layer's kernels as pictures, beside the hand-made kernels of image
processing, and the kernels of deeper layers slice by slice.

URL keys: ``model``, and the deeper filter shown: ``layer``, ``filter``.
"""

import numpy as np
import streamlit as st

from cnnviz import (
    COMPARED_PRESETS,
    PRESETS,
    ImageError,
    LayerError,
    ModelError,
    closest_filters,
    conv_groups,
    conv_weights,
    filter_grid,
    kernel_slices,
    maps_figure,
)
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import models, networks
from ui.urlstate import Link

ensure_app_navigation()

PAGE = catalog.FILTERS
P = PAGE.prefix
CONTROLS = widgets.NetworkControls(PAGE, defaults.network_model(), defaults.filter_layer,
                                   networks.conv_layers, unit="filter")


def _own_scale(maps: np.ndarray) -> list[float]:
    return [float(np.abs(m).max()) or 1.0 for m in maps]


image = state.current_image()
st.title("Filters")
st.markdown(
    "A convolution layer is a stack of small kernels, and a trained network **learned** "
    "every number in them. The first layer's kernels look at the pixels themselves, so they "
    "can be drawn as tiny pictures; deeper kernels look at the maps of the layer before, one "
    "slice per map."
)
link = Link()
CONTROLS.seed(link)
name = CONTROLS.picker()
try:
    network = models.network(name)
    first = defaults.first_conv(name)
    first_weights = conv_weights(network.model, first)  # (F, C, kh, kw)
except (ModelError, LayerError) as err:
    link.stop(str(err))
trained = widgets.weights_badge(network.model)
n_filters, c_in, kh, kw = first_weights.shape

# --- the first layer --------------------------------------------------------------------------
st.subheader(f"The first layer: {n_filters} kernels of {kh}×{kw}"
             + (" × 3 colours" if c_in == 3 else ""))
st.plotly_chart(filter_grid(first_weights, columns=16 if n_filters > 32 else 8),
                key=P + "first", alt=f"The {n_filters} kernels of {first} of "
                f"{models.short_label(name)}, {kh}×{kw} each, drawn as "
                + ("colour patches" if c_in == 3 else "red-blue patches"))
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
    with models.spinner_for(name, f"Running {name} on your image…"):
        x = networks.model_input(name, image)
        learned_maps = networks.layer_maps(network, image, (first,))[first]
        preset_maps = networks.preset_responses(name, image)
except (LayerError, ImageError, ValueError) as err:
    link.stop(f"The network cannot run on this image. {err}")

matches = closest_filters(first_weights)
labels = [PRESETS[p].label for p in COMPARED_PRESETS]
if matches:
    picked = [m.filter for m in matches]
    learned_labels = [f"#{m.filter} ≈ {PRESETS[m.preset].label}" for m in matches]
    summed = first_weights.sum(axis=1)  # (F, kh, kw): the kernel a grey image meets
    stack = np.concatenate([np.stack([PRESETS[p].kernel for p in COMPARED_PRESETS]),
                            summed[picked]])
    st.plotly_chart(kernel_slices(stack, names=[*labels, *learned_labels],
                                  columns=len(COMPARED_PRESETS), own_scale=True,
                                  max_slices=len(stack)), key=P + "pairs",
                    alt="Hand-made kernels (" + ", ".join(labels) + ") above the learned kernels "
                    "most like them (" + ", ".join(learned_labels) + "); the table below has "
                    "their similarities")
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
left.markdown("**Hand-made kernels** on the grey input")
left.plotly_chart(maps_figure(preset_maps, _own_scale(preset_maps), labels=labels, columns=2,
                              tile_px=224, width_px=440, show_labels=True),
                  key=P + "preset_maps", alt="Responses of the hand-made kernels ("
                  + ", ".join(labels) + f") on the grey {x.shape[2]}×{x.shape[3]} input")
right.markdown(f"**Learned kernels** of {first} on the same input")
chosen = learned_maps[picked]
right.plotly_chart(maps_figure(chosen, _own_scale(chosen), labels=learned_labels, columns=2,
                               tile_px=224, width_px=440, show_labels=True),
                   key=P + "learned_maps", alt=f"Responses of the learned kernels of {first} "
                   f"({', '.join(learned_labels)}) on the {x.shape[2]}×{x.shape[3]} input")
st.caption(f"Both on the {x.shape[2]}×{x.shape[3]} input the network sees (the hand-made ones "
           "on its grey version), each map on its own red-blue scale. The learned maps are "
           f"{first}'s own outputs, before any activation.")

# --- deeper layers ------------------------------------------------------------------------------
st.subheader("Deeper layers: one slice per input map")
l_col, f_col = st.columns([2, 1])
layer = CONTROLS.layer_picker(name, "Convolution", l_col)
weights = conv_weights(network.model, layer)  # (F, C, kh, kw)
key = CONTROLS.channel.widget
st.session_state[key] = min(int(st.session_state[key]), len(weights) - 1)
f = int(f_col.number_input(f"Filter (0–{len(weights) - 1})", 0, len(weights) - 1, key=key,
                           persist_state="session"))
kernel = weights[f]  # (C, kh, kw)
names = widgets.slice_names(name, layer, kernel.shape[0])
st.plotly_chart(kernel_slices(kernel, names=names if names != ["grey"] else None),
                key=P + "slices", alt=widgets.kernel_alt(f"Filter {f} of {layer}", kernel))
c = kernel.shape[0]
groups, c_in = conv_groups(network.model, layer)
if groups > 1 and groups == c_in:
    about = (f"A **depthwise** convolution (groups = {groups} = its input channels): filter "
             f"{f} has one slice because it sees one input map only, map "
             f"{f // (len(weights) // groups)}, and filters it "
             "on its own; no channels are mixed here. The 1×1 convolution after it mixes "
             "them. Together the two cost a fraction of one full k×k layer (see the "
             "Architecture page).")
elif groups > 1:
    about = (f"A grouped convolution ({groups} groups): each filter sees {c} of the "
             f"{c_in} input maps, those of its own group, one slice each.")
elif layer != first:
    about = ("Each slice is slid over one map of the layer before and the results are "
             "summed: the filter looks for a combination of the patterns those maps "
             "found, which is why deeper kernels are hard to read as pictures.")
else:
    about = "This is a first-layer kernel: its slices meet the image's channels."
st.caption(
    f"Filter {f} of {layer}: {c} slice{'s' if c > 1 else ''} of {kernel.shape[1]}×"
    f"{kernel.shape[2]}" + (" (the first 16 shown)" if c > 16 else "") + ", on one red-blue "
    "scale. " + about
)

link.publish()
