"""Trained models: the registry, preprocessing and prediction.

The public names are re-exported by ``cnnviz``; implementations live in the submodules.
"""

from cnnviz.models.inference import predict, preprocess
from cnnviz.models.registry import (
    DEFAULT_MODEL,
    LESSON_MODEL,
    MODELS,
    BundledWeights,
    ModelError,
    ModelSpec,
    TorchvisionWeights,
    architecture,
    get_spec,
    load_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "LESSON_MODEL",
    "MODELS",
    "BundledWeights",
    "ModelError",
    "ModelSpec",
    "TorchvisionWeights",
    "architecture",
    "get_spec",
    "load_model",
    "predict",
    "preprocess",
]
