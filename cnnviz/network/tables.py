"""The layer table: every layer that runs, with its output shape, parameters and cost.

One forward pass on zeros records each submodule's call order and output shape; the counts
come from ``cnnviz.arithmetic`` (the one home of the formulas), so the Architecture page, the
Grad-CAM layer list and the tests read the same numbers. Pass ``cnnviz.models.architecture``
(the network on PyTorch's ``meta`` device: shapes without storage) to count even VGG-16's
138 million parameters in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from cnnviz.arithmetic import (
    conv_macs,
    conv_macs_text,
    conv_params,
    conv_params_text,
    dense_macs,
    dense_macs_text,
    dense_params_text,
)
from cnnviz.network.hooks import (
    check_input_shape,
    first_tensor,
    forward_hooks,
    like_model,
    run_model,
)

__all__ = ["layer_table", "model_totals", "separable_vs_standard", "weight_layers"]


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
        row["macs"] = dense_macs(n_in, n_out, positions)
        row["macs_formula"] = dense_macs_text(n_in, n_out, positions)
    return row


def _trace(model: nn.Module, input_shape: Sequence[int]) -> tuple[list[dict], tuple | None]:
    """Layer-table rows and the model's output shape (batch dimension dropped)."""
    c, h, w = check_input_shape(input_shape)
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
                t = first_tensor(output)
                shapes[name] = tuple(t.shape[1:]) if t is not None else None

        return hook

    def model_output(module, args, output):
        t = first_tensor(output)
        result["shape"] = tuple(t.shape[1:]) if t is not None else None

    registrations = [(m, before(name), True) for name, m in named]
    registrations += [(m, after(name), False) for name, m in named]
    registrations.append((model, model_output, False))
    dtype, device = like_model(model)
    with torch.inference_mode(), forward_hooks(registrations):
        run_model(model, torch.zeros(1, c, h, w, dtype=dtype, device=device), "run")
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
      (``n_in·n_out`` per position, ``arithmetic.dense_macs``) count; batch norm folds into the
      preceding convolution at inference, and pooling and activations multiply by no weights,
      so they count 0, as in torchvision's published GFLOPS;
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


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the layers with weight matrices (convolutions and linear layers), input first."""
    return [name for name, m in model.named_modules()
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]


def separable_vs_standard(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """Each block with a depthwise-separable pair, as it is and with one standard convolution
    in place of the pair.

    The pair is a depthwise ``Conv2d`` (groups = input channels > 1: one k×k slice per
    channel) and the next convolution in its block, a 1×1 that mixes the channels. The
    standard one is a plain k×k convolution from the same ``hidden`` channels to the same
    ``c_out`` at the same stride (no bias: batch norm follows), which both filters and
    mixes. A block is the depthwise conv's parent, one level up when that parent holds no
    other convolution (EfficientNet's conv · BN units). Per block: ``name``, ``kernel``,
    ``stride``, ``hidden``, ``c_out``, ``out_hw``; ``pair_params``, ``pair_macs`` and
    ``standard_params``, ``standard_macs`` with ``standard_formula`` and
    ``standard_macs_formula`` (``arithmetic``'s texts); ``params`` and ``macs`` of the whole
    block as it is, and ``block_standard_params``, ``block_standard_macs`` with the
    standard convolution instead of the pair. Weights only in the pair counts; ``params``
    includes batch norm. One forward pass on zeros.
    """
    rows, _ = _trace(model, input_shape)
    by_name = {r["name"]: r for r in rows}
    modules = dict(model.named_modules())
    order = [r["name"] for r in rows]
    out = []
    for i, name in enumerate(order):
        dw = modules[name]
        if not (isinstance(dw, nn.Conv2d) and dw.groups > 1 and dw.groups == dw.in_channels):
            continue
        block = name.rpartition(".")[0]
        if block and not any(isinstance(modules[n], nn.Conv2d) and n != name
                             for n in order if n.startswith(block + ".")):
            block = block.rpartition(".")[0]
        later = [n for n in order[i + 1:] if isinstance(modules[n], nn.Conv2d)
                 and (not block or n.startswith(block + "."))]
        if not block or not later or tuple(modules[later[0]].kernel_size) != (1, 1):
            continue
        pw_row = by_name[later[0]]
        hidden, c_out = dw.in_channels, modules[later[0]].out_channels
        out_hw = tuple(pw_row["output_shape"][1:])
        k = tuple(dw.kernel_size)
        pair_params = by_name[name]["params"] + pw_row["params"]
        pair_macs = by_name[name]["macs"] + pw_row["macs"]
        standard_params = conv_params(hidden, c_out, k, bias=False)
        standard_macs = conv_macs(out_hw, hidden, c_out, k)
        params = by_name[block]["params_total"]
        macs = sum(by_name[n]["macs"] for n in order if n.startswith(block + "."))
        out.append({
            "name": block, "kernel": k, "stride": tuple(dw.stride), "hidden": hidden,
            "c_out": c_out, "out_hw": out_hw,
            "pair_params": pair_params, "pair_macs": pair_macs,
            "standard_params": standard_params, "standard_macs": standard_macs,
            "standard_formula": conv_params_text(hidden, c_out, k, bias=False),
            "standard_macs_formula": conv_macs_text(out_hw, hidden, c_out, k),
            "params": params, "macs": macs,
            "block_standard_params": params - pair_params + standard_params,
            "block_standard_macs": macs - pair_macs + standard_macs,
        })
    return out
