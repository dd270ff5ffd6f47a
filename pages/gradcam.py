"""Grad-CAM: which pixels made the network say "star"? At which layer, and can we trust it?"""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import numpy as np
import streamlit as st

from cnnviz import ATTRIBUTIONS, MODELS, RECOMMENDED_LAYERS, ModelError, load_model
from cnnviz import attribution
from cnnviz.images import COLORMAPS, colormap_stops, encode_png, heat_tile, overlay
from cnnviz.models.preprocessing import to_picture
from cnnviz.plots import deletion_figure, heat_picture
from ui import attribution_maps as maps
from ui import compute, playground, state
from ui.urlstate import UrlParam, choice, float_in, format_float, int_in, publish

P = "gradcam."
OTHER_METHODS = tuple(m for m in ATTRIBUTIONS if m != "grad_cam")
DEFAULT_METHODS = ["guided_grad_cam", "saliency"]
STRIP_COLUMNS = 8


def _parse_methods(text: str) -> list[str]:
    names = [n for n in text.replace(" ", "").split(",") if n]
    if any(n not in OTHER_METHODS for n in names) or len(set(names)) != len(names):
        raise ValueError("not a method")
    return names


def _reset_model_settings() -> None:
    """A new model has other layers, classes and input size: start those from its defaults."""
    for key in ("layer", "class", "window", "stride"):
        st.session_state.pop(P + key, None)
        if key in st.query_params:
            del st.query_params[key]
    for flag in ("run_random", "run_deletion"):
        st.session_state[P + flag] = False


def _turn_on(flag: str) -> None:
    st.session_state[P + flag] = True


PARAMS = [
    UrlParam("model", (P + "model",), "shapes", choice(tuple(MODELS))),
    UrlParam("alpha", (P + "alpha",), 0.5, float_in(0.0, 1.0), format_float),
    UrlParam("colormap", (P + "colormap",), "jet", choice(tuple(COLORMAPS))),
    UrlParam("method", (P + "methods",), DEFAULT_METHODS, _parse_methods, ",".join),
    UrlParam("steps", (P + "steps",), 32, int_in(1, 256)),
]

st.title("Grad-CAM")
st.markdown(
    "Which part of the image made the network choose its class? **Grad-CAM** takes the "
    "feature maps of one layer, weights each by how much the class score grows with it, adds "
    "them up and keeps the positive part: a coarse map of the evidence, at the layer's own "
    "resolution, stretched over the picture. Other methods answer the same question "
    "differently, and the trust checks below ask whether the answer means anything."
)
playground.show_url_notices(PARAMS)
image = state.current_image()

# --- target: model and class ------------------------------------------------------------------
model_col, class_col, prob_col = st.columns([1.4, 1.6, 0.8], gap="medium")
name = model_col.selectbox("Model", tuple(MODELS), key=P + "model", persist_state="session",
                           on_change=_reset_model_settings,
                           format_func=lambda n: f"{n}: {MODELS[n].description}")
spec = MODELS[name]
try:
    with st.spinner(f"Loading {name}…"):
        model = load_model(name)
    layers = maps.layer_choices(name)
    x = maps.model_input(name, image.digest, image.pixels)  # (1, C, H, W)
    probs = maps.probabilities(name, image.digest, image.pixels)
except (ModelError, ValueError) as err:
    st.error(f"This model cannot be used on this image. {err}", icon=":material/error:")
    publish(PARAMS)
    st.stop()

classes = spec.class_names
predicted = int(np.argmax(probs))
sizes = dict(layers)
layer_names = [layer for layer, _ in layers]
recommended = RECOMMENDED_LAYERS.get(name, layer_names[-1])
height, width = x.shape[2:]
window0, stride0 = attribution.default_occlusion((height, width))


PREDICTED = -1  # the class option "whatever the network predicts" (None would read as unset)


def _parse_class(text: str) -> int:
    text = text.strip()
    if text == "predicted":
        return PREDICTED
    if text in classes:
        return classes.index(text)
    index = int(text)  # ValueError for anything else
    if not 0 <= index < len(classes):
        raise ValueError("no such class")
    return index


MODEL_PARAMS = [
    UrlParam("layer", (P + "layer",), recommended, choice(layer_names)),
    UrlParam("class", (P + "class",), PREDICTED, _parse_class,
             lambda v: "predicted" if v == PREDICTED else classes[v]),
    UrlParam("window", (P + "window",), window0, int_in(1, min(height, width))),
    UrlParam("stride", (P + "stride",), stride0, int_in(1, min(height, width))),
]
playground.show_url_notices(MODEL_PARAMS)

choice_ = class_col.selectbox(
    "Explain the class", [PREDICTED, *range(len(classes))], key=P + "class",
    persist_state="session",
    format_func=lambda i: (f"predicted: {classes[predicted]} ({probs[predicted]:.1%})"
                           if i == PREDICTED else f"{classes[i]} ({probs[i]:.1%})"),
    help="By default the map explains the class the network predicts; choose any other to "
    "see where the evidence for it would be.")
target = predicted if choice_ == PREDICTED else int(choice_)
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
    "Layer (input end → output end)", layer_names, key=P + "layer", persist_state="session",
    format_func=lambda n: f"{n} · {sizes[n][0]}×{sizes[n][1]}",
    help="Early layers have fine maps that see little; late layers coarse maps that see "
    "whole objects. The recommended layer is the last convolutional stage: "
    f"{recommended}.")
alpha = alpha_col.slider("Overlay strength (alpha)", 0.0, 1.0, step=0.05, key=P + "alpha",
                         persist_state="session")
colormap = cmap_col.selectbox("Colour map", sorted(COLORMAPS), key=P + "colormap",
                              persist_state="session")
stops = colormap_stops(colormap)

try:
    native, heat = maps.grad_cam(name, image.digest, layer, target, x)
except ValueError as err:
    st.error(f"Grad-CAM cannot use layer {layer}. {err}", icon=":material/layers_clear:")
    publish(PARAMS + MODEL_PARAMS)
    st.stop()

seen = to_picture(x, spec.preprocessing)  # uint8 (H, W, 3): the network's own input
blended = overlay(seen, heat, alpha, colormap)
h, w = native.shape
peak = float(native.max())
native_rgb = overlay(np.zeros((h, w, 3), np.uint8), native / peak if peak > 0 else native,
                     alpha=1.0, colormap=colormap)

st.subheader(f"Grad-CAM of “{classes[target]}” at {layer}")
c1, c2, c3 = st.columns(3)
c1.plotly_chart(compute.picture(seen, title=f"Input the network sees ({height}×{width})"),
                key=P + "input_fig")
c2.plotly_chart(heat_picture(native_rgb, stops=stops, zmax=peak or 1.0,
                             title=f"At the layer's own resolution: {h}×{w}",
                             colorbar_title="layer units"), key=P + "native_fig")
c3.plotly_chart(heat_picture(blended, stops=stops, title=f"Upsampled to {height}×{width}, "
                             "over the input", colorbar_title="relative"), key=P + "overlay_fig")
if peak <= 0:
    st.info(f"No location of {layer} holds positive evidence for “{classes[target]}”: the "
            "map is all zeros.", icon=":material/exposure_zero:")
st.caption(
    f"The middle map has one cell per position of {layer} ({h}×{w}); each cell covers about "
    f"{height / h:.0f}×{width / w:.0f} input pixels. Bilinear upsampling makes the right-hand "
    "map look smoother than the evidence really is. " + ATTRIBUTIONS["grad_cam"].summary)
st.download_button("Overlay as PNG", lambda: encode_png(blended), file_name=f"gradcam-{name}-"
                   f"{layer}.png", mime="image/png", on_click="ignore", icon=":material/image:")

# --- every layer at once -----------------------------------------------------------------------
st.subheader("Which layer? Every layer at once")
st.caption("Grad-CAM at every layer, each on its own grid and its own scale (one forward and "
           "one backward pass for all). Watch the map coarsen and gather on the object as the "
           "layers go deeper.")
try:
    strip = maps.every_layer(name, image.digest, target, tuple(layer_names), x)
except ValueError as err:
    st.error(f"The layer strip could not be computed. {err}", icon=":material/error:")
    strip = []
for start in range(0, len(strip), STRIP_COLUMNS):
    cols = st.columns(STRIP_COLUMNS)
    for col, lname, m in zip(cols, layer_names[start:], strip[start:start + STRIP_COLUMNS],
                             strict=False):
        top = float(m.max())
        mark = " ◀" if lname == layer else ""
        col.image(heat_tile(m / top if top > 0 else m, colormap),
                  caption=f"{lname} · {m.shape[0]}×{m.shape[1]}{mark}", width="stretch")

# --- other methods --------------------------------------------------------------------------
st.subheader("Other methods, side by side")
chosen = st.multiselect("Methods", OTHER_METHODS, key=P + "methods", persist_state="session",
                        format_func=lambda m: ATTRIBUTIONS[m].title)
if "integrated_gradients" in chosen or "occlusion" in chosen:
    o1, o2, o3, o4 = st.columns(4)
    if "integrated_gradients" in chosen:
        o1.number_input("Integrated Gradients: steps", 1, 256, key=P + "steps",
                        persist_state="session",
                        help="Points on the path from the mean-colour image; more steps, "
                        "smaller convergence delta, slower.")
    if "occlusion" in chosen:
        side = min(height, width)
        for key, default in ((P + "window", window0), (P + "stride", stride0)):
            st.session_state[key] = min(max(int(st.session_state.get(key, default)), 1), side)
        o2.number_input("Occlusion: window (pixels)", 1, side, key=P + "window",
                        persist_state="session")
        o3.number_input("Occlusion: stride (pixels)", 1, side, key=P + "stride",
                        persist_state="session")
        win, stride = int(st.session_state[P + "window"]), int(st.session_state[P + "stride"])
        if stride <= win:
            count = attribution.occlusion_windows((height, width), win, stride)
            o4.metric("Occluded images", f"{count:,}")
if not chosen:
    st.caption("Choose methods above to compare them with Grad-CAM.")
for col, method in zip(st.columns(max(len(chosen), 1)), chosen, strict=False):
    info = ATTRIBUTIONS[method]
    with col:
        try:
            delta = None
            if method == "occlusion":
                win = int(st.session_state[P + "window"])
                stride = int(st.session_state[P + "stride"])
                method_heat = maps.cached_occlusion(name, image.digest, target, win, stride)
                if method_heat is None:
                    bar = st.progress(0.0, text="Occluding…")
                    method_heat = maps.occlusion(
                        name, image.digest, target, win, stride, x,
                        lambda f: bar.progress(f, text=f"Occluding… {f:.0%}"))
                    bar.empty()
            else:
                options = (("steps", int(st.session_state[P + "steps"])),) \
                    if method == "integrated_gradients" else ()
                with st.spinner(f"{info.title}…"):
                    method_heat, delta = maps.method_map(name, image.digest, method, target,
                                                         layer, options, x)
        except ValueError as err:
            st.error(f"{info.title} cannot run with these settings. {err}",
                     icon=":material/block:")
            continue
        st.plotly_chart(heat_picture(overlay(seen, method_heat, alpha, colormap), stops=stops,
                                     title=info.title, colorbar_title="relative", height=320),
                        key=P + method + "_fig")
        st.caption(info.summary)
        if delta is not None:
            st.markdown(f"Convergence delta: `{delta:+.2e}` (0 when the steps add up exactly; "
                        "it shrinks as the steps grow)")

# --- trust checks -------------------------------------------------------------------------------
st.subheader("Can we trust the map?")
rand_col, del_col, point_col = st.tabs(["Randomisation check", "Deletion curve",
                                        "Pointing game"])
with rand_col:
    st.markdown(
        "Re-initialise the top layers of a copy of the network and compute Grad-CAM again "
        "(Adebayo et al., 2018). A map that explains what the network learnt must change; one "
        "that stays the same is an edge detector in disguise.")
    n_weight = len(attribution.weight_layers(model))
    top = st.number_input("Layers to re-initialise, from the output end", 1, n_weight, value=1,
                          key=P + "top_layers")
    st.button("Run the randomisation check", key=P + "rand_button", on_click=_turn_on,
              args=("run_random",), icon=":material/casino:")
    if st.session_state.get(P + "run_random"):
        try:
            with st.spinner("Randomising…"):
                check = maps.randomisation(name, image.digest, target, layer, int(top), x)
        except ValueError as err:
            st.error(f"The check cannot run. {err}", icon=":material/error:")
        else:
            r1, r2 = st.columns(2)
            r1.plotly_chart(heat_picture(overlay(seen, check.original, alpha, colormap),
                                         stops=stops, title="Trained network", height=300),
                            key=P + "rand_orig")
            r2.plotly_chart(heat_picture(overlay(seen, check.randomised, alpha, colormap),
                                         stops=stops, title="Top layers re-initialised: "
                                         + ", ".join(check.layers), height=300),
                            key=P + "rand_new")
            m1, m2 = st.columns(2)
            m1.metric("Rank correlation (Spearman)", f"{check.spearman:+.2f}")
            m2.metric("Structural similarity (SSIM)", f"{check.ssim:+.2f}")
            st.caption("Low similarity passes the check: the map depends on what the network "
                       "learnt. Near 1 means the map would look the same for a network that "
                       "knows nothing.")
with del_col:
    st.markdown(
        "Remove the pixels the map calls most important first (blurring them) and watch the "
        "probability (Petsiuk et al., 2018). A faithful map makes it fall fast: a small area "
        "under the curve. A random map is the yardstick.")
    st.button("Draw the deletion curve", key=P + "del_button", on_click=_turn_on,
              args=("run_deletion",), icon=":material/show_chart:")
    if st.session_state.get(P + "run_deletion"):
        try:
            with st.spinner("Deleting pixels…"):
                curve, baseline = maps.deletion(name, image.digest, target, layer, x)
        except ValueError as err:
            st.error(f"The curve cannot be drawn. {err}", icon=":material/error:")
        else:
            st.plotly_chart(deletion_figure(curve.fractions, curve.probabilities, auc=curve.auc,
                                            label=classes[target]), key=P + "deletion_fig")
            d1, d2 = st.columns(2)
            d1.metric("Area under the curve, Grad-CAM", f"{curve.auc:.3f}")
            d2.metric("Area, a random map", f"{baseline.auc:.3f}",
                      delta=f"{curve.auc - baseline.auc:+.3f} for Grad-CAM",
                      delta_color="inverse")
with point_col:
    st.markdown(
        "Does the map's peak fall on the object? The pointing game (Zhang et al., 2016) plays "
        "this on the shapes model's 1,000 held-out images, whose object boxes are known, at "
        f"the recommended layer ({RECOMMENDED_LAYERS['shapes']}).")
    st.button("Play the pointing game", key=P + "point_button", on_click=_turn_on,
              args=("run_pointing",), icon=":material/ads_click:")
    if st.session_state.get(P + "run_pointing"):
        with st.spinner("Playing 1,000 images…"):
            game = maps.pointing_game("shapes")
        st.metric("Peaks inside the object's box", f"{game.score:.1%}",
                  help=f"{game.hits:,} of {game.n:,} held-out images")
        st.caption(f"{game.hits:,} of {game.n:,} held-out shapes: Grad-CAM at {game.layer} "
                   "points at the object.")

publish(PARAMS + MODEL_PARAMS)
