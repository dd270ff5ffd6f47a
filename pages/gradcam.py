"""Grad-CAM: which pixels made the network say "star"? At which layer, and can we trust it?"""

import numpy as np
import streamlit as st

from cnnviz import (
    ATTRIBUTIONS,
    COLORMAPS,
    LayerError,
    ModelError,
    default_occlusion,
    encode_png,
    hot_spot_text,
    occlusion_windows,
    overlay,
)
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import attribution as maps
from ui.cache import models, networks, playground
from ui.trust import FLAGS, trust_checks
from ui.urlstate import (
    Link,
    UrlParam,
    choice_param,
    class_in,
    float_param,
    int_param,
    names_in,
)

ensure_app_navigation()

PAGE = catalog.GRADCAM
P = PAGE.prefix
OTHER_METHODS = tuple(m for m in ATTRIBUTIONS if m != "grad_cam")
STRIP_COLUMNS = 8
PREDICTED = -1  # the class option "whatever the network predicts" (None would read as unset)
MODEL = choice_param("model", P + "model", defaults.network_model(), models.names())
ALPHA = float_param("alpha", P + "alpha", 0.5, 0.0, 1.0)
COLORMAP = choice_param("colormap", P + "colormap", "viridis", tuple(sorted(COLORMAPS)))
METHODS = UrlParam("method", (P + "methods",), ["guided_grad_cam", "saliency"],
                   names_in(OTHER_METHODS), ",".join, options=OTHER_METHODS)
IG_STEPS = int_param("steps", P + "steps", 32, 1, 256)
MODEL_KEYS = ("layer", "class", "window", "stride")  # what a new model starts afresh


def _reset_model_settings() -> None:
    """A new model has other layers, classes and input size: start those from its defaults."""
    for key in MODEL_KEYS:
        st.session_state.pop(P + key, None)
        if key in st.query_params:
            del st.query_params[key]
    for flag in FLAGS[:2]:  # the pointing game plays the shapes model, whatever is shown
        st.session_state[P + flag] = False


st.title("Grad-CAM")
st.markdown(
    "Which part of the image made the network choose its class? **Grad-CAM** takes the "
    "feature maps of one layer, weights each by how much the class score grows with it, adds "
    "them up and keeps the positive part: a coarse map of the evidence, at the layer's own "
    "resolution, stretched over the picture. Other methods answer the same question "
    "differently, and the trust checks below ask whether the answer means anything."
)
link = Link()
link.seed([MODEL, ALPHA, COLORMAP, METHODS, IG_STEPS])
image = state.current_image()

# --- target: model and class ------------------------------------------------------------------
model_col, class_col, prob_col = st.columns([1.4, 1.6, 0.8], gap="medium")
name = widgets.select(MODEL, "Model", model_col, on_change=_reset_model_settings,
                      format_func=models.labeller(MODEL.options))
try:
    model = models.model(name)
    layers = maps.layer_choices(name)
    x = networks.model_input(name, image)  # (1, C, H, W)
    probs = maps.probabilities(name, image.digest, image.pixels)
except (ModelError, ValueError) as err:
    link.stop(f"This model cannot be used on this image. {err}")

classes = models.spec(name).class_names
predicted = int(np.argmax(probs))
sizes = dict(layers)
layer_names = [layer for layer, _ in layers]
height, width = x.shape[2:]
window0, stride0 = default_occlusion((height, width))
LAYER, CLASS, WINDOW, STRIDE = link.seed([
    choice_param("layer", P + "layer", defaults.cam_layer(name, layer_names), layer_names),
    UrlParam("class", (P + "class",), PREDICTED, class_in(classes, PREDICTED),
             lambda v: "predicted" if v == PREDICTED else classes[v]),
    int_param("window", P + "window", window0, 1, min(height, width)),
    int_param("stride", P + "stride", stride0, 1, min(height, width)),
])

labels = maps.class_labels(name, image.digest, PREDICTED, probs)
chosen_class = class_col.selectbox(
    "Explain the class", tuple(labels), key=CLASS.widget, persist_state="session",
    format_func=labels.__getitem__,
    help="By default the map explains the class the network predicts; choose any other to "
    "see where the evidence for it would be.")
target = predicted if chosen_class == PREDICTED else int(chosen_class)
prob_col.metric(f"P({classes[target]})", f"{probs[target]:.1%}",
                help="The network's probability for the class the maps explain.")
if not getattr(model, "cnnviz_pretrained", False):
    st.badge("untrained: random weights", icon=":material/warning:", color="orange")
    st.warning(
        f"**{name} has random weights here**, so its answer is noise and so are these maps: "
        "whatever structure they show comes from the architecture and the image, not from "
        "anything learnt. Run the randomisation check below to see a map that does not care "
        "what the network knows.", icon=":material/casino:")

# --- layer and overlay controls --------------------------------------------------------------
layer_col, alpha_col, cmap_col = st.columns([2.6, 1, 1], gap="medium")
layer = layer_col.select_slider(
    "Layer (input end → output end)", layer_names, key=LAYER.widget, persist_state="session",
    format_func=lambda n: f"{n} · {sizes[n][0]}×{sizes[n][1]}",
    help="Early layers have fine maps that see little; late layers coarse maps that see "
    f"whole objects. The recommended layer is the last convolutional stage: {LAYER.default}.")
alpha = widgets.slider(ALPHA, "Overlay strength (alpha)", alpha_col, step=0.05)
colormap = widgets.select(COLORMAP, "Colour map", cmap_col)

try:
    native, heat = maps.grad_cam(name, image.digest, layer, target, x)
except LayerError as err:
    link.stop(f"Grad-CAM cannot use layer {layer}. {err}", ":material/layers_clear:")

seen = networks.seen_picture(name, image)  # uint8 (H, W, 3): the network's own input


def _over(values: np.ndarray, title: str, height_px: int = 360, what: tuple | None = None,
          **options):
    """The figure of a heat map over the picture the network sees (kept when ``what`` names
    it: ``maps.over_figure``)."""
    return maps.over_figure(name, image.digest, what, seen, values, alpha, colormap, title,
                            height_px, **options)


h, w = native.shape
peak = float(native.max())
st.subheader(f"Grad-CAM of “{classes[target]}” at {layer}")
c1, c2, c3 = st.columns(3)
c1.plotly_chart(playground.picture(seen, title=f"Input the network sees ({height}×{width})",
                                   name=f"{image.digest}:{name}:seen"), key=P + "input_fig",
                alt=f"{state.describe(image)}, as the network sees it: {height}×{width}")
what = f"Grad-CAM of {classes[target]} at {layer}"
c2.plotly_chart(maps.over_figure(
    name, image.digest, ("native", layer, target), np.zeros((h, w, 3), np.uint8),
    native / peak if peak > 0 else native, 1.0, colormap, f"At the layer's own resolution: "
    f"{h}×{w}", colorbar_title="layer units", zmax=peak or 1.0), key=P + "native_fig",
    alt=f"{what}, {h}×{w}: {hot_spot_text(native)}")
c3.plotly_chart(_over(heat, f"Upsampled to {height}×{width}, over the input",
                      what=("cam", layer, target), colorbar_title="relative"),
                key=P + "overlay_fig", alt=f"{what} over the input: {hot_spot_text(heat)}")
if peak <= 0:
    st.info(f"No location of {layer} holds positive evidence for “{classes[target]}”: the "
            "map is all zeros.", icon=":material/exposure_zero:")
st.caption(
    f"The middle map has one cell per position of {layer} ({h}×{w}); each cell covers about "
    f"{height / h:.0f}×{width / w:.0f} input pixels. Bilinear upsampling makes the right-hand "
    "map look smoother than the evidence really is. " + ATTRIBUTIONS["grad_cam"].summary)
st.download_button("Overlay as PNG", lambda: encode_png(overlay(seen, heat, alpha, colormap)),
                   file_name=f"gradcam-{name}-{layer}.png", mime="image/png",
                   on_click="ignore", icon=":material/image:")

# --- every layer at once -----------------------------------------------------------------------
st.subheader("Which layer? Every layer at once")
st.caption("Grad-CAM at every layer, each on its own grid and its own scale (one forward and "
           "one backward pass for all). Watch the map coarsen and gather on the object as the "
           "layers go deeper.")
try:
    strip = maps.strip_tiles(name, image.digest, target, tuple(layer_names), colormap, x)
except LayerError as err:
    st.error(f"The layer strip could not be computed. {err}", icon=":material/error:")
    strip = ()
widgets.image_grid([(png, f"{lname} · {mh}×{mw}{' ◀' if lname == layer else ''}",
                     f"Grad-CAM of “{classes[target]}” at layer {lname}, {mh}×{mw} cells, "
                     f"as a {colormap} heat map")
                    for lname, (png, (mh, mw)) in zip(layer_names, strip, strict=False)],
                   STRIP_COLUMNS)

# --- other methods --------------------------------------------------------------------------
st.subheader("Other methods, side by side")
chosen = widgets.multiselect(METHODS, "Methods", format_func=lambda m: ATTRIBUTIONS[m].title)
if "integrated_gradients" in chosen or "occlusion" in chosen:
    o1, o2, o3, o4 = st.columns(4)
    if "integrated_gradients" in chosen:
        widgets.number(IG_STEPS, "Integrated Gradients: steps", o1,
                       help="Points on the path from the mean-colour image; more steps, "
                       "smaller convergence delta, slower.")
    if "occlusion" in chosen:
        side = min(height, width)
        for param in (WINDOW, STRIDE):
            value = st.session_state.get(param.widget, param.default)
            st.session_state[param.widget] = min(max(int(value), 1), side)
        widgets.number(WINDOW, "Occlusion: window (pixels)", o2)
        widgets.number(STRIDE, "Occlusion: stride (pixels)", o3)
        win, stride = int(WINDOW.current()), int(STRIDE.current())
        if stride <= win:
            o4.metric("Occluded images", f"{occlusion_windows((height, width), win, stride):,}")
if not chosen:
    st.caption("Choose methods above to compare them with Grad-CAM.")


def _settings(method: str) -> tuple:
    return {"integrated_gradients": (("steps", int(IG_STEPS.current())),),
            "occlusion": (("window", int(WINDOW.current())),
                          ("stride", int(STRIDE.current())))}.get(method, ())


def _method_map(method: str) -> tuple[np.ndarray, float | None]:
    """The method's heat map and delta: kept, or computed under a spinner (occlusion: a
    progress bar)."""
    args = (name, image.digest, method, target, layer if ATTRIBUTIONS[method].needs_layer
            else "", _settings(method), x)
    if maps.map_is_kept(*args):
        return maps.method_map(*args)
    if method != "occlusion":
        with st.spinner(f"{ATTRIBUTIONS[method].title}…"):
            return maps.method_map(*args)
    bar = st.progress(0.0, text="Occluding…")
    result = maps.method_map(*args, lambda f: bar.progress(f, text=f"Occluding… {f:.0%}"))
    bar.empty()
    return result


for col, method in zip(st.columns(max(len(chosen), 1)), chosen, strict=False):
    info = ATTRIBUTIONS[method]
    with col:
        try:
            method_heat, delta = _method_map(method)
        except ValueError as err:
            st.error(f"{info.title} cannot run with these settings. {err}",
                     icon=":material/block:")
            continue
        st.plotly_chart(_over(method_heat, info.title, 320, colorbar_title="relative",
                              what=("method", method, target, layer, _settings(method))),
                        key=P + method + "_fig", alt=f"{info.title} of {classes[target]} "
                        f"over the input: {hot_spot_text(method_heat)}")
        st.caption(info.summary)
        if delta is not None:
            st.markdown(f"Convergence delta: `{delta:+.2e}` (0 when the steps add up exactly; "
                        "it shrinks as the steps grow)")

# --- trust checks -------------------------------------------------------------------------------
trust_checks(PAGE, name, model, image, target, classes[target], layer, x, _over)

link.publish()
