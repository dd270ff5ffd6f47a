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

``compare_transfer`` is the honest version for the Your own classes page: it holds out part of
each class (``held_out_split``), trains the new head and a small CNN from scratch
(``scratch_cnn``) on the rest for the same number of full-batch epochs, judges both on the
held-out images (accuracy and ``confusion_matrix``), then trains the head the student keeps on
every image.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn

from cnnviz.models.inference import preprocess
from cnnviz.models.registry import ModelError, load_model, seeded
from cnnviz.network.hooks import private_copy

__all__ = [
    "AUGMENTATIONS",
    "TRANSFER_EPOCHS",
    "SCRATCH_SIDE",
    "TRANSFER_BASES",
    "Judgement",
    "TransferRun",
    "augmented",
    "compare_transfer",
    "confusion_matrix",
    "confusion_text",
    "head_features",
    "head_layer",
    "held_out_split",
    "image_features",
    "judge_scratch",
    "scratch_cnn",
    "scratch_input",
    "train_head",
    "train_scratch",
    "transfer_learn",
    "with_head",
]

#: Networks whose last dense layer can be replaced: the ImageNet-trained ones.
TRANSFER_BASES = ("efficientnet_lite0", "resnet18", "alexnet", "vgg16")
#: Images per forward pass when features are computed.
FEATURE_BATCH = 16
#: Full-batch epochs of the new head, and of the CNN from scratch beside it.
TRANSFER_EPOCHS = 300
#: Side of the small CNN's input: every image is shrunk to SCRATCH_SIDE×SCRATCH_SIDE.
SCRATCH_SIDE = 32
#: The light augmentation: extra training views of each image (mirrored; the centre 80%).
AUGMENTATIONS = ("mirrored", "centre crop")


def head_layer(model: nn.Module) -> str:
    """The name of ``model``'s last dense layer (``fc`` for EfficientNet-Lite0 and ResNet-18,
    ``classifier.6`` for AlexNet and VGG-16); ValueError when it has none."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("This network has no dense (Linear) layer to replace.")
    return names[-1]


def with_head(base: str, head: nn.Linear, class_names: Sequence[str]) -> nn.Module:
    """The shared network ``base`` with ``head`` as its last dense layer: a twin (the base's
    frozen weight tensors and layer names, no copy of them) for ``class_names``. The shared
    model from ``load_model(base)`` is not changed. ValueError when ``head`` does not fit."""
    model = _check_base(base)
    features = head_features(model)
    if head.in_features != features or head.out_features != len(class_names):
        raise ValueError(f"A new last layer of {base} takes {features} features and gives one "
                         f"score per class ({len(class_names)}), not {head.in_features} → "
                         f"{head.out_features}.")
    new = _swapped(model, head_layer(model), head.eval().requires_grad_(False))
    new.cnnviz_class_names = tuple(class_names)
    new.cnnviz_base = base
    # as trained as the features under it: a head on a base with random weights is noise too
    new.cnnviz_pretrained = bool(getattr(model, "cnnviz_pretrained", False))
    return new.eval()


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
               steps: int = TRANSFER_EPOCHS, lr: float = 0.05, weight_decay: float = 1e-3,
               seed: int = 0) -> nn.Linear:
    """A new dense layer (D → n_classes) trained on ``features`` (N, D) by softmax regression:
    full-batch Adam for ``steps`` steps with L2 ``weight_decay``, seeded."""
    x = torch.as_tensor(np.asarray(features, np.float32))
    y = torch.as_tensor(list(labels), dtype=torch.long)
    with seeded(seed):
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
                   features: np.ndarray | None = None, steps: int = TRANSFER_EPOCHS,
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
    _check_base(base)
    if features is None:
        features = image_features(images, base=base)
    elif len(features) != len(images):
        raise ValueError(f"{len(features)} feature rows for {len(images)} images.")
    head = train_head(features, labels, len(class_names), steps=steps, seed=seed)
    return with_head(base, head, class_names)


# --- judged honestly: a held-out split, and a small CNN from scratch beside the new head ----


def augmented(image: np.ndarray) -> list[np.ndarray]:
    """The extra training views of ``image`` (uint8 (H, W, 3)), one per AUGMENTATIONS: the
    image mirrored left to right, and its centre 80% (shrunk images stay as they are)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    dy, dx = round(h * 0.1), round(w * 0.1)
    crop = image[dy:h - dy, dx:w - dx] if h - 2 * dy >= 8 and w - 2 * dx >= 8 else image
    return [np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(crop)]


def held_out_split(labels: Sequence[int], n_classes: int, *, fraction: float = 0.25,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices into ``labels``: about ``fraction`` of each class held out,
    chosen at random (seeded), at least one image of every class that has two or more, none
    of a class with one image (it is needed for training)."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members) >= 2:
            k = min(len(members) - 1, max(1, round(len(members) * fraction)))
            held.extend(rng.choice(members, k, replace=False).tolist())
    test = np.array(sorted(held), dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], n_classes: int
                     ) -> np.ndarray:
    """int64 (n_classes, n_classes): row = the true class, column = the predicted one."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)), 1)
    return out


def confusion_text(confusion: np.ndarray, class_names: Sequence[str]) -> str:
    """A confusion matrix in words, for a text alternative: how many are right, per class,
    and the commonest mistake, e.g. "7 of 8 right (cat 4 of 4, dog 3 of 4); the commonest
    mistake: dog taken for cat, 1 time"."""
    confusion = np.asarray(confusion, dtype=np.int64)
    total, right = int(confusion.sum()), int(np.trace(confusion))
    per_class = ", ".join(f"{name} {int(confusion[i, i])} of {int(confusion[i].sum())}"
                          for i, name in enumerate(class_names) if confusion[i].sum())
    text = f"{right} of {total} right ({per_class})"
    wrong = confusion - np.diag(np.diag(confusion))
    if wrong.any():
        t, p = np.unravel_index(int(np.argmax(wrong)), wrong.shape)
        n = int(wrong[t, p])
        text += (f"; the commonest mistake: {class_names[t]} taken for {class_names[p]}, "
                 f"{n} time{'s' if n > 1 else ''}")
    return text


def scratch_cnn(n_classes: int) -> nn.Sequential:
    """The small CNN trained from scratch beside the new head: three conv blocks (8, 16 and
    32 channels, 3×3, batch norm, ReLU, 2×2 max pooling) on a SCRATCH_SIDE² RGB input, global
    max pooling and one dense layer: 6,100 weights or so, none of them pretrained."""
    layers: list[tuple[str, nn.Module]] = []
    c_in = 3
    for i, c_out in enumerate((8, 16, 32), 1):
        layers += [(f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                   (f"bn{i}", nn.BatchNorm2d(c_out)), (f"relu{i}", nn.ReLU()),
                   (f"pool{i}", nn.MaxPool2d(2))]
        c_in = c_out
    layers += [("gmp", nn.AdaptiveMaxPool2d(1)), ("flatten", nn.Flatten()),
               ("fc", nn.Linear(c_in, n_classes))]
    return nn.Sequential(OrderedDict(layers))


def scratch_input(images: Sequence[np.ndarray]) -> torch.Tensor:
    """float32 (N, 3, SCRATCH_SIDE, SCRATCH_SIDE): each image squeezed to the small CNN's
    square (area interpolation), values (x/255 − 0.5)/0.25."""
    side = (SCRATCH_SIDE, SCRATCH_SIDE)
    batch = np.stack([cv2.resize(np.ascontiguousarray(image), side,
                                 interpolation=cv2.INTER_AREA) for image in images])
    x = torch.from_numpy(batch.astype(np.float32)).permute(0, 3, 1, 2)
    return ((x / 255.0 - 0.5) / 0.25).contiguous()


def train_scratch(images: Sequence[np.ndarray], labels: Sequence[int], n_classes: int, *,
                  steps: int = TRANSFER_EPOCHS, lr: float = 1e-2, seed: int = 0) -> nn.Module:
    """``scratch_cnn`` trained from random weights on ``images`` and ``labels``: full-batch
    Adam for ``steps`` epochs, seeded; returned in eval mode."""
    x = scratch_input(images)
    y = torch.as_tensor(list(labels), dtype=torch.long)
    with seeded(seed):
        net = scratch_cnn(n_classes)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(int(steps)):
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimiser.step()
    return net.eval().requires_grad_(False)


@dataclass(frozen=True)
class Judgement:
    """How one way of learning did on the held-out images."""

    method: str  # "transfer" (the new head) or "scratch" (the small CNN)
    truth: np.ndarray  # int64 (n,): the held-out images' classes
    predicted: np.ndarray  # int64 (n,): what the trained network said
    confusion: np.ndarray  # int64 (classes, classes): row truth, column prediction
    seconds: float  # training and judging
    # the share of its own training images (not their augmented views) it gets right: far
    # above ``accuracy``, it learnt those images rather than the classes
    train_accuracy: float = float("nan")

    @property
    def accuracy(self) -> float:
        return float((self.truth == self.predicted).mean()) if len(self.truth) else float("nan")


@dataclass(frozen=True)
class TransferRun:
    """``compare_transfer``'s result: the model to keep (its head trained on every image) and
    how the head and a CNN from scratch did when part of each class was held out."""

    model: nn.Module
    train: np.ndarray  # indices of the images both trained on while being judged
    held_out: np.ndarray  # indices of the held-out images (empty: no class had two)
    transfer: Judgement | None
    scratch: Judgement | None
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> seconds


def judge_scratch(images: Sequence[np.ndarray], labels: Sequence[int], train: np.ndarray,
                  held_out: np.ndarray, n_classes: int, *, augment: bool = False,
                  steps: int = TRANSFER_EPOCHS, seed: int = 0) -> Judgement:
    """``scratch_cnn`` trained from random weights on ``images[train]`` (with their
    ``augmented`` views when ``augment``) for ``steps`` full-batch epochs, judged on
    ``images[held_out]``: the comparison ``compare_transfer`` puts beside the new head, also
    run on its own (a page can show the head first and this when it is ready)."""
    started = time.perf_counter()
    y = np.asarray(labels, dtype=np.int64)
    views, view_labels = [], []
    for i in train:
        extra = augmented(images[i]) if augment else []
        views += [images[i], *extra]
        view_labels += [int(y[i])] * (1 + len(extra))
    net = train_scratch(views, view_labels, n_classes, steps=steps, seed=seed)
    with torch.no_grad():
        guess = net(scratch_input([images[i] for i in held_out])).argmax(1).numpy()
        seen = net(scratch_input([images[i] for i in train])).argmax(1).numpy()
    return Judgement("scratch", y[held_out], guess, confusion_matrix(y[held_out], guess,
                                                                     n_classes),
                     time.perf_counter() - started, float((seen == y[train]).mean()))


def compare_transfer(images: Sequence[np.ndarray], labels: Sequence[int],
                     class_names: Sequence[str], *, base: str = "efficientnet_lite0",
                     features: np.ndarray | None = None,
                     extra_features: Sequence[np.ndarray] | None = None,
                     scratch: bool = True, steps: int = TRANSFER_EPOCHS, seed: int = 0,
                     progress: Callable[[float, str], None] | None = None) -> TransferRun:
    """Transfer learning, judged: hold out part of each class (``held_out_split``), train a
    new head (and, with ``scratch``, ``scratch_cnn`` from random weights) on the rest for
    ``steps`` full-batch epochs each, predict the held-out images with both, then train the
    head that is kept on every image.

    ``features``: ``image_features`` of ``images`` when kept already. ``extra_features``: per
    image, the (A, D) features of its augmented views (``augmented``), which join the training
    rows of that image only (never the judging); the CNN from scratch sees the same views.
    ``progress(fraction, what)`` is told about each phase.
    """
    labels = _check(images, labels, class_names)
    _check_base(base)
    n = len(class_names)
    report = progress or (lambda fraction, what: None)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if features is None:
        features = image_features(images, base=base,
                                  progress=lambda f: report(0.6 * f, "Features"))
    seconds["features"] = time.perf_counter() - started
    if len(features) != len(images) or (extra_features is not None
                                        and len(extra_features) != len(images)):
        raise ValueError(f"Feature rows for {len(features)} images, not {len(images)}.")
    y = np.asarray(labels, dtype=np.int64)
    train, test = held_out_split(y, n, seed=seed)

    def rows(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [features[indices]], [y[indices]]
        if extra_features is not None:
            for i in indices:
                xs.append(np.asarray(extra_features[i], np.float32).reshape(-1, features.shape[1]))
                ys.append(np.full(len(xs[-1]), y[i]))
        return np.concatenate(xs), np.concatenate(ys)

    judged_head = judged_scratch = None
    if len(test):
        report(0.6, "Judging the new head")
        t0 = time.perf_counter()
        head = train_head(*rows(train), n, steps=steps, seed=seed)
        with torch.no_grad():
            guess = head(torch.as_tensor(features[test])).argmax(1).numpy()
            seen = head(torch.as_tensor(features[train])).argmax(1).numpy()
        judged_head = Judgement("transfer", y[test], guess, confusion_matrix(y[test], guess, n),
                                time.perf_counter() - t0, float((seen == y[train]).mean()))
        if scratch:
            report(0.65, "Training a CNN from scratch")
            judged_scratch = judge_scratch(images, y, train, test, n,
                                           augment=extra_features is not None, steps=steps,
                                           seed=seed)
    report(0.95, "Training the head you keep, on every image")
    t0 = time.perf_counter()
    head = train_head(*rows(np.arange(len(y))), n, steps=steps, seed=seed)
    model = with_head(base, head, class_names)
    seconds["head"] = time.perf_counter() - t0
    report(1.0, "Done")
    return TransferRun(model, train, test, judged_head, judged_scratch, seconds)
