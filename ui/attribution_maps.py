"""Cached attribution results for the Grad-CAM page: maps in ``st.cache_data``.

Keys are the model's registry name, the image digest and small parameter values; the model
input travels as an underscore argument (not hashed), as in ``ui.compute``. Only numbers are
cached, never a model. The shared models come from ``cnnviz.load_model`` (never changed here:
every attribution function works on a private twin).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import streamlit as st
import torch

from cnnviz import attribution, load_model, predict, preprocess
from cnnviz.models import architecture, get_spec

CACHE = dict(max_entries=128, ttl=3600, show_spinner=False)


@st.cache_resource(max_entries=16, show_spinner=False)
def layer_choices(model_name: str) -> tuple[tuple[str, tuple[int, int]], ...]:
    """(layer, (h, w)) for every layer Grad-CAM can use, input end first (no weights needed)."""
    spec = get_spec(model_name)
    return tuple(attribution.cam_layers(architecture(model_name), spec.input_size))


@st.cache_data(**CACHE)
def model_input(model_name: str, digest: str, _pixels: np.ndarray) -> np.ndarray:
    """float32 (1, C, H, W): the preprocessed image, as the network sees it."""
    return preprocess(model_name, _pixels).numpy()


@st.cache_data(**CACHE)
def probabilities(model_name: str, digest: str, _pixels: np.ndarray) -> np.ndarray:
    """float64 (n_classes,): ``cnnviz.predict`` (uniform for a blank image)."""
    return predict(model_name, _pixels)


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


@st.cache_data(**CACHE)
def grad_cam(model_name: str, digest: str, layer: str, target: int, _x: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(native float32 (h, w) in layer units, upsampled float32 (H, W) in [0, 1])."""
    model, x = load_model(model_name), _tensor(_x)
    native = attribution.grad_cam_native(model, x, target, layer)
    heat = attribution.grad_cam(model, x, target, layer)
    return native, heat


@st.cache_data(**CACHE)
def every_layer(model_name: str, digest: str, target: int, layers: tuple[str, ...],
                _x: np.ndarray) -> list[np.ndarray]:
    """Native Grad-CAM at every layer of ``layers``, one forward and one backward pass."""
    return attribution.grad_cam_layers(load_model(model_name), _tensor(_x), target, list(layers))


@st.cache_data(**CACHE)
def method_map(model_name: str, digest: str, method: str, target: int, layer: str,
               options: tuple[tuple[str, int], ...], _x: np.ndarray
               ) -> tuple[np.ndarray, float | None]:
    """(heat float32 (H, W) in [0, 1], Integrated Gradients' convergence delta or None)."""
    model, x = load_model(model_name), _tensor(_x)
    kwargs = dict(options)
    if method == "integrated_gradients":
        heat, delta = attribution.integrated_gradients(model, x, target, return_delta=True,
                                                       **kwargs)
        return heat, delta
    return attribution.ATTRIBUTIONS[method](model, x, target, layer, **kwargs), None


class _Store:
    """A small LRU of occlusion maps. Not ``st.cache_data``: the computation feeds a progress
    bar drawn outside it, which a cached function would record and replay."""

    def __init__(self, size: int = 32) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.size = size

    def get(self, key: tuple) -> np.ndarray | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: tuple, value: np.ndarray) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


@st.cache_resource(max_entries=1, show_spinner=False)
def _occlusion_store() -> _Store:
    return _Store()


def occlusion(model_name: str, digest: str, target: int, window: int, stride: int,
              x: np.ndarray, progress: Callable[[float], None]) -> np.ndarray:
    """The occlusion map (float32 (H, W) in [0, 1]), computed once per key per process;
    ``progress(fraction)`` is called while it is computed (never on a cache hit)."""
    key = (model_name, digest, target, window, stride)
    store = _occlusion_store()
    heat = store.get(key)
    if heat is None:
        heat = attribution.occlusion(load_model(model_name), _tensor(x), target, window=window,
                                     stride=stride, progress=progress)
        store.put(key, heat)
    return heat


def cached_occlusion(model_name: str, digest: str, target: int, window: int, stride: int
                     ) -> np.ndarray | None:
    """The occlusion map if it was computed already, else None (nothing is computed)."""
    return _occlusion_store().get((model_name, digest, target, window, stride))


@st.cache_data(**CACHE)
def randomisation(model_name: str, digest: str, target: int, layer: str, top_layers: int,
                  _x: np.ndarray) -> attribution.RandomisationCheck:
    return attribution.randomisation_check(load_model(model_name), _tensor(_x), target, layer,
                                           "grad_cam", top_layers=top_layers)


@st.cache_data(**CACHE)
def deletion(model_name: str, digest: str, target: int, layer: str, _x: np.ndarray
             ) -> tuple[attribution.DeletionCurve, attribution.DeletionCurve]:
    """Deletion curves of the Grad-CAM map and of a random map (the yardstick)."""
    model, x = load_model(model_name), _tensor(_x)
    heat = attribution.grad_cam(model, x, target, layer)
    noise = np.random.default_rng(0).random(heat.shape, dtype=np.float32)
    return (attribution.deletion_curve(model, x, target, heat),
            attribution.deletion_curve(model, x, target, noise))


@st.cache_resource(max_entries=4, show_spinner=False)
def pointing_game(model_name: str = "shapes") -> attribution.PointingGame:
    """Grad-CAM's pointing game on the 1,000 held-out shapes at the recommended layer; played
    once per process."""
    return attribution.pointing_game(model_name)
