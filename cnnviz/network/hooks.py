"""Reaching inside a model: layers by name, hooks, running up to a layer, private copies.

Everything in ``cnnviz`` that looks inside a network goes through this module, so the rules
below hold everywhere:

- **One error.** A layer name, unit or input shape that does not fit the model raises
  ``LayerError`` (a ``ValueError``) with a sentence that says why, and pages catch that.
- **Hooks never stay.** ``forward_hooks`` registers hooks for the duration of a block and
  removes them on exit, also when the block raises. They only fire for forward passes run by
  the thread that registered them, so a model shared by every Streamlit session
  (``load_model`` hands out one) can be read while another thread runs it.
- **Stop early.** A hook may raise ``StopForward`` once it has what it needs; ``run_model``
  swallows it (and explains a shape mismatch as a ``LayerError``), so the rest of a deep
  network is not computed.
- **Private copies.** ``private_copy`` gives a copy of a model's module tree without any of
  its hooks (all seven hook dictionaries of ``nn.Module``), in eval mode, with every
  ``inplace`` flag off, sharing or copying its weights. ``borrowed`` keeps one such twin per
  model behind a lock, for code that must put hooks of its own on a model (captum's methods,
  Grad-CAM) without disturbing anyone else.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

__all__ = [
    "HOOK_DICTS",
    "LayerError",
    "StopForward",
    "as_batch",
    "borrowed",
    "check_input_shape",
    "conv_layers",
    "first_conv",
    "first_tensor",
    "forward_hooks",
    "get_layer",
    "get_layers",
    "hook_count",
    "layer_names",
    "like_model",
    "private_copy",
    "run_model",
    "run_until",
]

InputShape = tuple[int, int, int]  # (C, H, W) of one image, no batch dimension
Registration = tuple[nn.Module, Callable, bool]  # (module, hook, pre: a forward pre-hook)

#: Every hook dictionary an ``nn.Module`` keeps (torch 2.x): forward, forward-pre (each also
#: with keyword arguments), "always called" forward hooks, backward and backward-pre.
HOOK_DICTS = (
    "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
    "_backward_pre_hooks",
)
class LayerError(ValueError):
    """A layer name, unit or input shape that does not fit the model; the message says why."""


class StopForward(Exception):
    """Raised by a hook to stop a forward pass once everything needed has been seen."""


# --- names --------------------------------------------------------------------------------


def layer_names(model: nn.Module) -> list[str]:
    """Every submodule name of ``model`` as ``named_modules()`` gives it (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def conv_layers(model: nn.Module) -> list[str]:
    """Names of the ``nn.Conv2d`` layers, in the order they were defined (no forward pass).

    For the models in the registry this is also the order in which they run.
    """
    return [name for name, m in model.named_modules() if name and isinstance(m, nn.Conv2d)]


def first_conv(model: nn.Module) -> str:
    """Name of the model's first convolution (the one that looks at the pixels); LayerError
    when it has none."""
    convs = conv_layers(model)
    if not convs:
        raise LayerError("This model has no convolution.")
    return convs[0]


#: Names listed in an unknown-layer message, at most (ResNet-18 has 60, VGG-16 40).
_LISTED_NAMES = 80


def get_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """name -> module for each requested name; LayerError listing the valid names otherwise."""
    if isinstance(names, str):
        raise LayerError(f"Give the layers as a list of names, e.g. [{names!r}].")
    try:  # the usual case, by the dotted path: a walk down the tree, not a listing of it
        # (EfficientNet has about 300 modules, and a Grad-CAM rerun looks up 40 names)
        if all(isinstance(name, str) and name for name in names):
            return {name: model.get_submodule(name) for name in names}
    except AttributeError:
        pass  # an unknown name: the listing below says which ones are valid
    available = {name: m for name, m in model.named_modules() if name}
    unknown = [name for name in names if not isinstance(name, str) or name not in available]
    if unknown:
        valid = list(available)
        shown = ", ".join(valid[:_LISTED_NAMES]) + (", ..." if len(valid) > _LISTED_NAMES else "")
        raise LayerError(
            f"This model has no layer called {', '.join(map(repr, unknown))}. "
            f"Valid names: {shown}."
        )
    return {name: available[name] for name in names}


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (as in ``model.named_modules()``); LayerError listing the
    valid names otherwise."""
    if not isinstance(name, str):
        raise LayerError(f"A layer is given by its name, e.g. 'conv1', not {name!r}.")
    return get_layers(model, [name])[name]


# --- inputs -------------------------------------------------------------------------------


def check_input_shape(input_shape: Sequence[int]) -> InputShape:
    """``(C, H, W)`` as a tuple of ints; LayerError for anything else."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in shape):
        raise LayerError(
            f"The input shape must be (channels, height, width) with whole numbers >= 1, "
            f"not {input_shape!r}."
        )
    return tuple(int(v) for v in shape)  # type: ignore[return-value]


def like_model(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """dtype and device of the model's first parameter (float32 on the CPU for none)."""
    for p in model.parameters():
        return p.dtype, p.device
    return torch.float32, torch.device("cpu")


def as_batch(image: torch.Tensor | np.ndarray, model: nn.Module) -> torch.Tensor:
    """A (1, C, H, W) tensor with the model's dtype and device; (C, H, W) gets a batch axis."""
    x = torch.as_tensor(image)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise LayerError(
            f"Expected one preprocessed image of shape (1, C, H, W), not {tuple(x.shape)}."
        )
    dtype, device = like_model(model)
    return x.to(dtype=dtype, device=device)


def first_tensor(value: object) -> torch.Tensor | None:
    """The tensor a module returned, or the first tensor of a tuple/list it returned."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, torch.Tensor):
                return item
    return None


# --- hooks and forward passes ---------------------------------------------------------------


@contextmanager
def forward_hooks(registrations: Iterable[Registration]) -> Iterator[None]:
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


def run_model(model: nn.Module, x: torch.Tensor, what: str = "run") -> None:
    """``model(x)``, stopping quietly at ``StopForward`` and explaining a shape mismatch as a
    LayerError ("The model cannot {what} on an input of shape ...")."""
    try:
        model(x)
    except StopForward:
        pass
    except RuntimeError as err:
        shape = tuple(x.shape[1:])
        raise LayerError(
            f"The model cannot {what} on an input of shape (C, H, W) = {shape}: {err}"
        ) from err


def run_until(model: nn.Module, layer: str, x: torch.Tensor,
              module: nn.Module | None = None) -> torch.Tensor:
    """The output of ``layer`` when ``model`` runs on ``x``, with its autograd graph when
    gradients are on. The forward pass stops right after the layer's first call; the hook is
    removed. ``module``: the layer's module when the caller has it (saves the look-up).
    LayerError for an unknown layer, one that returns no tensor or one that never runs."""
    module = get_layer(model, layer) if module is None else module
    captured: list[torch.Tensor] = []

    def capture(mod, args, output):
        if not captured:
            t = first_tensor(output)
            if t is None:
                raise LayerError(f"Layer {layer!r} does not return a tensor.")
            captured.append(t)
            raise StopForward  # the rest of the network does not matter

    with forward_hooks([(module, capture, False)]):
        run_model(model, x, "run")
    if not captured:
        raise LayerError(f"The forward pass never ran {layer!r}.")
    return captured[0]


def hook_count(model: nn.Module) -> int:
    """How many hooks the modules of ``model`` carry, read from all of ``HOOK_DICTS``.

    A hook registered ``with_kwargs=True`` or ``always_call=True`` has its id in two of those
    dictionaries (the hook itself, and the flag), so ids are counted once per module: the
    count is the number of hooks, and 0 exactly when no dictionary holds anything.
    """
    total = 0
    for module in model.modules():
        ids: set[int] = set()
        for name in HOOK_DICTS:
            ids.update(getattr(module, name, None) or ())
        total += len(ids)
    return total


# --- private copies ---------------------------------------------------------------------------


def private_copy(model: nn.Module, *, share_weights: bool,
                 replace: Mapping[int, nn.Module] | None = None) -> nn.Module:
    """A copy of ``model``: its own modules, no hooks, eval mode, nothing in place.

    share_weights=True: the copy uses the very parameter and buffer tensors of ``model`` (a
    twin: no memory, always current); False: it gets its own copies (to re-initialise some).
    replace: ``id(module) -> stand-in`` for modules of ``model`` that the copy takes as given
    instead of copying them (the receptive-field probe's all-ones layers).
    Hooks on ``model`` (another thread's, say) are not copied: each module of the copy starts
    with empty hook dictionaries (all of ``HOOK_DICTS``). ``model`` itself is not changed.
    """
    memo: dict[int, object] = dict(replace or {})
    if share_weights:
        memo.update((id(t), t) for t in model.parameters())
        memo.update((id(t), t) for t in model.buffers())
    for module in model.modules():
        for name in HOOK_DICTS:
            hooks = getattr(module, name, None)
            if hooks is not None:
                memo[id(hooks)] = type(hooks)()  # an empty dict instead of a copy
    twin = copy.deepcopy(model, memo)
    twin.eval()
    for module in twin.modules():
        if getattr(module, "inplace", False) is True:  # ReLU, ReLU6, LeakyReLU, Dropout, ...
            module.inplace = False
    return twin


class _Twin:
    """The private twin of one model and the lock its users take turns with."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.net: nn.Module | None = None
        self.param_ids: tuple[int, ...] = ()

    def get(self, model: nn.Module, stand_in: StandIn | None = None) -> nn.Module:
        """The twin; rebuilt when the model's parameter tensors were replaced (not updated
        in place, which the twin sees anyway) or when an error left a hook on it.
        ``stand_in(module)`` gives a module's replacement in the twin, or None to copy it."""
        param_ids = tuple(id(p) for p in model.parameters())
        if self.net is None or param_ids != self.param_ids or hook_count(self.net):
            replace = {}
            if stand_in is not None:
                for m in model.modules():
                    if (other := stand_in(m)) is not None:
                        replace[id(m)] = other
            self.net = private_copy(model, share_weights=True, replace=replace)
            self.param_ids = param_ids
        return self.net


#: A module's replacement in a twin of a variant (None: copy it as it is).
StandIn = Callable[[nn.Module], "nn.Module | None"]
_TWINS: weakref.WeakKeyDictionary[nn.Module, dict[str, _Twin]] = weakref.WeakKeyDictionary()
_TWINS_LOCK = threading.Lock()


@contextmanager
def borrowed(model: nn.Module, variant: str = "", stand_in: StandIn | None = None,
             ) -> Iterator[nn.Module]:
    """``with borrowed(model) as net:`` a private twin of ``model``, locked for this thread.

    The twin shares the model's weights (``private_copy(share_weights=True)``), so it costs no
    memory and is never out of date. One twin is kept per model: calls on one model take
    turns, calls on different models run in parallel. Gradients are on inside (even when the
    caller is in ``torch.no_grad`` or ``torch.inference_mode``). Hooks put on ``net`` must be
    removed before the block ends; should an error leave one, the twin is rebuilt for the
    next caller. A named ``variant`` is a twin of its own whose modules ``stand_in`` may
    replace (guided backpropagation's activations: ``attribution.guided_backprop``); one
    variant always uses the same ``stand_in``.
    """
    with _TWINS_LOCK:
        twins = _TWINS.get(model)
        if twins is None:
            twins = _TWINS[model] = {}
        twin = twins.get(variant)
        if twin is None:
            twin = twins[variant] = _Twin()
    with twin.lock:
        net = twin.get(model, stand_in)
        with torch.inference_mode(False), torch.enable_grad():
            yield net
