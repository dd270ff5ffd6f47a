"""Look inside a network: the layer table, feature maps and receptive fields.

Everything here reads a model and never changes it: ``load_model`` hands out one shared model,
so hooks are registered in a context manager that removes them even when the forward pass
fails, they only record what the *calling* thread runs (another session's forward pass on the
same shared model is ignored), and receptive fields are measured on a private stand-in.

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
``r_out = r_in + (k−1)·d·j_in`` (``rf_step``, the one home of that formula) next to every
measured value, with ``r_in`` measured on the layer's actual input, so it holds for every row
of a ResNet too.

Coordinates are input pixel indices (row, col); boxes are half-open
``(row0, row1, col0, col1)``, like ``cnnviz.ops.Region``.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.arithmetic import (
    as_pair,
    conv_macs,
    conv_macs_text,
    conv_params_text,
    dense_params_text,
    resolve_padding,
    rf_step,
    rf_step_text,
)

__all__ = [
    "LayerError",
    "ReceptiveField",
    "conv_layers",
    "effective_receptive_field",
    "feature_maps",
    "layer_names",
    "layer_table",
    "model_totals",
    "receptive_field",
    "receptive_field_table",
    "rf_step",
    "rf_step_text",
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


class LayerError(ValueError):
    """A layer name, unit or input shape that does not fit the model; the message says why."""


# ---------------------------------------------------------------------------
# Hooks


class _Reached(Exception):
    """Raised by a hook to stop a forward pass once everything needed has been seen."""


@contextmanager
def _hooks(
    registrations: Iterable[tuple[nn.Module, Callable, bool]],
) -> Iterator[None]:
    """Register ``(module, hook, pre)`` forward (pre-)hooks for the duration of a block.

    The hooks are removed on exit, also when the block raises. They only fire for forward
    passes run by the thread that registered them, so a shared model can be inspected while
    another thread uses it (the other thread's activations are not recorded).
    """
    owner = threading.get_ident()
    handles = []

    def this_thread_only(fn: Callable) -> Callable:
        def hook(*args):
            if threading.get_ident() == owner:
                return fn(*args)
            return None

        return hook

    try:
        for module, fn, pre in registrations:
            register = module.register_forward_pre_hook if pre else module.register_forward_hook
            handles.append(register(this_thread_only(fn)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _first_tensor(value: object) -> torch.Tensor | None:
    """The tensor a module returned, or the first tensor of a tuple/list it returned."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, torch.Tensor):
                return item
    return None


# ---------------------------------------------------------------------------
# Names and shapes


def layer_names(model: nn.Module) -> list[str]:
    """Every submodule name of ``model`` as ``named_modules()`` gives it (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def conv_layers(model: nn.Module) -> list[str]:
    """Names of the ``nn.Conv2d`` layers, in the order they were defined (no forward pass).

    For the models in the registry this is also the order in which they run.
    """
    return [name for name, m in model.named_modules() if name and isinstance(m, nn.Conv2d)]


def _modules(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """name -> module for each requested name; LayerError listing the valid names otherwise."""
    if isinstance(names, str):
        raise LayerError("Give the layers as a list of names, e.g. ['conv1'].")
    available = {name: m for name, m in model.named_modules() if name}
    unknown = [name for name in names if name not in available]
    if unknown:
        valid = ", ".join(available)
        raise LayerError(
            f"This model has no layer called {', '.join(map(repr, unknown))}. "
            f"Valid names: {valid}."
        )
    return {name: available[name] for name in names}


def _check_input_shape(input_shape: Sequence[int]) -> InputShape:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in shape):
        raise LayerError(
            f"The input shape must be (channels, height, width) with whole numbers >= 1, "
            f"not {input_shape!r}."
        )
    return tuple(int(v) for v in shape)  # type: ignore[return-value]


def _like_model(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """dtype and device of the model's first parameter (float32 on the CPU for none)."""
    for p in model.parameters():
        return p.dtype, p.device
    return torch.float32, torch.device("cpu")


def _run(model: nn.Module, x: torch.Tensor, what: str) -> None:
    """``model(x)``, stopping quietly at _Reached and explaining a shape mismatch."""
    try:
        model(x)
    except _Reached:
        pass
    except RuntimeError as err:
        shape = tuple(x.shape[1:])
        raise LayerError(
            f"The model cannot {what} on an input of shape (C, H, W) = {shape}: {err}"
        ) from err


# ---------------------------------------------------------------------------
# Layer table


def _row(name: str, module: nn.Module, output_shape: tuple[int, ...] | None, calls: int) -> dict:
    """One row of the layer table (see layer_table)."""
    own = sum(p.numel() for p in module.parameters(recurse=False))
    row = {
        "name": name,
        "type": type(module).__name__,
        "output_shape": output_shape,
        "params": own,
        "params_total": sum(p.numel() for p in module.parameters()),
        "macs": 0,
        "formula": "",
        "macs_formula": "",
        "is_leaf": next(module.children(), None) is None,
        "depth": name.count(".") + 1,  # 1 for a direct child of the model
        "calls": calls,  # a module may run more than once (ResNet blocks reuse one ReLU)
    }
    if isinstance(module, nn.Conv2d) and output_shape is not None and len(output_shape) == 3:
        args = (module.in_channels, module.out_channels, module.kernel_size)
        row["formula"] = conv_params_text(*args, module.bias is not None, module.groups)
        row["macs"] = conv_macs(output_shape[1:], *args, module.groups)
        row["macs_formula"] = conv_macs_text(output_shape[1:], *args, module.groups)
    elif isinstance(module, nn.Linear) and output_shape is not None:
        n_in, n_out = module.in_features, module.out_features
        row["formula"] = dense_params_text(n_in, n_out, module.bias is not None)
        positions = int(np.prod(output_shape[:-1], dtype=np.int64))  # 1 for a (B, n) input
        row["macs"] = positions * n_in * n_out  # one multiply-add per weight and position
        lead = f"{positions:,} × " if positions != 1 else ""
        row["macs_formula"] = f"{lead}{n_in:,} × {n_out:,} = {row['macs']:,}"
    return row


def _trace(model: nn.Module, input_shape: Sequence[int]) -> tuple[list[dict], tuple | None]:
    """Layer-table rows and the model's output shape (batch dimension dropped)."""
    c, h, w = _check_input_shape(input_shape)
    named = [(name, m) for name, m in model.named_modules() if name]
    order: list[str] = []
    calls: dict[str, int] = {}
    shapes: dict[str, tuple | None] = {}
    result: dict[str, tuple | None] = {}

    def before(name: str) -> Callable:
        def hook(module, args):
            if name not in calls:
                order.append(name)  # call order: a container starts before its children
                calls[name] = 0
            calls[name] += 1

        return hook

    def after(name: str) -> Callable:
        def hook(module, args, output):
            if name not in shapes:  # the first call's output
                t = _first_tensor(output)
                shapes[name] = tuple(t.shape[1:]) if t is not None else None

        return hook

    def model_output(module, args, output):
        t = _first_tensor(output)
        result["shape"] = tuple(t.shape[1:]) if t is not None else None

    registrations = [(m, before(name), True) for name, m in named]
    registrations += [(m, after(name), False) for name, m in named]
    registrations.append((model, model_output, False))
    dtype, device = _like_model(model)
    with torch.inference_mode(), _hooks(registrations):
        _run(model, torch.zeros(1, c, h, w, dtype=dtype, device=device), "run")
    modules = dict(named)
    rows = [_row(name, modules[name], shapes.get(name), calls[name]) for name in order]
    return rows, result.get("shape")


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """One row per submodule that runs, in the order the forward pass calls them.

    One forward pass on zeros of shape ``(1, *input_shape)`` with ``input_shape = (C, H, W)``.
    The order is that of the forward *calls*, so a container (``layer1``) comes before its
    children (``layer1.0.conv1``); modules that never run are left out, and so is the model
    itself. Keys of each row:

    - ``name``: as in ``named_modules()``; ``type``: the class name;
    - ``output_shape``: the output of the module's first call without the batch dimension,
      e.g. ``(64, 112, 112)``; ``None`` if it returned no tensor;
    - ``params``: the module's own parameters (``recurse=False``), so summing ``params`` over
      all rows (or over the leaves, for models whose containers own none) gives the model's
      total; ``params_total``: with its children's;
    - ``macs``: multiply-accumulates of one image. Only convolutions
      (``H_out·W_out·C_out·(C_in/groups)·kh·kw``, ``arithmetic.conv_macs``) and dense layers
      (``n_in·n_out`` per position) count; batch norm folds into the preceding convolution at
      inference, and pooling and activations multiply by no weights, so they count 0, as in
      torchvision's published GFLOPS;
    - ``formula``: the parameter count written out for conv and dense layers, e.g.
      ``"64 × (3·3·3 + 1) = 1,792"``, else ``""``; ``macs_formula`` likewise for ``macs``;
    - ``is_leaf`` (no children), ``depth`` (1 for a direct child), ``calls`` (times it ran).
    """
    rows, _ = _trace(model, input_shape)
    return rows


def model_totals(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Size and cost of a model on one image of shape ``(C, H, W)``.

    Returns ``params`` (all parameters), ``macs`` (sum of the layer table's MACs),
    ``layers`` (conv + dense layers, a ResNet's 1×1 shortcut convolutions included),
    ``conv_layers``, ``dense_layers`` and ``output_shape`` (without the batch dimension).
    """
    rows, output = _trace(model, input_shape)
    modules = dict(model.named_modules())
    n_conv = sum(isinstance(modules[r["name"]], nn.Conv2d) for r in rows)
    n_dense = sum(isinstance(modules[r["name"]], nn.Linear) for r in rows)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "macs": sum(r["macs"] for r in rows),
        "layers": n_conv + n_dense,
        "conv_layers": n_conv,
        "dense_layers": n_dense,
        "output_shape": output,
    }


# ---------------------------------------------------------------------------
# Feature maps


def _as_batch(image: torch.Tensor | np.ndarray, model: nn.Module) -> torch.Tensor:
    """A (1, C, H, W) tensor with the model's dtype and device; (C, H, W) gets a batch axis."""
    x = torch.as_tensor(image)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise LayerError(
            f"Expected one preprocessed image of shape (1, C, H, W), not {tuple(x.shape)}."
        )
    dtype, device = _like_model(model)
    return x.to(dtype=dtype, device=device)


def feature_maps(
    model: nn.Module, image_tensor: torch.Tensor, layers: Sequence[str]
) -> dict[str, np.ndarray]:
    """The output of each named layer for one image.

    ``image_tensor`` is a preprocessed ``(1, C, H, W)`` tensor; ``layers`` are names from
    ``named_modules()``. Returns name -> float32 array of that layer's output without the batch
    dimension, ``(C, h, w)`` for a conv-like layer, in the order asked. A module that runs
    twice (a ResNet block's shared ReLU) gives its first call's output. Values are copied as
    the layer returns them, so a later in-place ReLU cannot change them. The forward pass
    stops once every layer has been seen. Raises LayerError (a ValueError) for an unknown
    name, listing the valid ones, or for a layer that the forward pass never reached.
    """
    if isinstance(layers, str):
        raise LayerError(f"Give the layers as a list of names, e.g. [{layers!r}].")
    wanted = list(dict.fromkeys(layers))
    modules = _modules(model, wanted)
    x = _as_batch(image_tensor, model)
    maps: dict[str, np.ndarray] = {}

    def capture(name: str) -> Callable:
        def hook(module, args, output):
            if name in maps:
                return
            t = _first_tensor(output)
            if t is None:
                raise LayerError(f"Layer {name!r} does not return a tensor.")
            maps[name] = t.detach()[0].to(device="cpu", dtype=torch.float32, copy=True).numpy()
            if len(maps) == len(wanted):
                raise _Reached  # nothing left to see: skip the rest of the network

        return hook

    if not wanted:
        return {}
    with torch.inference_mode(), _hooks((m, capture(n), False) for n, m in modules.items()):
        _run(model, x, "run")
    missing = [name for name in wanted if name not in maps]
    if missing:
        raise LayerError(f"The forward pass never ran {', '.join(map(repr, missing))}.")
    return {name: maps[name] for name in wanted}


# ---------------------------------------------------------------------------
# Receptive fields: the formula


# ---------------------------------------------------------------------------
# Receptive fields: the probe


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 1, h, w)
        x = x.sum(1, keepdim=True)
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
    """A copy of ``model`` with every module replaced by its stand-in (weights not copied).

    ``deepcopy`` with the stand-ins in its memo: containers and their ``forward`` code are
    copied, replaced layers are never copied at all.
    """
    memo = {}
    for m in model.modules():
        stand_in = _stand_in(m)
        if stand_in is not None:
            memo[id(m)] = stand_in
    probe = copy.deepcopy(model, memo)
    for m in probe.modules():  # hooks copied from the original are not ours to run
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                     "_backward_pre_hooks", "_forward_hooks_with_kwargs",
                     "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called"):
            hooks = getattr(m, attr, None)
            if hooks is not None:
                hooks.clear()
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


def _centre(h: int, w: int) -> Pair:
    """The unit at the centre of an h×w map (the lower/right one of two middle units)."""
    return h // 2, w // 2


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
    modules = _modules(probe, names)
    x = torch.ones(2, channels, *hw, dtype=_PROBE_DTYPE, requires_grad=True)
    captured: dict[tuple[str, str], torch.Tensor] = {}
    order: list[str] = []
    needed = len(names) * (2 if inputs else 1)

    def keep(key: tuple[str, str], value: object) -> None:
        if key in captured:
            return
        t = _first_tensor(value)
        if t is None:
            raise LayerError(f"Layer {key[0]!r} does not pass on a tensor.")
        captured[key] = t
        if len(captured) == needed:
            raise _Reached

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
    with torch.enable_grad(), _hooks(registrations):
        _run(probe, x, "measure receptive fields")
    extents: dict[tuple[str, str], _Extent] = {}
    by_tensor: dict[tuple[int, tuple], _Extent] = {}  # a tensor feeding two layers: once
    for key, t in captured.items():
        if t.dim() == 4:
            h, w = t.shape[2:]
            a, b = (units or {}).get(key[0], (_centre(h, w), _neighbour(_centre(h, w), h, w)))
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
    touches the border and measures the same at two sizes in a row; that is then its
    theoretical field, unclipped. A tensor whose spatial size does not grow with the input
    (adaptive pooling, dense layers), or whose field is still growing at MAX_PROBE_SIDE,
    gets the geometry measured at the given size instead, with ``fixed=False``.
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
            if g is not None and g == before.geometry() and not now.touches_border():
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


# ---------------------------------------------------------------------------
# Receptive fields: the public functions


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
        return tuple(o + (s - 1) / 2 for o, s in zip(self.origin, self.size))  # type: ignore

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the field of ``unit``: ``start + unit·jump``."""
        return tuple(s + u * j for s, u, j in zip(self.start, self.unit, self.jump))  # type: ignore

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


def _layer_key(model: nn.Module, layer: str) -> None:
    if not isinstance(layer, str):
        raise LayerError(f"A layer is given by its name, e.g. 'conv1', not {layer!r}.")
    _modules(model, [layer])


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
    shape = _check_input_shape(input_shape)
    _layer_key(model, layer)
    cache = _probe_for(model)
    key = ("field", layer, shape)
    with cache.lock:
        if key not in cache.fields:
            geometries, at_input, _ = _geometries(cache.probe, [layer], shape)
            g, ext = geometries[(layer, "out")], at_input[(layer, "out")]
            out_hw = ext.out_hw or (1, 1)
            field = ReceptiveField(layer, shape, out_hw, g.size, g.jump, g.origin,
                                   ext.unit_a, ext.box_a, input_dependent=not g.fixed)
            if g.fixed:  # the theoretical box, clipped (equals ext.box_a)
                field = replace(field, box=field.box_of(*ext.unit_a))
            cache.fields[key] = field
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
    shape = _check_input_shape(input_shape)
    names = [name for name, m in model.named_modules()
             if name and isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    if not names:
        return []
    cache = _probe_for(model)
    key = ("table", shape)
    with cache.lock:
        if key not in cache.fields:
            geometries, _, order = _geometries(cache.probe, names, shape, inputs=True)
            modules = dict(model.named_modules())
            cache.fields[key] = [_table_row(name, modules[name], geometries[(name, "in")],
                                            geometries[(name, "out")]) for name in order]
        return copy.deepcopy(cache.fields[key])  # type: ignore[arg-type]


def _table_row(name: str, module: nn.Module, g_in: _Geometry, g_out: _Geometry) -> dict:
    kernel = as_pair(module.kernel_size, "kernel size")
    stride = as_pair(module.stride or module.kernel_size, "stride")
    dilation = as_pair(getattr(module, "dilation", 1), "dilation")
    padding = resolve_padding(module.padding, kernel, dilation, stride)
    texts = [rf_step_text(g_in.size[a], g_in.jump[a], kernel[a], stride[a], dilation[a])
             for a in (0, 1)]
    formula = texts[0] if texts[0] == texts[1] else f"h: {texts[0]}; w: {texts[1]}"
    start = tuple(o + (s - 1) / 2 for o, s in zip(g_out.origin, g_out.size))
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
    module = _modules(model, [layer])[layer]
    x = _as_batch(input_tensor, model).detach().clone().requires_grad_(True)
    captured: dict[str, torch.Tensor] = {}

    def capture(mod, args, output):
        if "out" not in captured:
            captured["out"] = _first_tensor(output)
            raise _Reached  # the rest of the network does not matter

    with torch.enable_grad(), _hooks([(module, capture, False)]):
        _run(model, x, "run")
    out = captured.get("out")
    if out is None:
        raise LayerError(f"The forward pass never ran {layer!r}.")
    if out.dim() != 4:
        raise LayerError(
            f"Layer {layer!r} has no spatial output (its shape is {tuple(out.shape[1:])}); "
            "choose a convolution or pooling layer."
        )
    channels, h, w = out.shape[1:]
    c, uy, ux = unit if unit is not None else (None, h // 2, w // 2)
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
