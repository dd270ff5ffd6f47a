"""What the Your own classes page draws beside its classes: the CNN from scratch while it
trains and when it is done, and loading a head or a state dict into this session."""

from __future__ import annotations

import hashlib

import streamlit as st

from cnnviz import (
    MAX_WEIGHTS_MB,
    TRANSFER_EPOCHS,
    WEIGHTS_ARCHITECTURES,
    WeightsError,
    confusion_figure,
    confusion_text,
    load_head,
    load_weights,
)
from ui import catalog, own, state
from ui.sidebar import escape_markdown

__all__ = ["bring_network", "scratch_view"]

P = catalog.OWN_CLASSES.prefix
LOADED = P + "loaded"  # {file digest + what it was loaded as: the network's name}


@st.fragment(run_every=0.5)
def _poll(outcome: own.Outcome) -> None:
    if outcome.scratch.done():
        st.rerun()  # the whole page, once: the result drawn, the polling off
    st.metric("CNN from scratch", "…", help="Training on the same images, beside the page.")
    st.info("The CNN from scratch is training on the same images…",
            icon=":material/hourglass_top:")


def scratch_view(outcome: own.Outcome) -> None:
    """The CNN from scratch beside the new head: polled while it trains, then its numbers."""
    if outcome.scratch is None:
        st.caption("The CNN from scratch was not asked for.")
        return
    if not outcome.scratch.done():
        _poll(outcome)
        return
    judged = outcome.scratch_result()
    if judged is None:
        st.caption("The CNN from scratch did not finish (a newer training replaced it).")
        return
    right = int((judged.truth == judged.predicted).sum())
    st.metric("CNN from scratch", f"{judged.accuracy:.0%}",
              help=f"{right} of {len(judged.truth)} held-out images right, after the same "
              f"{TRANSFER_EPOCHS} epochs on the same training images ({judged.seconds:.1f} s).")
    st.plotly_chart(confusion_figure(judged.confusion, outcome.class_names),
                    key=P + "cm_scratch", alt="Confusion matrix of the CNN from scratch on the "
                    f"held-out images: {confusion_text(judged.confusion, outcome.class_names)}")
    st.caption(f"On its own training images it gets {judged.train_accuracy:.0%} right: it can "
               "learn those pictures by heart, but not what makes a class.")


def _load(kind: str, data: bytes, arch: str, names: str) -> None:
    """Load the file as a network of this session, once per file and way of loading."""
    key = hashlib.blake2b(data, digest_size=16).hexdigest() + f"/{kind}/{arch}/{names}"
    loaded = st.session_state.setdefault(LOADED, {})
    if loaded.get(key) in state.own_models():
        st.info("This file is loaded already.", icon=":material/info:")
        return
    if kind == "head":
        model = load_head(data)
    else:
        listed = [n.strip() for n in names.split(",") if n.strip()] or None
        model = load_weights(data, arch, listed)
    entry = state.add_own_model(model, f"{kind} file")
    loaded[key] = entry.name
    st.success(f"Loaded: “{escape_markdown(entry.label)}” is on every network page's model "
               "list now.", icon=":material/check:")


def bring_network() -> None:
    """The expander that loads a head file or a state dict as one of this session's
    networks; a refused file gets one sentence and changes nothing."""
    with st.expander("Load a head or your own weights", icon=":material/upload_file:"):
        kind = st.segmented_control("File", ("head", "weights"), key=P + "file_kind",
                                    default="head", required=True,
                                    format_func=lambda k: {"head": "A head from this page",
                                                           "weights": "A state dict"}[k])
        arch, names = "", ""
        if kind == "weights":
            arch = st.selectbox("Architecture", WEIGHTS_ARCHITECTURES, key=P + "arch")
            names = st.text_input("Class names, separated by commas (empty: the architecture's "
                                  "own)", key=P + "names")
        upload = st.file_uploader(f"Weights file (.pt or .pth, up to {MAX_WEIGHTS_MB} MB)",
                                  type=["pt", "pth", "bin"], key=P + "weights",
                                  max_upload_size=MAX_WEIGHTS_MB)
        if upload is not None and st.button("Load", key=P + "load", icon=":material/input:"):
            try:
                _load(kind, upload.getvalue(), arch, names)
            except WeightsError as err:
                st.error(f"“{escape_markdown(upload.name)}” was refused. {err}",
                         icon=":material/block:")
        st.caption("Files are read with `torch.load(weights_only=True)`, so a file holding code "
                   "is refused unread, and every name and shape is checked before anything is "
                   "built. Nothing is saved: the network lasts as long as this browser session. "
                   "ResNet-18 (45 MB) fits the limit; AlexNet (233 MB) fits saved in half "
                   "precision, VGG-16 (528 MB) does not. torchvision's ImageNet weights "
                   "downloaded at home go in the torch hub cache "
                   "(`~/.cache/torch/hub/checkpoints`), where the Models page finds them.")
