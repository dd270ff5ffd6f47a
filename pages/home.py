"""Home: what each page teaches, in lecture order, and the current image."""

import streamlit as st

from cnnviz import MODELS
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.sidebar import escape_markdown

ensure_app_navigation()

st.title("cnnviz: convolutional networks, one image at a time")
st.markdown(
    "Pick an image in the sidebar (a photograph, a real MNIST digit, a teaching matrix, "
    "your own upload or a drawing). Every page works on that same image, from the "
    "arithmetic of a single kernel to what a trained network sees in it."
)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("The lesson, page by page")
    for number, page in enumerate(catalog.LESSON, start=1):
        st.page_link(page.path, label=f"{number}. {page.title}", icon=page.icon)
        st.caption(page.teaches)
with right:
    image = state.current_image()
    h, w = image.pixels.shape[:2]
    st.subheader("Your image")
    st.image(state.image_bytes(image), output_format=state.image_format(
             state.image_bytes(image)),
             caption=f"{escape_markdown(image.label)}: {w}×{h} pixels, 3 channels (RGB)",
             width="stretch", alt=state.describe(image))
    name = defaults.network_model()
    spec = MODELS[name]
    st.subheader(f"What the {name} network says")
    k = widgets.top_k(spec)
    widgets.show_top(name, image, k)
    st.caption(f"Its {k} most likely classes for this image: the network that fits it, which "
               "every network page opens on." + widgets.known_classes_note(spec))
