"""The "What a channel detects" page's second way to see a channel: ask the data. The real
images on which the channel responds most, each cropped to the receptive field of its
strongest unit: the 5,000 bundled MNIST digits for the digit models, the sample photographs
and this session's uploads for the networks of photographs.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import LayerError, mnist_sample, patch_grid, top_patches
from ui.cache import channels
from ui.cache.models import Network
from ui.catalog import PageInfo
from ui.widgets import shape_text

__all__ = ["TOP_K", "ask_the_data"]

TOP_K = 9  # patches shown


def _inputs(network: Network, layer: str):
    """(what the search runs on, in words; its inputs; their peaks; a title per image) or
    None for a network with no images at hand."""
    if network.recipe == "mnist":
        labels = mnist_sample()[1]
        return ("the 5,000 bundled MNIST digits", channels.mnist_inputs(),
                channels.peaks(network, layer), [f"digit {v}" for v in labels])
    if network.recipe in ("tflite", "imagenet") and getattr(network.model, "cnnviz_pretrained",
                                                             False):
        names, keys, x = channels.photos(network.name)
        what = f"the {len(names)} sample photographs and your uploads of this session"
        return what, x, channels.photo_peaks(network, layer, keys, x), names
    return None


def ask_the_data(page: PageInfo, network: Network, layer: str, channel: int) -> None:
    """The section: the strongest patches of channel ``channel`` of ``layer``, or a caption
    saying why there are none for this network."""
    try:
        with st.spinner("Running the images through the network…"):
            found = _inputs(network, layer)
    except (LayerError, ValueError) as err:
        st.error(f"No patches for this layer. {err}", icon=":material/error:")
        return
    if found is None:
        st.caption("The strongest real patches are shown for the digit models (the 5,000 "
                   "bundled MNIST digits) and for the trained ImageNet networks (the sample "
                   "photographs and your uploads); this network's training images are not "
                   "part of the app.")
        return
    what, x, peaks, names = found
    k = min(TOP_K, len(x))
    st.subheader(f"The {k} {'digits' if network.recipe == 'mnist' else 'images'} that excite "
                 "it most")
    try:
        patches = top_patches(network.model, layer, channel, x, k=k, recipe=network.recipe,
                              peaks=peaks)
    except (LayerError, ValueError) as err:
        st.error(f"No patches for this layer. {err}", icon=":material/error:")
        return
    titles = [f"#{r + 1} · {a:.3g} · {names[i]}"
              for r, (i, a) in enumerate(zip(patches.indices, patches.activations, strict=True))]
    st.plotly_chart(patch_grid(patches.crops, patches.inside, titles=titles,
                               origins=[(int(b[0]), int(b[2])) for b in patches.boxes],
                               columns=3, cell_px=150 if network.recipe == "mnist" else 200),
                    key=page.key("patches"), alt=f"The {len(titles)} image patches that "
                    f"make channel {channel} of {layer} respond most, strongest first: "
                    + "; ".join(titles))
    rh, rw = patches.field_size
    clipped = int(patches.clipped.sum())
    st.caption(
        f"Each patch is the receptive field of the unit where channel {channel} peaks in "
        f"that image: **{rh}×{rw} pixels** of the {shape_text(patches.input_hw)} input "
        f"({layer}), at most one patch per image, out of {what}. The number is the "
        "channel's value there."
        + (f" {clipped} of them reach past the image border: the checkered pixels lie "
           "outside the image, where the layer sees padding." if clipped else "")
        + ("" if network.recipe == "mnist" else " Upload photographs in the sidebar to "
           "search them too."))
    if float(patches.activations[0]) <= 0:
        st.warning(f"Channel {channel} of {layer} never rises above 0 on {what}: a ReLU "
                   "after it would pass nothing (a dead channel), so these patches are only "
                   "the least negative ones.", icon=":material/warning:")
