"""Receptive fields: which input pixels one unit of a layer sees, measured on the network.

Receptive fields are measured, not derived. The receptive field of a unit is, by definition,
the set of input pixels its value depends on: the support of its input gradient. Measured on
the real model that support can shrink (a ReLU that is off, a max-pool window whose maximum is
elsewhere, a weight that happens to be 0), so it is measured on a *probe*: a copy of the
model's graph in which every convolution sums its input channels and applies a kernel of ones
with the same size, stride, padding and dilation, every pooling layer averages over the same
windows, every dense layer sums its inputs, and activations, normalisation and dropout are
left out. All weights are then positive, so the gradient of a unit is positive exactly on its
theoretical receptive field. Because autograd follows the model's own ``forward``, branches
and residual additions need no special case: the field of ``a + b`` is the union of the
fields of ``a`` and ``b``. ``receptive_field_table`` shows the classic recurrence
``r_out = r_in + (k−1)·d·j_in`` (``arithmetic.rf_step``, the one home of that formula) next to
every measured value, with ``r_in`` measured on the layer's actual input, so it holds for every
row of a ResNet too. ``effective_receptive_field`` is the other view: the input gradient of one
unit on the real network, weights, ReLUs and all.

The model is never changed: the probe is a private copy (``hooks.private_copy``) and every hook
goes through ``hooks.forward_hooks``, which removes it even when the pass fails. Coordinates
are input pixel indices (row, col); boxes are half-open ``(row0, row1, col0, col1)``, like
``cnnviz.ops.Region``.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.arithmetic import (
    as_pair,
    centre_unit,
    resolve_padding,
    rf_step_text,
    tf_same_padding,
)
from cnnviz.network.hooks import (
    LayerError,
    StopForward,
    as_batch,
    check_input_shape,
    first_tensor,
    forward_hooks,
    get_layer,
    get_layers,
    private_copy,
    run_model,
    run_until,
)

__all__ = [
    "MAX_PROBE_SIDE",
    "ReceptiveField",
    "effective_receptive_field",
    "receptive_field",
    "receptive_field_table",
    "unit_receptive_box",
]

Pair = tuple[int, int]
Region = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, input pixels
InputShape = tuple[int, int, int]  # (C, H, W) of one image, no batch dimension

# The probe input grows by doubling until every receptive field is measured away from the
# border; a field still growing at this side length counts as depending on the input size.
MAX_PROBE_SIDE = 4096
# The probe's weights are ones, so its gradients count paths: they can overflow to inf in a
# very deep network, which is still non-zero, and never underflow. float32 is 5x faster.
_PROBE_DTYPE = torch.float32


# --- the probe ------------------------------------------------------------------------------


class _SumConv(nn.Module):
    """A convolution's geometry with all-positive weights: channel sum, then a ones kernel."""

    def __init__(self, conv: nn.Conv2d | nn.ConvTranspose2d):
        super().__init__()
        self.transposed = isinstance(conv, nn.ConvTranspose2d)
        self.kernel_size = tuple(conv.kernel_size)
        self.stride = conv.stride
        self.padding = conv.padding  # zeros padding always: the same output size
        self.dilation = conv.dilation
        self.output_padding = getattr(conv, "output_padding", 0)
        # Undilated: the same windows as a box filter (avg_pool2d), whose backward is 10-20x
        # faster than a one-channel convolution's; the support is all that is measured.
        self.box = (not self.transposed and tuple(self.dilation) == (1, 1)
                    and not isinstance(self.padding, str))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 1, h, w)
        x = x.sum(1, keepdim=True)
        if self.box:
            ph, pw = self.padding
            if ph or pw:
                x = F.pad(x, (pw, pw, ph, ph))
            return F.avg_pool2d(x, self.kernel_size, self.stride)
        ones = x.new_ones(1, 1, *self.kernel_size)
        if self.transposed:
            return F.conv_transpose2d(x, ones, None, self.stride, self.padding,
                                      self.output_padding, 1, self.dilation)
        return F.conv2d(x, ones, None, self.stride, self.padding, self.dilation)


class _MeanPool(nn.Module):
    """A max- or average-pooling layer's windows, averaged (the gradient reaches every tap)."""

    def __init__(self, pool: nn.MaxPool2d | nn.AvgPool2d):
        super().__init__()
        self.kernel_size = as_pair(pool.kernel_size, "kernel size")
        self.stride = as_pair(pool.stride or pool.kernel_size, "stride")
        self.padding = as_pair(pool.padding, "padding")
        self.dilation = as_pair(getattr(pool, "dilation", 1), "dilation")
        self.ceil_mode = pool.ceil_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dilation == (1, 1):
            return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)
        # A dilated max pool: a ones kernel per channel (ceil_mode is not reproduced here).
        ones = x.new_ones(x.shape[1], 1, *self.kernel_size)
        return F.conv2d(x, ones, None, self.stride, self.padding, self.dilation, x.shape[1])


class _SumDense(nn.Module):
    """A dense layer with all-positive weights, collapsed to one output: the feature sum."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(-1, keepdim=True)


_LEFT_OUT = (  # elementwise (or per-channel) layers: they do not move anything in space
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
    nn.modules.dropout._DropoutNd,
)


def _stand_in(module: nn.Module) -> nn.Module | None:
    """The probe's replacement for a module, or None to keep (a copy of) it."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        return _SumConv(module)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return _MeanPool(module)
    if isinstance(module, nn.AdaptiveMaxPool2d):
        return nn.AdaptiveAvgPool2d(module.output_size)
    if isinstance(module, nn.Linear):
        return _SumDense()
    if isinstance(module, _LEFT_OUT) or (
        type(module).__module__ == "torch.nn.modules.activation"
        and not isinstance(module, nn.MultiheadAttention)
    ):
        return nn.Identity()
    return None


def _build_probe(model: nn.Module) -> nn.Module:
    """A private copy of ``model`` with every module replaced by its stand-in.

    Containers and their ``forward`` code are copied (``hooks.private_copy``, so no hook of
    the model comes along); replaced layers are never copied at all. The copy has weights of
    its own (``share_weights=False``): it is moved to float32 below, which must not touch the
    model's tensors.
    """
    stand_ins = {}
    for m in model.modules():
        stand_in = _stand_in(m)
        if stand_in is not None:
            stand_ins[id(m)] = stand_in
    probe = private_copy(model, share_weights=False, replace=stand_ins)
    return probe.to(device="cpu", dtype=_PROBE_DTYPE).eval()


@dataclass(frozen=True)
class _Extent:
    """Input-gradient support of two units of one tensor, measured on an input of size hw."""

    hw: Pair  # input (H, W)
    out_hw: Pair | None  # the tensor's (h, w); None if it has no spatial axes
    unit_a: Pair = (0, 0)
    box_a: Region = (0, 0, 0, 0)
    unit_b: Pair = (0, 0)  # a neighbour of unit_a (one further down and right if it exists)
    box_b: Region = (0, 0, 0, 0)

    def geometry(self) -> tuple[Pair, Pair, Pair] | None:
        """(size, jump, origin) per axis, or None where the two units do not tell the jump."""
        if self.out_hw is None or self.unit_a[0] == self.unit_b[0] or \
                self.unit_a[1] == self.unit_b[1]:
            return None
        size, jump, origin = [], [], []
        for axis in (0, 1):
            lo_a, hi_a = self.box_a[2 * axis], self.box_a[2 * axis + 1]
            lo_b = self.box_b[2 * axis]
            step = self.unit_b[axis] - self.unit_a[axis]
            j = (lo_b - lo_a) // step
            size.append(hi_a - lo_a)
            jump.append(j)
            origin.append(lo_a - self.unit_a[axis] * j)
        return tuple(size), tuple(jump), tuple(origin)  # type: ignore[return-value]

    def touches_border(self) -> bool:
        h, w = self.hw
        return any(box[0] == 0 or box[1] == h or box[2] == 0 or box[3] == w
                   for box in (self.box_a, self.box_b))


def _support(grad: torch.Tensor) -> Region:
    """Half-open bounding box of the non-zero entries of a (C, H, W) gradient."""
    mask = grad.abs().sum(0) > 0
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    if rows.numel() == 0:
        raise LayerError("This layer does not depend on the input, so it has no receptive field.")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _neighbour(unit: Pair, h: int, w: int) -> Pair:
    """A unit diagonally next to ``unit``: one further down/right, or up/left at the edge;
    the same row (column) when there is only one."""

    def step(i: int, n: int) -> int:
        return i + 1 if i + 1 < n else max(i - 1, 0)

    return step(unit[0], h), step(unit[1], w)


def _probe_extents(
    probe: nn.Module,
    names: Sequence[str],
    channels: int,
    hw: Pair,
    inputs: bool = False,
    units: dict[str, tuple[Pair, Pair]] | None = None,
) -> tuple[dict[tuple[str, str], _Extent], list[str]]:
    """Measure the receptive fields of the named layers' outputs (and inputs) on the probe.

    One forward pass on ones of shape (2, channels, *hw) with the probe's all-positive
    weights, so every activation is positive; then for each captured tensor one backward pass
    of ``t[0, :, unit_a].sum() + t[1, :, unit_b].sum()``, which gives the gradients of the two
    units in the two images of the batch. Returns ``{(name, "out" or "in"): _Extent}`` and the
    names in the order they were first called. ``units`` overrides the units per name.
    """
    modules = get_layers(probe, names)
    x = torch.ones(2, channels, *hw, dtype=_PROBE_DTYPE, requires_grad=True)
    captured: dict[tuple[str, str], torch.Tensor] = {}
    order: list[str] = []
    needed = len(names) * (2 if inputs else 1)

    def keep(key: tuple[str, str], value: object) -> None:
        if key in captured:
            return
        t = first_tensor(value)
        if t is None:
            raise LayerError(f"Layer {key[0]!r} does not pass on a tensor.")
        captured[key] = t
        if len(captured) == needed:
            raise StopForward

    def before(name: str) -> Callable:
        def hook(module, args):
            if name not in order:
                order.append(name)
            if inputs:
                keep((name, "in"), args)

        return hook

    def after(name: str) -> Callable:
        def hook(module, args, output):
            keep((name, "out"), output)

        return hook

    registrations = [(m, before(n), True) for n, m in modules.items()]
    registrations += [(m, after(n), False) for n, m in modules.items()]
    with torch.enable_grad(), forward_hooks(registrations):
        run_model(probe, x, "measure receptive fields")
    extents: dict[tuple[str, str], _Extent] = {}
    by_tensor: dict[tuple[int, tuple], _Extent] = {}  # a tensor feeding two layers: once
    for key, t in captured.items():
        if t.dim() == 4:
            h, w = t.shape[2:]
            centre = centre_unit(h, w)
            a, b = (units or {}).get(key[0], (centre, _neighbour(centre, h, w)))
            out_hw = (h, w)
        else:  # no spatial axes (after a dense layer): all of it
            a = b = (0, 0)
            out_hw = None
        cache_key = (id(t), (a, b))
        if cache_key not in by_tensor:
            if out_hw is None:
                objective = t[0].sum() + t[1].sum()
            else:
                objective = t[0, :, a[0], a[1]].sum() + t[1, :, b[0], b[1]].sum()
            (grad,) = torch.autograd.grad(objective, x, retain_graph=True)
            by_tensor[cache_key] = _Extent(hw, out_hw, a, _support(grad[0]), b,
                                           _support(grad[1]))
        extents[key] = by_tensor[cache_key]
    return extents, order


@dataclass(frozen=True)
class _Geometry:
    """Where a tensor's units look, independent of the input size (when ``fixed``)."""

    size: Pair
    jump: Pair
    origin: Pair
    fixed: bool  # False: the field grows with the input (after adaptive pooling, dense layers)


def _geometries(
    probe: nn.Module, names: Sequence[str], input_shape: InputShape, inputs: bool = False
) -> tuple[dict[tuple[str, str], _Geometry], dict[tuple[str, str], _Extent], list[str]]:
    """Receptive-field geometry of each layer's output (and input), measured off the border.

    The probe input starts at the given size and doubles until a tensor's field no longer
    touches the border: two neighbouring units whose fields lie wholly inside the input
    give the theoretical field, unclipped (its size, and the jump between them). A tensor
    whose spatial size does not grow with the input (adaptive pooling, dense layers), or
    whose field is still growing at MAX_PROBE_SIDE, gets the geometry measured at the given
    size instead, with ``fixed=False``.
    Returns the geometries, the extents at the given size and the call order.
    """
    c, h, w = input_shape
    at_input, order = _probe_extents(probe, names, c, (h, w), inputs)
    result: dict[tuple[str, str], _Geometry] = {}
    previous = at_input
    pending = list(at_input)
    size = (h, w)
    while pending:
        size = (2 * size[0], 2 * size[1])
        if max(size) > MAX_PROBE_SIDE:
            break
        pending_names = list(dict.fromkeys(name for name, _ in pending))
        try:
            current, _ = _probe_extents(probe, pending_names, c, size, inputs)
        except LayerError:  # the model only runs near its own input size
            break
        still = []
        for key in pending:
            before, now = previous[key], current[key]
            grows = now.out_hw is not None and before.out_hw is not None and \
                now.out_hw[0] > before.out_hw[0] and now.out_hw[1] > before.out_hw[1]
            if not grows:
                continue  # input-size dependent: measured at the given size below
            g = now.geometry()
            if g is not None and not now.touches_border():  # unclipped: the whole field
                result[key] = _Geometry(*g, fixed=True)
            else:
                still.append(key)
        previous, pending = current, still
    for key, ext in at_input.items():
        if key not in result:
            result[key] = _input_dependent(ext)
    return result, at_input, order


def _input_dependent(ext: _Extent) -> _Geometry:
    """Geometry as measured at one input size (the field depends on that size)."""
    box = ext.box_a
    size = (box[1] - box[0], box[3] - box[2])
    g = ext.geometry()
    if g is not None:
        return _Geometry(size, g[1], g[2], fixed=False)
    return _Geometry(size, ext.hw, (box[0], box[2]), fixed=False)


class _ProbeCache:
    """The probe of one model and the fields measured on it, guarded by a lock."""

    def __init__(self, model: nn.Module):
        self.probe = _build_probe(model)
        self.lock = threading.Lock()
        self.fields: dict[tuple, object] = {}


_PROBES: weakref.WeakKeyDictionary[nn.Module, _ProbeCache] = weakref.WeakKeyDictionary()
_PROBES_LOCK = threading.Lock()


def _probe_for(model: nn.Module) -> _ProbeCache:
    """The cached probe of ``model``; built on first use and dropped with the model."""
    with _PROBES_LOCK:
        cache = _PROBES.get(model)
        if cache is None:
            cache = _PROBES[model] = _ProbeCache(model)
        return cache


# --- the public functions -----------------------------------------------------------------


def _field_start(origin: Pair, size: Pair) -> tuple[float, float]:
    """Centre of unit (0, 0)'s field: ``origin + (size − 1)/2`` per axis (half-pixels possible)."""
    return tuple(o + (s - 1) / 2 for o, s in zip(origin, size, strict=True))  # type: ignore


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one layer, in input pixels (row, col).

    ``size`` is the (h, w) extent of one unit's field, unclipped; ``jump`` is the distance in
    input pixels between the fields of neighbouring units (the product of the strides);
    ``origin`` is the top-left pixel of unit (0, 0)'s field, negative where it starts in the
    padding. Unit (y, x) therefore sees rows ``origin[0] + y·jump[0]`` up to, not including,
    ``+ size[0]`` (``box_of``). ``unit`` is the unit at the centre of the layer's output
    ``output_hw`` for the input ``input_shape``, and ``box`` its field clipped to the input,
    half-open ``(row0, row1, col0, col1)``. ``input_dependent`` is True when the field grows
    with the input (after adaptive pooling or a dense layer); then everything was measured at
    ``input_shape``, ``size`` is the clipped extent, and a layer without spatial axes (a dense
    layer) has ``output_hw == (1, 1)`` and ``jump`` equal to the input size.
    """

    layer: str
    input_shape: InputShape
    output_hw: Pair
    size: Pair
    jump: Pair
    origin: Pair
    unit: Pair
    box: Region
    input_dependent: bool = False

    @property
    def start(self) -> tuple[float, float]:
        """Centre of unit (0, 0)'s field: ``origin + (size − 1)/2`` (half-pixels possible)."""
        return _field_start(self.origin, self.size)

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the field of ``unit``: ``start + unit·jump``."""
        return tuple(s + u * j for s, u, j in  # type: ignore[return-value]
                     zip(self.start, self.unit, self.jump, strict=True))

    @property
    def clipped(self) -> bool:
        """True when the input border cuts the field of ``unit``."""
        return self.box != self.full_box_of(*self.unit)

    def full_box_of(self, y: int, x: int) -> Region:
        """Unclipped half-open field of unit (y, x); may extend past the input."""
        top = self.origin[0] + y * self.jump[0]
        left = self.origin[1] + x * self.jump[1]
        return top, top + self.size[0], left, left + self.size[1]

    def box_of(self, y: int, x: int) -> Region:
        """Field of unit (y, x) clipped to the input, half-open (row0, row1, col0, col1)."""
        _, h, w = self.input_shape
        r0, r1, c0, c1 = self.full_box_of(y, x)
        return max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)


def _origin_at(g: _Geometry, ext: _Extent) -> Pair:
    """The origin of unit (0, 0)'s field at the input size ``ext`` was measured at.

    The geometry was measured on larger inputs. Padding that is worked out from the input
    (TensorFlow's "SAME" of EfficientNet-Lite) can shift the fields by a pixel at another
    size, so where the centre unit's field has an unclipped side at this size, the origin
    is read off that side; where both sides are clipped, the larger input's origin stays.
    """
    h, w = ext.hw
    origin = []
    for axis, n in ((0, h), (1, w)):
        lo, hi = ext.box_a[2 * axis], ext.box_a[2 * axis + 1]
        offset = ext.unit_a[axis] * g.jump[axis]
        if lo > 0:
            origin.append(lo - offset)
        elif hi < n:
            origin.append(hi - g.size[axis] - offset)
        else:
            origin.append(g.origin[axis])
    return tuple(origin)  # type: ignore[return-value]


def receptive_field(
    model: nn.Module, layer: str, input_shape: Sequence[int]
) -> ReceptiveField:
    """The receptive field of the units of ``layer`` for images of shape ``(C, H, W)``.

    Measured as the support of one unit's input gradient on the model's probe (see the
    module docstring), so it handles any graph: branches, residual additions, dilation,
    strides. ``size`` equals the extent of the non-zero input gradient of a unit whose field
    lies inside the input; ``box`` equals it for the centre unit at ``input_shape``. The model
    is not modified. Cached per model, layer and input shape; ResNet-18 at 224×224 takes
    about 0.1 s on one thread the first time.
    """
    shape = check_input_shape(input_shape)
    get_layer(model, layer)
    cache = _probe_for(model)
    key = ("field", layer, shape)
    with cache.lock:
        if key not in cache.fields:
            geometries, at_input, _ = _geometries(cache.probe, [layer], shape)
            g, ext = geometries[(layer, "out")], at_input[(layer, "out")]
            out_hw = ext.out_hw or (1, 1)
            origin = _origin_at(g, ext) if g.fixed else g.origin
            cache.fields[key] = ReceptiveField(layer, shape, out_hw, g.size, g.jump, origin,
                                               ext.unit_a, ext.box_a,
                                               input_dependent=not g.fixed)
        return cache.fields[key]  # type: ignore[return-value]


def unit_receptive_box(
    model: nn.Module, layer: str, input_shape: Sequence[int], y: int, x: int
) -> Region:
    """Half-open box ``(row0, row1, col0, col1)`` of the input seen by unit (y, x) of ``layer``.

    ``origin + y·jump`` up to ``+ size``, clipped to the input; for a field that depends on
    the input size, the box is measured for that unit directly.
    """
    field = receptive_field(model, layer, input_shape)
    h, w = field.output_hw
    if not (0 <= y < h and 0 <= x < w):
        raise LayerError(
            f"Layer {layer!r} has {h}×{w} units; there is no unit at row {y}, column {x}."
        )
    if not field.input_dependent:
        return field.box_of(y, x)
    cache = _probe_for(model)
    c, ih, iw = field.input_shape
    with cache.lock:
        extents, _ = _probe_extents(cache.probe, [layer], c, (ih, iw),
                                    units={layer: ((y, x), (y, x))})
    return extents[(layer, "out")].box_a


def receptive_field_table(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """The receptive field after every convolution and pooling layer, in forward order.

    One row per ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` with ``name``, ``type``,
    ``kernel``, ``stride``, ``dilation`` ((h, w) pairs), ``padding`` (top, bottom, left,
    right), ``rf_in`` and ``jump_in`` (the field of the layer's *input*), ``rf`` and ``jump``
    (of its output), ``start`` (centre of unit (0, 0)'s field), ``fixed`` (False when the
    field depends on the input size) and ``formula``: the recurrence ``rf_step`` written out
    with this row's numbers, e.g. ``"5 + (3−1)·1·1 = 7"`` (both axes when they differ).
    Every value is measured on the probe, so ``rf == rf_step(rf_in, jump_in, ...)`` holds
    for every row, also inside residual blocks, where ``rf_in`` is the field of the block's
    input rather than that of the previous row.
    """
    shape = check_input_shape(input_shape)
    names = [name for name, m in model.named_modules()
             if name and isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    if not names:
        return []
    cache = _probe_for(model)
    key = ("table", shape)
    with cache.lock:
        if key not in cache.fields:
            modules = dict(model.named_modules())
            pads = _padded_by(modules, names)
            geometries, at_input, order = _geometries(cache.probe, names + list(pads.values()),
                                                      shape, inputs=True)
            cache.fields[key] = [
                _table_row(name, modules[name], geometries[(name, "in")],
                           geometries[(name, "out")],
                           at_input[(pads[name], "in")].out_hw if name in pads else None)
                for name in order if name not in pads.values()]
        return copy.deepcopy(cache.fields[key])  # type: ignore[arg-type]


def _padded_by(modules: dict[str, nn.Module], names: Sequence[str]) -> dict[str, str]:
    """conv name -> the sibling module that pads its input ("SAME" worked out per input, as
    EfficientNet-Lite's strided convs do), for the convs that name one in
    ``cnnviz_padded_by``."""
    out = {}
    for name in names:
        sibling = getattr(modules[name], "cnnviz_padded_by", None)
        if sibling:
            parent = name.rpartition(".")[0]
            out[name] = f"{parent}.{sibling}" if parent else sibling
    return out


def _table_row(name: str, module: nn.Module, g_in: _Geometry, g_out: _Geometry,
               pad_in_hw: Pair | None) -> dict:
    kernel = as_pair(module.kernel_size, "kernel size")
    stride = as_pair(module.stride or module.kernel_size, "stride")
    dilation = as_pair(getattr(module, "dilation", 1), "dilation")
    if pad_in_hw is not None:  # TensorFlow's "SAME" for the input its pad module gets
        padding = (*tf_same_padding(pad_in_hw[0], kernel[0], stride[0], dilation[0]),
                   *tf_same_padding(pad_in_hw[1], kernel[1], stride[1], dilation[1]))
    else:
        padding = resolve_padding(module.padding, kernel, dilation, stride)
    texts = [rf_step_text(g_in.size[a], g_in.jump[a], kernel[a], stride[a], dilation[a])
             for a in (0, 1)]
    formula = texts[0] if texts[0] == texts[1] else f"h: {texts[0]}; w: {texts[1]}"
    start = _field_start(g_out.origin, g_out.size)
    return {
        "name": name,
        "type": type(module).__name__,
        "kernel": kernel,
        "stride": stride,
        "dilation": dilation,
        "padding": padding,
        "rf_in": g_in.size,
        "jump_in": g_in.jump,
        "rf": g_out.size,
        "jump": g_out.jump,
        "start": start,
        "fixed": g_in.fixed and g_out.fixed,
        "formula": formula,
    }


def effective_receptive_field(
    model: nn.Module,
    layer: str,
    input_tensor: torch.Tensor,
    unit: tuple[int | None, int, int] | None = None,
) -> np.ndarray:
    """How strongly each input pixel moves one unit of ``layer``, on the real model.

    ``input_tensor`` is one preprocessed image ``(1, C, H, W)``; ``unit`` is ``(c, y, x)``
    in the layer's output, ``c=None`` meaning the sum over channels; ``None`` is the sum over
    channels at the centre. Returns float32 ``(H, W)``: ``|∂ unit / ∂ input|`` summed over
    the input channels and divided by its maximum, so in [0, 1] (all zeros if the gradient
    is zero). Unlike ``receptive_field`` this uses the real weights, ReLUs and max pools (the
    "effective" receptive field of Luo et al., 2016): it is usually concentrated in the
    middle of the theoretical field. The model is not modified.
    """
    module = get_layer(model, layer)
    x = as_batch(input_tensor, model).detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = run_until(model, layer, x, module)  # the rest of the network does not matter
    if out.dim() != 4:
        raise LayerError(
            f"Layer {layer!r} has no spatial output (its shape is {tuple(out.shape[1:])}); "
            "choose a convolution or pooling layer."
        )
    channels, h, w = out.shape[1:]
    c, uy, ux = unit if unit is not None else (None, *centre_unit(h, w))
    if not (0 <= uy < h and 0 <= ux < w) or (c is not None and not 0 <= c < channels):
        raise LayerError(
            f"Layer {layer!r} has {channels} channels of {h}×{w} units; there is no unit "
            f"{unit!r}."
        )
    value = out[0, :, uy, ux].sum() if c is None else out[0, c, uy, ux]
    (grad,) = torch.autograd.grad(value, x)
    magnitude = grad[0].abs().sum(0).to(torch.float32).cpu().numpy()  # (H, W)
    peak = float(magnitude.max())
    return magnitude / peak if peak > 0 else magnitude
