"""Which pixels made the network say "cat"? Grad-CAM and friends (their trust checks are in
``cnnviz.trust``).

Every method takes a model, one preprocessed image ``(1, C, H, W)`` (as ``preprocess`` gives)
and a class index, and returns a heat map float32 ``(H, W)`` in [0, 1] at the input's size:

- ``grad_cam``: Grad-CAM at one layer (Selvaraju et al., 2017), computed here;
- ``guided_grad_cam``: guided backprop (``guided_backprop``, computed here and checked against
  captum's ``GuidedBackprop``) times the upsampled Grad-CAM, as captum's ``GuidedGradCam``;
- ``integrated_gradients``: captum ``IntegratedGradients`` from a mean-colour baseline;
- ``saliency``: captum ``Saliency``, the absolute input gradient (Simonyan et al., 2014);
- ``occlusion``: captum ``Occlusion``, the score drop when a window is greyed out.

``ATTRIBUTIONS`` lists them (one ``Method`` each, with a one-sentence summary). Every map is
min-max normalised: its smallest value becomes 0 and its largest 1; a constant map (for
example the all-zero Grad-CAM of a class with no positive evidence) becomes all zeros.

Thread safety. Streamlit sessions share one cached model (``load_model``) and call these
functions at the same time, while other code may run that model too (``predict``, feature maps).
Hooks on a shared model break under concurrency (captum's ``LayerGradCam`` raised "appears to
not have been used in the graph" in 44 of 800 calls with 4 threads), and captum's guided
backprop hooks would even fire inside another session's forward pass. So no method here ever
puts a hook on the model it is given: each runs on a private *twin* of the model
(``hooks.borrowed``), a copy of its module tree that shares the model's parameter and buffer
tensors (so it costs no memory and is never out of date), has no hooks of its own, runs in
eval mode and has every ``inplace`` flag switched off (an in-place ReLU would overwrite the
activation Grad-CAM needs). One twin is kept per model, with a lock: calls on one model take
turns, calls on different models run in parallel. A hook that an error left on a twin is never
reused: the twin is rebuilt.

Grad-CAM is computed here, once: ``grad_cam_maps`` records the chosen layers' activations in
one forward pass and takes their gradients in one backward pass; ``grad_cam``,
``grad_cam_native``, ``grad_cam_layers``, ``class_pass`` and the pointing game
(``cnnviz.trust``) are views of it. A layer that
does not fit (unknown, run twice, overwritten in place, no maps) raises ``LayerError``.

captum is imported inside the functions: importing it costs about 0.6 s, which ``import cnnviz``
should not pay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.network.hooks import (
    LayerError,
    borrowed,
    forward_hooks,
    get_layer,
)
from cnnviz.network.layers import ACTIVATIONS, is_unit
from cnnviz.network.tables import layer_table

# --- normalisation and upsampling: each rule in one place ----------------------------------


def normalise(values: np.ndarray | torch.Tensor) -> np.ndarray:
    """Min-max normalise a map to float32 in [0, 1]; a constant (e.g. all-zero) map gives zeros.

    values: any shape; NaN counts as 0. This matches pytorch-grad-cam's ``scale_cam_image``
    (which divides by max + 1e-7) up to that epsilon.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    lo, hi = (values.min(), values.max()) if values.size else (0.0, 0.0)
    if not hi > lo:
        return np.zeros(values.shape, np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of maps (B, 1, h, w) to (B, 1, *size), ``align_corners=False``.

    The same rule as captum's ``LayerAttribution.interpolate(..., "bilinear")`` and (for
    enlarging) OpenCV's ``cv2.resize``, which pytorch-grad-cam uses.
    """
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


# --- arguments -----------------------------------------------------------------------------


def check_input(image_tensor: torch.Tensor) -> torch.Tensor:
    """A fresh leaf copy of a (1, C, H, W) float input that requires grad.

    A copy, so an input made under ``torch.inference_mode`` (an inference tensor, which
    autograd refuses) works too, and the caller's tensor is never touched.
    """
    if (not isinstance(image_tensor, torch.Tensor) or image_tensor.ndim != 4
            or image_tensor.shape[0] != 1):
        shape = getattr(image_tensor, "shape", None)
        shape = tuple(shape) if shape is not None else type(image_tensor).__name__
        raise ValueError(f"expected one preprocessed image of shape (1, C, H, W), got {shape}")
    with torch.inference_mode(False):
        return image_tensor.detach().clone().float().requires_grad_(True)


def check_target(target: int, n_classes: int) -> int:
    if isinstance(target, bool) or not float(target).is_integer():
        raise ValueError(f"the target class must be an integer index, got {target!r}")
    target = int(target)
    if not 0 <= target < n_classes:
        raise ValueError(f"the target class {target} is out of range: this model has "
                         f"{n_classes} classes (0 to {n_classes - 1})")
    return target


def _n_classes(net: nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad():
        return int(net(x[:1].detach()).shape[1])


# --- Grad-CAM --------------------------------------------------------------------------------


def _recorded(net: nn.Module, x: torch.Tensor, layers: Sequence[str]
              ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One forward pass of a private ``net`` on x (B, C, H, W): (logits (B, n_classes), the
    output (B, K, h, w) of each of ``layers``). LayerError when a layer does not give exactly
    one map that stays as it was."""
    captured: dict[str, list[tuple[torch.Tensor, int]]] = {name: [] for name in layers}

    def keeper(name: str) -> Callable:
        def keep(_module, _inputs, output):
            if isinstance(output, torch.Tensor):
                captured[name].append((output, output._version))
        return keep

    with forward_hooks([(get_layer(net, name), keeper(name), False) for name in layers]):
        logits = net(x)  # (B, n_classes)
    activations = []
    for name in layers:
        if len(captured[name]) != 1:
            raise LayerError(
                f"Layer {name!r} gave {len(captured[name])} tensor outputs in one forward pass "
                "(a module used twice, such as the ReLU shared inside a ResNet block, or one "
                "not used at all); Grad-CAM needs exactly one.")
        activation, version = captured[name][0]
        if activation._version != version:
            # e.g. ``out += identity`` after a ResNet block's last batch norm
            raise LayerError(
                f"The output of layer {name!r} is overwritten in place later in the forward "
                "pass, so Grad-CAM cannot read it; choose the enclosing block or the next "
                "nonlinearity.")
        if activation.ndim != 4:
            raise LayerError(
                f"Layer {name!r} gives outputs of shape {tuple(activation.shape)}; Grad-CAM "
                "needs a convolutional layer with (1, K, h, w) maps.")
        activations.append(activation)
    return logits, activations


def grad_cam_maps(net: nn.Module, x: torch.Tensor, targets: Sequence[int],
                   layers: Sequence[str], input_grad: list | None = None
                   ) -> list[torch.Tensor]:
    """Grad-CAM of a batch at every layer of ``layers``, on a private ``net``: one (B, 1, h, w)
    map per layer at the layer's resolution, before upsampling and normalisation.

    x: (B, C, H, W); targets: B class indices. One forward and one backward pass for every
    layer at once. In eval mode the images do not interact, so the gradient of the summed
    target scores gives every image its own gradient. ``input_grad``: a list that receives
    the score's gradient with respect to ``x`` (the saliency gradient) from the same
    backward pass.
    """
    logits, activations = _recorded(net, x, layers)
    n_classes = logits.shape[1]
    targets = [check_target(t, n_classes) for t in targets]
    score = logits[torch.arange(len(targets)), torch.tensor(targets)].sum()
    wanted = [*activations, x] if input_grad is not None else activations
    grads = torch.autograd.grad(score, wanted, allow_unused=True)
    if input_grad is not None:
        *grads, dx = grads
        input_grad.append(torch.zeros_like(x) if dx is None else dx.detach())
    maps = []
    for activation, grad in zip(activations, grads, strict=True):
        if grad is None:  # the layer does not lead to the output
            maps.append(torch.zeros_like(activation[:, :1]).detach())
            continue
        weights = grad.mean(dim=(2, 3), keepdim=True)  # alpha_k^c, eq. (1) of the paper
        cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))  # eq. (2)
        maps.append(cam.detach())
    return maps


def grad_cam(model: nn.Module, image_tensor: torch.Tensor, target: int, layer: str
             ) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) of class ``target`` at ``layer``: float32 (H, W) in
    [0, 1].

    image_tensor: (1, C, H, W) as ``preprocess`` gives; layer: a name from
    ``model.named_modules()`` whose output is (1, K, h, w). The map is
    ReLU(sum_k alpha_k A_k) with alpha_k the spatial mean of d score / d A_k, upsampled
    bilinearly (align_corners=False) to (H, W) and min-max normalised (all zeros when no
    location has positive evidence). Thread-safe; leaves no hooks on ``model``.
    """
    x = check_input(image_tensor)
    get_layer(model, layer)  # a clear error before any work
    with borrowed(model) as net:
        (cam,) = grad_cam_maps(net, x, [target], [layer])  # (1, 1, h, w)
    return normalise(upsample(cam, tuple(x.shape[2:]))[0, 0])


def grad_cam_native(model: nn.Module, image_tensor: torch.Tensor, target: int, layer: str
                    ) -> np.ndarray:
    """Grad-CAM of class ``target`` at ``layer`` at the layer's own resolution: float32 (h, w).

    The map ``grad_cam`` computes before upsampling, ReLU(sum_k alpha_k A_k) on the layer's
    (h, w) grid (e.g. 8x8 for the shapes model's relu4), not normalised: its values are in the
    layer's units, so maps of one layer can be compared. ``normalise(upsample(...))`` of it is
    exactly ``grad_cam``. Thread-safe; leaves no hooks on ``model``.
    """
    x = check_input(image_tensor)
    get_layer(model, layer)
    with borrowed(model) as net:
        (cam,) = grad_cam_maps(net, x, [target], [layer])  # (1, 1, h, w)
    return cam[0, 0].numpy().astype(np.float32)


def grad_cam_layers(model: nn.Module, image_tensor: torch.Tensor, target: int,
                    layers: list[str]) -> list[np.ndarray]:
    """``grad_cam_native`` at every layer in ``layers`` from one forward and one backward pass:
    a list of float32 (h_i, w_i) maps, in the order of ``layers``.

    One pass instead of one per layer, so the "every layer at once" strip of a 26-layer VGG
    costs about what one Grad-CAM does. Thread-safe; leaves no hooks on ``model``.
    """
    x = check_input(image_tensor)
    for layer in layers:
        get_layer(model, layer)
    if not layers:
        return []
    with borrowed(model) as net:
        maps = grad_cam_maps(net, x, [target], layers)  # each (1, 1, h_i, w_i)
    return [cam[0, 0].numpy().astype(np.float32) for cam in maps]


@dataclass(frozen=True)
class ClassPass:
    """What one forward and one backward pass give for one class (``class_pass``): native
    Grad-CAM at each of ``layers`` (``cams[i]`` equals ``grad_cam_native`` at ``layers[i]``)
    and the saliency map (equal to ``saliency``)."""

    target: int
    layers: tuple[str, ...]
    cams: tuple[np.ndarray, ...]  # float32 (h_i, w_i), in the layer's units
    saliency: np.ndarray  # float32 (H, W) in [0, 1]

    def cam(self, layer: str) -> np.ndarray:
        """The native map at ``layer``; LayerError when it was not in the pass."""
        if layer not in self.layers:
            raise LayerError(f"Layer {layer!r} was not part of this pass; it has "
                             f"{', '.join(self.layers)}.")
        return self.cams[self.layers.index(layer)]

    def heat(self, layer: str, size: tuple[int, int]) -> np.ndarray:
        """``grad_cam`` at ``layer`` for an input of (H, W) = ``size``: the native map
        upsampled and normalised, float32 in [0, 1]."""
        cam = torch.tensor(self.cam(layer))[None, None]  # a copy: cached maps are read-only
        return normalise(upsample(cam, tuple(size))[0, 0])


def class_pass(model: nn.Module, image_tensor: torch.Tensor, target: int,
               layers: Sequence[str]) -> ClassPass:
    """Grad-CAM at every layer of ``layers`` and the saliency map of class ``target``, from
    one forward and one backward pass (the backward that reaches the input gives both).

    What the Grad-CAM page needs for a new class in one pass instead of three (the strip,
    the chosen layer, saliency): on EfficientNet-Lite0 at 224 about 67 ms on one thread,
    where the three took about 230. Thread-safe; leaves no hooks on ``model``.
    """
    x = check_input(image_tensor)
    if not layers:
        raise ValueError("class_pass needs at least one layer for Grad-CAM")
    for layer in layers:
        get_layer(model, layer)
    dx: list[torch.Tensor] = []
    with borrowed(model) as net:
        maps = grad_cam_maps(net, x, [target], list(layers), input_grad=dx)
    return ClassPass(int(target), tuple(layers),
                     tuple(cam[0, 0].numpy().astype(np.float32) for cam in maps),
                     _magnitude(dx[0]))


def cam_layers(model: nn.Module, input_shape: tuple[int, int, int]
               ) -> list[tuple[str, tuple[int, int]]]:
    """The layers Grad-CAM can be computed at, input end first, with their maps' (h, w).

    Every convolution, every nonlinearity right after one (with a 2-D map), and every
    top-level stage (ResNet's ``layer1`` ... ``layer4``) that runs once; a model's units
    (``is_unit``: EfficientNet's stem, 16 blocks and head) in place of what is inside them.
    A module run twice (the ReLU a ResNet block shares) is left out. One forward pass on zeros of
    ``(1, *input_shape)``: pass ``cnnviz.models.architecture(name)`` (meta device, no memory,
    no hooks on the shared model).
    """
    modules = dict(model.named_modules())
    rows = layer_table(model, input_shape)  # in call order: a stage before its children
    units = [n for n, m in modules.items() if n and is_unit(m)]
    chosen = []
    for row in rows:
        shape = row["output_shape"]
        if row["calls"] != 1 or shape is None or len(shape) != 3:
            continue
        name = row["name"]
        if any(name.startswith(u + ".") for u in units):
            continue  # inside a block: the block is the choice (EfficientNet's MBConv)
        module = modules[name]
        children = list(module.children())
        stage = (not row["is_leaf"] and row["depth"] == 1
                 and not all(is_unit(c) for c in children))  # not a mere list of blocks
        if isinstance(module, (nn.Conv2d, *ACTIVATIONS)) or stage or is_unit(module):
            # a stage's output comes after its last child's: order by that
            done = max(i for i, r in enumerate(rows)
                       if r["name"] == name or r["name"].startswith(name + "."))
            chosen.append((done, name, (int(shape[1]), int(shape[2]))))
    return [(name, size) for _, name, size in sorted(chosen, key=lambda c: c[0])]


# --- captum methods ----------------------------------------------------------------------------


def _magnitude(attr: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) -> (H, W): the largest absolute value over the channels, normalised."""
    return normalise(attr.detach().abs().amax(dim=1)[0])


def _positive(attr: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) -> (H, W): the positive part of the sum over the channels, normalised."""
    return normalise(attr.detach().sum(dim=1)[0].clamp(min=0))


class _GuidedClamp(torch.autograd.Function):
    """ReLU (``upper`` None) or ReLU6 (``upper`` 6) forward; backward, guided
    backpropagation's rule (Springenberg et al., 2015): the gradient the activation passes,
    where its input lies in its open range, and only its positive part."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float | None) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.upper = upper
        return x.clamp(min=0) if upper is None else x.clamp(0, upper)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        # The activation's own backward (the gradient where 0 < x, or 0 < x < upper), then its
        # positive part: torch's kernels, five times faster than comparing and multiplying.
        if ctx.upper is None:
            passed = torch.ops.aten.threshold_backward(grad, x, 0)
        else:
            passed = torch.ops.aten.hardtanh_backward(grad, x, 0.0, ctx.upper)
        return passed.clamp_(min=0), None


class GuidedActivation(nn.Module):
    """A ReLU or ReLU6 whose backward pass follows guided backpropagation (``_GuidedClamp``);
    the forward values are the activation's own."""

    def __init__(self, upper: float | None = None):
        super().__init__()
        self.upper = upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedClamp.apply(x, self.upper)


def _guided_stand_in(module: nn.Module) -> nn.Module | None:
    if type(module) is nn.ReLU:
        return GuidedActivation()
    if type(module) is nn.ReLU6:
        return GuidedActivation(6.0)
    return None


def guided_backprop(model: nn.Module, image_tensor: torch.Tensor, target: int) -> np.ndarray:
    """Guided backpropagation: the input gradient of the class score with every ReLU (and
    ReLU6) passing only positive gradients. float32 (C, H, W), signed.

    It equals captum's ``GuidedBackprop`` (tests/test_attribution.py), which rewrites the
    gradients of ``nn.ReLU`` modules with backward hooks: here the twin's activations are
    ``GuidedActivation`` modules instead (a twin of its own, ``borrowed(model, "guided")``),
    so there are no hooks, ReLU6 follows the same rule, and it costs one forward and one
    backward pass (EfficientNet-Lite0 at 224: about 66 ms against captum's 500 ms). Like
    captum, it only sees activations that are modules, not ``F.relu`` calls in ``forward``.
    """
    x = check_input(image_tensor)
    with borrowed(model, "guided", _guided_stand_in) as net:
        logits = net(x)  # (1, n_classes); the class is checked against it, no second pass
        target = check_target(target, logits.shape[1])
        (grad,) = torch.autograd.grad(logits[0, target], x)
    return grad[0].numpy().astype(np.float32)


def guided_grad_cam(model: nn.Module, image_tensor: torch.Tensor, target: int, layer: str,
                    *, guided: np.ndarray | None = None,
                    cam: np.ndarray | None = None) -> np.ndarray:
    """Guided Grad-CAM, as captum's ``GuidedGradCam``: guided-backprop gradients times the
    bilinearly upsampled Grad-CAM of ``layer``; the map is the largest absolute value over
    the colour channels, float32 (H, W) in [0, 1]. ``guided``: ``guided_backprop`` of this
    image and class, (C, H, W), when it was computed already (it does not depend on the
    layer), or its largest absolute value over the channels, (1, H, W): the map is the same,
    bit for bit, as the upsampled Grad-CAM is never negative (a third of the memory to keep);
    ``cam``: ``grad_cam_native`` of this image, class and layer, likewise.
    Thread-safe; leaves no hooks on ``model``."""
    x = check_input(image_tensor)
    get_layer(model, layer)
    if cam is None:
        with borrowed(model) as net:
            (cam,) = grad_cam_maps(net, x, [target], [layer])  # (1, 1, h, w), not upsampled
    else:
        cam = torch.tensor(np.asarray(cam, np.float32))[None, None]  # a copy: read-only cache
    if guided is None:
        guided = guided_backprop(model, x, target)
    attr = torch.tensor(np.asarray(guided))[None] * upsample(cam, tuple(x.shape[2:]))
    return _magnitude(attr)


def saliency(model: nn.Module, image_tensor: torch.Tensor, target: int) -> np.ndarray:
    """captum ``Saliency``: the largest absolute gradient of the class score over the colour
    channels of each pixel (Simonyan et al., 2014), float32 (H, W) in [0, 1]."""
    from captum.attr import Saliency

    x = check_input(image_tensor)
    with borrowed(model) as net:
        target = check_target(target, _n_classes(net, x))
        attr = Saliency(net).attribute(x, target=target, abs=True)  # (1, C, H, W)
    return _magnitude(attr)


def integrated_gradients(model: nn.Module, image_tensor: torch.Tensor, target: int, *,
                         steps: int = 32, baseline: float = 0.0, batch: int = 8,
                         return_delta: bool = False) -> np.ndarray | tuple[np.ndarray, float]:
    """captum ``IntegratedGradients`` (Sundararajan et al., 2017): the input gradient
    integrated along the straight path from ``baseline`` to the image, times the difference.

    baseline: the value of every input entry at the start of the path; 0 in standardised units
    is the training data's mean colour. steps: points of the Gauss-Legendre rule; batch: how
    many of them go through the network at once (memory). The batches run in channels-last
    memory order, which made ResNet-18 on one CPU thread about 15% faster (32 steps: 1.6 s
    instead of 1.95 s; batches of 8 were the fastest). The map is the positive part of the
    sum over the colour channels (evidence for the class), float32 (H, W) in [0, 1].
    return_delta=True also returns captum's convergence delta, sum(attributions) -
    (score(image) - score(baseline)): completeness says it is 0, and it shrinks as ``steps``
    grows.
    """
    from captum.attr import IntegratedGradients

    if int(steps) < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    x = check_input(image_tensor).contiguous(memory_format=torch.channels_last)  # see below
    with borrowed(model) as net:
        target = check_target(target, _n_classes(net, x))
        attr, delta = IntegratedGradients(net).attribute(
            x, baselines=float(baseline), target=target, n_steps=int(steps),
            internal_batch_size=max(1, int(batch)), return_convergence_delta=True)
    heat = _positive(attr)
    return (heat, float(delta.item())) if return_delta else heat


def _default_window(size: int) -> int:
    """An occlusion window an eighth of the image side (at least 2 pixels)."""
    return max(2, -(-size // 8))


def default_occlusion(shape: tuple[int, int]) -> tuple[int, int]:
    """(window, stride) ``occlusion`` uses by default on an (H, W) input: an eighth of the
    shorter side, moved by half of it."""
    window = _default_window(min(shape))
    return window, max(1, window // 2)


def occlusion_windows(shape: tuple[int, int], window: int, stride: int) -> int:
    """How many window positions captum's ``Occlusion`` tries on an (H, W) image."""
    return int(np.prod([-(-(s - window) // stride) + 1 for s in shape]))


def occlusion(model: nn.Module, image_tensor: torch.Tensor, target: int, *,
              window: int | None = None, stride: int | None = None, baseline: float = 0.0,
              batch: int = 8, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """captum ``Occlusion`` (Zeiler and Fergus, 2014): how much the class score falls when a
    ``window`` x ``window`` square over all channels, moved by ``stride``, is set to
    ``baseline`` (0: the mean colour); each pixel gets the average over the windows covering
    it. The map is the positive part (rises count as 0), float32 (H, W) in [0, 1].

    window: default an eighth of the image side; stride: default half the window; batch: how
    many occluded images go through the network at once (channels-last memory order, as in
    ``integrated_gradients``: ResNet-18 on one thread 6 s instead of 8 s).
    progress(fraction) is called after every batch with the share of window positions done,
    ending with 1.0.
    """
    from captum.attr import Occlusion

    x = check_input(image_tensor).contiguous(memory_format=torch.channels_last)
    _, channels, height, width = x.shape
    window = int(window) if window is not None else _default_window(min(height, width))
    stride = int(stride) if stride is not None else max(1, window // 2)
    if not 1 <= window <= min(height, width):
        raise ValueError(f"the occlusion window must be 1 to {min(height, width)} pixels, "
                         f"got {window}")
    if not 1 <= stride <= window:
        raise ValueError(f"the occlusion stride must be 1 to the window ({window}), got {stride}")
    total = occlusion_windows((height, width), window, stride)
    done = [-1]  # occluded images evaluated; captum's first call is the unoccluded image

    with borrowed(model) as net:
        target = check_target(target, _n_classes(net, x))

        def forward(inputs: torch.Tensor) -> torch.Tensor:
            out = net(inputs)
            done[0] += inputs.shape[0] if done[0] >= 0 else 1
            if progress is not None and done[0] > 0:
                progress(min(1.0, done[0] / total))
            return out

        with torch.no_grad():
            attr = Occlusion(forward).attribute(
                x.detach(), sliding_window_shapes=(channels, window, window),
                strides=(channels, stride, stride), baselines=float(baseline), target=target,
                perturbations_per_eval=max(1, int(batch)))  # (1, C, H, W)
    if progress is not None:
        progress(1.0)
    return _positive(attr / channels)  # every channel holds the same value: the mean


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """One attribution method: its function and what to tell a student about it."""

    name: str  # key in ATTRIBUTIONS
    title: str  # for a picker
    summary: str  # one sentence: what the map shows
    needs_layer: bool  # whether the function takes a layer name
    function: Callable[..., np.ndarray]

    def __call__(self, model: nn.Module, image_tensor: torch.Tensor, target: int,
                 layer: str | None = None, **options) -> np.ndarray:
        """The heat map float32 (H, W) in [0, 1]; ``layer`` is passed on only if needed."""
        if self.needs_layer:
            if layer is None:
                raise LayerError(f"{self.title} needs a layer name")
            return self.function(model, image_tensor, target, layer, **options)
        return self.function(model, image_tensor, target, **options)


ATTRIBUTIONS: dict[str, Method] = {
    method.name: method for method in (
        Method("grad_cam", "Grad-CAM",
               "Where in the chosen layer's feature maps the evidence for the class lies: each "
               "map weighted by how much the class score grows with it on average, summed, "
               "negatives cut to zero, and stretched to the image.",
               True, grad_cam),
        Method("guided_grad_cam", "Guided Grad-CAM",
               "Pixel-sharp detail inside the Grad-CAM region: guided backpropagation (input "
               "gradients with every negative signal stopped at the ReLUs) times Grad-CAM.",
               True, guided_grad_cam),
        Method("integrated_gradients", "Integrated Gradients",
               "How much each pixel adds to the class score compared with a plain mean-colour "
               "image, summing the gradients along the fade from that image to this one.",
               False, integrated_gradients),
        Method("saliency", "Saliency (gradient)",
               "How sensitive the class score is to a tiny change of each pixel: the size of "
               "the gradient.",
               False, saliency),
        Method("occlusion", "Occlusion",
               "How much the class score drops when a grey square covers each place in turn.",
               False, occlusion),
    )
}

#: A good layer for Grad-CAM in each registry model: the last convolutional stage, after its
#: nonlinearity (measured for shapes: see pointing_game and bench/bench_attribution.py).
RECOMMENDED_LAYERS: dict[str, str] = {
    "digits": "relu2",
    "lenet5": "tanh2",
    "shapes": "relu4",
    "alexnet": "features.11",
    "vgg16": "features.29",
    "resnet18": "layer4",
    # The 1×1 head (1280×7×7): on the cat-and-coffee picture, 84% of the cat map lies on the
    # cat and 83% of the espresso map on the cup (stage7: 82%, 82%; tests/test_efficientnet).
    "efficientnet_lite0": "head",
}


def get_method(method: str) -> Method:
    try:
        return ATTRIBUTIONS[method]
    except KeyError:
        raise ValueError(f"unknown attribution method {method!r}; known methods: "
                         f"{', '.join(ATTRIBUTIONS)}") from None



__all__ = [
    "ATTRIBUTIONS",
    "RECOMMENDED_LAYERS",
    "ClassPass",
    "GuidedActivation",
    "Method",
    "cam_layers",
    "check_input",
    "check_target",
    "class_pass",
    "default_occlusion",
    "get_method",
    "grad_cam",
    "grad_cam_layers",
    "grad_cam_maps",
    "grad_cam_native",
    "guided_backprop",
    "guided_grad_cam",
    "integrated_gradients",
    "normalise",
    "occlusion",
    "occlusion_windows",
    "saliency",
    "upsample",
]
