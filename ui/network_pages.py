"""What the Overview, Feature maps and Filters pages share: the model picker and its
badge, URL parameters whose choices depend on the model, and cached activations.

Caches are keyed on the model's registry name, the image digest and small parameters; the
pixels travel as an underscore argument, which Streamlit does not hash. Models come from the
library's ``load_model`` (one shared, cached copy per process; never modified here).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import streamlit as st
from torch import nn

from cnnviz.activations import (
    LayerOutput,
    LayerStep,
    layer_steps,
    network_outputs,
    softmax,
)
from cnnviz.inspect import feature_maps
from cnnviz.models import MODELS, load_model, preprocess
from ui.state import CurrentImage
from ui.urlstate import UrlParam, choice, seed

CACHE = dict(max_entries=32, ttl=3600, show_spinner=False)
#: Models that take a second or more per rerun on one core: their pages show a spinner.
SLOW_MODELS = ("alexnet", "vgg16", "resnet18")
MODEL_NAMES = tuple(MODELS)


def model_label(name: str) -> str:
    c, h, w = MODELS[name].input_size
    return f"{name} · {'grey' if c == 1 else 'RGB'} {h}×{w}"


def model_param(prefix: str) -> UrlParam:
    return UrlParam("model", (prefix + "model",), "digits", choice(MODEL_NAMES))


def seed_url(prefix: str, dependent: Callable[[str], list[UrlParam]]) -> list[UrlParam]:
    """Seed the model from the link first, then the parameters whose choices depend on it.

    dependent: model name -> its other UrlParams. Shows one notice per bad group of values
    (never echoing them) and returns every UrlParam of the page, for ``publish``.
    """
    first = model_param(prefix)
    notices = seed([first], "page")
    rest = dependent(st.session_state[prefix + "model"])
    notices += seed(rest, "page")
    for notice in notices:
        st.warning(notice, icon=":material/link_off:")
    return [first, *rest]


def model_picker(prefix: str, on_change: Callable[[], None] | None = None) -> str:
    return st.selectbox("Model", MODEL_NAMES, key=prefix + "model", persist_state="session",
                        format_func=model_label, on_change=on_change,
                        help="digits and shapes ship trained with the app; lenet5 and the "
                        "ImageNet classics run with random weights unless their weights are "
                        "available.")


def channel_box(prefix: str, channels: int) -> int:
    """The channel number box of a layer with `channels` channels. A value kept from another
    layer or model is brought into range first, so the box never sees one it cannot show."""
    key = prefix + "channel"
    st.session_state[key] = min(max(int(st.session_state[key]), 0), channels - 1)
    return int(st.number_input(f"Channel (0–{channels - 1})", 0, channels - 1, key=key,
                               persist_state="session"))


def model(name: str) -> nn.Module:
    """The shared model (ModelError if it cannot be loaded); a spinner for the big ones."""
    if name in SLOW_MODELS:
        with st.spinner(f"Loading {name}…"):
            return load_model(name)
    return load_model(name)


def weights_badge(net: nn.Module) -> bool:
    """The trained / untrained badge, as on the Models page. Returns True when trained."""
    if getattr(net, "cnnviz_pretrained", False):
        st.badge("trained weights", icon=":material/check_circle:", color="green")
        return True
    st.badge("untrained: random weights", icon=":material/warning:", color="orange",
             help="The layers, shapes and sizes are those of the real network; its weights "
             "are random, so its maps and answers show no learned pattern.")
    return False


def spinner_for(name: str, text: str):
    """A spinner for the slow models, nothing for the fast ones."""
    return st.spinner(text) if name in SLOW_MODELS else nullcontext()


# --- cached computations ---------------------------------------------------------------------


def model_input(name: str, image: CurrentImage) -> np.ndarray:
    """float32 (1, C, H, W): the image as model ``name`` sees it."""
    return _model_input(name, image.digest, image.pixels)


@st.cache_data(**CACHE)
def _model_input(name: str, digest: str, _pixels: np.ndarray) -> np.ndarray:
    return preprocess(name, _pixels).numpy()


def outputs(name: str, image: CurrentImage) -> tuple[list[LayerOutput], np.ndarray]:
    """(every overview column, class probabilities float64) for the image."""
    return _outputs(name, image.digest, image.pixels)


@st.cache_data(**CACHE)
def _outputs(name: str, digest: str, _pixels: np.ndarray):
    import torch

    x = torch.from_numpy(_model_input(name, digest, _pixels))
    columns = network_outputs(load_model(name), x)
    return columns, softmax(columns[-1].values)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def steps(name: str) -> list[LayerStep]:
    """The model's leaf layers in running order with their output shapes."""
    return layer_steps(load_model(name), MODELS[name].input_size)


def layer_maps(name: str, image: CurrentImage, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
    """name -> float32 (C, h, w) for the requested layers, one forward pass."""
    return _layer_maps(name, image.digest, layers, image.pixels)


@st.cache_data(**CACHE)
def _layer_maps(name: str, digest: str, layers: tuple[str, ...], _pixels: np.ndarray):
    import torch

    x = torch.from_numpy(_model_input(name, digest, _pixels))
    return feature_maps(load_model(name), x, list(layers))
