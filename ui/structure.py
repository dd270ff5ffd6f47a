"""Cached look-ups for the pages about a network's structure: Receptive fields and Architecture.

Models are shared: the registry's come from ``load_model`` (cached there), the receptive-field
lesson network from ``st.cache_resource`` here. Arrays and tables go in ``st.cache_data``,
keyed on the model name, the image digest and small parameters; the input tensor travels as
an underscore argument (not hashed), named by the digest. Figures are built by
``cnnviz.plots`` and kept as objects.

Sizes and costs are counted on the architecture built on PyTorch's ``meta`` device
(``cnnviz.models.architecture``): shapes without storage, so counting VGG-16's 138 million
parameters takes no memory and a few milliseconds.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import (
    MODELS,
    effective_receptive_field,
    feature_maps,
    layer_table,
    load_model,
    model_totals,
    plots,
    receptive_field_table,
    unit_receptive_box,
)
from cnnviz.models import LESSON_MODEL, ModelSpec, architecture, get_spec
from cnnviz.models.preprocessing import PREPROCESSORS, to_picture

LESSON = LESSON_MODEL.name  # "lesson": the receptive-field toy network, not in the registry
CACHE = dict(max_entries=32, ttl=3600, show_spinner=False)
MAPS = dict(max_entries=8, ttl=3600, show_spinner=False)  # a VGG-16 first map is 12 MB
FIGURES = dict(max_entries=16, ttl=3600, show_spinner=False)

Region = tuple[int, int, int, int]


def spec(name: str) -> ModelSpec:
    """The spec of a registry model, or of the lesson network. ModelError when unknown."""
    return LESSON_MODEL if name == LESSON else get_spec(name)


@st.cache_resource(max_entries=1, show_spinner=False)
def _lesson_model():
    return LESSON_MODEL.build().eval()


def model(name: str):
    """The shared model (never modify it). ModelError when it cannot be loaded."""
    return _lesson_model() if name == LESSON else load_model(name)


def is_pretrained(name: str) -> bool:
    return bool(getattr(model(name), "cnnviz_pretrained", False))


# --- receptive fields ------------------------------------------------------------------------


@st.cache_data(**CACHE)
def model_input(name: str, digest: str, _pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, picture) for the image ``digest``: the preprocessed input float32 (1, C, H, W)
    and what the network sees as a uint8 (H, W, 3) picture (the 28×28 digit, the 64×64
    shapes input, the 224×224 crop), so boxes are drawn in the model's own coordinates."""
    s = spec(name)
    x = PREPROCESSORS[s.preprocessing](_pixels, s.input_size)
    return x.numpy().astype(np.float32), to_picture(x, s.preprocessing)


@st.cache_data(**CACHE)
def rf_table(name: str) -> list[dict]:
    """``receptive_field_table`` of the model at its input size (rows in forward order)."""
    return receptive_field_table(model(name), spec(name).input_size)


def unit_box(name: str, layer: str, y: int, x: int) -> Region:
    """``unit_receptive_box`` at the model's input size (cached by the library)."""
    return unit_receptive_box(model(name), layer, spec(name).input_size, y, x)


@st.cache_data(**MAPS)
def layer_output(name: str, digest: str, _x: np.ndarray, layer: str) -> np.ndarray:
    """The layer's output for the input ``_x`` (named by ``digest``): float32 (C, h, w)."""
    return feature_maps(model(name), _x, [layer])[layer]


def layer_map(name: str, digest: str, x: np.ndarray, layer: str,
              channel: int | None) -> np.ndarray:
    """One map to click on, float32 (h, w): channel ``channel``, or the mean over channels."""
    maps = layer_output(name, digest, x, layer)
    return maps.mean(axis=0) if channel is None else maps[channel]


@st.cache_data(**CACHE)
def effective_field(name: str, digest: str, _x: np.ndarray, layer: str,
                    unit: tuple[int | None, int, int]) -> np.ndarray:
    """``effective_receptive_field`` of unit (c, y, x), c None = all channels: (H, W) in 0..1."""
    return effective_receptive_field(model(name), layer, _x, unit)


@st.cache_resource(**FIGURES)
def unit_picker(name: str, digest: str, layer: str, channel: int | None,
                unit: tuple[int, int], _values: np.ndarray, title: str):
    """plots.unit_picker of ``layer_map(name, digest, ..., layer, channel)``."""
    return plots.unit_picker(_values, unit=unit, title=title)


@st.cache_resource(**FIGURES)
def growth(name: str):
    """plots.receptive_field_growth of the model's ``rf_table``."""
    rows = rf_table(name)
    _, h, w = spec(name).input_size
    return plots.receptive_field_growth([r["name"] for r in rows],
                                        [max(r["rf"]) for r in rows],
                                        [max(r["jump"]) for r in rows], input_side=max(h, w))


# --- sizes and costs -----------------------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)  # one per registry model
def totals(name: str) -> dict:
    """``model_totals`` of a registry model on its input size; once per process."""
    return model_totals(architecture(name), get_spec(name).input_size)


@st.cache_data(max_entries=16, show_spinner=False)  # one per registry model
def layers(name: str) -> list[dict]:
    """``layer_table`` of a registry model on its input size; once per process."""
    return layer_table(architecture(name), get_spec(name).input_size)


@st.cache_resource(**FIGURES)
def model_sizes():
    """plots.model_sizes of every registry model's totals."""
    names = list(MODELS)
    counted = [totals(n) for n in names]
    return plots.model_sizes(names, [t["params"] for t in counted],
                             [t["macs"] for t in counted])


def timeline_figure(milestones: list[tuple], params: list[int]):
    """plots.architecture_timeline of (name, year, model, note) milestones."""
    return plots.architecture_timeline([m[1] for m in milestones], [m[0] for m in milestones],
                                       params, [m[3] for m in milestones])
