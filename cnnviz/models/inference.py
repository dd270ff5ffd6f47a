"""From a picture to class probabilities: ``preprocess`` and ``predict``."""

from __future__ import annotations

import numpy as np
import torch

from cnnviz.models.preprocessing import PREPROCESSORS
from cnnviz.models.registry import ModelSpec, get_spec, load_model

__all__ = [
    "predict",
    "preprocess",
    "preprocess_for",
]


def preprocess(name: str, image: np.ndarray) -> torch.Tensor:
    """The input tensor model ``name`` expects for ``image``.

    image: uint8 (H, W, 3) RGB or (H, W) grey, any size ((H, W, 4): the alpha channel is
    dropped).
    Returns float32 (1, C, H, W) with (C, H, W) = MODELS[name].input_size, standardised as in
    training. For the digit models this is MNIST-style: see ``preprocessing.mnist_digit``.
    """
    return preprocess_for(get_spec(name), image)


def preprocess_for(spec: ModelSpec, image: np.ndarray) -> torch.Tensor:
    """``preprocess`` for a model that need not be in the registry (the receptive-field
    lesson network's ``LESSON_MODEL``): its recipe at its input size."""
    return PREPROCESSORS[spec.preprocessing](image, spec.input_size)


def predict(name: str, image: np.ndarray, *, model: torch.nn.Module | None = None) -> np.ndarray:
    """Class probabilities of model ``name`` for ``image``: float64 (n_classes,), summing to 1.

    The order is MODELS[name].class_names. A blank image (every preprocessed pixel equal, e.g.
    an empty canvas) holds nothing to classify, so the answer is uniform probabilities rather
    than the network's guess; call the model on ``preprocess(name, image)`` to see that guess.
    ``model``: another network of the same kind (e.g. one a student just trained) to ask
    instead of the bundled one; ``name`` still gives its preprocessing, and its classes unless
    the model has ``cnnviz_class_names`` of its own (a ``transfer_learn`` model).
    """
    x = preprocess(name, image)  # (1, C, H, W)
    names = getattr(model, "cnnviz_class_names", None) or get_spec(name).class_names
    n_classes = len(names)
    if torch.all(x == x.flatten()[0]):
        return np.full(n_classes, 1.0 / n_classes)
    if model is None:
        model = load_model(name)
    with torch.inference_mode():
        logits = model(x)[0]  # (n_classes,)
    probs = torch.softmax(logits.double(), dim=0).numpy()
    return probs / probs.sum()
