"""What the whole-layer pages compute (Transposed convolution, How a layer learns), kept
between reruns.

They work on a small version of the current image (its longer side a few cells to 64
pixels, values 0–1) and on a layer's worth of weights: filter 0 holds the kernel the user
chose, in every slice; the other filters are random numbers from a fixed seed, so a link
gives everybody the same layer. Keys name the image by its digest and the settings by their
values (``LayerSettings`` is frozen and hashable).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import cnnviz
from cnnviz import RawFigure
from ui.cache.memo import memo
from ui.cache.playground import Values

__all__ = [
    "INPUT_MAPS",
    "LayerSettings",
    "backprop",
    "descent",
    "grad_figure",
    "input_maps",
    "layer_output",
    "overlaps",
    "small_values",
    "transposed",
    "transposed_figure",
]

KEPT = dict(max_entries=32, ttl=3600)
LOOK_BACK = 10  # how many steps back a gradient-descent run may go on from a kept one
Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class LayerSettings:
    """One layer: kernel (kh, kw) for filter 0, channels in and out, and its geometry."""

    kernel: tuple  # nested tuples of floats, (kh, kw)
    channels: int = 1  # C: the input's channels
    filters: int = 1  # F
    groups: int = 1
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    output_padding: tuple[int, int] = (0, 0)  # transposed only
    seed: int = 0  # of the random filters 1 … F − 1

    def __post_init__(self) -> None:  # hashable, whatever the caller gave
        kernel = np.asarray(self.kernel, dtype=np.float64)
        object.__setattr__(self, "kernel", tuple(tuple(float(v) for v in row)
                                                 for row in kernel))
        for name in ("stride", "padding", "dilation", "output_padding"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))

    @property
    def kernel_array(self) -> np.ndarray:
        return np.array(self.kernel, dtype=np.float64)

    def weights(self, transposed: bool = False) -> np.ndarray:
        """(F, C/g, kh, kw), or (C, F/g, kh, kw) for a transposed layer: filter 0 is the
        kernel in every slice, the others random (normal, scaled by 1/√(fan-in))."""
        k = self.kernel_array
        per_in, per_out = self.channels // self.groups, self.filters // self.groups
        shape = (self.channels, per_out) if transposed else (self.filters, per_in)
        rng = np.random.default_rng(self.seed)
        w = rng.normal(size=(*shape, *k.shape)) / np.sqrt(max(per_in * k.size, 1))
        if transposed:
            w[:per_in, 0] = k  # output channel 0 reads channels 0 … C/g − 1 of group 0
        else:
            w[0] = k
        w.setflags(write=False)
        return w

    def options(self, transposed: bool = False) -> dict:
        out = dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                   groups=self.groups)
        if transposed:
            out["output_padding"] = self.output_padding
        return out


def small_values(pixels: np.ndarray, digest: str, side: int, gray: bool) -> Values:
    """The image shrunk so its longer side is at most ``side`` (area interpolation; a small
    image is kept as it is), as float values 0–1, grey or RGB."""
    return _small(digest, int(side), bool(gray), pixels)


@memo(**KEPT)
def _small(digest: str, side: int, gray: bool, _pixels: np.ndarray) -> Values:
    small = cnnviz.fit_within(np.ascontiguousarray(_pixels), side)
    arr = cnnviz.to_gray(small)[:, :, None] if gray else cnnviz.ensure_rgb(small)
    values = arr.astype(np.float64) / 255.0
    values.setflags(write=False)
    return Values(values, f"{digest}:{side}:{'gray' if gray else 'rgb'}")


# --- the whole layer ------------------------------------------------------------------------

#: The input maps of the Layer page: the image's colours, then what classic kernels make of
#: its grey version, as a layer before this one would.
INPUT_MAPS = ("R", "G", "B", "sobel_x", "sobel_y", "laplacian", "gaussian_blur", "sharpen")


def input_maps(pixels: np.ndarray, digest: str, side: int, channels: int) -> Values:
    """The first ``channels`` of INPUT_MAPS on the image shrunk to ``side``: (H, W, C)."""
    return _input_maps(digest, int(side), int(channels), pixels)


@memo(**KEPT)
def _input_maps(digest: str, side: int, channels: int, _pixels: np.ndarray) -> Values:
    rgb = small_values(_pixels, digest, side, False).array
    grey = small_values(_pixels, digest, side, True).array[:, :, 0]
    maps = [rgb[:, :, i] for i in range(3)]
    maps += list(cnnviz.preset_responses(grey, INPUT_MAPS[3:]).astype(np.float64))
    stack = np.ascontiguousarray(np.stack(maps[:channels], axis=2))
    stack.setflags(write=False)
    return Values(stack, f"{digest}:{side}:maps{channels}")


def layer_output(values: Values, settings: LayerSettings) -> np.ndarray:
    """``conv2d_layer`` of the input with the settings' weights: (H_out, W_out, F)."""
    return _layer_output(values.key, settings, values.array)


@memo(**KEPT)
def _layer_output(values: str, settings: LayerSettings, _array: np.ndarray) -> np.ndarray:
    out = cnnviz.conv2d_layer(_array, settings.weights(), None, **settings.options())
    out.setflags(write=False)
    return out


# --- transposed convolution -------------------------------------------------------------------


def transposed(values: Values, settings: LayerSettings, channel: int, view: str,
               region: Region | None):
    """(the step data of output channel ``channel`` as ``view`` shows it, the whole output
    (H_out, W_out, F)): ``transpose_scatter`` (region: input cells) or ``transpose_as_conv``
    (region: output cells)."""
    return _transposed(values.key, settings, channel, view, region, values.array)


@memo(**KEPT)
def _transposed(values: str, settings: LayerSettings, channel: int, view: str,
                region: Region | None, _array: np.ndarray):
    w = settings.weights(transposed=True)
    options = settings.options(transposed=True)
    out = cnnviz.conv_transpose2d(_array, w, None, **options)
    out.setflags(write=False)
    make = cnnviz.transpose_scatter if view == "scatter" else cnnviz.transpose_as_conv
    return make(_array, w, None, channel=channel, region=region, **options), out


def overlaps(in_hw: tuple[int, int], kernel_hw: tuple[int, int],
             settings: LayerSettings) -> np.ndarray:
    """``overlap_counts`` of these settings: the stamps that land on each output cell."""
    return _overlaps(tuple(in_hw), tuple(kernel_hw), settings.stride, settings.padding,
                     settings.output_padding, settings.dilation)


@memo(**KEPT)
def _overlaps(in_hw, kernel_hw, stride, padding, output_padding, dilation) -> np.ndarray:
    counts = cnnviz.overlap_counts(in_hw, kernel_hw, stride, padding, output_padding, dilation)
    counts.setflags(write=False)
    return counts


def transposed_figure(values: Values, settings: LayerSettings, channel: int, view: str,
                      region: Region | None, start: int, frame_ms: int) -> RawFigure:
    data, _ = transposed(values, settings, channel, view, region)
    return _transposed_figure(values.key, settings, channel, view, region, start, frame_ms,
                              data, values.array)


@memo(**KEPT)
def _transposed_figure(values: str, settings: LayerSettings, channel: int, view: str,
                       region: Region | None, start: int, frame_ms: int, _data,
                       _array: np.ndarray) -> RawFigure:
    if view == "scatter":
        per_in = settings.channels // settings.groups
        first = (channel // (settings.filters // settings.groups)) * per_in
        return cnnviz.scatter_figure(_data, _array[:, :, first], start=start, frame_ms=frame_ms)
    names = ["R", "G", "B"] if _data.kernel.shape[2] == 3 else None
    return cnnviz.conv_step_figure(_data.steps, start=start, frame_ms=frame_ms,
                                   channel_names=names)


# --- how a layer learns -----------------------------------------------------------------------


def backprop(values: Values, settings: LayerSettings, target: str, relu: bool,
             pool: str, lr: float, steps: int) -> tuple[cnnviz.Backprop, list, np.ndarray]:
    """(the forward and backward pass after ``steps`` steps of gradient descent, the
    history [(loss, weight, bias)], the target map). The target is what the kernel preset
    ``target`` computes on the same input (with the same ReLU and pooling): the layer
    learns to become that kernel."""
    return _backprop(values.key, settings, target, relu, pool, lr, steps, values.array)


def _pool_options(pool: str) -> dict | None:
    return None if pool == "none" else dict(kind=pool, size=2, stride=None, padding=0)


@memo(**KEPT)
def _backprop(values: str, settings: LayerSettings, target: str, relu: bool, pool: str,
              lr: float, steps: int, _array: np.ndarray):
    teacher = dataclasses.replace(settings, kernel=cnnviz.PRESETS[target].kernel.tolist(),
                                  seed=settings.seed + 1)
    options = settings.options()
    aim = cnnviz.forward(_array, teacher.weights(), None, relu=relu, pool=_pool_options(pool),
                         **options)[2]
    weight, bias = settings.weights(), np.zeros(settings.filters)
    # Steps are taken one or ten at a time: go on from the latest run kept, not from zero.
    history: list = []
    for back in range(1, min(steps, LOOK_BACK) + 1):
        kept = _backprop.peek(values, settings, target, relu, pool, lr, steps - back, _array)
        if kept is not None:
            history = list(kept[1])
            if history:
                weight, bias = history[-1][1], history[-1][2]
            break
    if steps > len(history):
        history += cnnviz.descend(_array, weight, bias, aim, lr=lr, steps=steps - len(history),
                                  relu=relu, pool=_pool_options(pool), **options)
    if history:
        weight, bias = history[-1][1], history[-1][2]
    run = cnnviz.backprop(_array, weight, bias, aim, relu=relu, pool=_pool_options(pool),
                          **options)
    aim.setflags(write=False)
    return run, history, aim


def descent(values: Values, settings: LayerSettings, target: str, relu: bool, pool: str,
            lr: float, steps: int) -> list[float]:
    """The loss before each of ``steps`` steps and after the last."""
    run, history, _ = backprop(values, settings, target, relu, pool, lr, steps)
    return [h[0] for h in history] + [run.loss]


def grad_figure(values: Values, settings: LayerSettings, target: str, relu: bool, pool: str,
                lr: float, steps: int, kind: str, index: int, region: Region | None,
                start: int, frame_ms: int) -> tuple[RawFigure, str]:
    """The weight gradient of filter ``index`` (kind "weight") or the input gradient on
    channel ``index`` (kind "input"), window by window over ``region``; and the caption of
    step ``start`` in plain text (the figure's text alternative)."""
    run, history, _ = backprop(values, settings, target, relu, pool, lr, steps)
    weight = history[-1][1] if history else settings.weights()
    return _grad_figure(values.key, settings, target, relu, pool, lr, steps, kind, index,
                        region, start, frame_ms, run, weight, values.array)


@memo(**KEPT)
def _grad_figure(values: str, settings: LayerSettings, target: str, relu: bool, pool: str,
                 lr: float, steps: int, kind: str, index: int, region: Region | None,
                 start: int, frame_ms: int, _run, _weight, _array: np.ndarray):
    options = settings.options()
    names = ["R", "G", "B"] if _array.shape[2] == 3 and settings.groups == 1 else None
    if kind == "weight":
        data, partial = cnnviz.weight_grad_steps(_array, _weight, _run.grad_conv,
                                                 filter=index, region=region, **options)
        figure = cnnviz.weight_grad_figure(data, partial, data.padded,
                                           _run.grad_conv[:, :, index],
                                           start=start, frame_ms=frame_ms, channel_names=names)
    else:
        data = cnnviz.input_grad_steps(_array, _weight, _run.grad_conv, region=region,
                                       **options)
        figure = cnnviz.grad_stamps_figure(data, _run.grad_conv.sum(axis=2), index,
                                           start=start, frame_ms=frame_ms)
    return figure, cnnviz.plain(figure.to_dict()["layout"]["title"]["text"])
