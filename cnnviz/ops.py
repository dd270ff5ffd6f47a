"""Convolution and pooling on numpy arrays, with PyTorch doing the arithmetic.

Images are (H, W) or (H, W, C) arrays of any real dtype (uint8 included);
results are float64 so that the numbers shown to a student are exact up to
rounding. Like every deep-learning library, "convolution" here is
cross-correlation: the kernel is not flipped.

Besides the full results, `conv_steps` and `pool_steps` return every window
of a region of the output at once (positions, patches, products, sums), so a
page can animate the sliding window without recomputing anything. All sizes
come from `cnnviz.arithmetic`, the one home of the formulas.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from cnnviz.arithmetic import (
    ParameterError,
    as_pair,
    output_shape,
    pool_output_shape,
    resolve_padding,
)

__all__ = [
    "MAX_STEPS",
    "PADDING_MODES",
    "ConvParams",
    "ConvSteps",
    "PoolParams",
    "PoolSteps",
    "conv2d",
    "conv_steps",
    "global_avg_pool",
    "pool2d",
    "pool_steps",
    # building blocks for the whole layer (cnnviz.layer, cnnviz.backward)
    "ConvGeometry",
    "as_hwc",
    "conv_geometry",
    "from_torch",
    "pad_hwc",
    "read_only",
    "to_torch",
    "window_taps",
]

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
MAX_STEPS = 4096  # windows one step-through may hold: 64 x 64 output pixels

IntOrPair = int | tuple[int, int]
PaddingSpec = int | tuple[int, int] | tuple[int, int, int, int] | str
Region = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, output coordinates


# ---------------------------------------------------------------------------
# Parameters as hashable values (cache keys, URL state)


def _nested_tuple(a: np.ndarray) -> tuple:
    if a.ndim == 1:
        return tuple(float(v) for v in a)
    return tuple(_nested_tuple(row) for row in a)


@dataclass(frozen=True)
class ConvParams:
    """Settings of one convolution, hashable so it can be a cache key.

    `kernel` may be given as an array; it is stored as nested tuples of
    floats, (kh, kw) or (kh, kw, C). Ints become (h, w) pairs, so
    ConvParams(stride=2) == ConvParams(stride=(2, 2)).
    Use as ``conv2d(image, p.kernel_array, **p.options())``.
    """

    kernel: tuple = ((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 0.0))  # identity
    stride: IntOrPair = (1, 1)
    padding: PaddingSpec = (0, 0)  # pixels (h, w), (top, bottom, left, right), "same", "valid"
    dilation: IntOrPair = (1, 1)  # 1 = no gaps between kernel taps
    bias: float = 0.0  # added to every output pixel
    padding_mode: PaddingMode = "zeros"  # what the padding pixels hold
    flip: bool = False  # true convolution: the kernel turned 180° before it slides

    def __post_init__(self) -> None:
        kernel = np.asarray(self.kernel, dtype=np.float64)
        if kernel.ndim not in (2, 3) or kernel.size == 0:
            raise ParameterError("A kernel must be a non-empty grid of numbers (kh, kw).")
        object.__setattr__(self, "kernel", _nested_tuple(kernel))
        object.__setattr__(self, "stride", as_pair(self.stride, "stride"))
        object.__setattr__(self, "dilation", as_pair(self.dilation, "dilation"))
        padding = self.padding
        if not isinstance(padding, str):
            if isinstance(padding, (tuple, list)) and len(padding) == 4:
                padding = resolve_padding(padding, (1, 1))
            else:
                padding = as_pair(padding, "padding")
        object.__setattr__(self, "padding", padding)
        object.__setattr__(self, "bias", _as_bias(self.bias))
        object.__setattr__(self, "flip", bool(self.flip))
        _check_padding_mode(self.padding_mode)

    @property
    def kernel_array(self) -> np.ndarray:
        """The kernel as a float64 array, (kh, kw) or (kh, kw, C)."""
        return np.array(self.kernel, dtype=np.float64)

    def options(self) -> dict:
        """Keyword arguments for `conv2d` and `conv_steps` (everything but the kernel)."""
        return {
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "bias": self.bias,
            "padding_mode": self.padding_mode,
            "flip": self.flip,
        }


@dataclass(frozen=True)
class PoolParams:
    """Settings of one pooling layer; use as ``pool2d(image, **p.options())``."""

    kind: Literal["max", "avg"] = "max"
    size: IntOrPair = (2, 2)  # window (h, w)
    stride: IntOrPair | None = None  # None: same as the window size (torch's default)
    padding: IntOrPair = (0, 0)  # at most half the window size

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        object.__setattr__(self, "size", as_pair(self.size, "pooling window size"))
        if self.stride is not None:
            object.__setattr__(self, "stride", as_pair(self.stride, "stride"))
        object.__setattr__(self, "padding", as_pair(self.padding, "padding"))

    def options(self) -> dict:
        """Keyword arguments for `pool2d` and `pool_steps`."""
        return {
            "kind": self.kind,
            "size": self.size,
            "stride": self.stride,
            "padding": self.padding,
        }


# ---------------------------------------------------------------------------
# Input checking and padding


def as_hwc(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) real array -> float64 (H, W, C)."""
    a = np.asarray(image)
    if a.dtype.kind not in "biuf":
        raise ParameterError(f"An image must hold numbers, not values of type {a.dtype}.")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ParameterError(
            f"An image must have shape (height, width) or (height, width, channels), not {a.shape}."
        )
    if a.shape[0] < 1 or a.shape[1] < 1 or a.shape[2] < 1:
        raise ParameterError(f"The image is empty (shape {a.shape}).")
    return _forward_strides(a.astype(np.float64, copy=False))


def _as_kernel(kernel: np.ndarray, channels: int) -> np.ndarray:
    """(kh, kw) or (kh, kw, C) real array -> float64 (kh, kw, channels).

    A 2-D kernel is repeated for every channel, which is what one filter of
    a conv layer with that kernel in every input slice would compute.
    """
    k = np.asarray(kernel)
    if k.dtype.kind not in "biuf":
        raise ParameterError(f"A kernel must hold numbers, not values of type {k.dtype}.")
    if k.ndim == 2:
        k = np.repeat(k[:, :, None], channels, axis=2)
    if k.ndim != 3 or k.shape[0] < 1 or k.shape[1] < 1:
        raise ParameterError(
            f"A kernel must have shape (height, width) or (height, width, channels), not {k.shape}."
        )
    if k.shape[2] != channels:
        raise ParameterError(
            f"The kernel has {k.shape[2]} channels but the image has {channels}: "
            "use a 2-D kernel or one kernel slice per image channel."
        )
    return _forward_strides(k.astype(np.float64, copy=False))


def _flipped(k: np.ndarray, flip: bool) -> np.ndarray:
    """(kh, kw, C) turned 180° in the plane when `flip` (true convolution), as a new array."""
    return k[::-1, ::-1].copy() if flip else k


def _forward_strides(a: np.ndarray) -> np.ndarray:
    """`a`, copied if it is a reversed view: torch cannot view memory backwards, and
    ``np.ascontiguousarray`` keeps a negative stride on an axis of length 1 (an array like
    ``k[::-1, ::-1]`` of shape (1, 1, C) counts as contiguous)."""
    return a.copy() if any(st < 0 for st in a.strides) else a


def _as_bias(bias: float) -> float:
    try:
        value = float(bias)
    except (TypeError, ValueError):
        raise ParameterError(f"The bias must be a number, not {bias!r}.") from None
    if not np.isfinite(value):
        raise ParameterError("The bias must be a finite number.")
    return value


def _check_padding_mode(mode: str) -> None:
    if mode not in PADDING_MODES:
        raise ParameterError(
            f"Padding mode must be one of {', '.join(PADDING_MODES)}, not {mode!r}."
        )


def _check_kind(kind: str) -> None:
    if kind not in ("max", "avg"):
        raise ParameterError(f"Pooling must be 'max' or 'avg', not {kind!r}.")


def to_torch(img: np.ndarray, copy: bool = False) -> torch.Tensor:
    """float64 (H, W, C) -> tensor (1, C, H, W); ``copy``: always a new array (one that
    autograd may own), not a view of a contiguous one."""
    planes = img.transpose(2, 0, 1)
    return torch.from_numpy(np.array(planes) if copy else np.ascontiguousarray(planes))[None]


def from_torch(t: torch.Tensor) -> np.ndarray:
    """Tensor (1, C, H, W) -> (H, W, C) array: the layout of ``to_torch``'s input."""
    return np.ascontiguousarray(t.detach()[0].permute(1, 2, 0).numpy())


def pad_hwc(
    img: np.ndarray,
    pads: tuple[int, int, int, int],
    mode: str = "zeros",
    value: float = 0.0,
) -> np.ndarray:
    """Pad float64 (H, W, C) by (top, bottom, left, right) -> float64 (Hp, Wp, C).

    The same values as ``torch.nn.functional.pad`` (constant / reflect / replicate /
    circular), made in NumPy in the (H, W, C) layout the step-through reads, with one
    copy of the image: a 512×512×3 picture is 6 MB, and every extra copy costs a rerun.
    """
    _check_padding_mode(mode)
    top, bottom, left, right = pads
    h, w = img.shape[:2]
    if mode == "zeros":
        out = (np.zeros if value == 0 else np.full)(
            (h + top + bottom, w + left + right, img.shape[2]),
            *(() if value == 0 else (value,)), dtype=np.float64)
        out[top : top + h, left : left + w] = img
        return out
    # torch's own limits: reflect mirrors without repeating the edge pixel, so
    # it needs pad < size; circular may wrap around at most once.
    if mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        raise ParameterError(
            f"Reflect padding must be smaller than the image ({h}×{w} pixels): "
            "a mirror image cannot be wider than the image it mirrors. "
            "Use less padding or the 'replicate' mode."
        )
    if mode == "circular" and (max(top, bottom) > h or max(left, right) > w):
        raise ParameterError(
            f"Circular padding can be at most the image size ({h}×{w} pixels): "
            "it wraps the image around once, not several times."
        )
    # NumPy's names for torch's modes: reflect = reflect, replicate = edge, circular = wrap
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(img, ((top, bottom), (left, right), (0, 0)), mode=numpy_mode)


#: Padded copies of read-only images, most recent last: (id, shape, pads, mode, value) -> array.
#: A page that changes the bias or the kernel pads the same 6 MB picture the same way again;
#: a fresh 6 MB array costs about 1,500 page faults, which on a busy 2-core server took
#: 10-40 ms of a rerun. Only read-only images are remembered (they cannot change under the
#: cache), and an entry goes when its image is garbage-collected.
_PADDED: OrderedDict[tuple, np.ndarray] = OrderedDict()
_PADDED_MAX = 8
_PADDED_LOCK = threading.Lock()


def _forget_padded(image_id: int) -> None:
    with _PADDED_LOCK:
        for key in [k for k in _PADDED if k[0] == image_id]:
            del _PADDED[key]


def _pad_once(img: np.ndarray, pads: tuple[int, int, int, int], mode: str = "zeros",
              value: float = 0.0) -> np.ndarray:
    """`_pad`, remembered for read-only images; the result is read-only."""
    if img.flags.writeable:
        return pad_hwc(img, pads, mode, value)
    key = (id(img), img.shape, tuple(pads), mode, value)
    with _PADDED_LOCK:
        hit = _PADDED.get(key)
        if hit is not None:
            _PADDED.move_to_end(key)
            return hit
    padded = pad_hwc(img, pads, mode, value)
    padded.setflags(write=False)
    with _PADDED_LOCK:
        if not any(k[0] == key[0] for k in _PADDED):
            weakref.finalize(img, _forget_padded, key[0])
        _PADDED[key] = padded
        while len(_PADDED) > _PADDED_MAX:
            _PADDED.popitem(last=False)
    return padded


@dataclass(frozen=True)
class ConvGeometry:
    """A sliding window's sizes, checked (``conv_geometry``)."""

    kernel_hw: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, bottom, left, right)
    out_hw: tuple[int, int]


def conv_geometry(
    in_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    stride: IntOrPair,
    padding: PaddingSpec,
    dilation: IntOrPair,
) -> ConvGeometry:
    s = as_pair(stride, "stride")
    d = as_pair(dilation, "dilation")
    out_hw = output_shape(in_hw, kernel_hw, s, padding, d)  # validates everything
    pads = resolve_padding(padding, kernel_hw, d, s)
    return ConvGeometry(kernel_hw, s, d, pads, out_hw)


# ---------------------------------------------------------------------------
# Convolution


def conv2d(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: IntOrPair = 1,
    padding: PaddingSpec = 0,
    dilation: IntOrPair = 1,
    bias: float = 0.0,
    padding_mode: PaddingMode = "zeros",
    dtype: type = np.float64,
    flip: bool = False,
) -> np.ndarray:
    """One output map of a single filter sliding over an image.

    image: (H, W) or (H, W, C), any real dtype.
    kernel: (kh, kw, C), or (kh, kw), which is applied to every channel and
        summed, exactly as a (kh, kw, C) kernel repeating it would be.
    stride, dilation: int or (h, w). padding: int, (h, w),
        (top, bottom, left, right), "valid" or "same" (stride 1 only).
    padding_mode: "zeros", "reflect", "replicate" or "circular".
    dtype: np.float64 (default, exact to the last digit a page shows, by torch) or
        np.float32 (OpenCV's filter2D, checked against torch in the tests; about 50x
        faster on a CPU; pages use it for whole-image pictures, never for the numbers
        of a step-through).
    flip: True for the convolution of mathematics: the kernel turned 180° first (deep
        learning's "convolution" is cross-correlation; the two agree for symmetric kernels).
    Returns (H_out, W_out) of `dtype`: cross-correlation plus `bias`, computed by
    torch.nn.functional.conv2d. Impossible settings raise ParameterError.
    """
    torch_dtype = _torch_dtype(dtype)
    img = as_hwc(image)
    k = _flipped(_as_kernel(kernel, img.shape[2]), flip)
    geo = conv_geometry(img.shape[:2], k.shape[:2], stride, padding, dilation)
    padded = _pad_once(img, geo.pads, padding_mode)  # (Hp, Wp, C); kept for read-only images
    return _conv_padded(padded, k, _as_bias(bias), geo, torch_dtype)


def _conv_padded(padded: np.ndarray, k: np.ndarray, bias: float, geo: ConvGeometry,
                 torch_dtype: torch.dtype) -> np.ndarray:
    """The cross-correlation of an already padded (Hp, Wp, C) input: (H_out, W_out)."""
    if torch_dtype == torch.float32:
        return _correlate_float32(padded, k, bias, geo)
    with warnings.catch_warnings():
        # A kept padded copy is read-only (_pad_once); torch warns about any read-only array,
        # but conv2d only reads its input.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        x = torch.from_numpy(padded).permute(2, 0, 1)[None]  # (1, C, Hp, Wp), a view
    weight = torch.from_numpy(np.ascontiguousarray(k.transpose(2, 0, 1)))[None]  # (1, C, kh, kw)
    b = torch.tensor([bias], dtype=torch.float64)
    x, weight, b = x.to(torch_dtype), weight.to(torch_dtype), b.to(torch_dtype)
    out = F.conv2d(x, weight, b, stride=geo.stride, padding=0, dilation=geo.dilation)
    return out[0, 0].numpy()


_TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def _torch_dtype(dtype: type) -> torch.dtype:
    """The torch dtype of conv2d's `dtype`; ParameterError for anything but float64/32."""
    torch_dtype = _TORCH_DTYPES.get(np.dtype(dtype))
    if torch_dtype is None:
        raise ParameterError("conv2d computes in float64 or float32.")
    return torch_dtype


def _correlate_float32(padded: np.ndarray, k: np.ndarray, bias: float,
                       geo: ConvGeometry) -> np.ndarray:
    """The float32 path of conv2d: OpenCV's filter2D, 4-5x faster than torch on one CPU core
    (it switches to the DFT for big kernels). Tests check it against torch.

    padded: (Hp, Wp, C), already padded. Returns float32 (H_out, W_out).
    """
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel_hw, geo.stride, geo.dilation
    out_h, out_w = geo.out_hw
    # Dilation as a bigger kernel with zeros between the taps.
    dilated = np.zeros((dh * (kh - 1) + 1, dw * (kw - 1) + 1, k.shape[2]), np.float32)
    dilated[::dh, ::dw] = k
    span_h, span_w = dilated.shape[:2]
    channels = padded.shape[2]
    if channels > 1 and (k == k[:, :, :1]).all():
        # One slice for every channel: Σ_c (x_c ⋆ k) = (Σ_c x_c) ⋆ k, so the channels are
        # added first and filtered once (a third of the work on a colour image).
        planes = padded[:, :, 0].astype(np.float32)
        for c in range(1, channels):
            planes += padded[:, :, c]
        planes, dilated = planes[:, :, None], dilated[:, :, :1]
    else:
        planes = padded
    total = np.zeros(padded.shape[:2], np.float32)
    for c in range(planes.shape[2]):
        # anchor (0, 0): out[i, j] = Σ kernel[u, v] · x[i + u, j + v], a cross-correlation
        total += cv2.filter2D(np.ascontiguousarray(planes[:, :, c], np.float32), cv2.CV_32F,
                              np.ascontiguousarray(dilated[:, :, c]), anchor=(0, 0),
                              borderType=cv2.BORDER_CONSTANT)
    valid = total[: padded.shape[0] - span_h + 1, : padded.shape[1] - span_w + 1]
    out = valid[::sh, ::sw][:out_h, :out_w] + np.float32(bias)
    return np.ascontiguousarray(out, dtype=np.float32)


# ---------------------------------------------------------------------------
# Pooling


def pool2d(
    image: np.ndarray,
    *,
    kind: Literal["max", "avg"] = "max",
    size: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> np.ndarray:
    """Max or average pooling of every channel, as torch's max_pool2d/avg_pool2d.

    image: (H, W) or (H, W, C), any real dtype. `stride=None` means stride =
    size; padding is at most half the window. Max pooling pads with -inf,
    average pooling with 0 and divides by the full window (count_include_pad).
    Returns float64 (H_out, W_out) for a 2-D image, (H_out, W_out, C) otherwise.
    """
    _check_kind(kind)
    img = as_hwc(image)
    k = as_pair(size, "pooling window size")
    s = k if stride is None else as_pair(stride, "stride")
    p = as_pair(padding, "padding") if not isinstance(padding, str) else padding
    pool_output_shape(img.shape[:2], k, s, p)  # validates, with sentences
    x = to_torch(img)
    if kind == "max":
        out = F.max_pool2d(x, k, s, p)
    else:
        out = F.avg_pool2d(x, k, s, p, ceil_mode=False, count_include_pad=True)
    out = out[0].numpy().transpose(1, 2, 0)  # (H_out, W_out, C)
    return out[:, :, 0] if np.ndim(image) == 2 else out


def global_avg_pool(image: np.ndarray) -> np.ndarray:
    """Mean of every channel over all pixels: (H, W, C) -> (C,), (H, W) -> (1,). float64."""
    img = as_hwc(image)
    return F.adaptive_avg_pool2d(to_torch(img), 1)[0, :, 0, 0].numpy()


# ---------------------------------------------------------------------------
# Step-through data


def read_only(*arrays: np.ndarray | None) -> None:
    for a in arrays:
        if a is not None:
            a.setflags(write=False)


def window_taps(
    out_hw: tuple[int, int],
    region: Region | None,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    kernel_hw: tuple[int, int],
) -> tuple[np.ndarray, ...]:
    """Output positions of `region` and the padded coordinates their windows read.

    Returns out_rows, out_cols, window_rows, window_cols (n,), tap_rows (n, kh),
    tap_cols (n, kw), in row-major order over the region.
    """
    h_out, w_out = out_hw
    if region is None:
        region = (0, h_out, 0, w_out)
    if not isinstance(region, (tuple, list)) or len(region) != 4:
        raise ParameterError("A zoom box is (first row, end row, first column, end column).")
    r0, r1, c0, c1 = (as_pair(v, "zoom box")[0] for v in region)
    if not (0 <= r0 < r1 <= h_out and 0 <= c0 < c1 <= w_out):
        raise ParameterError(
            f"The zoom box rows {r0}–{r1} and columns {c0}–{c1} must lie inside the "
            f"{h_out}×{w_out} output and contain at least one pixel."
        )
    n = (r1 - r0) * (c1 - c0)
    if n > MAX_STEPS:
        raise ParameterError(
            f"Stepping through {n:,} output pixels is too many to show at once; "
            f"choose a zoom box of at most {MAX_STEPS:,} pixels (for example 64×64)."
        )
    out_rows, out_cols = np.meshgrid(
        np.arange(r0, r1, dtype=np.int64), np.arange(c0, c1, dtype=np.int64), indexing="ij"
    )
    out_rows, out_cols = out_rows.ravel(), out_cols.ravel()  # (n,)
    window_rows = out_rows * stride[0]  # top-left corner, padded coordinates
    window_cols = out_cols * stride[1]
    tap_rows = window_rows[:, None] + dilation[0] * np.arange(kernel_hw[0])[None, :]  # (n, kh)
    tap_cols = window_cols[:, None] + dilation[1] * np.arange(kernel_hw[1])[None, :]  # (n, kw)
    return out_rows, out_cols, window_rows, window_cols, tap_rows, tap_cols


def _from_padding(
    tap_rows: np.ndarray, tap_cols: np.ndarray, pads: tuple[int, ...], in_hw: tuple[int, int]
) -> np.ndarray:
    """(n, kh, kw) bool: which taps read a padding pixel rather than the image."""
    top, _, left, _ = pads
    row_out = (tap_rows < top) | (tap_rows >= top + in_hw[0])  # (n, kh)
    col_out = (tap_cols < left) | (tap_cols >= left + in_hw[1])  # (n, kw)
    return row_out[:, :, None] | col_out[:, None, :]


def _input_box(tap_rows: np.ndarray, tap_cols: np.ndarray, pads: tuple[int, ...],
               padded_hw: tuple[int, ...]) -> Region:
    """The image pixels (unpadded, half-open (row0, row1, col0, col1)) that the windows'
    taps read; at least one pixel a side even when every tap reads padding."""
    top, bottom, left, right = pads
    in_h, in_w = padded_hw[0] - top - bottom, padded_hw[1] - left - right
    r0 = max(int(tap_rows.min()) - top, 0)
    r1 = min(int(tap_rows.max()) - top + 1, in_h)
    c0 = max(int(tap_cols.min()) - left, 0)
    c1 = min(int(tap_cols.max()) - left + 1, in_w)
    return (r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))


@dataclass(frozen=True, eq=False)
class ConvSteps:
    """Every window of a convolution over a region of the output, n of them.

    Coordinates of windows and taps are in the padded input; subtract
    pads[0] (rows) and pads[2] (columns) for image coordinates.
    Invariant: sums[i] == output[out_rows[i], out_cols[i]].
    """

    padded: np.ndarray  # (Hp, Wp, C) float64: the input after padding
    kernel: np.ndarray  # (kh, kw, C) float64: a 2-D kernel repeated per channel
    bias: float
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, bottom, left, right)
    output: np.ndarray  # (H_out, W_out): the full result of conv2d (float64 unless asked)
    out_rows: np.ndarray  # (n,) int: output row of each step
    out_cols: np.ndarray  # (n,) int
    window_rows: np.ndarray  # (n,) int: top-left corner of the window, padded coordinates
    window_cols: np.ndarray  # (n,) int
    tap_rows: np.ndarray  # (n, kh) int: padded row each kernel row reads (dilation included)
    tap_cols: np.ndarray  # (n, kw) int
    from_padding: np.ndarray  # (n, kh, kw) bool: tap reads padding, not the image
    patches: np.ndarray  # (n, kh, kw, C) float64: the pixels under the kernel
    products: np.ndarray  # (n, kh, kw, C) float64: patches * kernel
    channel_sums: np.ndarray  # (n, C) float64: products summed per channel
    sums: np.ndarray  # (n,) float64: channel_sums summed, plus bias

    @property
    def input_box(self) -> Region:
        """The image pixels the steps' windows read: half-open (row0, row1, col0, col1) in
        image (unpadded) coordinates, the box a page draws on the input."""
        return _input_box(self.tap_rows, self.tap_cols, self.pads, self.padded.shape)


def conv_steps(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: IntOrPair = 1,
    padding: PaddingSpec = 0,
    dilation: IntOrPair = 1,
    bias: float = 0.0,
    padding_mode: PaddingMode = "zeros",
    region: Region | None = None,
    output_dtype: type = np.float64,
    output: np.ndarray | None = None,
    flip: bool = False,
) -> ConvSteps:
    """All the windows of `conv2d` over `region` of the output, computed at once.

    Arguments are those of `conv2d`; `region` = (row0, row1, col0, col1),
    half-open, in output coordinates (default: the whole output). More than
    MAX_STEPS windows raise ParameterError suggesting a zoom box.
    `output_dtype` is conv2d's `dtype` for the full `output` (np.float32 is much
    faster on big images); the step values (patches, products, sums) are float64.
    `output`: the full output, when the caller already has it from `conv2d` (or an
    earlier `conv_steps`) with this image and these settings, for a new region only.
    `flip`: as in `conv2d`; the steps' kernel is then the turned one, the one that slides.
    """
    img = as_hwc(image)
    k = _flipped(_as_kernel(kernel, img.shape[2]), flip)
    bias = _as_bias(bias)
    geo = conv_geometry(img.shape[:2], k.shape[:2], stride, padding, dilation)
    out_rows, out_cols, win_r, win_c, tap_r, tap_c = window_taps(
        geo.out_hw, region, geo.stride, geo.dilation, geo.kernel_hw
    )
    torch_dtype = _torch_dtype(output_dtype)
    padded = _pad_once(img, geo.pads, padding_mode)  # (Hp, Wp, C), for both uses
    if output is None:
        output = _conv_padded(padded, k, bias, geo, torch_dtype)  # exactly what conv2d computes
    elif output.shape != geo.out_hw:
        raise ParameterError(f"the output given is {output.shape[0]}×{output.shape[1]}, but "
                             f"these settings give {geo.out_hw[0]}×{geo.out_hw[1]}")
    patches = padded[tap_r[:, :, None], tap_c[:, None, :]]  # (n, kh, kw, C)
    products = patches * k[None]  # (n, kh, kw, C)
    channel_sums = products.sum(axis=(1, 2))  # (n, C)
    sums = channel_sums.sum(axis=1) + bias  # (n,)
    steps = ConvSteps(
        padded=padded, kernel=k.copy(), bias=bias, stride=geo.stride,
        dilation=geo.dilation, pads=geo.pads, output=output,
        out_rows=out_rows, out_cols=out_cols, window_rows=win_r, window_cols=win_c,
        tap_rows=tap_r, tap_cols=tap_c,
        from_padding=_from_padding(tap_r, tap_c, geo.pads, img.shape[:2]),
        patches=patches, products=products, channel_sums=channel_sums, sums=sums,
    )
    read_only(
        steps.padded, steps.kernel, steps.output, out_rows, out_cols, win_r, win_c, tap_r,
        tap_c, steps.from_padding, patches, products, channel_sums, sums,
    )
    return steps


@dataclass(frozen=True, eq=False)
class PoolSteps:
    """Every window of a pooling over a region of the output, n of them.

    Coordinates are in the padded input (see ConvSteps). The output always
    has a channel axis here. Invariant: values[i] == output[out_rows[i], out_cols[i]].
    """

    kind: str  # "max" or "avg"
    padded: np.ndarray  # (Hp, Wp, C) float64: -inf padding for max, 0 for avg
    size: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, bottom, left, right), symmetric
    output: np.ndarray  # (H_out, W_out, C) float64: the full result of pool2d
    out_rows: np.ndarray  # (n,) int
    out_cols: np.ndarray  # (n,) int
    window_rows: np.ndarray  # (n,) int: top-left corner, padded coordinates
    window_cols: np.ndarray  # (n,) int
    tap_rows: np.ndarray  # (n, kh) int
    tap_cols: np.ndarray  # (n, kw) int
    from_padding: np.ndarray  # (n, kh, kw) bool
    patches: np.ndarray  # (n, kh, kw, C) float64
    values: np.ndarray  # (n, C) float64: max or mean of each patch
    winner: np.ndarray | None  # (n, C, 2) int: (row, col) of the max, padded coords; None for avg

    @property
    def input_box(self) -> Region:
        """The image pixels the steps' windows read (see ``ConvSteps.input_box``)."""
        return _input_box(self.tap_rows, self.tap_cols, self.pads, self.padded.shape)


def pool_steps(
    image: np.ndarray,
    *,
    kind: Literal["max", "avg"] = "max",
    size: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    region: Region | None = None,
) -> PoolSteps:
    """All the windows of `pool2d` over `region` of the output, computed at once.

    Arguments are those of `pool2d`; `region` as in `conv_steps`. For max
    pooling the winner is the first maximum in row-major order, as in torch.
    """
    _check_kind(kind)
    img = as_hwc(image)
    k = as_pair(size, "pooling window size")
    s = k if stride is None else as_pair(stride, "stride")
    p = as_pair(padding, "padding") if not isinstance(padding, str) else padding
    out_hw = pool_output_shape(img.shape[:2], k, s, p)
    pads = (p[0], p[0], p[1], p[1])
    out_rows, out_cols, win_r, win_c, tap_r, tap_c = window_taps(out_hw, region, s, (1, 1), k)
    fill = -np.inf if kind == "max" else 0.0
    padded = _pad_once(img, pads, "zeros", value=fill)
    output = pool2d(img, kind=kind, size=k, stride=s, padding=p)  # (H_out, W_out, C)
    patches = padded[tap_r[:, :, None], tap_c[:, None, :]]  # (n, kh, kw, C)
    n, c = patches.shape[0], patches.shape[3]
    winner = None
    if kind == "max":
        flat = patches.reshape(n, k[0] * k[1], c)
        best = flat.argmax(axis=1)  # (n, C): first maximum, row-major
        values = np.take_along_axis(flat, best[:, None, :], axis=1)[:, 0, :]
        winner = np.stack(
            [win_r[:, None] + best // k[1], win_c[:, None] + best % k[1]], axis=-1
        )  # (n, C, 2)
    else:
        values = patches.mean(axis=(1, 2))  # padding zeros count: count_include_pad
    steps = PoolSteps(
        kind=kind, padded=padded, size=k, stride=s, pads=pads, output=output,
        out_rows=out_rows, out_cols=out_cols, window_rows=win_r, window_cols=win_c,
        tap_rows=tap_r, tap_cols=tap_c,
        from_padding=_from_padding(tap_r, tap_c, pads, img.shape[:2]),
        patches=patches, values=values, winner=winner,
    )
    read_only(
        padded, output, out_rows, out_cols, win_r, win_c, tap_r, tap_c,
        steps.from_padding, patches, values, winner,
    )
    return steps
