"""The models the pages read: the only thing kept with ``st.cache_resource``.

Registry models come from ``cnnviz.load_model``, which keeps one shared copy per process (the
library's own cache; never modified here: every computation that needs hooks or gradients
works on a private copy). The receptive-field lesson network is not in the registry; it is
built once here. A model this session trained on the Training page is this session's alone:
it is found in ``state.TRAINED_MODELS`` and named ``name@run_id`` in cache keys, so its
numbers never reach another session.

The session's own networks (``state.OWN_MODELS``: transfer learning on the Your own classes
page, or a loaded head or weights file) are models under names of their own
(``own-1a2b3c4d``): ``names()`` lists them after the registry's, and ``spec``, ``model``,
``architecture``, ``base`` and ``label`` answer for them as for a registry model, so every
network page takes them. Their names are unique in the process, so a cache key that holds one
is this session's alone; in another session the name is simply unknown.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace

import streamlit as st
from torch import nn

import cnnviz
from cnnviz import LESSON_MODEL, MODELS, ModelError, ModelSpec, get_spec, load_model
from ui import state

__all__ = [
    "LESSON",
    "SLOW_MODELS",
    "Network",
    "architecture",
    "base",
    "is_pretrained",
    "label",
    "labeller",
    "short_label",
    "model",
    "names",
    "network",
    "own",
    "session_model",
    "spec",
    "spinner_for",
]

LESSON = LESSON_MODEL.name  # "lesson": the receptive-field toy network, not in the registry
#: Models that take a second or more per rerun on one core: their pages show a spinner.
SLOW_MODELS = ("alexnet", "vgg16", "resnet18")


def own(name: str) -> state.OwnModel | None:
    """This session's own network called ``name``, if there is one."""
    return state.own_models().get(name)


def names() -> tuple[str, ...]:
    """Every network a page can show: the registry's, then this session's own."""
    return (*MODELS, *state.own_models())


def base(name: str) -> str:
    """The registry network ``name`` is built on: itself, or an own network's base."""
    found = own(name)
    return found.base if found else name


def label(name: str) -> str:
    """``name`` and its one-line description, for a picker."""
    found = own(name)
    return found.label if found else f"{name}: {spec(name).description}"


def short_label(name: str) -> str:
    """What a sentence calls the network: its registry name, or an own network's label."""
    found = own(name)
    return found.label if found else name


def labeller(options, describe=label):
    """A picker's format function over ``options``: each option's ``describe(name)``, worked
    out now (a format function may be called where no session is running)."""
    labels = {name: describe(name) for name in options}
    return lambda name: labels.get(name, str(name))


def spec(name: str, side: int | None = None) -> ModelSpec:
    """The spec of a registry model, of the lesson network, or of an own network (its base's,
    with its own classes). ModelError when unknown. ``side``: the same network at a
    ``side``×``side`` input (``ModelSpec.at_side``)."""
    found = own(name)
    if found is not None:
        classes = found.model.cnnviz_class_names
        found = replace(get_spec(found.base), name=name, description=found.label,
                        class_names=classes, card=None,
                        about=f"{found.base} with a new last layer for your {len(classes)} "
                        f"classes ({found.origin}). Only your browser session has it.")
    else:
        found = LESSON_MODEL if name == LESSON else get_spec(name)
    return found if side is None else found.at_side(side)


def architecture(name: str) -> nn.Module:
    """The network ``name`` for tables and shapes: a weightless copy of a registry network
    (``cnnviz.architecture``), or the own network itself (never modified)."""
    found = own(name)
    return found.model if found else cnnviz.architecture(name)


@st.cache_resource(max_entries=1, show_spinner=False)
def _lesson_model() -> nn.Module:
    return LESSON_MODEL.build().eval()


def spinner_for(name: str, text: str):
    """A spinner for the slow models, nothing for the fast ones."""
    return st.spinner(text) if name in SLOW_MODELS else nullcontext()


def model(name: str) -> nn.Module:
    """The shared model ``name`` (a registry model or the lesson network; never modify it).
    ModelError when it cannot be loaded; a spinner while a big one loads."""
    if name == LESSON:
        return _lesson_model()
    found = own(name)
    if found is not None:
        return found.model
    if name.startswith("own-"):
        raise ModelError("That network was made in another browser session (or is gone): "
                         "only the session that made it can use it.")
    with spinner_for(name, f"Loading {name}…"):
        return load_model(name)


def is_pretrained(name: str) -> bool:
    return bool(getattr(model(name), "cnnviz_pretrained", False))


@dataclass(frozen=True, eq=False)
class Network:
    """The network a page reads: a registry model or the one this session trained."""

    name: str  # registry name: preprocessing, classes, input size
    key: str  # names it in cache keys: the name, or "name@run_id" for a session model
    model: nn.Module
    session: bool  # trained in this session on the Training page

    @property
    def recipe(self) -> str:
        return spec(self.name).preprocessing


def session_model(name: str) -> nn.Module | None:
    """The model called ``name`` that this session trained, if any."""
    entry = state.trained_models().get(name)
    return entry[0] if entry else None


def network(name: str, use_session: bool = False) -> Network:
    """The registry model ``name`` (ModelError if it cannot load), or this session's trained
    one when asked for and there is one."""
    trained = session_model(name) if use_session else None
    if trained is not None:
        return Network(name, f"{name}@{trained.cnnviz_run_id}", trained, True)
    return Network(name, name, model(name), False)
