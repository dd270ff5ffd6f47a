"""The classes a model gives an image, kept: its probabilities per image.

A model is named two ways: a registry name (``"digits"``: the bundled, shared model, through
``cnnviz.predict``) or a module trained in this session (``state.TRAINED_MODELS``), which
carries ``cnnviz_name`` (its registry name: preprocessing and class names) and
``cnnviz_run_id``. A name may also be one of the session's own networks
(``ui.cache.models.own``): its base gives the preprocessing, the network its classes.
Probabilities are kept by the image digest and the model's name or run id;
only numbers are kept, never a session's model.
"""

from __future__ import annotations

import hashlib

import numpy as np
from torch import nn

import cnnviz
from ui.cache import models
from ui.cache.memo import memo
from ui.state import CurrentImage

__all__ = ["TOP_K", "top_classes"]

TOP_K = 3
CACHE = dict(max_entries=256, ttl=3600)


def top_classes(model: str | nn.Module, image: CurrentImage | np.ndarray,
                k: int = TOP_K) -> list[tuple[str, float]]:
    """The k most likely (class name, probability) pairs, most likely first.

    model: a registry name or a session-trained module (see the module docstring).
    image: the current image, or uint8 (H, W, 3) pixels.
    """
    if isinstance(image, CurrentImage):
        pixels, digest = image.pixels, image.digest
    else:
        pixels, digest = np.asarray(image), ""
    if not digest:
        digest = hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(),
                                 digest_size=16).hexdigest()
    if isinstance(model, str):
        own = models.own(model)
        if own is not None:
            probs = _probabilities(own.base, own.name, digest, pixels, own.model)
        else:
            probs = _probabilities(model, "", digest, pixels, None)
        classes = models.spec(model).class_names
    else:
        probs = _probabilities(model.cnnviz_name, model.cnnviz_run_id, digest, pixels, model)
        classes = cnnviz.get_spec(model.cnnviz_name).class_names
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]


@memo(**CACHE)
def _probabilities(name: str, run_id: str, digest: str, _pixels: np.ndarray,
                   _model: nn.Module | None) -> np.ndarray:
    """``cnnviz.predict``, with the bundled model (run_id "") or a session's (keyed by its
    run id)."""
    probs = cnnviz.predict(name, _pixels, model=_model)
    probs.setflags(write=False)
    return probs
