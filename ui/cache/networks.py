"""What the network pages compute, kept between reruns: a network's input, its activations,
its layer tables and receptive fields, and the figures made of them.

A network is named in keys by ``Network.key`` (the registry name, or ``name@run_id`` for a
model this session trained) or, for what only the architecture decides, by its name; an
image by its digest. Pixels, input tensors and models travel as underscore arguments, which
the cache does not look at. Arrays in the results are read-only: they are shared by every
session.

Sizes and costs are counted on the architecture built on PyTorch's ``meta`` device
(``cnnviz.architecture``): shapes without storage, so counting VGG-16's 138 million
parameters takes no memory and a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

import cnnviz
from cnnviz import (
    MODELS,
    LayerOutput,
    LayerStep,
    RawFigure,
    TrainConfig,
)
from ui import training_job
from ui.cache import models
from ui.cache.memo import memo
from ui.cache.models import Network
from ui.state import CurrentImage

__all__ = [
    "block_figure",
    "conv_layers",
    "effective_field",
    "growth_figure",
    "initial_filters",
    "layer_maps",
    "layer_steps",
    "layer_table",
    "model_input",
    "model_sizes_figure",
    "network_figure",
    "outputs",
    "overview_layers",
    "preset_responses",
    "rf_table",
    "seen_picture",
    "separable",
    "spatial_layers",
    "timeline_figure",
    "totals",
    "unit_box",
    "unit_picker",
]

CACHE = dict(max_entries=32, ttl=3600)
MAPS = dict(max_entries=8, ttl=3600)  # a VGG-16 first map is 12 MB
FIGURES = dict(max_entries=16, ttl=3600)
PER_MODEL = dict(max_entries=64, ttl=24 * 3600)  # one per network (registry or own); never changes
PER_SIZE = dict(max_entries=32, ttl=24 * 3600)  # one per model and input side

Region = tuple[int, int, int, int]
# Inputs are kept read-only; computations get a copy as a tensor (``torch.tensor``), since
# torch warns about tensors over read-only arrays.


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --- the input ------------------------------------------------------------------------------


def model_input(name: str, image: CurrentImage, side: int | None = None) -> np.ndarray:
    """float32 (1, C, H, W): the image as network ``name`` sees it (registry or lesson);
    ``side``: at a ``side``×``side`` input instead of the network's own size (the same
    recipe, e.g. the centre crop of a photo at 448×448)."""
    return _model_input(name, side, image.digest, image.pixels)


@memo(**CACHE)
def _model_input(name: str, side: int | None, digest: str, _pixels: np.ndarray) -> np.ndarray:
    x = cnnviz.preprocess_for(models.spec(name, side), _pixels).numpy().astype(np.float32)
    return _read_only(x)


def seen_picture(name: str, image: CurrentImage, side: int | None = None) -> np.ndarray:
    """uint8 (H, W, 3): what network ``name`` sees (the 28×28 digit, the 64×64 shapes input,
    the 224×224 crop), so boxes and heat maps are drawn in the model's own coordinates."""
    return _seen_picture(name, side, image.digest, model_input(name, image, side))


@memo(**CACHE)
def _seen_picture(name: str, side: int | None, digest: str, _x: np.ndarray) -> np.ndarray:
    return _read_only(cnnviz.to_picture(_x, models.spec(name).preprocessing))


# --- activations ------------------------------------------------------------------------------


def outputs(network: Network, image: CurrentImage) -> tuple[list[LayerOutput], np.ndarray]:
    """(every overview column, class probabilities float64) for the image."""
    x = model_input(network.name, image)
    return _outputs(network.key, image.digest, network.model, x)


@memo(**CACHE)
def _outputs(key: str, digest: str, _model: nn.Module, _x: np.ndarray):
    columns = cnnviz.network_outputs(_model, torch.tensor(_x))
    for column in columns:
        _read_only(column.values)
    return columns, _read_only(cnnviz.softmax(columns[-1].values))


def layer_steps(name: str) -> list[LayerStep]:
    """The model's leaf layers in running order with their output shapes."""
    return _layer_steps(name)


@memo(**PER_MODEL)
def _layer_steps(name: str) -> list[LayerStep]:
    return cnnviz.layer_steps(models.architecture(name), models.spec(name).input_size)


@memo(**PER_MODEL)
def overview_layers(name: str) -> tuple[str, ...]:
    """The Overview's layers of model ``name`` (defined order; no forward pass)."""
    return tuple(cnnviz.overview_layers(models.architecture(name)))


@memo(**PER_MODEL)
def conv_layers(name: str) -> tuple[str, ...]:
    """The convolutions of model ``name``, in the order they run."""
    return tuple(cnnviz.conv_layers(models.architecture(name)))


def spatial_layers(name: str) -> tuple[str, ...]:
    """The layers of model ``name`` whose output is a stack of maps (C, h, w), in running
    order."""
    return tuple(s.name for s in cnnviz.spatial_layers(layer_steps(name)))


def layer_maps(network: Network, image: CurrentImage, layers: Sequence[str],
               side: int | None = None) -> dict[str, np.ndarray]:
    """layer -> float32 (C, h, w) for the requested layers, one forward pass (at a
    ``side``×``side`` input when given)."""
    x = model_input(network.name, image, side)
    return _layer_maps(network.key, side, image.digest, tuple(layers), network.model, x)


@memo(**MAPS)
def _layer_maps(key: str, side: int | None, digest: str, layers: tuple[str, ...],
                _model: nn.Module, _x: np.ndarray) -> dict[str, np.ndarray]:
    maps = cnnviz.feature_maps(_model, torch.tensor(_x), list(layers))
    return {name: _read_only(m) for name, m in maps.items()}


@memo(**PER_MODEL)
def block_figure(name: str) -> RawFigure | None:
    """The network's first residual block drawn with its shapes (``cnnviz.example_block``),
    or None when it has none."""
    found = cnnviz.example_block(models.architecture(name), models.spec(name).input_size)
    if found is None:
        return None
    block, shape_in, parts = found
    return cnnviz.block_diagram(shape_in, [(p.name, p.kind, p.output_shape) for p in parts],
                                skip=True, title=f"{block}: one inverted residual block")


def network_figure(network: Network, image: CurrentImage, scale: str, shown: int) -> RawFigure:
    """The Overview's figure: every column's first ``shown`` maps, coloured by ``scale``."""
    columns, _ = outputs(network, image)
    return _network_figure(network.key, image.digest, scale, shown, columns)


@memo(**FIGURES)
def _network_figure(key: str, digest: str, scale: str, shown: int,
                    _columns: list[LayerOutput]) -> RawFigure:
    limits, shared = cnnviz.color_limits(_columns, scale, shown)
    return cnnviz.network_figure(_columns, limits, shown=shown, shared_limit=shared)


def preset_responses(name: str, image: CurrentImage) -> np.ndarray:
    """The Filters page's presets on the grey version (channel mean) of the model's input:
    float32 (presets, H, W)."""
    return _preset_responses(name, image.digest, model_input(name, image))


@memo(**CACHE)
def _preset_responses(name: str, digest: str, _x: np.ndarray) -> np.ndarray:
    return _read_only(cnnviz.preset_responses(_x[0].mean(axis=0)))


def initial_filters(model: str, seed: int) -> np.ndarray:
    """The first-layer weights a training run of ``model`` starts from, float32 (F, C, kh, kw)."""
    return _initial_filters(model, seed)


@memo(max_entries=8, ttl=24 * 3600)
def _initial_filters(model: str, seed: int) -> np.ndarray:
    return _read_only(training_job.initial_filters(TrainConfig(model=model, seed=seed)))


# --- receptive fields --------------------------------------------------------------------------


# ``side``: the network at a ``side``×``side`` input instead of its own size (only for a
# network that runs on any size, ``ModelSpec.any_size``); None is its own size.


def rf_table(name: str, side: int | None = None) -> list[dict]:
    """``receptive_field_table`` of the network at its input size (rows in forward order)."""
    return _rf_table(name, side)


@memo(**PER_SIZE)
def _rf_table(name: str, side: int | None) -> list[dict]:
    return cnnviz.receptive_field_table(models.model(name), models.spec(name, side).input_size)


def unit_box(name: str, layer: str, y: int, x: int, side: int | None = None) -> Region:
    """``unit_receptive_box`` at the network's input size (cached by the library)."""
    return cnnviz.unit_receptive_box(models.model(name), layer,
                                     models.spec(name, side).input_size, y, x)


def effective_field(name: str, image: CurrentImage, layer: str,
                    unit: tuple[int | None, int, int], side: int | None = None) -> np.ndarray:
    """``effective_receptive_field`` of unit (c, y, x), c None = all channels: (H, W) in 0..1."""
    return _effective_field(name, side, image.digest, layer, unit,
                            model_input(name, image, side))


@memo(**CACHE)
def _effective_field(name: str, side: int | None, digest: str, layer: str,
                     unit: tuple[int | None, int, int], _x: np.ndarray) -> np.ndarray:
    return _read_only(cnnviz.effective_receptive_field(models.model(name), layer,
                                                       torch.tensor(_x), unit))


def unit_picker(name: str, image: CurrentImage, layer: str, channel: int | None,
                unit: tuple[int, int], title: str, side: int | None = None) -> RawFigure:
    """The map to click a unit on: channel ``channel`` of ``layer`` (None: the mean over the
    channels), with ``unit`` outlined."""
    maps = layer_maps(models.network(name), image, (layer,), side)[layer]
    return _unit_picker(name, side, image.digest, layer, channel, unit, title, maps)


@memo(**FIGURES)
def _unit_picker(name: str, side: int | None, digest: str, layer: str, channel: int | None,
                 unit: tuple[int, int], title: str, _maps: np.ndarray) -> RawFigure:
    values = _maps.mean(axis=0) if channel is None else _maps[channel]
    return cnnviz.unit_picker(values, unit=unit, title=title)


def growth_figure(name: str, side: int | None = None) -> RawFigure:
    """The receptive field's size and jump layer by layer (the network's ``rf_table``)."""
    return _growth_figure(name, side)


@memo(**FIGURES)
def _growth_figure(name: str, side: int | None) -> RawFigure:
    rows = rf_table(name, side)
    _, h, w = models.spec(name, side).input_size
    return cnnviz.receptive_field_growth([r["name"] for r in rows],
                                         [max(r["rf"]) for r in rows],
                                         [max(r["jump"]) for r in rows], input_side=max(h, w))


# --- sizes and costs -----------------------------------------------------------------------


@memo(**PER_MODEL)
def separable(name: str) -> list[dict]:
    """``separable_vs_standard`` of a registry model on its input size; once per process."""
    return cnnviz.separable_vs_standard(models.architecture(name), models.spec(name).input_size)


@memo(**PER_MODEL)
def totals(name: str) -> dict:
    """``model_totals`` of a registry model on its input size; once per process."""
    return cnnviz.model_totals(models.architecture(name), models.spec(name).input_size)


@memo(**PER_MODEL)
def layer_table(name: str) -> list[dict]:
    """``layer_table`` of a registry model on its input size; once per process."""
    return cnnviz.layer_table(models.architecture(name), models.spec(name).input_size)


@memo(max_entries=1, ttl=24 * 3600)
def model_sizes_figure() -> RawFigure:
    """Parameters and multiply-adds of every registry model."""
    names = list(MODELS)
    counted = [totals(n) for n in names]
    return cnnviz.model_sizes(names, [t["params"] for t in counted],
                              [t["macs"] for t in counted])


def timeline_figure(milestones: Sequence[tuple], params: Sequence[int]) -> RawFigure:
    """The architecture timeline of (name, year, model, note) milestones."""
    return _timeline_figure(tuple(milestones), tuple(params))


@memo(max_entries=2, ttl=24 * 3600)
def _timeline_figure(milestones: tuple[tuple, ...], params: tuple[int, ...]) -> RawFigure:
    return cnnviz.architecture_timeline([m[1] for m in milestones], [m[0] for m in milestones],
                                        list(params), [m[3] for m in milestones])
