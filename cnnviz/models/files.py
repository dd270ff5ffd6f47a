"""Weights files a user brings: a trained head to keep, or a whole network's state dict.

- ``save_head(model)`` writes the new last layer of a ``transfer_learn`` model with its class
  names and base (a few kB); ``load_head(data)`` reads it back onto the shared base.
- ``load_weights(data, architecture, class_names)`` reads the state dict of a supported
  architecture (the bundled networks, torchvision's ResNet-18, AlexNet and VGG-16, and
  EfficientNet-Lite0, each with a last layer of any number of classes): the file a PyTorch
  fine-tuning tutorial produces.

Every file is read with ``torch.load(weights_only=True)``, so a pickle that would run code is
refused rather than run, and nothing is loaded until every name and shape has been checked.
Nothing is written to disk. Every refusal is a ``WeightsError`` (a ValueError) whose message
is one or two sentences for the user.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Sequence

import torch
from torch import nn

from cnnviz.models.efficientnet import state_dict_from_package
from cnnviz.models.registry import MODELS, seeded
from cnnviz.models.registry import architecture as weightless
from cnnviz.models.transfer import (
    TRANSFER_BASES,
    head_features,
    head_layer,
    with_head,
)

__all__ = [
    "CLASS_NAME_CHARACTERS",
    "HEAD_FORMAT",
    "MAX_HEAD_CLASSES",
    "MAX_WEIGHTS_MB",
    "WEIGHTS_ARCHITECTURES",
    "WeightsError",
    "class_name_problem",
    "load_head",
    "load_weights",
    "save_head",
]

#: Largest weights file accepted (VGG-16's state dict is 528 MB: too big for a browser upload).
MAX_WEIGHTS_MB = 200
#: The ``format`` entry of a head file.
HEAD_FORMAT = "cnnviz-head/1"
#: Most classes a loaded head or network may have (ImageNet's 1,000).
MAX_HEAD_CLASSES = 1000
#: What a class name may hold besides letters and digits: names are shown in page text, so
#: nothing that Markdown could read as a link, an image, emphasis or code.
CLASS_NAME_CHARACTERS = " -_'.,+/()&"
#: Architectures whose state dicts ``load_weights`` reads.
WEIGHTS_ARCHITECTURES = ("digits", "shapes", "lenet5", "efficientnet_lite0", "resnet18",
                         "alexnet", "vgg16")
#: Wrappers that training scripts put around a state dict.
_WRAPPERS = ("state_dict", "model_state_dict", "model")


class WeightsError(ValueError):
    """A weights file that cannot be used; the message says why, for the user."""


def save_head(model: nn.Module) -> bytes:
    """The new last layer of a ``transfer_learn`` model, its class names and its base, as the
    bytes of a ``torch.save`` file that ``load_head`` reads (with ``weights_only=True``)."""
    base = getattr(model, "cnnviz_base", None)
    names = getattr(model, "cnnviz_class_names", None)
    if base not in TRANSFER_BASES or not names:
        raise WeightsError("Only a network made by transfer learning has a head to save.")
    head = model.get_submodule(head_layer(model))
    state = {k: v.detach().clone() for k, v in head.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"format": HEAD_FORMAT, "base": base, "layer": head_layer(model),
                "class_names": list(names), "state_dict": state}, buffer)
    return buffer.getvalue()


def _check_archive(data: bytes) -> None:
    """A ``torch.save`` file (PyTorch 1.6 and later) is a zip archive whose entries are
    stored, not compressed: a compressed entry could inflate a small file into gigabytes (a
    zip bomb), so one is refused unread, as is an archive that would unpack past the size
    limit. The older format (a bare pickle stream, as EfficientNet-Lite0's package file is)
    is no archive and is left to ``torch.load``: its tensors are read from the file itself,
    so they cannot hold more than the file does."""
    if not data.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise WeightsError("This is not a PyTorch weights file (torch.save).") from None
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries):
        raise WeightsError("This file's parts are compressed, which torch.save never does: "
                           "it was refused unread.")
    if sum(e.file_size for e in entries) > MAX_WEIGHTS_MB * 2**20:
        raise WeightsError(f"This file would unpack to more than {MAX_WEIGHTS_MB} MB.")


def _read(data: bytes) -> object:
    """The object in a ``torch.save`` file, read with ``weights_only=True`` after the
    archive's sizes are checked."""
    if len(data) > MAX_WEIGHTS_MB * 2**20:
        raise WeightsError(f"This file is {len(data) / 2**20:.0f} MB; the limit for a weights "
                           f"file is {MAX_WEIGHTS_MB} MB.")
    if not data:
        raise WeightsError("This file is empty.")
    _check_archive(data)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err) or "Unsupported global" in str(err):  # a class or function
            raise WeightsError("This file holds Python objects or code besides tensors, so it "
                               "was refused unread: a weights file holds only numbers.") from None
        raise WeightsError("This is not a PyTorch weights file (torch.save).") from None
    except Exception:  # noqa: BLE001 - damaged files fail in many ways: one message for them all
        raise WeightsError("This is not a PyTorch weights file (torch.save).") from None


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a class (one sentence), or None. A name is 1 to 60
    characters of letters, digits, spaces and CLASS_NAME_CHARACTERS, and no web address: it
    is shown in page text, where Markdown must not turn it into a link or a picture."""
    name = " ".join(str(name).split())
    if not name or len(name) > 60:
        return "Every class needs a name of 1 to 60 characters."
    if any(not (ch.isalnum() or ch in CLASS_NAME_CHARACTERS) for ch in name) \
            or "www." in name.casefold():
        return ("Class names may hold letters, digits, spaces and "
                f"{' '.join(CLASS_NAME_CHARACTERS.strip())} only.")
    return None


def _class_names(names: object, n: int | None = None) -> tuple[str, ...]:
    if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
        raise WeightsError("The class names must be a list of words.")
    names = tuple(" ".join(s.split()) for s in names)
    for name in names:
        problem = class_name_problem(name)
        if problem:
            raise WeightsError(problem)
    if len(set(names)) != len(names):
        raise WeightsError("Each class needs a name of its own: the names repeat.")
    if not 2 <= len(names) <= MAX_HEAD_CLASSES:
        raise WeightsError(f"A network needs 2 to {MAX_HEAD_CLASSES:,} classes, not "
                           f"{len(names)}.")
    if n is not None and len(names) != n:
        raise WeightsError(f"The weights give {n} class scores but {len(names)} class names "
                           "were given.")
    return names


def _tensors(state: object, what: str) -> dict[str, torch.Tensor]:
    """``state`` when it is a dict of plain (dense, CPU, real-valued) tensors, the floating
    ones finite; WeightsError otherwise."""
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"This file does not hold {what} (a dictionary of tensors).")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"This file does not hold {what}: some entries are not tensors.")
    for key, value in state.items():
        if value.layout != torch.strided or value.device.type != "cpu" or value.is_quantized \
                or value.is_complex() or not (value.is_floating_point() or value.dtype in (
                    torch.int64, torch.int32, torch.uint8, torch.bool)):
            raise WeightsError(f"{key} is not a plain tensor of numbers ({value.dtype}, "
                               f"{value.layout}).")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise WeightsError(f"{key} holds infinite or missing (NaN) numbers.")
    return state


def load_head(data: bytes) -> nn.Module:
    """The network a ``save_head`` file describes: its base (shared, never changed) with the
    saved last layer and class names. WeightsError for any other file."""
    found = _read(data)
    if not isinstance(found, dict) or found.get("format") != HEAD_FORMAT:
        raise WeightsError("This is not a head saved by cnnviz (a “Download the head” file).")
    base = found.get("base")
    if base not in TRANSFER_BASES:
        raise WeightsError(f"The head is for a network this app does not have ({base!r}).")
    state = _tensors(found.get("state_dict"), "a head")
    weight, bias = state.get("weight"), state.get("bias")
    if weight is None or bias is None or set(state) != {"weight", "bias"}:
        raise WeightsError("The head must hold exactly a weight and a bias.")
    names = _class_names(found.get("class_names"))
    d = head_features(weightless(base))  # on the meta device: nothing built yet
    if tuple(weight.shape) != (len(names), d) or tuple(bias.shape) != (len(names),) \
            or not (weight.is_floating_point() and bias.is_floating_point()):
        raise WeightsError(f"A head for {base} has a {len(names)}×{d} weight and {len(names)} "
                           f"biases, in floating point; this one has {tuple(weight.shape)} "
                           f"and {tuple(bias.shape)}.")
    head = nn.Linear(d, len(names))
    try:
        head.load_state_dict({"weight": weight.float(), "bias": bias.float()})
    except RuntimeError:
        raise WeightsError(f"This head does not fit {base}.") from None
    return with_head(base, head, names)


def _unwrapped(found: object) -> dict[str, torch.Tensor]:
    if isinstance(found, dict):
        for key in _WRAPPERS:
            if isinstance(found.get(key), dict):
                found = found[key]
                break
    state = _tensors(found, "a state dict")
    if all(k.startswith("module.") for k in state):  # saved from nn.DataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _listed(keys: Sequence[str]) -> str:
    shown = ", ".join(sorted(keys)[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def load_weights(data: bytes, architecture: str,
                 class_names: Sequence[str] | None = None) -> nn.Module:
    """The network ``architecture`` (one of WEIGHTS_ARCHITECTURES) with the weights of the
    state dict in ``data``, in eval mode. Its last dense layer may give any number of class
    scores: ``class_names`` names them (the architecture's own classes when it gives as many
    as those and no names are given). EfficientNet-Lite0's package key names are accepted
    too. Every name and shape is checked before anything is loaded: WeightsError otherwise.
    The result carries ``cnnviz_base``, ``cnnviz_class_names`` and ``cnnviz_pretrained``."""
    if architecture not in WEIGHTS_ARCHITECTURES:
        raise WeightsError(f"Weights can be loaded into {', '.join(WEIGHTS_ARCHITECTURES)}; "
                           f"not {architecture!r}.")
    state = _unwrapped(_read(data))
    if architecture == "efficientnet_lite0" and any(k.startswith("_blocks.") for k in state):
        try:
            state = state_dict_from_package(state)
        except (KeyError, ValueError, IndexError):
            raise WeightsError("These EfficientNet weights have names this network does not "
                               "know.") from None
    spec = MODELS[architecture]
    meta = weightless(architecture)  # the meta device: names and shapes, no memory
    own = meta.state_dict()
    missing, unexpected = set(own) - set(state), set(state) - set(own)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"it lacks {_listed(list(missing))}")
        if unexpected:
            parts.append(f"it has {_listed(list(unexpected))}, which {architecture} does not")
        raise WeightsError(f"These are not {architecture} weights: {'; '.join(parts)}.")
    last = head_layer(meta)
    for key, value in state.items():
        expected = tuple(own[key].shape)
        if key in (f"{last}.weight", f"{last}.bias"):
            ok = value.ndim == len(expected) and tuple(value.shape[1:]) == expected[1:]
        else:
            ok = tuple(value.shape) == expected
        if not ok:
            raise WeightsError(f"{key} has the shape {tuple(value.shape)}, but {architecture} "
                               f"needs {expected}.")
    n = int(state[f"{last}.weight"].shape[0])
    if not 2 <= n <= MAX_HEAD_CLASSES:
        raise WeightsError(f"A network needs 2 to {MAX_HEAD_CLASSES:,} classes, not {n}.")
    bias = state.get(f"{last}.bias")
    if bias is not None and tuple(bias.shape) != (n,):
        raise WeightsError(f"{last}'s weight and bias give different numbers of classes.")
    if class_names is None:
        if n != len(spec.class_names):
            raise WeightsError(f"These weights give {n} class scores: name the classes.")
        class_names = spec.class_names
    names = _class_names(list(class_names), n)
    with seeded():  # only now, with every name and shape checked, is the network built
        model = spec.build()
    head = model.get_submodule(last)
    if n != head.out_features:
        parent, _, child = last.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child,
                nn.Linear(head.in_features, n, bias=head.bias is not None))
    fixed = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    try:
        model.load_state_dict(fixed, strict=True)
    except RuntimeError as err:
        raise WeightsError(f"These weights do not fit {architecture}.") from err
    model.eval()
    model.cnnviz_base = architecture
    model.cnnviz_class_names = names
    model.cnnviz_pretrained = True
    return model
