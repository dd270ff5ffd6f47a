"""What the Your own classes page draws beside its classes: the CNN from scratch while it
trains and when it is done, and loading a head or a state dict into this session."""

from __future__ import annotations

import streamlit as st

from cnnviz import (
    EPOCHS,
    MAX_WEIGHTS_MB,
    WEIGHTS_ARCHITECTURES,
    WeightsError,
    confusion_figure,
    load_head,
    load_weights,
)
from ui import catalog, own, state
from ui.sidebar import escape_markdown

__all__ = ["bring_network", "scratch_view"]

P = catalog.OWN_CLASSES.prefix


@st.fragment(run_every=0.5)
def _poll(outcome: own.Outcome) -> None:
    if outcome.scratch.done():
        st.rerun()  # the whole page, once: the result drawn, the polling off
    st.metric("CNN from scratch", "…", help="Training on the same images, beside the page.")
    st.info("The CNN from scratch is training on the same images…",
            icon=":material/hourglass_top:")


def scratch_view(outcome: own.Outcome) -> None:
    """The CNN from scratch beside the new head: polled while it trains, then its numbers."""
    pending = outcome.scratch is not None and not outcome.scratch.done()
    if outcome.scratch is None:
        st.caption("The CNN from scratch was not asked for.")
    elif pending:
        _poll(outcome)
    elif outcome.scratch.cancelled() or outcome.scratch.exception() is not None:
        st.caption("The CNN from scratch did not finish.")
    else:
        judged = outcome.scratch.result()
        st.metric("CNN from scratch", f"{judged.accuracy:.0%}",
                  help=f"The same held-out images, after the same {EPOCHS} epochs on the same "
                  f"training images ({judged.seconds:.1f} s).")
        st.plotly_chart(confusion_figure(judged.confusion, outcome.class_names),
                        key=P + "cm_scratch")


def bring_network() -> None:
    """The expander that loads a head file or a state dict as one of this session's
    networks; a refused file gets one sentence and changes nothing."""
    with st.expander("Load a head or your own weights", icon=":material/upload_file:"):
        kind = st.segmented_control("File", ("head", "weights"), key=P + "file_kind",
                                    default="head", required=True,
                                    format_func=lambda k: {"head": "A head from this page",
                                                           "weights": "A state dict"}[k])
        if kind == "weights":
            arch = st.selectbox("Architecture", WEIGHTS_ARCHITECTURES, key=P + "arch")
            names = st.text_input("Class names, separated by commas (empty: the architecture's "
                                  "own)", key=P + "names")
        upload = st.file_uploader(f"Weights file (.pt or .pth, up to {MAX_WEIGHTS_MB} MB)",
                                  type=["pt", "pth", "bin"], key=P + "weights",
                                  max_upload_size=MAX_WEIGHTS_MB)
        if upload is not None and st.button("Load", key=P + "load", icon=":material/input:"):
            try:
                if kind == "head":
                    model = load_head(upload.getvalue())
                else:
                    listed = [n.strip() for n in names.split(",") if n.strip()] or None
                    model = load_weights(upload.getvalue(), arch, listed)
                loaded = state.add_own_model(model, f"{kind} file")
                st.success(f"Loaded: “{escape_markdown(loaded.label)}” is on every network "
                           "page's model list now.", icon=":material/check:")
            except WeightsError as err:
                st.error(f"“{escape_markdown(upload.name)}” was refused. {err}",
                         icon=":material/block:")
        st.caption("Files are read with `torch.load(weights_only=True)`, so a file holding code is "
                   "refused unread, and every name and shape is checked before loading. Nothing "
                   "is saved: the network lasts as long as this browser session. ResNet-18 (45 MB) "
                   "fits the limit; AlexNet (233 MB) fits saved in half precision, VGG-16 (528 MB) "
                   "does not. torchvision's ImageNet weights downloaded at home go in the torch "
                   "hub cache (`~/.cache/torch/hub/checkpoints`), where the Models page finds "
                   "them.")
