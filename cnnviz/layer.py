"""The whole convolution layer on arrays: F filters over C channels in groups, and the
transposed convolution, with torch doing the arithmetic.

Layouts are an image's, (H, W, C), for inputs and outputs, and torch's for weights:
``conv2d_layer`` takes (F, C/groups, kh, kw) as ``nn.Conv2d.weight``, ``conv_transpose2d``
takes (C, F/groups, kh, kw) as ``nn.ConvTranspose2d.weight``. Every result is float64 and
equals ``torch.nn.functional.conv2d`` / ``conv_transpose2d``.

A transposed convolution is shown two ways, and both add up to its output:
- ``transpose_scatter``: each input cell stamps a scaled copy of the kernel onto the output,
  and overlapping stamps add up;
- ``transpose_as_conv``: the input with s − 1 zeros between its cells, padded by
  d·(k − 1) − p (and the output padding at the bottom and right), convolved with the kernel
  turned 180°: conv_arithmetic's picture, as ``ConvSteps`` of ``conv_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnnviz.arithmetic import (
    ParameterError,
    as_pair,
    check_groups,
    resolve_padding,
    transpose_output_shape,
)
from cnnviz.ops import (
    ConvSteps,
    IntOrPair,
    PaddingMode,
    Region,
    as_hwc,
    conv_geometry,
    conv_steps,
    from_torch,
    pad_hwc,
    read_only,
    to_torch,
    window_taps,
)

__all__ = [
    "TransposeAsConv",
    "TransposeScatter",
    "as_bias_vector",
    "as_weight",
    "conv2d_layer",
    "conv_transpose2d",
    "group_connections",
    "interior",
    "layer_groups",
    "layer_code",
    "overlap_counts",
    "torch_code",
    "transpose_as_conv",
    "transpose_scatter",
]


# --- checking ----------------------------------------------------------------------------


def as_weight(weight: np.ndarray) -> np.ndarray:
    """A layer's weights, 4-D real and finite, as float64 with forward strides."""
    w = np.asarray(weight)
    if w.dtype.kind not in "biuf":
        raise ParameterError(f"Weights must be numbers, not values of type {w.dtype}.")
    if w.ndim != 4 or min(w.shape) < 1:
        raise ParameterError("The weights must have four axes, as torch's: (filters, "
                             f"channels per group, kh, kw), not shape {w.shape}.")
    if not np.isfinite(w).all():
        raise ParameterError("Every weight must be a finite number.")
    return np.array(w, dtype=np.float64)  # a copy: forward strides, and ours to keep


def as_bias_vector(bias: np.ndarray | None, n: int) -> np.ndarray | None:
    """None, or one finite bias per output channel as float64 (n,)."""
    if bias is None:
        return None
    b = np.asarray(bias)
    if b.dtype.kind not in "biuf" or b.shape != (n,):
        raise ParameterError(f"The bias must be {n} numbers, one per output channel, not "
                             f"{'shape ' + str(b.shape) if b.dtype.kind in 'biuf' else b.dtype}.")
    if not np.isfinite(b).all():
        raise ParameterError("Every bias must be a finite number.")
    return np.array(b, dtype=np.float64)


def layer_groups(img: np.ndarray, w: np.ndarray, groups: int) -> int:
    """`groups` of a conv layer with weights w (F, C/groups, kh, kw) on an (H, W, C) image,
    checked: it divides C and F, and each filter has one slice per channel of its group."""
    g = check_groups(img.shape[2], w.shape[0], groups)[2]
    if w.shape[1] != img.shape[2] // g:
        raise ParameterError(
            f"With {g} group{'s' if g > 1 else ''} each filter sees {img.shape[2] // g} of the "
            f"image's {img.shape[2]} channels, but the weights have {w.shape[1]} slices a "
            "filter.")
    return g


# --- the convolution layer ---------------------------------------------------------------


def conv2d_layer(
    image: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair | str = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
) -> np.ndarray:
    """A whole conv layer: F filters over the image's C channels.

    image (H, W, C) or (H, W); weight (F, C/groups, kh, kw); bias (F,) or None. stride,
    dilation and padding are ints or (h, w) pairs (padding also "valid" or "same", as
    ``nn.Conv2d``); ``padding_mode`` is ``nn.Conv2d``'s. Filter f sees the channels of its
    group only: group f // (F/groups), channels [that group × C/groups, + C/groups).
    Returns float64 (H_out, W_out, F), equal to ``F.conv2d`` of the padded input.
    """
    img = as_hwc(image)
    w = as_weight(weight)
    g = layer_groups(img, w, groups)
    b = as_bias_vector(bias, w.shape[0])
    geo = conv_geometry(img.shape[:2], w.shape[2:], stride, padding, dilation)  # one sentence
    padded = pad_hwc(img, geo.pads, padding_mode)
    out = F.conv2d(to_torch(padded), torch.from_numpy(w),
                   None if b is None else torch.from_numpy(b), stride=geo.stride,
                   dilation=geo.dilation, groups=g)
    return from_torch(out)


def group_connections(in_channels: int, out_channels: int, groups: int) -> np.ndarray:
    """bool (F, C): which input channels output channel f sums (its group's), for a picture
    of a grouped layer; groups = C is depthwise (one channel each)."""
    g = check_groups(in_channels, out_channels, groups)[2]
    per_in, per_out = in_channels // g, out_channels // g
    return (np.arange(out_channels)[:, None] // per_out) == (np.arange(in_channels)[None] // per_in)


def layer_code(
    in_channels: int,
    out_channels: int,
    kernel_size: IntOrPair,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair | str = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
    transposed: bool = False,
    output_padding: IntOrPair = 0,
) -> str:
    """The line of PyTorch that builds this layer, every argument written out, in float64:
    "torch.nn.Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), ...)"."""
    def pair(v) -> str:
        return str(as_pair(v, "setting"))

    g = check_groups(in_channels, out_channels, groups)[2]
    common = (f"kernel_size={pair(kernel_size)}, stride={pair(stride)}, "
              f"padding={pair(padding) if not isinstance(padding, str) else repr(padding)}, ")
    if transposed:
        return (f"torch.nn.ConvTranspose2d({in_channels}, {out_channels}, {common}"
                f"output_padding={pair(output_padding)}, groups={g}, bias={bool(bias)}, "
                f"dilation={pair(dilation)}, padding_mode='zeros', dtype=torch.float64)")
    return (f"torch.nn.Conv2d({in_channels}, {out_channels}, {common}"
            f"dilation={pair(dilation)}, groups={g}, bias={bool(bias)}, "
            f"padding_mode={padding_mode!r}, dtype=torch.float64)")


#: torch's padding layers, for padding that nn.Conv2d cannot write (top ≠ bottom).
_PAD_LAYERS = {"zeros": "ZeroPad2d", "reflect": "ReflectionPad2d",
               "replicate": "ReplicationPad2d", "circular": "CircularPad2d"}


def _numbers(a: np.ndarray) -> str:
    """A nested list of floats as Python reads it back exactly ("repr" of each)."""
    return repr(np.asarray(a, dtype=np.float64).tolist())


def torch_code(
    in_channels: int,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair | tuple[int, int, int, int] | str = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    transposed: bool = False,
    output_padding: IntOrPair = 0,
    note: str = "",
) -> str:
    """PyTorch code that computes what a page shows: the layer (``layer_code``), its weights
    and bias, and the call. After ``exec`` it leaves ``layer``; ``layer(x)`` of the input
    as a float64 (1, C, H, W) tensor is the page's output as (1, F, H_out, W_out). Padding
    with top ≠ bottom or left ≠ right becomes a padding layer in front (torch's own).
    `note`: a comment above the weights (e.g. that the kernel is turned 180°)."""
    w = as_weight(weight)
    f_out = w.shape[1] * groups if transposed else w.shape[0]
    kernel = tuple(w.shape[2:])
    lines = ["import torch", ""]
    target = "layer"
    pads = None if isinstance(padding, str) else resolve_padding(padding, kernel)
    if transposed or pads is None or (pads[0] == pads[1] and pads[2] == pads[3]):
        simple = padding if pads is None else (pads[0], pads[2])
        lines.append("layer = " + layer_code(
            in_channels, f_out, kernel, stride=stride, padding=simple, dilation=dilation,
            groups=groups, bias=bias is not None, padding_mode=padding_mode,
            transposed=transposed, output_padding=output_padding))
    else:
        top, bottom, left, right = pads
        conv = layer_code(in_channels, f_out, kernel, stride=stride, padding=0,
                          dilation=dilation, groups=groups, bias=bias is not None)
        lines.append(f"layer = torch.nn.Sequential(\n"
                     f"    torch.nn.{_PAD_LAYERS[padding_mode]}(({left}, {right}, {top}, "
                     f"{bottom})),  # (left, right, top, bottom)\n    {conv},\n)")
        target = "layer[1]"
    lines += ["with torch.no_grad():"]
    if note:
        lines.append(f"    # {note}")
    lines.append(f"    {target}.weight.copy_(torch.tensor({_numbers(w)}, dtype=torch.float64))")
    if bias is not None:
        lines.append(f"    {target}.bias.copy_(torch.tensor({_numbers(bias)}, "
                     "dtype=torch.float64))")
    lines += ["", "# x: the input as a float64 tensor of shape (1, C, H, W)",
              "# out = layer(x)  # (1, F, H_out, W_out): the numbers on this page"]
    return "\n".join(lines)


# --- the transposed convolution ----------------------------------------------------------


@dataclass(frozen=True)
class _TransposeGeometry:
    kernel_hw: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    out_hw: tuple[int, int]


def _transpose_setup(image, weight, bias, stride, padding, output_padding, dilation, groups):
    img = as_hwc(image)
    w = as_weight(weight)
    c_in, f_group, kh, kw = w.shape
    if c_in != img.shape[2]:
        raise ParameterError(f"The weights are for {c_in} input channels, but the image has "
                             f"{img.shape[2]}: a transposed layer's weights are (C, F/groups, "
                             "kh, kw).")
    g = check_groups(c_in, f_group * max(as_pair(groups, "groups")[0], 1), groups)[2]
    b = as_bias_vector(bias, f_group * g)
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    p, a = as_pair(padding, "padding"), as_pair(output_padding, "output padding")
    out_hw = transpose_output_shape(img.shape[:2], (kh, kw), s, p, a, d)
    return img, w, b, _TransposeGeometry((kh, kw), s, p, a, d, g, out_hw)


def conv_transpose2d(
    image: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """The transposed convolution ("deconvolution", the upsampling layer) of the image.

    image (H, W, C) or (H, W); weight (C, F/groups, kh, kw) as ``nn.ConvTranspose2d``'s;
    bias (F,) or None. Output size per axis ``(i − 1)·s − 2p + d·(k − 1) + a + 1``
    (``transpose_output_size``); an output padding that is not smaller than the stride or
    the dilation, and every other impossible setting, raises ParameterError.
    Returns float64 (H_out, W_out, F), equal to ``F.conv_transpose2d``.
    """
    return _transposed(*_transpose_setup(image, weight, bias, stride, padding, output_padding,
                                         dilation, groups))


def _transposed(img: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                geo: _TransposeGeometry) -> np.ndarray:
    """``F.conv_transpose2d`` of checked inputs: (H_out, W_out, F)."""
    out = F.conv_transpose2d(to_torch(img), torch.from_numpy(w),
                             None if b is None else torch.from_numpy(b), stride=geo.stride,
                             padding=geo.padding, output_padding=geo.output_padding,
                             groups=geo.groups, dilation=geo.dilation)
    return from_torch(out)


def _group_of(channel: int, w: np.ndarray, geo: _TransposeGeometry) -> tuple[int, slice]:
    """(output channel ``channel``'s index in its group, the input channels of its group),
    for a transposed layer's weights w (C, F/groups, kh, kw)."""
    per_out, per_in = w.shape[1], w.shape[0] // geo.groups
    f_total = per_out * geo.groups
    if not 0 <= channel < f_total:
        raise ParameterError(f"Output channel {channel} does not exist: there are {f_total}.")
    group = channel // per_out
    return channel % per_out, slice(group * per_in, (group + 1) * per_in)


@dataclass(frozen=True, eq=False)
class TransposeScatter:
    """Output channel `channel` of a transposed convolution as stamps, n of them: input cell
    (in_rows[i], in_cols[i]) adds ``stamps[i]`` (its values times the kernel, summed over its
    group's channels) at rows ``tap_rows[i]`` and columns ``tap_cols[i]`` of the canvas.

    The canvas is the output before the padding is cut off, (H_out + 2p_h, W_out + 2p_w).
    Invariant, for stamps of every input cell: ``crop(canvas(n)) + bias == output``.
    """

    channel: int
    values: np.ndarray  # (n, C/groups) float64: the input cell's values in the group
    kernel: np.ndarray  # (C/groups, kh, kw) float64: weight[group's channels, the filter]
    stamps: np.ndarray  # (n, kh, kw) float64
    in_rows: np.ndarray  # (n,) int
    in_cols: np.ndarray  # (n,) int
    tap_rows: np.ndarray  # (n, kh) int: canvas row of each kernel row
    tap_cols: np.ndarray  # (n, kw) int
    canvas_hw: tuple[int, int]
    padding: tuple[int, int]
    bias: float
    output: np.ndarray  # (H_out, W_out) float64: this channel of conv_transpose2d

    def canvas(self, upto: int | None = None) -> np.ndarray:
        """(canvas_h, canvas_w): the sum of the first `upto` stamps (all by default)."""
        n = len(self.stamps) if upto is None else int(upto)
        out = np.zeros(self.canvas_hw)
        rows = self.tap_rows[:n, :, None]
        cols = self.tap_cols[:n, None, :]
        np.add.at(out, (np.broadcast_to(rows, self.stamps[:n].shape),
                        np.broadcast_to(cols, self.stamps[:n].shape)), self.stamps[:n])
        return out

    def crop(self, canvas: np.ndarray) -> np.ndarray:
        """The output's part of a canvas: `padding` cut off each side."""
        (ph, pw), (h, w) = self.padding, self.output.shape
        return canvas[ph:ph + h, pw:pw + w]


def transpose_scatter(
    image: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    channel: int = 0,
    region: Region | None = None,
) -> TransposeScatter:
    """The stamps of the input cells in `region` (input coordinates, half-open, default all;
    at most MAX_STEPS) onto output channel `channel`; arguments as ``conv_transpose2d``."""
    img, w, b, geo = _transpose_setup(image, weight, bias, stride, padding, output_padding,
                                      dilation, groups)
    f_local, chans = _group_of(channel, w, geo)
    in_rows, in_cols, _, _, tap_r, tap_c = window_taps(img.shape[:2], region, geo.stride,
                                                       geo.dilation, geo.kernel_hw)
    values = img[in_rows, in_cols][:, chans]  # (n, Cg)
    kernel = w[chans, f_local]  # (Cg, kh, kw)
    stamps = np.einsum("nc,cuv->nuv", values, kernel)
    output = _transposed(img, w, b, geo)[:, :, channel]
    canvas_hw = (geo.out_hw[0] + 2 * geo.padding[0], geo.out_hw[1] + 2 * geo.padding[1])
    result = TransposeScatter(channel, values, kernel, stamps, in_rows, in_cols, tap_r, tap_c,
                              canvas_hw, geo.padding, 0.0 if b is None else float(b[channel]),
                              output)
    read_only(values, kernel, stamps, in_rows, in_cols, tap_r, tap_c, output)
    return result


def overlap_counts(in_hw: tuple[int, int], kernel_hw: IntOrPair, stride: IntOrPair = 1,
                   padding: IntOrPair = 0, output_padding: IntOrPair = 0,
                   dilation: IntOrPair = 1) -> np.ndarray:
    """int (H_out, W_out): how many stamps (input cell × kernel tap) land on each output cell.
    Uneven counts are the checkerboard of a transposed convolution whose kernel size is not
    a multiple of its stride (kernel 3, stride 2: 1, 2, 1, 2, …)."""
    h, w = as_pair(in_hw, "input size")
    kh, kw = as_pair(kernel_hw, "kernel size")
    ones = np.ones((h, w, 1))
    return np.rint(conv_transpose2d(ones, np.ones((1, 1, kh, kw)), stride=stride,
                                    padding=padding, output_padding=output_padding,
                                    dilation=dilation)[:, :, 0]).astype(np.int64)


def interior(counts: np.ndarray, kernel_hw: IntOrPair, padding: IntOrPair = 0,
             dilation: IntOrPair = 1) -> np.ndarray:
    """The part of ``overlap_counts`` away from the border, where a stamp can land from every
    side (d·(k − 1) − p cells cut from each edge): uneven counts there are a checkerboard,
    not an edge effect. Empty when nothing is that far from the border."""
    (kh, kw), (ph, pw) = as_pair(kernel_hw, "kernel size"), as_pair(padding, "padding")
    (dh, dw) = as_pair(dilation, "dilation")
    eh, ew = max(dh * (kh - 1) - ph, 0), max(dw * (kw - 1) - pw, 0)
    h, w = counts.shape
    return counts[eh:max(h - eh, eh), ew:max(w - ew, ew)]


@dataclass(frozen=True, eq=False)
class TransposeAsConv:
    """A transposed convolution's output channel as an ordinary convolution: `stretched` is
    the input with stride − 1 zeros between its cells, `padded` that with d·(k − 1) − p
    zeros before and d·(k − 1) − p + a after (cut instead where negative), and `steps` the
    windows of ``conv_steps(padded, kernel, dilation=d, bias=bias)`` with `kernel` the
    group's slices turned 180°. Invariant: ``steps.output == conv_transpose2d(...)[..., f]``."""

    channel: int
    stretched: np.ndarray  # ((H − 1)·s_h + 1, (W − 1)·s_w + 1, C/groups)
    padded: np.ndarray  # what the turned kernel slides over, stride 1
    pads: tuple[int, int, int, int]  # (top, bottom, left, right); negative = cut
    kernel: np.ndarray  # (kh, kw, C/groups): the turned kernel, conv_steps' layout
    steps: ConvSteps


def transpose_as_conv(
    image: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    channel: int = 0,
    region: Region | None = None,
) -> TransposeAsConv:
    """Output channel `channel` of ``conv_transpose2d`` as conv_arithmetic draws it; `region`
    is a zoom box of the output, as for ``conv_steps``."""
    img, w, b, geo = _transpose_setup(image, weight, bias, stride, padding, output_padding,
                                      dilation, groups)
    f_local, chans = _group_of(channel, w, geo)
    (h, w_in), (sh, sw) = img.shape[:2], geo.stride
    stretched = np.zeros(((h - 1) * sh + 1, (w_in - 1) * sw + 1, chans.stop - chans.start))
    stretched[::sh, ::sw] = img[:, :, chans]
    (kh, kw), (dh, dw) = geo.kernel_hw, geo.dilation
    before = (dh * (kh - 1) - geo.padding[0], dw * (kw - 1) - geo.padding[1])
    pads = (before[0], before[0] + geo.output_padding[0],
            before[1], before[1] + geo.output_padding[1])
    padded = pad_hwc(stretched, tuple(max(p, 0) for p in pads))
    top, left = max(-pads[0], 0), max(-pads[2], 0)
    bottom, right = padded.shape[0] - max(-pads[1], 0), padded.shape[1] - max(-pads[3], 0)
    padded = padded[top:bottom, left:right]
    kernel = np.ascontiguousarray(w[chans, f_local][:, ::-1, ::-1].transpose(1, 2, 0))
    steps = conv_steps(padded, kernel, dilation=geo.dilation, region=region,
                       bias=0.0 if b is None else float(b[channel]))
    read_only(stretched, padded, kernel)
    return TransposeAsConv(channel, stretched, padded, pads, kernel, steps)
