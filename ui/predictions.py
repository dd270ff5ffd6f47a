"""The top-3 classes a model gives the current image, as three labelled bars.

A model is named two ways: a registry name (``"digits"``: the bundled, shared model, through
``cnnviz.predict``) or a module trained in this session (``state.TRAINED_MODELS``), which
carries ``cnnviz_name`` (its registry name: preprocessing and class names) and
``cnnviz_run_id``. Probabilities are cached with ``st.cache_data`` on the image digest and the
model's name or run id; only numbers are cached, never a session's model.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
from torch import nn

from cnnviz import ImageError, ModelError, predict
from cnnviz.models import get_spec
from ui.state import CurrentImage

TOP_K = 3
CACHE = dict(max_entries=256, ttl=3600, show_spinner=False)


def show_top3(model: str | nn.Module, image: CurrentImage | np.ndarray) -> None:
    """Draw the model's three most likely classes for ``image`` with their probabilities.

    model: a registry name or a session-trained module (see the module docstring).
    image: the current image, or uint8 (H, W, 3) pixels.
    """
    try:
        top = top_classes(model, image, TOP_K)
    except (ModelError, ImageError, ValueError) as err:
        st.error(f"No prediction. {err}", icon=":material/error:")
        return
    if len({p for _, p in top}) == 1:
        st.caption("Nothing to classify: after the network's preprocessing the image is "
                   "blank, so every class gets the same probability.")
    for label, p in top:
        st.progress(min(max(p, 0.0), 1.0), text=f"**{label}** · {p:.1%}")


def top_classes(model: str | nn.Module, image: CurrentImage | np.ndarray,
                k: int = TOP_K) -> list[tuple[str, float]]:
    """The k most likely (class name, probability) pairs, most likely first."""
    if isinstance(image, CurrentImage):
        pixels, digest = image.pixels, image.digest
    else:
        pixels, digest = np.asarray(image), ""
    if not digest:
        digest = hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(),
                                 digest_size=16).hexdigest()
    if isinstance(model, str):
        name = model
        probs = _bundled_probabilities(name, digest, pixels)
    else:
        name = model.cnnviz_name
        probs = _session_probabilities(model.cnnviz_run_id, name, digest, model, pixels)
    classes = get_spec(name).class_names
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]


@st.cache_data(**CACHE)
def _bundled_probabilities(name: str, digest: str, _pixels: np.ndarray) -> np.ndarray:
    return predict(name, _pixels)


@st.cache_data(**CACHE)
def _session_probabilities(run_id: str, name: str, digest: str, _model: nn.Module,
                           _pixels: np.ndarray) -> np.ndarray:
    """``cnnviz.predict`` with a module trained in this session (keyed by its run id)."""
    return predict(name, _pixels, model=_model)
