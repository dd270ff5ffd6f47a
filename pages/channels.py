"""What a channel detects: an input synthesised by gradient ascent to excite one channel, next
to the channel's map on the current image and its kernel, and, for the digit models, the nine
bundled MNIST digits that excite it most, cropped to the unit's receptive field.

URL keys: ``model``, ``layer``, ``channel``, ``objective`` (centre | mean), ``reg`` (none |
jitter | blur | fourier), ``steps``.
"""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import time

import numpy as np
import streamlit as st

from cnnviz import ImageError, LayerError, ModelError, plots
from cnnviz.activations import ACTIVATIONS, NORMS, spatial_layers
from cnnviz.channels import (
    OBJECTIVES,
    REGULARISERS,
    canvas_shape,
    config_for,
    default_steps,
    maximise_channel,
    top_patches,
)
from cnnviz.datasets import mnist_sample
from cnnviz.filters import conv_weights, first_conv
from cnnviz.inspect import receptive_field
from cnnviz.models import MODELS
from ui import channel_data as data
from ui import network_pages as net
from ui import state
from ui.urlstate import UrlParam, choice, int_in, publish

P = "channels."  # widget-key prefix of this page
STEP_CHOICES = (16, 32, 64, 128, 256, 512)
#: Inputs up to this side (the digits, the shapes) get the note on small inputs.
SMALL_SIDE = 64
TOP_K = 9
OBJECTIVE_LABELS = {"centre": "centre unit", "mean": "whole map"}
REG_LABELS = {"none": "none", "jitter": "jitter", "blur": "jitter + blur",
              "fourier": "jitter + 1/f spectrum"}
#: Layers that keep a channel's identity: channel c of their output comes from channel c of
#: the convolution before them, whose kernel is then "the channel's kernel".
CHANNELWISE = ("MaxPool2d", "AvgPool2d", *(c.__name__ for c in (*ACTIVATIONS, *NORMS)))


def _steps_parser(text: str) -> int:
    value = int(text.strip())
    if value not in STEP_CHOICES:
        raise ValueError("not a step count of the menu")
    return value


def _layers(name: str) -> list[str]:
    return [s.name for s in spatial_layers(net.steps(name))]


def _default_layer(name: str) -> str:
    """The middle convolution: conv2 of the digits CNN, conv3 of the shapes CNN."""
    convs = [s.name for s in net.steps(name) if s.kind == "Conv2d"]
    return convs[len(convs) // 2] if convs else _layers(name)[0]


def _default_steps(name: str) -> int:
    return default_steps(MODELS[name].input_size)


def _dependent(name: str) -> list[UrlParam]:
    return [
        UrlParam("layer", (P + "layer",), _default_layer(name), choice(_layers(name))),
        UrlParam("channel", (P + "channel",), 0, int_in(0, 4095)),
        UrlParam("objective", (P + "objective",), "centre", choice(OBJECTIVES)),
        UrlParam("reg", (P + "reg",), "jitter", choice(tuple(REGULARISERS))),
        UrlParam("steps", (P + "steps",), _default_steps(name), _steps_parser),
    ]


def _model_changed() -> None:
    name = st.session_state[P + "model"]
    try:
        st.session_state[P + "layer"] = _default_layer(name)
    except (ModelError, LayerError):
        return  # the page shows the error
    st.session_state[P + "channel"] = 0
    st.session_state[P + "steps"] = _default_steps(name)


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


def _own_conv(steps, layer: str, channels: int) -> str | None:
    """The convolution whose channel ``layer``'s channels are: the layer itself, or the last
    convolution before it with only channel-wise layers (ReLU, batch norm, pooling) between."""
    names = [s.name for s in steps]
    for s in reversed(steps[: names.index(layer) + 1]):
        if s.kind == "Conv2d":
            return s.name if s.output_shape and s.output_shape[0] == channels else None
        if s.kind not in CHANNELWISE:
            return None
    return None


def _synthesise(network, layer: str, channel: int, canvas, config):
    """Run the gradient ascent with a progress bar; (result, seconds)."""
    bar = st.progress(0.0, text="Starting from grey noise…")
    every = max(1, config.steps // 50)  # about 50 updates, whatever the step count

    def report(step: int, total: int, value: float) -> None:
        if step % every == 0 or step == total:
            bar.progress(step / total, text=f"Step {step} of {total} · objective {value:.4g}")

    start = time.perf_counter()
    result = maximise_channel(network.model, layer, channel, canvas, config=config,
                              recipe=network.recipe, progress=report)
    seconds = time.perf_counter() - start
    bar.progress(1.0, text=f"Done: {config.steps} steps in {seconds:.1f} s")
    return result, seconds


image = state.current_image()
st.title("What a channel detects")
st.markdown(
    "Each channel of a convolution layer answers one question about every patch of the image. "
    "Two ways to see the question: **ask the network** (start from grey noise and change the "
    "pixels, step by step, in the direction that makes the channel respond more: *activation "
    "maximisation* by gradient ascent) and **ask the data** (find the real images on which the "
    "channel responds most, and cut out the part of each that the strongest unit sees)."
)
PARAMS = net.seed_url(P, _dependent)

c1, c2, c3 = st.columns([2, 2, 1])
with c1:
    name = net.model_picker(P, on_change=_model_changed)
try:
    steps = net.steps(name)
    options = _layers(name)
except (ModelError, LayerError) as err:
    st.error(str(err), icon=":material/error:")
    publish(PARAMS)
    st.stop()
shapes = {s.name: s for s in steps}
if st.session_state[P + "layer"] not in options:  # e.g. a layer of the model shown before
    st.session_state[P + "layer"] = _default_layer(name)
with c2:
    layer = st.selectbox(
        "Layer", options, key=P + "layer", persist_state="session",
        format_func=lambda n: f"{n} · {shapes[n].kind} · {_shape(shapes[n].output_shape)}",
    )
channels = shapes[layer].output_shape[0]
with c3:
    channel = net.channel_box(P, channels)
o1, o2, o3 = st.columns([2, 3, 2])
with o1:
    objective = st.segmented_control(
        "Maximise", OBJECTIVES, key=P + "objective", required=True, persist_state="session",
        format_func=OBJECTIVE_LABELS.get,
        help="Centre unit: the one unit in the middle of the map; only its receptive field "
        "changes, the rest of the picture stays grey. Whole map: the channel's mean over every "
        "unit, so its pattern is repeated all over the picture.")
with o2:
    reg = st.segmented_control(
        "Regulariser", tuple(REGULARISERS), key=P + "reg", required=True,
        persist_state="session", format_func=REG_LABELS.get,
        help="Plain gradient ascent finds speckle that no real image has. Jitter rolls the "
        "picture by a pixel or two before every step, so the pattern must work wherever it "
        "lands; blur smooths it every 4 steps; the 1/f spectrum makes fine detail expensive "
        "(Olah et al., 2017, Feature Visualization).")
with o3:
    n_steps = st.select_slider("Steps", STEP_CHOICES, key=P + "steps", persist_state="session")

try:
    session = data.session_model(name) is not None and st.toggle(
        "Use the network you trained on the Training page", key=P + "session",
        help="Off: the network that ships with the app.")
    network = data.network(name, session)
except ModelError as err:
    st.error(str(err), icon=":material/error:")
    publish(PARAMS)
    st.stop()
trained = net.weights_badge(network.model)
spec = MODELS[name]
canvas = canvas_shape(spec.input_size)
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
    kept = data.synthesis(settings)
    if clicked:
        config = config_for(reg, canvas, steps=n_steps, objective=objective)
        try:
            kept = _synthesise(network, layer, channel, canvas, config)
        except (LayerError, ValueError) as err:
            st.error(f"No picture for this channel. {err}", icon=":material/error:")
            kept = None
        else:
            data.keep_synthesis(settings, kept)
    if kept is None:
        st.info(f"Press **Synthesise** to run {n_steps} steps of gradient ascent on a "
                f"{_shape(canvas[1:])} canvas.", icon=":material/touch_app:")
    else:
        result, seconds = kept
        box = None
        if objective == "centre":
            field = receptive_field(network.model, layer, canvas)
            box = field.box
        st.plotly_chart(plots.picture(result.picture, title=f"{layer} · channel {channel}",
                                      box=box, height=360), key=P + "picture")
        what = "its centre unit" if objective == "centre" else "its mean over the map"
        jitter = result.config.jitter
        st.caption(
            f"The channel's response ({what}) rose from {result.start:.3g} on the grey "
            f"start to {result.final:.3g} in {result.config.steps} steps ({seconds:.1f} s); "
            "regulariser: "
            f"{REGULARISERS[reg]}."
            + (f" The amber box is the centre unit's receptive field, "
               f"{_shape(field.size)} pixels: the only pixels it sees. Outside it the picture "
               "stays grey"
               + (f", but for a margin of {jitter} pixel{'s' if jitter > 1 else ''} that the "
                  "jitter shifts into view." if jitter else ".")
               if box is not None else ""))
        st.plotly_chart(plots.objective_curve(result.history, start=result.start),
                        key=P + "curve")

maps = None
with middle:
    st.markdown("**Its map on your image**")
    try:
        with net.spinner_for(name, f"Running {name} on your image…"):
            maps = data.layer_map(network, image, layer)
    except (LayerError, ImageError, ValueError) as err:
        st.error(f"The network cannot run on this image. {err}", icon=":material/error:")
    if maps is not None:
        # a sample's name is ours; an uploaded file's name is not shown (it is the user's text)
        where = image.label if image.source == "sample" else "your image"
        m = maps[channel]
        lim = float(np.abs(m).max()) or 1.0
        st.plotly_chart(plots.maps_figure(m[None], [lim], labels=[f"{layer} · channel {channel}"],
                                          columns=1, tile_px=512, shared_limit=lim,
                                          width_px=420,
                                          title=f"{where} · {_shape(m.shape)}"),
                        key=P + "map")
        peak = np.unravel_index(int(np.argmax(m)), m.shape)
        st.caption(f"On {where}, channel {channel} is strongest at unit "
                   f"({peak[0]}, {peak[1]}): {float(m[peak]):.3g}. Red is positive, blue "
                   "negative.")

with right:
    conv = _own_conv(steps, layer, channels)
    if conv is None:
        st.markdown("**Its kernel**")
        st.caption(f"{layer} has no kernel of its own, and no convolution feeds its channels "
                   "one to one.")
    else:
        weights = conv_weights(network.model, conv)[channel]  # (C_in, kh, kw)
        c_in, kh, kw = weights.shape
        st.markdown(f"**Its kernel** ({conv})")
        first = conv == first_conv(network.model)
        names = (["R", "G", "B"] if c_in == 3 and first else ["grey"] if c_in == 1 and first
                 else None)
        st.plotly_chart(plots.kernel_slices(weights, names=names, max_slices=16, columns=4,
                                            cell_px=120), key=P + "kernel")
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
    st.caption(f"Synthesised on a {_shape(canvas[1:])} canvas although {name} takes "
               f"{_shape(spec.input_size[1:])}: a convolution works at any size, and a step "
               "costs about a third as much.")

# --- ask the data -----------------------------------------------------------------------------
if network.recipe == "mnist":
    st.subheader(f"The {TOP_K} digits that excite it most")
    try:
        with st.spinner("Running the 5,000 bundled MNIST digits through the network…"):
            inputs = data.mnist_inputs()
            peaks = data.peaks(network, layer)
        patches = top_patches(network.model, layer, channel, inputs, k=TOP_K,
                              recipe=network.recipe, peaks=peaks)
    except (LayerError, ValueError) as err:
        st.error(f"No patches for this layer. {err}", icon=":material/error:")
    else:
        labels = mnist_sample()[1]
        titles = [f"#{r + 1} · {a:.3g} · digit {labels[i]}"
                  for r, (i, a) in enumerate(zip(patches.indices, patches.activations,
                                                 strict=True))]
        origins = [(int(b[0]), int(b[2])) for b in patches.boxes]
        rh, rw = patches.field_size
        st.plotly_chart(plots.patch_grid(patches.crops, patches.inside, titles=titles,
                                         origins=origins, columns=TOP_K // 3 or 1,
                                         cell_px=150), key=P + "patches")
        clipped = int(patches.clipped.sum())
        st.caption(
            f"Each patch is the receptive field of the unit where channel {channel} peaks in "
            f"that digit: **{rh}×{rw} pixels** of the {_shape(patches.input_hw)} input "
            f"({layer}), at most one patch per digit, out of all 5,000 digits. The number is "
            "the channel's value there."
            + (f" {clipped} of them reach past the image border: the checkered pixels lie "
               "outside the image, where the layer sees padding." if clipped else ""))
        if float(patches.activations[0]) <= 0:
            st.warning(f"Channel {channel} of {layer} never rises above 0 on the 5,000 "
                       "digits: a ReLU after it would pass nothing (a dead channel), so these "
                       "patches are only the least negative ones.",
                       icon=":material/warning:")
else:
    st.caption("The strongest real patches are shown for the digit models, whose 5,000 "
               "bundled MNIST digits are at hand; the other networks' training images are not "
               "part of the app.")

publish(PARAMS)
