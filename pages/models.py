"""Models: the networks that ship with the app, and the classic architectures."""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import json

import streamlit as st

from cnnviz import MODELS, ModelError, load_model
from ui import playground, predictions, state
from ui.urlstate import UrlParam, choice, publish

P = "models."
PARAMS = [UrlParam("model", (P + "model",), "digits", choice(tuple(MODELS)))]

st.title("Models")
st.markdown(
    "The networks the other pages explore. Two are **trained and shipped with the app**, so "
    "they work offline from the first start: a small CNN for handwritten digits and a small "
    "colour CNN for shapes. The **classics** (LeNet-5, AlexNet, VGG-16, ResNet-18) come from "
    "their papers through torchvision; their ImageNet weights are used when they are in the "
    "torch cache or can be downloaded. Without them the architecture is real but the weights "
    "are random, and the page says so."
)
playground.show_url_notices(PARAMS)
name = st.selectbox("Model", tuple(MODELS), key=P + "model", persist_state="session",
                    format_func=lambda n: f"{n}: {MODELS[n].description}")
spec = MODELS[name]

try:
    with st.spinner(f"Loading {name}…"):
        model = load_model(name)
except ModelError as err:
    st.error(str(err), icon=":material/error:")
    publish(PARAMS)
    st.stop()

pretrained = bool(getattr(model, "cnnviz_pretrained", False))
if pretrained:
    st.badge("trained weights", icon=":material/check_circle:", color="green")
else:
    st.badge("untrained: random weights", icon=":material/warning:", color="orange",
             help="The shapes, sizes and parameter counts are those of the real network; its "
             "answers are noise.")
    if spec.card is None:
        st.info(
            "torchvision's ImageNet weights for this network are not in the torch cache "
            "(`$TORCH_HOME/hub/checkpoints`, by default `~/.cache/torch`) and could not be "
            "downloaded: there is no internet here, or `CNNVIZ_OFFLINE=1` is set. With a "
            "connection they are downloaded once, on first use.", icon=":material/cloud_off:")

c, h, w = spec.input_size
parameters = sum(p.numel() for p in model.parameters())
m1, m2, m3 = st.columns(3)
m1.metric("Parameters", f"{parameters:,}")
m2.metric("Input (C × H × W)", f"{c} × {h} × {w}")
m3.metric("Classes", f"{len(spec.class_names):,}")
st.caption(f"Weights: {spec.weights_source}.")

left, right = st.columns([3, 2], gap="large")
with left:
    if spec.card is not None and spec.card.exists():
        card = json.loads(spec.card.read_text())
        st.subheader("Model card")
        accuracy = card.get("heldout_accuracy")
        if accuracy is not None:
            st.markdown(f"**Held-out accuracy:** {accuracy:.1%} on "
                        f"{card.get('heldout_images', '?'):,} images it never trained on.")
        for key, label in (("data", "Data"), ("split", "Split"), ("preprocessing", "Input"),
                           ("epochs", "Epochs"), ("training_seconds", "Training time (s)"),
                           ("torch_version", "torch"), ("date", "Trained on"),
                           ("command", "Reproduce with")):
            if key in card:
                st.markdown(f"**{label}:** {card[key]}")
    with st.expander("The layers, as PyTorch prints them"):
        st.code(str(model), language=None)
with right:
    image = state.current_image()
    st.subheader("On your image")
    if pretrained:
        predictions.show_top3(name, image)
        st.caption(f"The {name} network's three most likely classes for the sidebar image, "
                   "after its own preprocessing.")
    else:
        st.caption("No predictions: with random weights every answer would be noise.")

st.subheader("Every model")
st.dataframe(
    [{"model": n, "input": "×".join(str(v) for v in s.input_size),
      "classes": len(s.class_names), "weights": s.weights_source, "about": s.description}
     for n, s in MODELS.items()],
    hide_index=True,
)
publish(PARAMS)
