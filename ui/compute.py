"""Cached wrappers around the library for the pages: arrays in ``st.cache_data``.

Keys are the image bytes and small hashable parameter values, so two students
with the same image and settings share one result and nothing else.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import plots
from cnnviz.export import conv_steps_gif, pool_steps_gif
from cnnviz.images import encode_png, to_gray
from cnnviz.ops import ConvParams, PoolParams, conv_steps, pool2d, pool_steps

Region = tuple[int, int, int, int]
CACHE = dict(max_entries=64, ttl=3600, show_spinner=False)
# Figures are kept as objects (cache_resource): pickling them on every hit would cost more
# than building them. Callers only read them.
FIGURES = dict(max_entries=32, ttl=3600, show_spinner=False)


def as_values(pixels: np.ndarray, *, gray: bool, scale: str) -> np.ndarray:
    """uint8 (H, W, 3) -> float64 (H, W, C) pixel values: 0-1 ("unit") or 0-255 ("raw")."""
    arr = to_gray(pixels)[:, :, None] if gray else pixels
    values = arr.astype(np.float64)
    return values / 255.0 if scale == "unit" else values


@st.cache_data(**CACHE)
def conv_result(values: np.ndarray, params: ConvParams, region: Region, relu: bool):
    """(steps, full output) of one convolution; the full output in float32 for speed."""
    steps = conv_steps(values, params.kernel_array, **params.options(), region=region,
                       output_dtype=np.float32)
    output = np.maximum(steps.output, 0) if relu else steps.output
    return steps, output


@st.cache_resource(**FIGURES)
def conv_figure(values: np.ndarray, params: ConvParams, region: Region, relu: bool, start: int,
                frame_ms: int):
    steps, _ = conv_result(values, params, region, relu)
    names = ["R", "G", "B"] if values.shape[2] == 3 else ["gray"]
    return plots.conv_step_figure(steps, start=start, frame_ms=frame_ms, channel_names=names)


@st.cache_data(**CACHE)
def conv_gif(values: np.ndarray, params: ConvParams, region: Region, relu: bool,
             frame_ms: int) -> bytes:
    steps, _ = conv_result(values, params, region, relu)
    return conv_steps_gif(steps, frame_ms=frame_ms)


@st.cache_data(**CACHE)
def map_png(values: np.ndarray) -> bytes:
    """A float map as a coloured PNG (same colours as the page shows)."""
    zmin, zmax, diverging = plots.value_range(values)
    return encode_png(plots.colorize(values, zmin, zmax, diverging))


@st.cache_data(**CACHE)
def pool_result(values: np.ndarray, params: PoolParams, region: Region):
    steps = pool_steps(values, **params.options(), region=region)
    return steps


@st.cache_data(**CACHE)
def pool_full(values: np.ndarray, params: PoolParams) -> np.ndarray:
    return pool2d(values, **params.options())


@st.cache_resource(**FIGURES)
def pool_figure(values: np.ndarray, params: PoolParams, region: Region, start: int,
                frame_ms: int, channel: int):
    steps = pool_result(values, params, region)
    return plots.pool_step_figure(steps, start=start, frame_ms=frame_ms, channel=channel)


@st.cache_data(**CACHE)
def pool_gif(values: np.ndarray, params: PoolParams, region: Region, frame_ms: int) -> bytes:
    return pool_steps_gif(pool_result(values, params, region), frame_ms=frame_ms)
