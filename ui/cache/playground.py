"""What the Convolution and Pooling pages compute, kept between reruns.

Keys name the image by its digest and the settings by their values (``ConvParams`` and
``PoolParams`` are frozen and hashable), so two students with the same image and settings
share one result and nothing else. The float pixel values (6 MB for 512×512×3) are never
hashed: they travel as :class:`Values`, whose ``key`` names them, as an underscore argument.

Results are kept as objects (not pickled: pickling a 6 MB padded image on every cache write
cost a quarter of a rerun), shared by every session, and only read: their arrays are
read-only.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import cnnviz
from cnnviz import ConvParams, ConvSteps, PoolParams, PoolSteps, RawFigure
from ui.cache.memo import memo

__all__ = [
    "Values",
    "as_values",
    "conv_figure",
    "conv_gif",
    "conv_result",
    "picture",
    "png",
    "pool_figure",
    "pool_full",
    "pool_gif",
    "pool_result",
]

Region = tuple[int, int, int, int]
STEPS = dict(max_entries=32, ttl=3600)  # step data and whole outputs: up to 6 MB each
FIGURES = dict(max_entries=32, ttl=3600)


@dataclass(frozen=True, eq=False)
class Values:
    """The pixel values a page computes on, and a short key that identifies them."""

    array: np.ndarray  # float64 (H, W, C): 0-1 ("unit") or 0-255 ("raw"); read-only
    key: str  # image digest + channel mode + scale

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape


def as_values(pixels: np.ndarray, *, gray: bool, scale: str, digest: str | None = None) -> Values:
    """uint8 (H, W, 3) -> the float pixel values of the playground pages.

    `digest` names the pixels (``CurrentImage.digest``); it is computed when not given.
    The values are kept per image and mode, so a rerun does not convert 6 MB again.
    """
    if not digest:
        digest = hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(),
                                 digest_size=16).hexdigest()
    return _values(f"{digest}:{'gray' if gray else 'rgb'}:{scale}", gray, scale, pixels)


@memo(**STEPS)
def _values(key: str, gray: bool, scale: str, _pixels: np.ndarray) -> Values:
    arr = cnnviz.to_gray(_pixels)[:, :, None] if gray else _pixels
    values = arr.astype(np.float64)
    if scale == "unit":
        values /= 255.0
    values.setflags(write=False)  # shared by every session that has this image
    return Values(values, key)


# --- convolution --------------------------------------------------------------------------


def conv_result(values: Values, params: ConvParams, region: Region,
                relu: bool) -> tuple[ConvSteps, np.ndarray]:
    """(steps, full output) of one convolution; the full output in float32 for speed.

    The whole image is convolved once per kernel and geometry, without the bias: a new
    bias or ReLU only adds or clips, and moving the zoom box only gathers the new windows.
    """
    unbiased = dataclasses.replace(params, bias=0.0)
    base = _conv_base(values.key, unbiased, values.array)
    raw, shown = _conv_output(values.key, params, relu, base)
    steps = _conv_steps(values.key, params, region, values.array, raw)
    return steps, shown


@memo(**STEPS)
def _conv_base(values: str, unbiased: ConvParams, _array: np.ndarray) -> np.ndarray:
    """The whole output without the bias: OpenCV's ``filter2D`` in float32 (``conv2d`` with
    ``dtype=float32``; the tests check it against torch)."""
    base = cnnviz.conv2d(_array, unbiased.kernel_array, **unbiased.options(), dtype=np.float32)
    base.setflags(write=False)
    return base


@memo(**STEPS)
def _conv_output(values: str, params: ConvParams, relu: bool, _base: np.ndarray):
    """(conv2d's output, the output shown): `base` + bias (as conv2d adds it, in float32),
    then the ReLU if asked."""
    raw = _base + np.float32(params.bias) if params.bias else _base
    shown = np.maximum(raw, 0) if relu else raw
    raw.setflags(write=False)
    shown.setflags(write=False)
    return raw, shown


@memo(**STEPS)
def _conv_steps(values: str, params: ConvParams, region: Region, _array: np.ndarray,
                _output: np.ndarray) -> ConvSteps:
    """The windows of the zoom box, their products and sums: ``conv_steps`` in float64 on
    torch, each sum checked against the whole output."""
    return cnnviz.conv_steps(_array, params.kernel_array, **params.options(), region=region,
                             output=_output)


def conv_figure(values: Values, params: ConvParams, region: Region, steps: ConvSteps,
                start: int, frame_ms: int) -> RawFigure:
    """The step-through of `steps`, which ``conv_result(values, params, region, ...)`` gave."""
    # The frames' bulk (patches, products, outlines) depends on the windows only: a new
    # bias, ReLU, opening step or speed reuses it.
    frames = _conv_frames(values.key, dataclasses.replace(params, bias=0.0), region, steps)
    names = ("R", "G", "B") if values.shape[2] == 3 else ("gray",)
    return _conv_figure(values.key, params, region, start, frame_ms, names, steps, frames)


@memo(**FIGURES)
def _conv_frames(values: str, unbiased: ConvParams, region: Region,
                 _steps: ConvSteps) -> cnnviz.StepFrames:
    return cnnviz.conv_step_frames(_steps)


@memo(**FIGURES)
def _conv_figure(values: str, params: ConvParams, region: Region, start: int, frame_ms: int,
                 names: tuple[str, ...], _steps: ConvSteps,
                 _frames: cnnviz.StepFrames) -> RawFigure:
    return cnnviz.conv_step_figure(_steps, start=start, frame_ms=frame_ms,
                                   channel_names=list(names), frames=_frames)


# --- pooling ------------------------------------------------------------------------------


def pool_result(values: Values, params: PoolParams, region: Region) -> PoolSteps:
    return _pool_steps(values.key, params, region, values.array)


@memo(**STEPS)
def _pool_steps(values: str, params: PoolParams, region: Region,
                _array: np.ndarray) -> PoolSteps:
    return cnnviz.pool_steps(_array, **params.options(), region=region)


def pool_full(values: Values, params: PoolParams) -> np.ndarray:
    """The whole pooled output (out_h, out_w, C), read-only: ``pool2d`` on torch."""
    return _pool_full(values.key, params, values.array)


@memo(**STEPS)
def _pool_full(values: str, params: PoolParams, _array: np.ndarray) -> np.ndarray:
    out = cnnviz.pool2d(_array, **params.options())
    out.setflags(write=False)
    return out


def pool_figure(values: Values, params: PoolParams, region: Region, start: int, frame_ms: int,
                channel: int) -> RawFigure:
    steps = pool_result(values, params, region)
    return _pool_figure(values.key, params, region, start, frame_ms, channel, steps)


@memo(**FIGURES)
def _pool_figure(values: str, params: PoolParams, region: Region, start: int, frame_ms: int,
                 channel: int, _steps: PoolSteps) -> RawFigure:
    return cnnviz.pool_step_figure(_steps, start=start, frame_ms=frame_ms, channel=channel)


# --- pictures and downloads ---------------------------------------------------------------


def picture(image: np.ndarray, title: str, box: Region | None = None, colorbar_title: str = "",
            *, name: str) -> RawFigure:
    """``cnnviz.picture``, kept: encoding a 512×512 picture costs several milliseconds.

    ``name`` identifies the pixels (an image digest plus what was computed from it): the
    picture is keyed on it instead of on a megabyte of pixels, and its encoding is kept apart
    from the figure, so a new box or title reuses it.
    """
    source = _picture_source(name, image)
    return _named_picture(name, title, box, colorbar_title, source)


@memo(**FIGURES)
def _picture_source(name: str, _image: np.ndarray) -> cnnviz.PictureSource:
    return cnnviz.picture_source(_image)


@memo(**FIGURES)
def _named_picture(name: str, title: str, box: Region | None, colorbar_title: str,
                   _source: cnnviz.PictureSource) -> RawFigure:
    return cnnviz.picture(source=_source, title=title, box=box, colorbar_title=colorbar_title)


# Downloads are made when the button is clicked (st.download_button runs a callable then),
# not on every rerun: a GIF takes about half a second.


def conv_gif(steps: ConvSteps, frame_ms: int) -> Callable[[], bytes]:
    return lambda: cnnviz.conv_steps_gif(steps, frame_ms=frame_ms)


def pool_gif(steps: PoolSteps, frame_ms: int) -> Callable[[], bytes]:
    return lambda: cnnviz.pool_steps_gif(steps, frame_ms=frame_ms)


def png(picture: np.ndarray) -> Callable[[], bytes]:
    """uint8 (H, W, 3) as it is, or a float map (H, W) in the colours the page shows."""

    def make() -> bytes:
        if picture.ndim == 3:
            return cnnviz.encode_png(picture)
        zmin, zmax, diverging = cnnviz.value_range(picture)
        return cnnviz.encode_png(cnnviz.colorize(picture, zmin, zmax, diverging))

    return make
