"""Cached wrappers around the library for the playground pages.

Keys are a digest of the image's bytes and the settings, so two students with the same
image and settings share one result and nothing else. The float pixel values (6 MB for
512×512×3) are never hashed again: they travel as :class:`Values`, whose ``key`` names
them. The look-ups made on every rerun (steps, figures, pictures) go through
``ui.memo``, keyed by that text; the rest through Streamlit's caches.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from cnnviz import plots
from cnnviz.export import conv_steps_gif, pool_steps_gif
from cnnviz.images import encode_png, to_gray
from cnnviz.ops import (
    ConvParams,
    ConvSteps,
    PoolParams,
    PoolSteps,
    conv2d,
    conv_steps,
    pool2d,
    pool_steps,
)
from ui.memo import memo

Region = tuple[int, int, int, int]
CACHE = dict(max_entries=64, ttl=3600, show_spinner=False)
# Step data and figures are kept as objects (not pickled: pickling a 6 MB padded image on
# every cache write cost a quarter of a rerun), shared by every session, and only read.
# They are looked up by a text key (ui.memo) several times a rerun.
STEPS = dict(max_entries=32, ttl=3600)
FIGURES = dict(max_entries=32, ttl=3600)


@dataclass(frozen=True, eq=False)
class Values:
    """The pixel values a page computes on, and a short key that identifies them."""

    array: np.ndarray  # float64 (H, W, C): 0-1 ("unit") or 0-255 ("raw")
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
    return _values(f"{digest}:{'gray' if gray else 'rgb'}:{scale}", pixels, gray, scale)


@memo(**STEPS)
def _values(key: str, pixels: np.ndarray, gray: bool, scale: str) -> Values:
    arr = to_gray(pixels)[:, :, None] if gray else pixels
    values = arr.astype(np.float64)
    if scale == "unit":
        values /= 255.0
    values.setflags(write=False)  # shared by every session that has this image
    return Values(values, key)


# --- convolution --------------------------------------------------------------------------


def _conv_key(values: Values, params: ConvParams, *rest) -> str:
    """A cache key: the image, every setting and weight (ConvParams' repr), and `rest`."""
    return "|".join([values.key, repr(params), *map(repr, rest)])


def conv_result(values: Values, params: ConvParams, region: Region, relu: bool):
    """(steps, full output) of one convolution; the full output in float32 for speed.

    The whole image is convolved once per kernel and geometry, without the bias: a new
    bias or ReLU only adds or clips, and moving the zoom box only gathers the new windows.
    """
    unbiased = dataclasses.replace(params, bias=0.0)
    base = _conv_base(_conv_key(values, unbiased), values.array, unbiased)
    raw, shown = _conv_output(_conv_key(values, params, relu), base, params.bias, relu)
    steps = _conv_steps(_conv_key(values, params, region), values.array, params, region, raw)
    return steps, shown


@memo(**STEPS)
def _conv_base(key: str, array: np.ndarray, unbiased: ConvParams) -> np.ndarray:
    base = conv2d(array, unbiased.kernel_array, **unbiased.options(), dtype=np.float32)
    base.setflags(write=False)
    return base


@memo(**STEPS)
def _conv_output(key: str, base: np.ndarray, bias: float, relu: bool):
    """(conv2d's output, the output shown): `base` + bias (as conv2d adds it, in float32),
    then the ReLU if asked."""
    raw = base + np.float32(bias) if bias else base
    shown = np.maximum(raw, 0) if relu else raw
    raw.setflags(write=False)
    shown.setflags(write=False)
    return raw, shown


@memo(**STEPS)
def _conv_steps(key: str, array: np.ndarray, params: ConvParams, region: Region,
                output: np.ndarray) -> ConvSteps:
    return conv_steps(array, params.kernel_array, **params.options(), region=region,
                      output=output)


def conv_figure(values: Values, params: ConvParams, region: Region, steps: ConvSteps,
                start: int, frame_ms: int):
    """The step-through of `steps`, which ``conv_result(values, params, region, ...)`` gave."""
    # The frames' bulk (patches, products, outlines) depends on the windows only: a new
    # bias, ReLU, opening step or speed reuses it.
    windows = _conv_key(values, dataclasses.replace(params, bias=0.0), region)
    frames = _conv_frames(windows, steps)
    names = ["R", "G", "B"] if values.shape[2] == 3 else ["gray"]
    return _conv_figure(_conv_key(values, params, region, start, frame_ms), steps, start,
                        frame_ms, names, frames)


@memo(**FIGURES)
def _conv_frames(key: str, steps: ConvSteps) -> plots.StepFrames:
    return plots.conv_step_frames(steps)


@memo(**FIGURES)
def _conv_figure(key: str, steps: ConvSteps, start: int, frame_ms: int, names: list[str],
                 frames: plots.StepFrames):
    return plots.conv_step_figure(steps, start=start, frame_ms=frame_ms, channel_names=names,
                                  frames=frames)


# --- pooling ------------------------------------------------------------------------------


def pool_result(values: Values, params: PoolParams, region: Region) -> PoolSteps:
    return _pool_result(f"{values.key}|{params!r}|{region!r}", values.array, params, region)


@memo(**STEPS)
def _pool_result(key: str, array: np.ndarray, params: PoolParams, region: Region) -> PoolSteps:
    return pool_steps(array, **params.options(), region=region)


def pool_full(values: Values, params: PoolParams) -> np.ndarray:
    return _pool_full(values.array, values.key, params)


@st.cache_data(**CACHE)
def _pool_full(_array: np.ndarray, key: str, params: PoolParams) -> np.ndarray:
    return pool2d(_array, **params.options())


def pool_figure(values: Values, params: PoolParams, region: Region, start: int, frame_ms: int,
                channel: int):
    steps = pool_result(values, params, region)
    key = f"{values.key}|{params!r}|{region!r}|{start}|{frame_ms}|{channel}"
    return _pool_figure(key, steps, start, frame_ms, channel)


@memo(**FIGURES)
def _pool_figure(key: str, steps: PoolSteps, start: int, frame_ms: int, channel: int):
    return plots.pool_step_figure(steps, start=start, frame_ms=frame_ms, channel=channel)


# --- pictures and downloads ---------------------------------------------------------------


def picture(image: np.ndarray, title: str, box: Region | None = None, colorbar_title: str = "",
            *, name: str | None = None):
    """plots.picture, cached: encoding a 512×512 picture costs several milliseconds.

    ``name`` identifies the pixels (an image digest plus what was computed from it): the
    cache then keys on it instead of hashing a megabyte of pixels on every rerun, and the
    encoded picture is kept apart from the figure, so a new box or title reuses it.
    """
    if name is None:
        return _picture(image, title, box, colorbar_title)
    source = _picture_source(name, image)
    return _named_picture(f"{name}|{title}|{box!r}|{colorbar_title}", source, title, box,
                          colorbar_title)


@st.cache_resource(**FIGURES, show_spinner=False)
def _picture(image: np.ndarray, title: str, box: Region | None, colorbar_title: str):
    return plots.picture(image, title=title, box=box, colorbar_title=colorbar_title)


@memo(**FIGURES)
def _picture_source(name: str, image: np.ndarray) -> plots.PictureSource:
    return plots.picture_source(image)


@memo(**FIGURES)
def _named_picture(key: str, source: plots.PictureSource, title: str, box: Region | None,
                   colorbar_title: str):
    return plots.picture(source=source, title=title, box=box, colorbar_title=colorbar_title)


# Downloads are made when the button is clicked (st.download_button runs a callable then),
# not on every rerun: a GIF takes about half a second.


def conv_gif(steps: ConvSteps, frame_ms: int) -> Callable[[], bytes]:
    return lambda: conv_steps_gif(steps, frame_ms=frame_ms)


def pool_gif(steps: PoolSteps, frame_ms: int) -> Callable[[], bytes]:
    return lambda: pool_steps_gif(steps, frame_ms=frame_ms)


def png(picture: np.ndarray) -> Callable[[], bytes]:
    """uint8 (H, W, 3) as it is, or a float map (H, W) in the colours the page shows."""

    def make() -> bytes:
        if picture.ndim == 3:
            return encode_png(picture)
        zmin, zmax, diverging = plots.value_range(picture)
        return encode_png(plots.colorize(picture, zmin, zmax, diverging))

    return make
