"""Shape and cost arithmetic of convolution and pooling layers.

This module is the one home of every formula in cnnviz: the output size of a
sliding window, "same" padding, parameter counts and multiply-accumulates.
Slider limits, page text and the step-through all call these functions, so
there is no second copy of a formula anywhere that could drift.

Everything here works on plain Python ints. Impossible combinations raise
`ParameterError` with a sentence a student can act on.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

__all__ = [
    "OUTPUT_SIZE_FORMULA",
    "OutputSizeExplanation",
    "TRANSPOSE_OUTPUT_SIZE_FORMULA",
    "ParameterError",
    "as_pair",
    "check_groups",
    "conv_macs",
    "conv_macs_text",
    "conv_params",
    "conv_params_text",
    "centre_unit",
    "dense_macs",
    "dense_macs_text",
    "dense_params",
    "dense_params_text",
    "explain_output_size",
    "output_shape",
    "output_size",
    "pool_output_shape",
    "pool_params",
    "resolve_padding",
    "rf_step",
    "rf_step_text",
    "same_padding",
    "separable_costs",
    "tf_same_padding",
    "transpose_output_shape",
    "transpose_output_size",
    "transpose_output_size_text",
]

# The formula in symbols, for pages that show it next to the numbers.
OUTPUT_SIZE_FORMULA = "⌊(n + 2p − d·(k−1) − 1) / s⌋ + 1"

#: The transposed convolution's output length: input i, kernel k, stride s, padding p,
#: output padding a, dilation d (torch's ConvTranspose2d).
TRANSPOSE_OUTPUT_SIZE_FORMULA = "(i − 1)·s − 2p + d·(k − 1) + a + 1"

Pair = tuple[int, int]
Padding4 = tuple[int, int, int, int]  # (top, bottom, left, right)


class ParameterError(ValueError):
    """A layer setting that cannot work, explained in one sentence for a student."""


# ---------------------------------------------------------------------------
# Checking numbers


def _as_int(value: object, name: str) -> int:
    """`value` as an int; bools, floats and strings are refused."""
    if isinstance(value, bool):
        raise ParameterError(f"{name.capitalize()} must be a whole number, not {value!r}.")
    try:
        return operator.index(value)  # int and numpy integers, nothing that would round
    except TypeError:
        raise ParameterError(
            f"{name.capitalize()} must be a whole number, not {value!r}."
        ) from None


def _fmt(n: int) -> str:
    """An int with thousands separators: 150529000 -> '150,529,000'."""
    return f"{n:,}"


def as_pair(value: int | tuple[int, int], name: str) -> Pair:
    """Turn an int or an (h, w) pair into an (h, w) tuple of ints.

    `name` (e.g. "stride") is used in the error message. Only the type and
    length are checked here; the ranges are checked where they matter.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ParameterError(
                f"{name.capitalize()} must be one number or a pair (height, width), "
                f"but {len(value)} numbers were given."
            )
        return (_as_int(value[0], name), _as_int(value[1], name))
    if isinstance(value, str):
        raise ParameterError(f"{name.capitalize()} must be a whole number, not {value!r}.")
    v = _as_int(value, name)
    return (v, v)


# ---------------------------------------------------------------------------
# Output size of a sliding window


def _checked_extent(
    n: int,
    kernel: int,
    stride: int,
    before: int,
    after: int,
    dilation: int,
    axis: str = "",
) -> int:
    """Output length along one axis; the single implementation of the formula.

    `before`/`after` are the padding on the two sides (equal for symmetric
    padding). `axis` ("height"/"width") only sharpens the error messages.
    """
    where = f" ({axis})" if axis else ""
    n = _as_int(n, "the input size")
    kernel = _as_int(kernel, "the kernel size")
    stride = _as_int(stride, "the stride")
    before = _as_int(before, "the padding")
    after = _as_int(after, "the padding")
    dilation = _as_int(dilation, "the dilation")
    if n < 1:
        raise ParameterError(f"The input{where} must be at least 1 pixel, not {n}.")
    if kernel < 1:
        raise ParameterError(f"The kernel{where} must be at least 1 pixel wide, not {kernel}.")
    if stride < 1:
        raise ParameterError(
            f"Stride{where} must be at least 1: a stride of {stride} would never move the kernel."
        )
    if dilation < 1:
        raise ParameterError(
            f"Dilation{where} must be at least 1 (1 means no gaps between kernel taps), "
            f"not {dilation}."
        )
    if before < 0 or after < 0:
        raise ParameterError(
            f"Padding{where} cannot be negative: it is the number of pixels added around "
            "the image."
        )
    span = dilation * (kernel - 1) + 1  # pixels one placement of the kernel covers
    padded = n + before + after
    if padded < span:
        covers = (
            f"with dilation it covers {span} pixels" if dilation > 1 else f"{span} pixels"
        )
        raise ParameterError(
            f"The kernel{where} ({covers}) is larger than the padded input "
            f"({padded} pixels), so it does not fit even once."
        )
    # floor((n + 2p - d(k-1) - 1) / s) + 1, with 2p split into before + after
    return (padded - dilation * (kernel - 1) - 1) // stride + 1


def output_size(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis.

    ``floor((n + 2p − d(k−1) − 1) / s) + 1`` for an input of length `n`,
    kernel length `k`, stride `s`, padding `p` on each side and dilation `d`.
    Raises ParameterError for stride, dilation, kernel or n below 1, negative
    padding, or when the kernel does not fit in the padded input.
    """
    return _checked_extent(n, kernel, stride, padding, padding, dilation)


def same_padding(kernel: int, dilation: int = 1) -> Pair:
    """(before, after) padding that keeps the size at stride 1, as torch's padding="same".

    The total is d·(k−1); an odd total puts the extra pixel after (bottom/right).
    """
    kernel = _as_int(kernel, "the kernel size")
    dilation = _as_int(dilation, "the dilation")
    if kernel < 1 or dilation < 1:
        raise ParameterError("Kernel size and dilation must be at least 1.")
    total = dilation * (kernel - 1)
    before = total // 2
    return (before, total - before)


def tf_same_padding(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> Pair:
    """(before, after) padding of TensorFlow's "SAME" along one axis of length ``n``.

    The output has ⌈n/s⌉ cells, so the total is ``max((⌈n/s⌉ − 1)·s + d·(k−1) + 1 − n, 0)``;
    an odd total puts the extra pixel after (bottom/right). At stride 1 it equals
    ``same_padding``; at stride 2 it depends on the input: 3×3 on 224 pads (0, 1), on 225
    pads (1, 1).
    """
    n, kernel = _as_int(n, "the input size"), _as_int(kernel, "the kernel size")
    stride, dilation = _as_int(stride, "the stride"), _as_int(dilation, "the dilation")
    if min(n, kernel, stride, dilation) < 1:
        raise ParameterError("Input size, kernel size, stride and dilation must be at least 1.")
    total = max((-(-n // stride) - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def resolve_padding(
    padding: int | tuple[int, int] | tuple[int, int, int, int] | str,
    kernel_hw: int | tuple[int, int],
    dilation_hw: int | tuple[int, int] = 1,
    stride_hw: int | tuple[int, int] = 1,
) -> Padding4:
    """Padding in any accepted form as (top, bottom, left, right) pixels.

    Accepted: an int (all sides), an (h, w) pair (top=bottom=h, left=right=w),
    an explicit (top, bottom, left, right) 4-tuple, "valid" (no padding) or
    "same" (keeps the size; only with stride 1, as in PyTorch).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            sh, sw = as_pair(stride_hw, "stride")
            if (sh, sw) != (1, 1):
                raise ParameterError(
                    "Padding 'same' only works with stride 1: a larger stride shrinks the "
                    "output by about that factor, so no padding keeps the size (PyTorch "
                    "refuses it too). Choose a number of padding pixels instead."
                )
            kh, kw = as_pair(kernel_hw, "kernel size")
            dh, dw = as_pair(dilation_hw, "dilation")
            return (*same_padding(kh, dh), *same_padding(kw, dw))
        raise ParameterError(
            f"Padding must be a number of pixels, 'same' or 'valid', not {padding!r}."
        )
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = tuple(_as_int(p, "padding") for p in padding)
    else:
        ph, pw = as_pair(padding, "padding")
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ParameterError(
            "Padding cannot be negative: it is the number of pixels added around the image."
        )
    return pads  # type: ignore[return-value]


def output_shape(
    in_hw: tuple[int, int],
    kernel_hw: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, ...] | str = 0,
    dilation: int | tuple[int, int] = 1,
) -> Pair:
    """(H_out, W_out) of a 2-D convolution.

    `padding` is an int, an (h, w) pair, a (top, bottom, left, right) 4-tuple,
    "same" or "valid"; a 4-tuple uses top+bottom (left+right) in place of 2p.
    """
    h, w = as_pair(in_hw, "input size")
    kh, kw = as_pair(kernel_hw, "kernel size")
    sh, sw = as_pair(stride, "stride")
    dh, dw = as_pair(dilation, "dilation")
    top, bottom, left, right = resolve_padding(padding, (kh, kw), (dh, dw), (sh, sw))
    return (
        _checked_extent(h, kh, sh, top, bottom, dh, "height"),
        _checked_extent(w, kw, sw, left, right, dw, "width"),
    )


@dataclass(frozen=True)
class OutputSizeExplanation:
    """The output-size formula with the actual numbers filled in.

    `text` reads e.g. "⌊(28 + 1 + 1 − 2·(3−1) − 1) / 2⌋ + 1 = 13".
    """

    n: int
    kernel: int
    stride: int
    padding_before: int
    padding_after: int
    dilation: int
    size: int
    text: str


def explain_output_size(
    n: int,
    kernel: int,
    stride: int = 1,
    padding_before: int = 0,
    padding_after: int | None = None,
    dilation: int = 1,
) -> OutputSizeExplanation:
    """Output size along one axis together with the formula written out in numbers.

    `padding_after` defaults to `padding_before` (symmetric padding, shown as
    "2·p"). Raises ParameterError exactly when `output_size` would.
    """
    if padding_after is None:
        padding_after = padding_before
    size = _checked_extent(n, kernel, stride, padding_before, padding_after, dilation)
    if padding_before == padding_after:
        pad = f"2·{padding_before}"
    else:
        pad = f"{padding_before} + {padding_after}"
    text = f"⌊({n} + {pad} − {dilation}·({kernel}−1) − 1) / {stride}⌋ + 1 = {size}"
    return OutputSizeExplanation(
        n=int(n),
        kernel=int(kernel),
        stride=int(stride),
        padding_before=int(padding_before),
        padding_after=int(padding_after),
        dilation=int(dilation),
        size=size,
        text=text,
    )


# ---------------------------------------------------------------------------
# Transposed convolution


def transpose_output_size(i: int, k: int, stride: int = 1, padding: int = 0,
                          output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis, as torch's ConvTranspose2d:
    ``(i − 1)·s − 2p + d·(k − 1) + a + 1``.

    Raises ParameterError for an input, kernel, stride or dilation below 1, a negative
    padding or output padding, an output padding not smaller than the stride or the
    dilation (it only picks one of the input sizes a strided convolution maps to the same
    output), and settings that leave no output.
    """
    i, k = _as_int(i, "the input size"), _as_int(k, "the kernel size")
    s, p = _as_int(stride, "the stride"), _as_int(padding, "the padding")
    a, d = _as_int(output_padding, "the output padding"), _as_int(dilation, "the dilation")
    if i < 1 or k < 1:
        raise ParameterError(f"The input and the kernel must be at least 1 pixel, not {i} "
                             f"and {k}.")
    if s < 1:
        raise ParameterError(f"Stride must be at least 1, not {s}: it is how far apart the "
                             "stamps of neighbouring input cells land.")
    if d < 1:
        raise ParameterError(f"Dilation must be at least 1 (1 means no gaps between kernel "
                             f"taps), not {d}.")
    if p < 0 or a < 0:
        raise ParameterError("Padding and output padding cannot be negative.")
    if a >= max(s, d):
        raise ParameterError(
            f"Output padding ({a}) must be smaller than the stride ({s}) or the dilation "
            f"({d}): it only adds the rows a strided convolution would have dropped, and "
            "there are fewer than the stride of them.")
    size = (i - 1) * s - 2 * p + d * (k - 1) + a + 1
    if size < 1:
        raise ParameterError(
            f"These settings leave no output: (i − 1)·s − 2p + d·(k − 1) + a + 1 = {size}. "
            "Use less padding.")
    return size


def transpose_output_size_text(i: int, k: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> str:
    """The formula with the numbers: "(4 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 8"."""
    size = transpose_output_size(i, k, stride, padding, output_padding, dilation)
    return (f"({i} − 1)·{stride} − 2·{padding} + {dilation}·({k} − 1) + {output_padding} + 1"
            f" = {size}")


def transpose_output_shape(in_hw, kernel_hw, stride=1, padding=0, output_padding=0,
                           dilation=1) -> Pair:
    """(H_out, W_out) of a transposed convolution; every setting an int or an (h, w) pair."""
    args = [as_pair(v, name) for v, name in ((in_hw, "input size"), (kernel_hw, "kernel size"),
                                              (stride, "stride"), (padding, "padding"),
                                              (output_padding, "output padding"),
                                              (dilation, "dilation"))]
    return tuple(transpose_output_size(*(a[axis] for a in args)) for axis in (0, 1))


# ---------------------------------------------------------------------------
# Pooling


def pool_output_shape(
    in_hw: tuple[int, int],
    size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Pair:
    """(H_out, W_out) of max or average pooling, with torch's defaults.

    `stride=None` means stride = window size. As in PyTorch, the padding may
    be at most half the window size, so no window lies entirely in padding.
    """
    kh, kw = as_pair(size, "pooling window size")
    sh, sw = (kh, kw) if stride is None else as_pair(stride, "stride")
    if isinstance(padding, str) or (isinstance(padding, (tuple, list)) and len(padding) != 2):
        raise ParameterError(
            "Pooling padding must be one number of pixels or a pair (height, width)."
        )
    ph, pw = as_pair(padding, "padding")
    h, w = as_pair(in_hw, "input size")
    for axis, k, p in (("height", kh, ph), ("width", kw, pw)):
        if k >= 1 and p > k // 2:
            raise ParameterError(
                f"Pooling padding ({axis}) can be at most half the window size "
                f"({k} // 2 = {k // 2}), not {p}: otherwise windows at the border would hold "
                "mostly or only padding (PyTorch refuses it too)."
            )
    return (
        _checked_extent(h, kh, sh, ph, ph, 1, "height"),
        _checked_extent(w, kw, sw, pw, pw, 1, "width"),
    )


def pool_params() -> int:
    """Learned parameters of a pooling layer: none, it only takes a max or a mean."""
    return 0


# ---------------------------------------------------------------------------
# Layer cost


def check_groups(in_channels: int, out_channels: int, groups: int,
                 out_name: str = "output channels") -> tuple[int, int, int]:
    """(C_in, C_out, groups) as ints, groups dividing both; ParameterError in one sentence,
    which calls C_out ``out_name`` (a page may say "filters")."""
    cin = _as_int(in_channels, "input channels")
    cout = _as_int(out_channels, "output channels")
    g = _as_int(groups, "groups")
    if cin < 1 or cout < 1:
        raise ParameterError("A layer needs at least 1 input and 1 output channel.")
    if g < 1:
        raise ParameterError(f"Groups must be at least 1, not {g}.")
    if cin % g or cout % g:
        raise ParameterError(
            f"Groups ({g}) must divide both the input channels ({cin}) and the {out_name} "
            f"({cout}), so that every group gets the same number of each."
        )
    return cin, cout, g


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel_hw: int | tuple[int, int],
    bias: bool = True,
    groups: int = 1,
) -> int:
    """Learned parameters of a conv layer: C_out · ((C_in/groups)·kh·kw + bias)."""
    cin, cout, g = check_groups(in_channels, out_channels, groups)
    kh, kw = as_pair(kernel_hw, "kernel size")
    return cout * ((cin // g) * kh * kw + int(bool(bias)))


def conv_params_text(
    in_channels: int,
    out_channels: int,
    kernel_hw: int | tuple[int, int],
    bias: bool = True,
    groups: int = 1,
) -> str:
    """The count written out as C_out × (kh·kw·C_in + 1): "64 × (3·3·3 + 1) = 1,792"; a grouped
    layer shows C_in/groups: "672 × 5·5·(672/672) = 16,800"."""
    total = conv_params(in_channels, out_channels, kernel_hw, bias, groups)
    kh, kw = as_pair(kernel_hw, "kernel size")
    per_filter = f"{kh}·{kw}·{_per_group(in_channels, groups)}"
    inner = f"({per_filter} + 1)" if bias else per_filter
    return f"{_fmt(int(out_channels))} × {inner} = {_fmt(total)}"


def conv_macs(
    out_hw: tuple[int, int],
    in_channels: int,
    out_channels: int,
    kernel_hw: int | tuple[int, int],
    groups: int = 1,
) -> int:
    """Multiply-accumulates of a conv layer: H_out·W_out·C_out·(C_in/groups)·kh·kw."""
    cin, cout, g = check_groups(in_channels, out_channels, groups)
    oh, ow = as_pair(out_hw, "output size")
    kh, kw = as_pair(kernel_hw, "kernel size")
    return oh * ow * cout * (cin // g) * kh * kw


def conv_macs_text(
    out_hw: tuple[int, int],
    in_channels: int,
    out_channels: int,
    kernel_hw: int | tuple[int, int],
    groups: int = 1,
) -> str:
    """The MAC count written out, e.g. "32·32·64 × 3·3·3 = 1,769,472"."""
    total = conv_macs(out_hw, in_channels, out_channels, kernel_hw, groups)
    oh, ow = as_pair(out_hw, "output size")
    kh, kw = as_pair(kernel_hw, "kernel size")
    return (f"{oh}·{ow}·{_fmt(int(out_channels))} × {kh}·{kw}·"
            f"{_per_group(in_channels, groups)} = {_fmt(total)}")


def separable_costs(in_channels: int, out_channels: int, kernel_hw: int | tuple[int, int],
                    out_hw: tuple[int, int], bias: bool = True) -> dict:
    """Depthwise-separable (a k×k depthwise layer, groups = C_in, then a 1×1 pointwise one
    to C_out) against one standard k×k layer from C_in to C_out, at the same output size:
    ``params`` and ``macs`` of each (keys ``depthwise``, ``pointwise``, ``separable``,
    ``standard``), and their texts (``*_params_text``, ``*_macs_text``)."""
    c, f = _as_int(in_channels, "input channels"), _as_int(out_channels, "output channels")
    parts = {"depthwise": (c, c, kernel_hw, c), "pointwise": (c, f, 1, 1),
             "standard": (c, f, kernel_hw, 1)}
    out: dict = {}
    for name, (cin, cout, k, g) in parts.items():
        out[name] = {"params": conv_params(cin, cout, k, bias, g),
                     "macs": conv_macs(out_hw, cin, cout, k, g),
                     "params_text": conv_params_text(cin, cout, k, bias, g),
                     "macs_text": conv_macs_text(out_hw, cin, cout, k, g)}
    out["separable"] = {key: out["depthwise"][key] + out["pointwise"][key]
                        for key in ("params", "macs")}
    return out


def _per_group(in_channels: int, groups: int) -> str:
    """The input channels one filter sees: "64", or "(672/672)" for a grouped layer, so a
    depthwise layer's count shows why it is small."""
    cin, g = int(in_channels), int(groups)
    return _fmt(cin) if g == 1 else f"({_fmt(cin)}/{_fmt(g)})"


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Learned parameters of a fully connected layer: n_out · (n_in + bias)."""
    n_in = _as_int(n_in, "input features")
    n_out = _as_int(n_out, "output features")
    if n_in < 1 or n_out < 1:
        raise ParameterError("A dense layer needs at least 1 input and 1 output feature.")
    return n_out * (n_in + int(bool(bias)))


def dense_params_text(n_in: int, n_out: int, bias: bool = True) -> str:
    """The count written out, e.g. "1,000 × (150,528 + 1) = 150,529,000"."""
    total = dense_params(n_in, n_out, bias)
    inner = f"({_fmt(int(n_in))} + 1)" if bias else _fmt(int(n_in))
    return f"{_fmt(int(n_out))} × {inner} = {_fmt(total)}"


def dense_macs(n_in: int, n_out: int, positions: int = 1) -> int:
    """Multiply-accumulates of a dense layer: one per weight and position, positions · n_in ·
    n_out (``positions`` is 1 for a (B, n) input, the product of the middle axes else)."""
    n_in = _as_int(n_in, "input features")
    n_out = _as_int(n_out, "output features")
    positions = _as_int(positions, "positions")
    if n_in < 1 or n_out < 1 or positions < 1:
        raise ParameterError("A dense layer needs at least 1 input, 1 output and 1 position.")
    return positions * n_in * n_out


def dense_macs_text(n_in: int, n_out: int, positions: int = 1) -> str:
    """The count written out, e.g. "1,568 × 10 = 15,680" (with "49 × " in front for 49
    positions)."""
    total = dense_macs(n_in, n_out, positions)
    lead = f"{_fmt(int(positions))} × " if int(positions) != 1 else ""
    return f"{lead}{_fmt(int(n_in))} × {_fmt(int(n_out))} = {_fmt(total)}"


# --- receptive fields -------------------------------------------------------------------


def centre_unit(h: int, w: int) -> Pair:
    """The unit at the centre of an h×w map: (h // 2, w // 2), the lower/right one of the two
    middle units when a side is even. Every "centre unit" in cnnviz is this one."""
    return int(h) // 2, int(w) // 2



def rf_step(
    rf_in: int, jump_in: int, kernel: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """The classic receptive-field recurrence along one axis (Araujo et al., Distill 2019).

    ``r_out = r_in + (k − 1)·d·j_in`` and ``j_out = j_in·s``: a window of ``k`` taps, ``d``
    apart, over units whose fields have size ``r_in`` and start ``j_in`` input pixels apart.
    Returns ``(r_out, j_out)``.
    """
    return rf_in + (kernel - 1) * dilation * jump_in, jump_in * stride


def rf_step_text(
    rf_in: int, jump_in: int, kernel: int, stride: int = 1, dilation: int = 1
) -> str:
    """``rf_step`` written out, e.g. ``"5 + (3−1)·1·1 = 7"``."""
    rf_out, _ = rf_step(rf_in, jump_in, kernel, stride, dilation)
    return f"{rf_in} + ({kernel}−1)·{dilation}·{jump_in} = {rf_out}"
