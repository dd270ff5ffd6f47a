"""How a convolution learns: the backward pass of a conv layer and of pooling on arrays,
and gradient descent on one layer, with torch's autograd doing the arithmetic.

``conv_backward`` and ``pool_backward`` are autograd's gradients, in float64. The
step-through data says where they come from, window by window, over the same windows as the
forward pass (``conv_steps``):
- ``weight_grad_steps``: window (i, j) adds dL/dout[i, j, f] × its patch to dL/dW[f];
- ``input_grad_steps``: window (i, j) scatters Σ_f dL/dout[i, j, f] × W[f] back over its
  taps, which is a transposed convolution of dL/dout with the weights.
Both add up to autograd's, which the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from cnnviz.arithmetic import (
    ParameterError,
    as_pair,
    pool_output_shape,
)
from cnnviz.layer import as_bias_vector, as_weight, conv2d_layer, layer_groups
from cnnviz.ops import (
    ConvGeometry,
    IntOrPair,
    Region,
    as_hwc,
    conv_geometry,
    from_torch,
    pad_hwc,
    pool2d,
    read_only,
    to_torch,
    window_taps,
)

__all__ = [
    "Backprop",
    "GradSteps",
    "backprop",
    "conv_backward",
    "descend",
    "forward",
    "input_grad_steps",
    "pool_backward",
    "weight_grad_steps",
]


def _grad_output(grad_output: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    g = np.asarray(grad_output)
    if g.ndim == 2 and len(shape) == 3 and shape[2] == 1:
        g = g[:, :, None]
    if g.dtype.kind not in "biuf" or g.shape != tuple(shape):
        raise ParameterError(f"The output gradient must have the output's shape "
                             f"{'×'.join(map(str, shape))}, not {g.shape}.")
    if not np.isfinite(g).all():
        raise ParameterError("Every gradient must be a finite number.")
    return np.array(g, dtype=np.float64)


def _zero_padding(padding: IntOrPair) -> tuple[int, int]:
    if isinstance(padding, str):
        raise ParameterError("The backward pass takes padding as a number or a pair.")
    return as_pair(padding, "padding")


def _conv_setup(image, weight, grad_output, stride, padding, dilation, groups):
    """(image, weight, groups, geometry, dL/dout), each checked as the forward layer checks
    it, and dL/dout against the output's shape."""
    img, w = as_hwc(image), as_weight(weight)
    g = layer_groups(img, w, groups)
    geo = conv_geometry(img.shape[:2], w.shape[2:], stride, _zero_padding(padding), dilation)
    return img, w, g, geo, _grad_output(grad_output, (*geo.out_hw, w.shape[0]))


def _taps(geo: ConvGeometry, region: Region | None) -> tuple[np.ndarray, ...]:
    """out_rows, out_cols, tap_rows, tap_cols of the forward pass's windows over region."""
    out_rows, out_cols, _, _, tap_r, tap_c = window_taps(geo.out_hw, region, geo.stride,
                                                         geo.dilation, geo.kernel_hw)
    return out_rows, out_cols, tap_r, tap_c


def conv_backward(
    image: np.ndarray,
    weight: np.ndarray,
    grad_output: np.ndarray,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of a conv layer (zero padding) given dL/dout (H_out, W_out, F):
    (dL/dimage (H, W, C), dL/dweight (F, C/groups, kh, kw), dL/dbias (F,)), float64, by
    autograd. image and weight as ``conv2d_layer``'s."""
    img, w, g, geo, grad = _conv_setup(image, weight, grad_output, stride, padding, dilation,
                                       groups)
    x = to_torch(img, copy=True).requires_grad_(True)
    wt = torch.from_numpy(w).requires_grad_(True)
    b = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    out = F.conv2d(x, wt, b, stride=geo.stride, padding=(geo.pads[0], geo.pads[2]),
                   dilation=geo.dilation, groups=g)
    out.backward(to_torch(grad))
    return from_torch(x.grad), wt.grad.numpy().copy(), b.grad.numpy().copy()


def pool_backward(
    image: np.ndarray,
    grad_output: np.ndarray,
    *,
    kind: Literal["max", "avg"] = "max",
    size: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> np.ndarray:
    """dL/dimage (H, W, C) of max or average pooling given dL/dout (H_out, W_out, C), by
    autograd: max pooling routes each gradient to its window's winner (the first maximum,
    as torch breaks ties), average pooling spreads it evenly over the window, padding
    included (``count_include_pad=True``)."""
    if kind not in ("max", "avg"):
        raise ParameterError(f"Pooling must be 'max' or 'avg', not {kind!r}.")
    img = as_hwc(image)
    k = as_pair(size, "pooling window size")
    s = k if stride is None else as_pair(stride, "stride")
    p = _zero_padding(padding)
    out_hw = pool_output_shape(img.shape[:2], k, s, p)
    grad = _grad_output(grad_output, (*out_hw, img.shape[2]))
    x = to_torch(img, copy=True).requires_grad_(True)
    out = (F.max_pool2d(x, k, s, p) if kind == "max" else
           F.avg_pool2d(x, k, s, p, ceil_mode=False, count_include_pad=True))
    out.backward(to_torch(grad))
    return from_torch(x.grad)


# --- window by window ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GradSteps:
    """One gradient built window by window: window i (output cell (out_rows[i], out_cols[i]))
    adds ``contributions[i]`` at its taps (``tap_rows[i]``, ``tap_cols[i]``, in the padded
    input for the input gradient; the whole kernel for the weight gradient), and
    ``partial[i]`` is the sum so far (weight gradient only; the input gradient's is
    ``canvas(i + 1)``). For every window of the output the sum is autograd's gradient."""

    grads: np.ndarray  # (n, F) or (n,): dL/dout at the window, all filters or the one
    contributions: np.ndarray  # (n, kh, kw, C): what the window adds
    out_rows: np.ndarray  # (n,) int
    out_cols: np.ndarray  # (n,) int
    tap_rows: np.ndarray  # (n, kh) int, padded input coordinates
    tap_cols: np.ndarray  # (n, kw) int
    pads: tuple[int, int, int, int]
    in_hw: tuple[int, int]
    padded: np.ndarray | None = None  # (Hp, Wp, C/groups): what the windows read (dL/dW)

    def canvas(self, upto: int | None = None) -> np.ndarray:
        """(Hp, Wp, C): the first `upto` contributions scattered onto the padded input."""
        n = len(self.contributions) if upto is None else int(upto)
        top, bottom, left, right = self.pads
        c = self.contributions.shape[3]
        out = np.zeros((self.in_hw[0] + top + bottom, self.in_hw[1] + left + right, c))
        shape = self.contributions[:n].shape
        rows = np.broadcast_to(self.tap_rows[:n, :, None, None], shape)
        cols = np.broadcast_to(self.tap_cols[:n, None, :, None], shape)
        chans = np.broadcast_to(np.arange(c)[None, None, None, :], shape)
        np.add.at(out, (rows, cols, chans), self.contributions[:n])
        return out

    def crop(self, canvas: np.ndarray) -> np.ndarray:
        """The image's part of a padded canvas."""
        top, _, left, _ = self.pads
        return canvas[top:top + self.in_hw[0], left:left + self.in_hw[1]]


def weight_grad_steps(image: np.ndarray, weight: np.ndarray, grad_output: np.ndarray, *,
                      stride: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1,
                      groups: int = 1, filter: int = 0,
                      region: Region | None = None) -> tuple[GradSteps, np.ndarray]:
    """dL/dW[filter] window by window over `region` of the output (default all): window
    (i, j) adds dL/dout[i, j, filter] × its patch (the group's channels). Returns the steps
    and ``partial`` (n, kh, kw, C/groups), the running sum; over the whole output the last
    equals ``conv_backward``'s grad_weight[filter] in (kh, kw, C/groups) layout."""
    img, w, g, geo, grad = _conv_setup(image, weight, grad_output, stride, padding, dilation,
                                       groups)
    if not 0 <= filter < w.shape[0]:
        raise ParameterError(f"Filter {filter} does not exist: the layer has {w.shape[0]}.")
    per_in = img.shape[2] // g
    group = filter // (w.shape[0] // g)
    out_rows, out_cols, tap_r, tap_c = _taps(geo, region)
    pads = geo.pads
    padded = pad_hwc(img[:, :, group * per_in:(group + 1) * per_in], pads)
    patches = padded[tap_r[:, :, None], tap_c[:, None, :]]  # (n, kh, kw, C/groups)
    grads = grad[out_rows, out_cols, filter]  # (n,)
    contributions = grads[:, None, None, None] * patches
    partial = np.cumsum(contributions, axis=0)
    steps = GradSteps(grads, contributions, out_rows, out_cols, tap_r, tap_c, pads,
                      img.shape[:2], padded)
    read_only(grads, contributions, partial, out_rows, out_cols, tap_r, tap_c, padded)
    return steps, partial


def input_grad_steps(image: np.ndarray, weight: np.ndarray, grad_output: np.ndarray, *,
                     stride: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1,
                     groups: int = 1, region: Region | None = None) -> GradSteps:
    """dL/dimage window by window over `region` of the output: window (i, j) scatters
    Σ_f dL/dout[i, j, f] × W[f] (each filter onto its group's channels) back over its taps.
    ``crop(canvas())`` over the whole output equals ``conv_backward``'s grad_input."""
    img, w, g, geo, grad = _conv_setup(image, weight, grad_output, stride, padding, dilation,
                                       groups)
    out_rows, out_cols, tap_r, tap_c = _taps(geo, region)
    pads = geo.pads
    f_out, per_in = w.shape[0], img.shape[2] // g
    full = np.zeros((f_out, img.shape[2], *w.shape[2:]))  # (F, C, kh, kw), 0 off the group
    for f in range(f_out):
        group = f // (f_out // g)
        full[f, group * per_in:(group + 1) * per_in] = w[f]
    grads = grad[out_rows, out_cols]  # (n, F)
    contributions = np.einsum("nf,fcuv->nuvc", grads, full)
    steps = GradSteps(grads, contributions, out_rows, out_cols, tap_r, tap_c, pads,
                      img.shape[:2])
    read_only(grads, contributions, out_rows, out_cols, tap_r, tap_c)
    return steps


# --- one layer learning ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Backprop:
    """The forward and backward pass of conv → (ReLU) → (pooling) with the loss
    L = ½‖out − target‖², every array (H, W, C) as the image's."""

    conv: np.ndarray  # z = conv2d_layer(image, weight, bias)
    relu: np.ndarray | None  # max(z, 0), when asked
    out: np.ndarray  # what the loss compares with the target
    loss: float
    grad_out: np.ndarray  # dL/dout = out − target
    grad_relu: np.ndarray | None  # dL/d(ReLU output), through the pooling (None: no pooling)
    grad_conv: np.ndarray  # dL/dz: through the ReLU (0 where z ≤ 0)
    grad_input: np.ndarray
    grad_weight: np.ndarray  # (F, C/groups, kh, kw)
    grad_bias: np.ndarray  # (F,)


def forward(image: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
            stride: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1,
            groups: int = 1, relu: bool = False, pool: dict | None = None
            ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """conv → (ReLU) → (pooling): (z, the ReLU's output or None, the output), (H, W, C)
    each. `pool`: None or ``pool_backward``'s keywords."""
    z = conv2d_layer(image, weight, bias, stride=stride, padding=_zero_padding(padding),
                     dilation=dilation, groups=groups)
    a = np.maximum(z, 0.0) if relu else None
    out = a if relu else z
    if pool is not None:
        out = pool2d(out, **pool)
        out = out[:, :, None] if out.ndim == 2 else out
    return z, a, out


def backprop(image: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
             target: np.ndarray, *, stride: IntOrPair = 1, padding: IntOrPair = 0,
             dilation: IntOrPair = 1, groups: int = 1, relu: bool = False,
             pool: dict | None = None) -> Backprop:
    """One forward and backward pass. `pool`: None, or ``pool_backward``'s keywords (kind,
    size, stride, padding). `target` has the shape of the output."""
    settings = dict(stride=stride, padding=_zero_padding(padding), dilation=dilation,
                    groups=groups)
    z, a, out = forward(image, weight, bias, relu=relu, pool=pool, **settings)
    before_pool = a if relu else z
    t = _grad_output(target, out.shape)
    diff = out - t
    loss = 0.5 * float((diff ** 2).sum())
    grad_before = pool_backward(before_pool, diff, **pool) if pool is not None else diff
    grad_conv = grad_before * (z > 0) if relu else grad_before
    gx, gw, gb = conv_backward(image, weight, grad_conv, **settings)
    if bias is None:
        gb = np.zeros_like(gb)
    return Backprop(z, a, out, loss, diff, grad_before if pool is not None else None,
                    grad_conv, gx, gw, gb)


def descend(image: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
            target: np.ndarray, *, lr: float, steps: int = 1, **settings) -> list[tuple]:
    """Gradient descent on the weights and bias: W ← W − lr·dL/dW, b ← b − lr·dL/db, `steps`
    times. Returns [(loss before the step, weight, bias after it)] per step; `settings` are
    ``backprop``'s."""
    lr = float(lr)
    if not np.isfinite(lr) or lr <= 0:
        raise ParameterError(f"The learning rate must be a positive number, not {lr}.")
    steps = as_pair(steps, "steps")[0]
    if not 1 <= steps <= 1000:
        raise ParameterError(f"Take between 1 and 1,000 steps, not {steps}.")
    w = as_weight(weight)
    b = as_bias_vector(bias, w.shape[0])
    history = []
    for _ in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run: refused below
            run = backprop(image, w, b, target, **settings)
            w = w - lr * run.grad_weight
            b = None if b is None else b - lr * run.grad_bias
        if not (np.isfinite(run.loss) and np.isfinite(w).all()
                and (b is None or np.isfinite(b).all())):
            raise ParameterError(f"The weights ran off to infinity: a learning rate of {lr:g} "
                                 "is too large for this layer. Try a smaller one.")
        history.append((run.loss, w, b))
    return history
