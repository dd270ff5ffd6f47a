"""Transfer learning: a new last layer on the frozen features of a trained network.

``transfer_learn(images, labels, class_names)`` runs every image through the base network
(EfficientNet-Lite0 by default) up to its last dense layer, once, and trains a new dense layer
on those features (softmax regression, full batch, seeded). The model it returns is the base
with that layer swapped: a twin of the shared base (``hooks.private_copy``, the same frozen
weight tensors, no copy of them) whose layer names are the base's, so every page and every
function that takes the base (``grad_cam`` at ``RECOMMENDED_LAYERS[base]``, feature maps, the
layer table) takes it too. The shared base from ``load_model`` is never changed.

``image_features`` gives the features alone, so a caller can keep them per image and train
again without recomputing them (``train_head``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from cnnviz.models.inference import preprocess
from cnnviz.models.registry import ModelError, load_model
from cnnviz.network.hooks import private_copy

__all__ = [
    "TRANSFER_BASES",
    "head_features",
    "head_layer",
    "image_features",
    "train_head",
    "transfer_learn",
]

#: Networks whose last dense layer can be replaced: the ImageNet-trained ones.
TRANSFER_BASES = ("efficientnet_lite0", "resnet18", "alexnet", "vgg16")
#: Images per forward pass when features are computed.
FEATURE_BATCH = 16


def head_layer(model: nn.Module) -> str:
    """The name of ``model``'s last dense layer (``fc`` for EfficientNet-Lite0 and ResNet-18,
    ``classifier.6`` for AlexNet and VGG-16); ValueError when it has none."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("This network has no dense (Linear) layer to replace.")
    return names[-1]


def _swapped(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """A twin of ``model`` (shared weights, no hooks) with the module ``name`` replaced."""
    twin = private_copy(model, share_weights=True)
    parent_name, _, child = name.rpartition(".")
    parent = twin.get_submodule(parent_name) if parent_name else twin
    setattr(parent, child, new)
    return twin


def _check_base(base: str) -> nn.Module:
    if base not in TRANSFER_BASES:
        raise ValueError(f"Transfer learning starts from a network trained on ImageNet: "
                         f"{', '.join(TRANSFER_BASES)}; not {base!r}.")
    try:
        return load_model(base)
    except ModelError as err:
        raise ValueError(str(err)) from err


def image_features(images: Sequence[np.ndarray], *, base: str = "efficientnet_lite0",
                   progress: Callable[[float], None] | None = None) -> np.ndarray:
    """float32 (N, D): each image's input to the base's last dense layer (EfficientNet-Lite0:
    the 1,280 pooled channels of its head), after ``preprocess(base, image)``."""
    model = _check_base(base)
    extractor = _swapped(model, head_layer(model), nn.Identity())
    images = list(images)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), FEATURE_BATCH):
            chunk = images[start:start + FEATURE_BATCH]
            x = torch.cat([preprocess(base, image) for image in chunk])
            out.append(extractor(x).flatten(1))
            if progress is not None:
                progress(min(start + FEATURE_BATCH, len(images)) / len(images))
    if not out:
        return np.zeros((0, head_features(model)), np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def head_features(model: nn.Module) -> int:
    """How many features the base's last dense layer takes (EfficientNet-Lite0: 1,280)."""
    return model.get_submodule(head_layer(model)).in_features


def _check(images: Sequence, labels: Sequence[int], class_names: Sequence[str]) -> list[int]:
    if len(class_names) < 2:
        raise ValueError(f"Transfer learning needs at least 2 classes, got {len(class_names)}.")
    if len(set(class_names)) != len(class_names):
        raise ValueError("Each class needs a name of its own: the names repeat.")
    if len(images) == 0:
        raise ValueError("Transfer learning needs images: none were given.")
    if len(images) != len(labels):
        raise ValueError(f"Each image needs one label: {len(images)} images but "
                         f"{len(labels)} labels.")
    out = []
    for label in labels:
        if isinstance(label, bool) or not float(label).is_integer() \
                or not 0 <= int(label) < len(class_names):
            raise ValueError(f"Labels are class indices 0 to {len(class_names) - 1}, "
                             f"not {label!r}.")
        out.append(int(label))
    return out


def train_head(features: np.ndarray, labels: Sequence[int], n_classes: int, *,
               steps: int = 300, lr: float = 0.05, weight_decay: float = 1e-3,
               seed: int = 0) -> nn.Linear:
    """A new dense layer (D → n_classes) trained on ``features`` (N, D) by softmax regression:
    full-batch Adam for ``steps`` steps with L2 ``weight_decay``, seeded."""
    x = torch.as_tensor(np.asarray(features, np.float32))
    y = torch.as_tensor(list(labels), dtype=torch.long)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(x.shape[1], n_classes)
    optimiser = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(int(steps)):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(head(x), y)
        loss.backward()
        optimiser.step()
    return head.eval().requires_grad_(False)


def transfer_learn(images: Sequence[np.ndarray], labels: Sequence[int],
                   class_names: Sequence[str], *, base: str = "efficientnet_lite0",
                   features: np.ndarray | None = None, steps: int = 300,
                   seed: int = 0) -> nn.Module:
    """The base network with a new last layer for ``class_names``, trained on ``images``
    (uint8 (H, W, 3), any size) and their ``labels`` (class indices), the base frozen.

    The result maps ``preprocess(base, image)`` to logits (1, len(class_names)); it keeps the
    base's layer names, has ``cnnviz_class_names``, ``cnnviz_base`` and
    ``cnnviz_pretrained = True``, and shares the base's weight tensors (the shared model from
    ``load_model(base)`` is not changed). ``features``: ``image_features`` of these images,
    when they are kept already. ValueError for fewer than 2 classes, no images, or as many
    labels as images not.
    """
    labels = _check(images, labels, class_names)
    model = _check_base(base)
    if features is None:
        features = image_features(images, base=base)
    elif len(features) != len(images):
        raise ValueError(f"{len(features)} feature rows for {len(images)} images.")
    head = train_head(features, labels, len(class_names), steps=steps, seed=seed)
    new = _swapped(model, head_layer(model), head)
    new.cnnviz_class_names = tuple(class_names)
    new.cnnviz_base = base
    new.cnnviz_pretrained = True
    return new.eval()
