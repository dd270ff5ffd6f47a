"""Models: the networks that ship with the app, and the classic architectures."""

import json

import streamlit as st

from cnnviz import MODELS, ModelError
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import models, networks
from ui.urlstate import Link, choice_param

ensure_app_navigation()

PAGE = catalog.MODELS_PAGE
MODEL = choice_param("model", PAGE.key("model"), defaults.network_model(), models.names())
CARD_FIELDS = (("data", "Data"), ("split", "Split"), ("preprocessing", "Input"),
               ("epochs", "Epochs"), ("training_seconds", "Training time (s)"),
               ("torch_version", "torch"), ("date", "Trained on"), ("command", "Reproduce with"))

st.title("Models")
st.markdown(
    "The networks the other pages explore. Three are **trained and work offline** from the "
    "first start: a small CNN for handwritten digits and a small colour CNN for shapes, both "
    "trained with the app, and **EfficientNet-Lite0**, a real ImageNet network for "
    "photographs, whose weights come with an installed package. Each network page opens on "
    "the one that fits the sidebar image. The **classics** (LeNet-5, AlexNet, VGG-16, "
    "ResNet-18) come from "
    "their papers through torchvision; their ImageNet weights are used when they are in the "
    "torch cache or can be downloaded. Without them the architecture is real but the weights "
    "are random, and the page says so."
)
link = Link()
link.seed([MODEL])
name = widgets.select(MODEL, "Model", format_func=models.labeller(MODEL.options))
spec = models.spec(name)

try:
    model = models.model(name)
except ModelError as err:
    link.stop(str(err))

pretrained = widgets.weights_badge(model, "The shapes, sizes and parameter counts are those of "
                                   "the real network; its answers are noise.")
if not pretrained and spec.card is None:
    st.info(
        "torchvision's ImageNet weights for this network are not in the torch cache "
        "(`$TORCH_HOME/hub/checkpoints`, by default `~/.cache/torch`) and could not be "
        "downloaded: there is no internet here, or `CNNVIZ_OFFLINE=1` is set. With a "
        "connection they are downloaded once, on first use.", icon=":material/cloud_off:")

c, h, w = spec.input_size
m1, m2, m3, m4 = st.columns(4)
m1.metric("Parameters", f"{sum(p.numel() for p in model.parameters()):,}")
m2.metric("Multiply-adds", f"{networks.totals(name)['macs']:,}",
          help="Per image at the input size, counted layer by layer as on the Architecture "
          "page (a depthwise convolution counts C_in/groups = 1 input channel per filter).")
m3.metric("Input (C × H × W)", f"{c} × {h} × {w}")
m4.metric("Classes", f"{len(spec.class_names):,}")
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
        for key, label in CARD_FIELDS:
            if key in card:
                st.markdown(f"**{label}:** {card[key]}")
    elif spec.about:
        st.subheader("Model card")
        st.markdown(spec.about)
    with st.expander("The layers, as PyTorch prints them"):
        st.code(str(model), language=None)
with right:
    st.subheader("On your image")
    if pretrained:
        k = widgets.top_k(spec)
        widgets.show_top(name, state.current_image(), k)
        st.caption(f"The {name} network's {k} most likely classes for the sidebar image, "
                   "after its own preprocessing." + widgets.known_classes_note(spec))
    else:
        st.caption("No predictions: with random weights every answer would be noise.")

st.subheader("Every model")
st.dataframe(
    [{"model": n, "input": "×".join(str(v) for v in s.input_size),
      "classes": len(s.class_names), "weights": s.weights_source, "about": s.description}
     for n, s in MODELS.items()],
    hide_index=True,
)
link.publish()
