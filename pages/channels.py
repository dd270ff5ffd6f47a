"""What a channel detects: an input synthesised by gradient ascent to excite one channel, next
to the channel's map on the current image and its kernel, and the real images that excite it
most, cropped to the unit's receptive field (``ui.ask_data``: the bundled MNIST digits for the
digit models, the sample photographs and this session's uploads for the ImageNet networks).

URL keys: ``model``, ``layer``, ``channel``, ``objective`` (centre | mean), ``reg`` (none |
jitter | blur | fourier), ``steps``.
"""

import numpy as np
import streamlit as st

from cnnviz import (
    MAXIMISE_OBJECTIVES,
    REGULARISERS,
    ImageError,
    LayerError,
    ModelError,
    canvas_shape,
    channel_source,
    conv_weights,
    default_maximise_steps,
    default_regulariser,
    kernel_slices,
    maps_figure,
    maximise_config,
    objective_curve,
    picture,
    receptive_field,
)
from ui import catalog, defaults, state, widgets
from ui.ask_data import ask_the_data
from ui.boot import ensure_app_navigation
from ui.cache import channels, models, networks
from ui.urlstate import Link, choice_param
from ui.widgets import shape_text

ensure_app_navigation()

PAGE = catalog.CHANNELS
P = PAGE.prefix
STEP_CHOICES = (16, 32, 64, 128, 256, 512)
SMALL_SIDE = 64  # inputs up to this side (the digits, the shapes) get the note on small inputs
OBJECTIVE_LABELS = {"centre": "centre unit", "mean": "whole map"}
REG_LABELS = {"none": "none", "jitter": "jitter", "blur": "jitter + blur",
              "fourier": "jitter + 1/f spectrum"}


def _more(name: str) -> list:
    size = models.spec(name).input_size
    steps = default_maximise_steps(size, networks.totals(name)["macs"])
    return [choice_param("objective", P + "objective", "centre", MAXIMISE_OBJECTIVES),
            choice_param("reg", P + "reg", default_regulariser(size), tuple(REGULARISERS)),
            choice_param("steps", P + "steps", steps, STEP_CHOICES)]


CONTROLS = widgets.NetworkControls(PAGE, defaults.network_model(), defaults.channel_layer,
                                   networks.spatial_layers, more=_more,
                                   follows_model=("steps", "reg"))


image = state.current_image()
st.title("What a channel detects")
st.markdown(
    "Each channel of a convolution layer answers one question about every patch of the image. "
    "Two ways to see the question: **ask the network** (start from grey noise and change the "
    "pixels, step by step, in the direction that makes the channel respond more: *activation "
    "maximisation* by gradient ascent) and **ask the data** (find the real images on which the "
    "channel responds most, and cut out the part of each that the strongest unit sees)."
)
link = Link()
OBJECTIVE, REG, STEPS = CONTROLS.seed(link)

c1, c2, c3 = st.columns([2, 2, 1])
name = CONTROLS.picker(c1)
try:
    steps = networks.layer_steps(name)
except (ModelError, LayerError) as err:
    link.stop(str(err))
layer = CONTROLS.layer_picker(name, "Layer", c2, steps=steps)
channel = widgets.channel_box(CONTROLS.channel, {s.name: s for s in steps}[layer]
                              .output_shape[0], c3)
o1, o2, o3 = st.columns([2, 3, 2])
objective = widgets.segmented(
    OBJECTIVE, "Maximise", o1, format_func=OBJECTIVE_LABELS.get,
    help="Centre unit: the one unit in the middle of the map; only its receptive field "
    "changes, the rest of the picture stays grey. Whole map: the channel's mean over every "
    "unit, so its pattern is repeated all over the picture.")
reg = widgets.segmented(
    REG, "Regulariser", o2, format_func=REG_LABELS.get,
    help="Plain gradient ascent finds speckle that no real image has. Jitter rolls the "
    "picture by a pixel or two before every step, so the pattern must work wherever it "
    "lands; blur smooths it every 4 steps; the 1/f spectrum makes fine detail expensive "
    "(Olah et al., 2017, Feature Visualization).")
n_steps = widgets.select_slider(STEPS, "Steps", o3)

try:
    session = models.session_model(name) is not None and st.toggle(
        "Use the network you trained on the Training page", key=P + "session",
        help="Off: the network that ships with the app.")
    network = models.network(name, session)
except ModelError as err:
    link.stop(str(err))
trained = widgets.weights_badge(network.model)
spec = models.spec(name)
canvas = canvas_shape(spec.input_size, macs=networks.totals(name)["macs"])
if not trained:
    st.warning(
        f"{name} runs with random weights here (its pretrained weights are not on this "
        "machine), so no channel has learned anything: the synthesised picture is noise "
        "shaped by random filters, and it tells you nothing about the real network.",
        icon=":material/warning:")

# --- ask the network --------------------------------------------------------------------------
st.subheader(f"Channel {channel} of {layer}")
left, middle, right = st.columns([1.15, 1, 1], gap="medium")
settings = (network.key, layer, channel, objective, reg, n_steps, canvas)
with left:
    st.markdown("**An input made to excite it**")
    clicked = st.button("Synthesise", key=P + "run", type="primary",
                        icon=":material/auto_awesome:")
    kept = channels.synthesis(settings)
    if clicked:
        config = maximise_config(reg, canvas, steps=n_steps, objective=objective)
        bar, report = widgets.progress_bar("Starting from grey noise…")
        try:
            kept = channels.synthesise(network, layer, channel, canvas, config, settings, report)
        except (LayerError, ValueError) as err:
            st.error(f"No picture for this channel. {err}", icon=":material/error:")
        else:
            bar.progress(1.0, text=f"Done: {config.steps} steps in {kept[1]:.1f} s")
    if kept is None:
        st.info(f"Press **Synthesise** to run {n_steps} steps of gradient ascent on a "
                f"{shape_text(canvas[1:])} canvas.", icon=":material/touch_app:")
    else:
        result, seconds = kept
        field = receptive_field(network.model, layer, canvas) if objective == "centre" else None
        st.plotly_chart(picture(result.picture, title=f"{layer} · channel {channel}",
                                box=field.box if field else None, height=360),
                        key=P + "picture", alt=f"The picture synthesised for channel {channel} "
                        f"of {layer} of {models.short_label(name)}, {shape_text(canvas[1:])}")
        what = "its centre unit" if objective == "centre" else "its mean over the map"
        jitter = result.config.jitter
        st.caption(
            f"The channel's response ({what}) rose from {result.start:.3g} on the grey "
            f"start to {result.final:.3g} in {result.config.steps} steps ({seconds:.1f} s); "
            f"regulariser: {REGULARISERS[reg]}."
            + (f" The amber box is the centre unit's receptive field, {shape_text(field.size)} "
               "pixels: the only pixels it sees. Outside it the picture stays grey"
               + (f", but for a margin of {jitter} pixel{'s' if jitter > 1 else ''} that the "
                  "jitter shifts into view." if jitter else ".")
               if field is not None else ""))
        st.plotly_chart(objective_curve(result.history, start=result.start), key=P + "curve",
                        alt=f"Line chart: the channel's response over {len(result.history)} "
                        f"steps, from {result.start:.3g} to {result.final:.3g}")

with middle:
    st.markdown("**Its map on your image**")
    try:
        with models.spinner_for(name, f"Running {name} on your image…"):
            m = networks.layer_maps(network, image, (layer,))[layer][channel]
    except (LayerError, ImageError, ValueError) as err:
        st.error(f"The network cannot run on this image. {err}", icon=":material/error:")
    else:
        # a sample's name is ours; an uploaded file's name is not shown (it is the user's text)
        where = image.label if image.source == "sample" else "your image"
        lim = float(np.abs(m).max()) or 1.0
        st.plotly_chart(maps_figure(m[None], [lim], labels=[f"{layer} · channel {channel}"],
                                    columns=1, tile_px=512, shared_limit=lim, width_px=420,
                                    title=f"{where} · {shape_text(m.shape)}"), key=P + "map",
                        alt=f"Map of channel {channel} of {layer} on {where}, "
                        f"{shape_text(m.shape)}, red positive and blue negative")
        peak = np.unravel_index(int(np.argmax(m)), m.shape)
        st.caption(f"On {where}, channel {channel} is strongest at unit "
                   f"({peak[0]}, {peak[1]}): {float(m[peak]):.3g}. Red is positive, blue "
                   "negative.")

with right:
    conv = channel_source(steps, layer)
    if conv is None:
        st.markdown("**Its kernel**")
        st.caption(f"{layer} has no kernel of its own, and no convolution feeds its channels "
                   "one to one.")
    else:
        weights = conv_weights(network.model, conv)[channel]  # (C_in, kh, kw)
        c_in, kh, kw = weights.shape
        first = conv == defaults.first_conv(name)
        st.markdown(f"**Its kernel** ({conv})")
        st.plotly_chart(kernel_slices(weights, names=widgets.slice_names(name, conv, c_in),
                                      max_slices=16, columns=4, cell_px=120), key=P + "kernel",
                        alt=widgets.kernel_alt(f"The kernel of channel {channel} of {conv}",
                                              weights))
        st.caption(f"{c_in} slice{'s' if c_in > 1 else ''} of {kh}×{kw}"
                   + (" (the first 16 shown)" if c_in > 16 else "")
                   + (f"; {layer} passes on channel {channel} of {conv}." if conv != layer
                      else ".")
                   + ("" if first else " Deeper kernels weigh the maps of the layer before, "
                      "not pixels, which is why the synthesised picture is the better view."))

if max(canvas[1:]) <= SMALL_SIDE:
    c, h, w = canvas
    st.info(
        f"**Why the picture is blurry and noisy.** The network sees only {h}×{w} = {h * w:,} "
        f"{'grey ' if c == 1 else ''}pixels, and one unit of a middle layer sees a patch a few "
        "pixels wide: there is no room for fine detail, and one pixel of jitter or blur is "
        "already a large part of what a unit sees. Gradient ascent also finds any pattern that "
        "raises the number, including speckle that no real image contains; the regularisers "
        "trade that speckle for blur. Read the picture as a rough sketch (light where a bright "
        "pixel raises the response, dark where it lowers it)"
        + (" and compare it with the real digits below" if network.recipe == "mnist" else "")
        + ". On large inputs (Lucid's pictures of ImageNet networks are 128×128 and up) the "
        "same method draws clearer patterns.",
        icon=":material/info:")
elif canvas != spec.input_size:
    st.caption(f"Synthesised on a {shape_text(canvas[1:])} canvas although {name} takes "
               f"{shape_text(spec.input_size[1:])}: a convolution works at any size, and a step "
               "costs about a third as much.")

# --- ask the data -----------------------------------------------------------------------------
ask_the_data(PAGE, network, layer, channel)
link.publish()
