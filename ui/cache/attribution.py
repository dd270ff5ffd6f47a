"""What the Grad-CAM page computes, kept: maps, trust checks and the layers to choose from.

Keys are the model's registry name, the image digest and small parameter values; the model
input travels as an underscore argument. Only numbers and figures are kept, never a model.
The shared models come from ``ui.cache.models`` (never changed here: every attribution
function works on a private twin of the model).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import cnnviz
from cnnviz import ClassPass, DeletionCurve, PointingGame, RandomisationCheck
from ui.cache import models
from ui.cache.memo import memo

__all__ = [
    "class_labels",
    "class_pass",
    "over_figure",
    "deletion",
    "every_layer",
    "grad_cam",
    "guided_magnitude",
    "layer_choices",
    "map_is_kept",
    "method_map",
    "pointing_game",
    "probabilities",
    "randomisation",
    "strip_tiles",
]

CACHE = dict(max_entries=128, ttl=3600)
#: What is kept per class (a pass at every layer, 340 kB on EfficientNet-Lite0; the guided
#: gradients' magnitude, 200 kB): room for one class per student of a lecture hall of 50
#: changing class at once, and no more, so a server's memory after a lesson stays within
#: 10% of what it was before (bench/load.py --pages gradcam_photo).
CLASS_CACHE = dict(max_entries=64, ttl=3600)


def _tensor(x: np.ndarray) -> torch.Tensor:
    """A tensor copy of a kept (read-only) input."""
    return torch.tensor(x)


@memo(max_entries=16, ttl=24 * 3600)
def layer_choices(model_name: str) -> tuple[tuple[str, tuple[int, int]], ...]:
    """(layer, (h, w)) for every layer Grad-CAM can use, input end first (no weights needed)."""
    spec = models.spec(model_name)
    return tuple(cnnviz.cam_layers(models.architecture(model_name), spec.input_size))


@memo(**CACHE)
def probabilities(model_name: str, digest: str, _pixels: np.ndarray) -> np.ndarray:
    """float64 (n_classes,): ``cnnviz.predict`` (uniform for a blank image)."""
    own = models.own(model_name)
    probs = cnnviz.predict(models.base(model_name), _pixels,
                           model=own.model if own else None)
    probs.setflags(write=False)
    return probs


@memo(max_entries=16, ttl=3600)
def class_labels(model_name: str, digest: str, predicted_option: int, _probs: np.ndarray
                 ) -> dict[int, str]:
    """The class picker's options and their labels, in order: ``predicted_option`` ("the
    class the network predicts", with its name) first, then every class with its
    probability. Made once per image: 1,001 labels for an ImageNet network, which
    formatting on every rerun cost about 2% of a busy server's time."""
    classes = models.spec(model_name).class_names
    top = int(np.argmax(_probs))
    return {predicted_option: f"predicted: {classes[top]} ({_probs[top]:.1%})",
            **{i: f"{name} ({p:.1%})" for i, (name, p) in enumerate(zip(classes, _probs,
                                                                        strict=True))}}


def over_figure(model_name: str, digest: str, what: tuple | None, seen: np.ndarray,
                values: np.ndarray, alpha: float, colormap: str, title: str,
                height: int = 360, **options) -> cnnviz.RawFigure:
    """``heat_picture`` of the heat map ``values`` laid over ``seen``; kept when ``what``
    names the map (("cam", layer, class), ("method", name, class, layer, settings), …), so a
    rerun that changes something else does not colour, blend and encode it again (the trust
    checks' maps, drawn once when asked, pass None). ``options``: ``heat_picture``'s."""
    args = (model_name, digest, what, float(alpha), colormap, title, int(height),
            tuple(sorted(options.items())), seen, values)
    return _over_figure(*args) if what is not None else _over_figure.__wrapped__(*args)


@memo(**CACHE)
def _over_figure(model_name: str, digest: str, what: tuple, alpha: float, colormap: str,
                 title: str, height: int, options: tuple, _seen: np.ndarray,
                 _values: np.ndarray) -> cnnviz.RawFigure:
    return cnnviz.heat_picture(cnnviz.overlay(_seen, _values, alpha, colormap),
                               stops=cnnviz.colormap_stops(colormap), title=title,
                               height=height, **dict(options))


def _layer_names(model_name: str) -> tuple[str, ...]:
    return tuple(layer for layer, _ in layer_choices(model_name))


@memo(**CLASS_CACHE)
def class_pass(model_name: str, digest: str, target: int, _x: np.ndarray) -> ClassPass:
    """``cnnviz.class_pass`` at every layer of ``layer_choices``: the strip, the chosen
    layer's Grad-CAM and saliency of one class from one forward and one backward pass, so a
    new layer costs no pass at all."""
    result = cnnviz.class_pass(models.model(model_name), _tensor(_x), target,
                               _layer_names(model_name))
    for values in (*result.cams, result.saliency):
        values.setflags(write=False)  # shared by every session
    return result


def grad_cam(model_name: str, digest: str, layer: str, target: int, _x: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(native float32 (h, w) in layer units, upsampled float32 (H, W) in [0, 1])."""
    if layer in _layer_names(model_name):
        found = class_pass(model_name, digest, target, _x)
        # The upsampled map is not kept: 0.25 ms to make, 200 kB to keep per layer and class.
        return found.cam(layer), found.heat(layer, tuple(_x.shape[2:]))
    return _grad_cam(model_name, digest, layer, target, _x)


@memo(**CACHE)
def _grad_cam(model_name: str, digest: str, layer: str, target: int, _x: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    model, x = models.model(model_name), _tensor(_x)
    return (cnnviz.grad_cam_native(model, x, target, layer),
            cnnviz.grad_cam(model, x, target, layer))


def every_layer(model_name: str, digest: str, target: int, layers: tuple[str, ...],
                _x: np.ndarray) -> list[np.ndarray]:
    """Native Grad-CAM at every layer of ``layers``, one forward and one backward pass."""
    if set(layers) <= set(_layer_names(model_name)):
        found = class_pass(model_name, digest, target, _x)
        return [found.cam(layer) for layer in layers]
    return _every_layer(model_name, digest, target, layers, _x)


@memo(**CACHE)
def strip_tiles(model_name: str, digest: str, target: int, layers: tuple[str, ...],
                colormap: str, _x: np.ndarray) -> tuple[tuple[bytes, tuple[int, int]], ...]:
    """The "every layer at once" strip as PNG tiles, each map on its own scale (its peak is
    1), with its (h, w): encoded once per class and colour map, so a new layer or overlay
    strength reuses them."""
    tiles = []
    for heat in every_layer(model_name, digest, target, layers, _x):
        top = float(heat.max())
        tile = cnnviz.heat_tile(heat / top if top > 0 else heat, colormap)
        tiles.append((cnnviz.encode_png(tile), heat.shape))
    return tuple(tiles)


@memo(**CACHE)
def _every_layer(model_name: str, digest: str, target: int, layers: tuple[str, ...],
                 _x: np.ndarray) -> list[np.ndarray]:
    return cnnviz.grad_cam_layers(models.model(model_name), _tensor(_x), target, list(layers))


def method_map(model_name: str, digest: str, method: str, target: int, layer: str,
               options: tuple[tuple[str, int], ...], _x: np.ndarray,
               _progress: Callable[[float], None] | None = None
               ) -> tuple[np.ndarray, float | None]:
    """(heat float32 (H, W) in [0, 1], Integrated Gradients' convergence delta or None) of
    one of ``cnnviz.ATTRIBUTIONS``. ``options`` go to the method (steps; window and stride);
    occlusion calls ``_progress(fraction)`` while it runs (never when the map is kept: see
    ``map_is_kept``). Saliency and Guided Grad-CAM are made from what is kept per class
    (``class_pass``, ``guided_magnitude``) in under a millisecond, so they are not kept
    themselves; the other methods' maps are."""
    if method == "saliency":  # from the class's one pass, with Grad-CAM
        return class_pass(model_name, digest, target, _x).saliency, None
    if method == "guided_grad_cam":  # the guided gradients do not depend on the layer
        cam, _ = grad_cam(model_name, digest, layer, target, _x)
        guided = guided_magnitude(model_name, digest, target, _x)[None]
        return cnnviz.guided_grad_cam(models.model(model_name), _tensor(_x), target, layer,
                                      guided=guided, cam=cam), None
    return _costly_map(model_name, digest, method, target, layer, options, _x, _progress)


def map_is_kept(model_name: str, digest: str, method: str, target: int, layer: str,
                options: tuple[tuple[str, int], ...], _x: np.ndarray) -> bool:
    """Whether ``method_map`` of these arguments runs no pass of the network (no spinner)."""
    if method == "saliency":
        return class_pass.peek(model_name, digest, target, _x) is not None
    if method == "guided_grad_cam":
        return (class_pass.peek(model_name, digest, target, _x) is not None
                and guided_magnitude.peek(model_name, digest, target, _x) is not None)
    return _costly_map.peek(model_name, digest, method, target, layer, options, _x) is not None


@memo(**CACHE)
def _costly_map(model_name: str, digest: str, method: str, target: int, layer: str,
                options: tuple[tuple[str, int], ...], _x: np.ndarray,
                _progress: Callable[[float], None] | None = None
                ) -> tuple[np.ndarray, float | None]:
    model, x = models.model(model_name), _tensor(_x)
    kwargs = dict(options)
    if method == "integrated_gradients":
        return cnnviz.integrated_gradients(model, x, target, return_delta=True, **kwargs)
    if method == "occlusion":
        kwargs["progress"] = _progress
    return cnnviz.ATTRIBUTIONS[method](model, x, target, layer, **kwargs), None


@memo(**CLASS_CACHE)
def guided_magnitude(model_name: str, digest: str, target: int, _x: np.ndarray
                     ) -> np.ndarray:
    """float32 (H, W): the largest absolute ``guided_backprop`` gradient of each pixel over
    the colour channels, for ``target``. Kept per class, so a new layer only recomputes the
    Grad-CAM half of Guided Grad-CAM; a third of the gradients' size, and the same map
    (``cnnviz.guided_grad_cam``: the upsampled Grad-CAM is never negative)."""
    guided = cnnviz.guided_backprop(models.model(model_name), _tensor(_x), target)
    magnitude = np.abs(guided).max(axis=0)
    magnitude.setflags(write=False)  # shared by every session
    return magnitude


@memo(**CACHE)
def randomisation(model_name: str, digest: str, target: int, layer: str, top_layers: int,
                  _x: np.ndarray) -> RandomisationCheck:
    return cnnviz.randomisation_check(models.model(model_name), _tensor(_x), target, layer,
                                      "grad_cam", top_layers=top_layers)


@memo(**CACHE)
def deletion(model_name: str, digest: str, target: int, layer: str, _x: np.ndarray
             ) -> tuple[DeletionCurve, DeletionCurve]:
    """Deletion curves of the Grad-CAM map and of a random map (the yardstick)."""
    model, x = models.model(model_name), _tensor(_x)
    heat = cnnviz.grad_cam(model, x, target, layer)
    noise = np.random.default_rng(0).random(heat.shape, dtype=np.float32)
    return (cnnviz.deletion_curve(model, x, target, heat),
            cnnviz.deletion_curve(model, x, target, noise))


@memo(max_entries=4, ttl=24 * 3600)
def pointing_game(model_name: str = "shapes") -> PointingGame:
    """Grad-CAM's pointing game on the 1,000 held-out shapes at the recommended layer; played
    once per process."""
    return cnnviz.pointing_game(model_name)
