"""What a network computes on one image, layer by layer: feature maps, the columns of the
Overview, the leaf layers in running order, and which activation belongs to which convolution.

Everything here reads a (shared) model and never changes it; forward passes record layers
through ``hooks.forward_hooks``, whose hooks are always removed and only see the calling
thread. Arrays are numpy: maps are float32 ``(C, h, w)``, vectors float32 ``(n,)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.network.hooks import (
    LayerError,
    StopForward,
    as_batch,
    first_tensor,
    forward_hooks,
    get_layers,
    run_model,
)
from cnnviz.network.tables import layer_table

__all__ = [
    "ACTIVATIONS",
    "CHANNELWISE",
    "NORMS",
    "OVERVIEW_SCALES",
    "SKIPPED",
    "ActivationPair",
    "LayerOutput",
    "LayerStep",
    "activation_pair",
    "channel_source",
    "color_limits",
    "example_block",
    "feature_maps",
    "is_unit",
    "layer_kind",
    "layer_steps",
    "map_limits",
    "network_outputs",
    "overview_layers",
    "rank_channels",
    "softmax",
    "spatial_layers",
    "unit_parts",
]

#: Modules that do nothing to a trained network's answer (dropout is off at inference): the
#: overview leaves them out, so each column changes something.
SKIPPED = (nn.Dropout, nn.Dropout2d, nn.Identity)
#: Element-wise non-linearities: what "before and after the activation" means, and the layers
#: after a convolution that Grad-CAM offers.
ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU, nn.ReLU6)
#: Normalisation between a convolution and its activation.
NORMS = (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm)
#: Layers that keep a channel's identity: channel c of their output comes from channel c of
#: their input (pooling, activations, normalisation), by class name as ``LayerStep.kind``.
CHANNELWISE = ("MaxPool2d", "AvgPool2d", *(c.__name__ for c in (*ACTIVATIONS, *NORMS)))
#: Containers whose children the overview shows one by one. Anything else with children (a
#: ResNet BasicBlock) is one column: its inside is a page of its own.
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True, eq=False)
class LayerOutput:
    """One column of the overview: a layer's output on one image (batch dimension dropped)."""

    name: str  # as in named_modules(), or "input" for the preprocessed image
    kind: str  # layer_kind: the class name ("Conv2d", "BasicBlock"), "Input" for the image
    values: np.ndarray  # float32 (C, h, w) for a map-shaped output, (n,) for a vector
    label: str = ""  # the short title of its column: ``cnnviz_label`` ("block 9"), or name
    group: str = ""  # the run of columns it belongs to: ``cnnviz_group`` ("stage 4"), or none

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def is_spatial(self) -> bool:
        return self.values.ndim == 3


def feature_maps(
    model: nn.Module, image_tensor: torch.Tensor, layers: Sequence[str]
) -> dict[str, np.ndarray]:
    """The output of each named layer for one image.

    ``image_tensor`` is a preprocessed ``(1, C, H, W)`` tensor; ``layers`` are names from
    ``named_modules()``. Returns name -> float32 array of that layer's output without the batch
    dimension, ``(C, h, w)`` for a conv-like layer, in the order asked. A module that runs
    twice (a ResNet block's shared ReLU) gives its first call's output. Values are copied as
    the layer returns them, so a later in-place ReLU cannot change them. The forward pass
    stops once every layer has been seen. Raises LayerError (a ValueError) for an unknown
    name, listing the valid ones, or for a layer that the forward pass never reached.
    """
    if isinstance(layers, str):
        raise LayerError(f"Give the layers as a list of names, e.g. [{layers!r}].")
    wanted = list(dict.fromkeys(layers))
    modules = get_layers(model, wanted)
    x = as_batch(image_tensor, model)
    maps: dict[str, np.ndarray] = {}

    def capture(name: str) -> Callable:
        def hook(module, args, output):
            if name in maps:
                return
            t = first_tensor(output)
            if t is None:
                raise LayerError(f"Layer {name!r} does not return a tensor.")
            maps[name] = t.detach()[0].to(device="cpu", dtype=torch.float32, copy=True).numpy()
            if len(maps) == len(wanted):
                raise StopForward  # nothing left to see: skip the rest of the network

        return hook

    if not wanted:
        return {}
    with torch.inference_mode(), forward_hooks((m, capture(n), False) for n, m in modules.items()):
        run_model(model, x, "run")
    missing = [name for name in wanted if name not in maps]
    if missing:
        raise LayerError(f"The forward pass never ran {', '.join(map(repr, missing))}.")
    return {name: maps[name] for name in wanted}


def overview_layers(model: nn.Module) -> list[str]:
    """The layers the overview shows, in the order they were defined (no forward pass).

    Plain containers (``nn.Sequential``) are opened; any other module is one layer, so a
    ResNet shows ``conv1, bn1, relu, maxpool, layer1.0, ..., layer4.1, avgpool, fc``. Dropout
    and identity layers are left out: at inference they pass their input on unchanged.
    For the registry's models this order is also the order they run in (a test checks it).
    """
    names: list[str] = []

    def walk(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, CONTAINERS) and not is_unit(child):
                walk(full, child)
            elif not isinstance(child, SKIPPED):
                names.append(full)

    walk("", model)
    return names


def network_outputs(model: nn.Module, x: torch.Tensor,
                    layers: Sequence[str] | None = None) -> list[LayerOutput]:
    """The preprocessed input and the output of every overview layer, for one image.

    x: float32 (1, C, H, W), as ``cnnviz.preprocess`` makes it.
    layers: names to record (default ``overview_layers(model)``), in running order.
    Returns ``[LayerOutput("input", ...), LayerOutput(layer, ...) ...]``; outputs with more
    than three dimensions are flattened to vectors. One forward pass.
    """
    names = overview_layers(model) if layers is None else list(layers)
    maps = feature_maps(model, x, names)
    modules = dict(model.named_modules())
    out = [LayerOutput("input", "Input", np.asarray(x[0], dtype=np.float32))]
    for name in names:
        values = maps[name]
        if values.ndim not in (1, 3):
            values = values.reshape(-1)
        out.append(LayerOutput(name, layer_kind(modules[name]), values,
                               getattr(modules[name], "cnnviz_label", ""),
                               getattr(modules[name], "cnnviz_group", "")))
    return out


#: How the overview colours its maps: each map on its own, each layer on its own, or one scale
#: for the whole network.
OVERVIEW_SCALES = ("local", "layer", "global")


def _limit(values: np.ndarray) -> float:
    """max |value| (finite values only); 1.0 for an all-zero or empty array."""
    finite = np.abs(values[np.isfinite(values)]) if values.size else np.zeros(0)
    m = float(finite.max()) if finite.size else 0.0
    return m if m > 0 else 1.0


def color_limits(outputs: Sequence[LayerOutput], scale: str, shown: int | None = None,
                 ) -> tuple[list[np.ndarray], float | None]:
    """The red-blue colour limit of every drawn map: map i of a column is coloured on
    [-limit, +limit], white at 0.

    scale: "local" (each map its own max |value|), "layer" (one limit per column: the
    max |value| of the whole layer, drawn or not) or "global" (one limit for every column).
    shown: maps drawn per column (default all). Returns (per column float64 (n_drawn,), the
    shared limit for "global", else None). A vector column has one limit.
    """
    if scale not in OVERVIEW_SCALES:
        raise ValueError(f"scale must be one of {OVERVIEW_SCALES}, not {scale!r}")
    shared = max((_limit(o.values) for o in outputs), default=1.0)
    limits = []
    for o in outputs:
        n = 1 if not o.is_spatial else min(len(o.values), shown or len(o.values))
        if scale == "global":
            limits.append(np.full(n, shared))
        elif scale == "layer" or not o.is_spatial:
            limits.append(np.full(n, _limit(o.values)))
        else:
            limits.append(np.array([_limit(m) for m in o.values[:n]]))
    return limits, (shared if scale == "global" else None)


def map_limits(maps: np.ndarray, shared: bool) -> np.ndarray:
    """Colour limit of each map of one layer (C, h, w): the layer's max |value| for all
    (shared), or each map's own (independent). float64 (C,)."""
    if shared:
        return np.full(len(maps), _limit(maps))
    return np.array([_limit(m) for m in maps])


def softmax(logits: np.ndarray) -> np.ndarray:
    """float (n,) -> probabilities float64 (n,) summing to 1 (computed stably)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def rank_channels(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channels of a layer ordered by their mean activation, largest first.

    maps: float (C, h, w). Returns (means float64 (C,), order int64 (C,)) with
    ``means[order]`` non-increasing; ties keep channel order.
    """
    means = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).mean(axis=1)
    return means, np.argsort(-means, kind="stable")


# --- layers in running order -----------------------------------------------------------------


@dataclass(frozen=True)
class LayerStep:
    """A layer (a leaf, or a unit) in the order the forward pass first calls it."""

    name: str
    kind: str  # layer_kind: the class name, or a unit's own ("MBConv6 k5")
    output_shape: tuple[int, ...] | None  # batch dimension dropped
    calls: int  # a ResNet block's ReLU runs twice; its recorded output is the first call's
    unit: bool = False  # is_unit: a block shown as one layer
    # For a unit: the convolution inside it whose channels it passes on ("stem.conv"), or
    # None when it mixes channels after its last convolution (a residual addition).
    source: str | None = None

    @property
    def computes(self) -> bool:
        """A convolution, or a unit (a block of them): the layers a page opens on."""
        return self.kind == "Conv2d" or self.unit


def layer_kind(module: nn.Module) -> str:
    """What the pickers call a layer: its ``cnnviz_kind`` when it has one (EfficientNet's
    blocks: "MBConv6 k5"), else its class name ("Conv2d")."""
    return getattr(module, "cnnviz_kind", type(module).__name__)


def is_unit(module: nn.Module) -> bool:
    """True for a module that the pickers and the overview show as one layer although it
    has children: a model marks it with a ``cnnviz_kind`` (an MBConv block, a conv · BN ·
    ReLU6 unit), so EfficientNet lists 21 layers, not 150."""
    return hasattr(module, "cnnviz_kind")


def _unit_source(name: str, module: nn.Module) -> str | None:
    """The conv a unit names in ``cnnviz_channels_from`` (relative to the unit), in full."""
    inner = getattr(module, "cnnviz_channels_from", None) if is_unit(module) else None
    return f"{name}.{inner}" if inner else None


def layer_steps(model: nn.Module, input_shape: Sequence[int]) -> list[LayerStep]:
    """The model's layers in first-call order: its leaves, and its units (``is_unit``) in
    place of what is inside them; dropout and identity left out.

    One forward pass on zeros of shape ``(1, *input_shape)`` (``tables.layer_table``).
    """
    modules = dict(model.named_modules())
    units = [name for name, m in modules.items() if name and is_unit(m)]

    def inside_unit(name: str) -> bool:
        return any(name.startswith(u + ".") for u in units)

    return [
        LayerStep(r["name"], layer_kind(modules[r["name"]]), r["output_shape"], r["calls"],
                  is_unit(modules[r["name"]]), _unit_source(r["name"], modules[r["name"]]))
        for r in layer_table(model, input_shape)
        if (r["is_leaf"] or is_unit(modules[r["name"]])) and not inside_unit(r["name"])
        and not isinstance(modules[r["name"]], SKIPPED)
    ]


def unit_parts(model: nn.Module, input_shape: Sequence[int], unit: str,
               ) -> tuple[tuple[int, ...] | None, list[LayerStep]]:
    """What a unit (``is_unit``) does inside: its input shape, and its direct children in
    call order with their output shapes and kinds (an MBConv block: expand, depthwise,
    project). One forward pass on zeros (``tables.layer_table``). LayerError for a layer
    that is not a unit."""
    modules = dict(model.named_modules())
    if unit not in modules or not is_unit(modules[unit]):
        raise LayerError(f"{unit!r} is not a block of this model.")
    rows = layer_table(model, input_shape)
    names = [r["name"] for r in rows]
    steps = layer_steps(model, input_shape)
    before = [s for s in steps[: [s.name for s in steps].index(unit)]
              if s.output_shape is not None]
    shape_in = before[-1].output_shape if before else tuple(input_shape)
    depth = unit.count(".") + 1
    children = [r for r in rows[names.index(unit) + 1:]
                if r["name"].startswith(unit + ".") and r["name"].count(".") == depth]
    return shape_in, [
        LayerStep(r["name"], layer_kind(modules[r["name"]]), r["output_shape"], r["calls"],
                  is_unit(modules[r["name"]]), _unit_source(r["name"], modules[r["name"]]))
        for r in children]


def example_block(model: nn.Module, input_shape: Sequence[int],
                  ) -> tuple[str, tuple[int, ...], list[LayerStep]] | None:
    """The first block worth drawing once: a unit with at least three parts whose output has
    its input's shape, so it adds its input (EfficientNet's first MBConv6 with a skip,
    stage2.block3: 24 → 144 → 144 → 24 channels at 56×56). Returns (name, input shape,
    parts) as ``unit_parts`` gives them, or None for a model without such a block."""
    for step in layer_steps(model, input_shape):
        if not step.unit:
            continue
        shape_in, parts = unit_parts(model, input_shape, step.name)
        if len(parts) >= 3 and shape_in == step.output_shape:
            return step.name, shape_in, parts
    return None


def spatial_layers(steps: Sequence[LayerStep]) -> list[LayerStep]:
    """The steps whose output is a stack of maps ``(C, h, w)``."""
    return [s for s in steps if s.output_shape is not None and len(s.output_shape) == 3]


@dataclass(frozen=True)
class ActivationPair:
    """An activation and what it receives: ``before`` runs just before ``after`` (the
    activation), so ``after = f(before)`` element by element."""

    before: str
    after: str
    kind: str  # the activation's class name: "ReLU", "Tanh", ...
    between: tuple[str, ...] = ()  # layers from the chosen conv to `before`, e.g. ("bn1",)


def activation_pair(model: nn.Module, steps: Sequence[LayerStep], layer: str,
                    ) -> ActivationPair | None:
    """Before and after the activation that belongs to ``layer``, when there is one.

    For a convolution: the first activation after it, batch norm in between allowed
    (``conv1 -> bn1 -> relu1`` gives before ``bn1``, after ``relu1``: the ReLU's own input).
    For an activation: itself and the layer before it. ``None`` otherwise, and when the
    activation's recorded output is not the one that follows ``layer`` (a ResNet block runs
    its ReLU twice; ``feature_maps`` records the first call).
    """
    modules = dict(model.named_modules())
    names = [s.name for s in steps]
    if layer not in names:
        raise LayerError(f"{layer!r} is not a layer of this model that runs.")
    i = names.index(layer)
    module = modules[layer]
    if isinstance(module, ACTIVATIONS):
        if i == 0:
            return None
        return ActivationPair(names[i - 1], layer, type(module).__name__)
    if not isinstance(module, nn.Conv2d):
        return None
    j = i + 1
    while j < len(names) and isinstance(modules[names[j]], NORMS):
        j += 1
    if j >= len(names) or not isinstance(modules[names[j]], ACTIVATIONS):
        return None
    return ActivationPair(names[j - 1], names[j], type(modules[names[j]]).__name__,
                          tuple(names[i + 1:j]))


def channel_source(steps: Sequence[LayerStep], layer: str) -> str | None:
    """The convolution whose channels ``layer``'s channels are: the layer itself, or the last
    convolution before it with only channel-wise layers (``CHANNELWISE``: pooling,
    activations, normalisation) in between, when it has as many channels; for a unit, the
    convolution it names (``LayerStep.source``: EfficientNet's stem gives "stem.conv"). None
    otherwise (a ResNet block's output mixes a shortcut in; a flatten has no channels)."""
    names = [s.name for s in steps]
    if layer not in names:
        raise LayerError(f"{layer!r} is not a layer of this model that runs.")
    own = steps[names.index(layer)].output_shape
    channels = own[0] if own else None
    for s in reversed(steps[: names.index(layer) + 1]):
        if s.kind == "Conv2d" or s.unit:
            found = s.name if s.kind == "Conv2d" else s.source
            return found if found and s.output_shape and s.output_shape[0] == channels else None
        if s.kind not in CHANNELWISE:
            return None
    return None
