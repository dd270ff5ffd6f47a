"""The "shapes" data set: coloured shapes on cluttered backgrounds, with the box of each shape.

Every image is 64x64 RGB and holds exactly one object of one of four classes (circle, square,
triangle, star) in a random colour, at a random place, size and rotation. The background is a
textured mix of two random colours (smooth noise, a gradient or stripes) sprinkled with small
distractors (dots, short ellipses, line segments) that are never one of the classes. Because the
object is drawn last, on top, its pixels are exactly known, and so is its bounding box: that is
what lets the Grad-CAM pointing game check whether a heat map's peak falls on the object.

The set is procedural and deterministic: image ``i`` of the set with seed ``s`` is drawn from its
own random generator ``np.random.default_rng((s, i))``, so ``make_shapes(n, s)`` is a prefix of
``make_shapes(m, s)`` for ``m > n``, and the label of image ``i`` is ``i % 4`` (every prefix whose
length is a multiple of four is exactly balanced). Different seeds give independent sets: the
bundled model is trained on ``TRAIN_SEED`` and judged on ``HELDOUT_SEED`` only.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

__all__ = [
    "CLASS_NAMES",
    "HELDOUT_IMAGES",
    "HELDOUT_SEED",
    "IMAGE_SIZE",
    "SIZE_RANGE",
    "TRAIN_SEED",
    "VALIDATION_SEED",
    "box_of",
    "make_shape",
    "make_shapes",
    "object_mask",
    "shape_mask",
    "shapes_heldout",
]

CLASS_NAMES = ("circle", "square", "triangle", "star")
IMAGE_SIZE = 64  # side of every image, pixels
SIZE_RANGE = (14, 36)  # larger side of an object's box, pixels (both ends included, +-1 px)

# Seeds of the three sets. Training uses TRAIN_SEED; settings were chosen by evaluating on
# VALIDATION_SEED; HELDOUT_SEED is only ever evaluated, once training has finished.
TRAIN_SEED = 1
VALIDATION_SEED = 2
HELDOUT_SEED = 3
HELDOUT_IMAGES = 1000  # 250 per class

# Background and clutter.
MIN_CONTRAST = 110.0  # least RGB distance between the object's colour and either background colour
NOISE_STD = 5.0  # grey levels of per-pixel Gaussian noise over the finished image
DISTRACTORS = (3, 9)  # how many distractors, min and max (max excluded)
DISTRACTOR_MAX = 8  # largest side of a distractor dot or ellipse, pixels (below SIZE_RANGE)

_SHIFT = 4  # cv2 drawing with 4 fractional bits: coordinates are given in 1/16 pixel
_ONE = 1 << _SHIFT


def _unit_outline(label: int, angle: float) -> np.ndarray | None:
    """Vertices (K, 2) as (x, y) of the class polygon around (0, 0), rotated; None for a circle.

    The square and the triangle are regular polygons, the star has five points with an inner
    radius of 0.45 of the outer one.
    """
    name = CLASS_NAMES[label]
    if name == "circle":
        return None
    if name == "square":
        radii, corners = np.ones(4), 4
    elif name == "triangle":
        radii, corners = np.ones(3), 3
    else:  # star: alternate outer and inner points
        radii, corners = np.tile([1.0, 0.45], 5), 10
    theta = angle + 2 * np.pi * np.arange(corners) / corners
    return np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=1)


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3)


def _background(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured background float32 (64, 64, 3) and its two colours (3,), (3,)."""
    n = IMAGE_SIZE
    c0 = _colour(rng)
    c1 = np.clip(c0 + rng.uniform(-40, 40, size=3), 0, 255)  # a related second colour
    kind = rng.integers(3)
    if kind == 0:  # smooth noise: a coarse random grid, upsampled
        cells = int(rng.integers(3, 9))
        grid = rng.uniform(0, 1, size=(cells, cells)).astype(np.float32)
        t = cv2.resize(grid, (n, n), interpolation=cv2.INTER_CUBIC)
    else:
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        phi = rng.uniform(0, np.pi)
        along = xx * np.cos(phi) + yy * np.sin(phi)  # (64, 64) coordinate along a direction
        if kind == 1:  # linear gradient
            t = (along - along.min()) / (along.max() - along.min())
        else:  # stripes, 5 to 16 pixels apart
            period = rng.uniform(5, 16)
            t = 0.5 + 0.5 * np.sin(2 * np.pi * along / period + rng.uniform(0, 2 * np.pi))
    t = np.clip(t, 0, 1)[:, :, None]
    image = (c0 + (c1 - c0) * t).astype(np.float32)  # (64, 64, 3)
    return image, c0, c1


def _object_colour(rng: np.random.Generator, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """A random colour at least MIN_CONTRAST away from both background colours."""
    while True:
        colour = _colour(rng)
        if min(np.linalg.norm(colour - c0), np.linalg.norm(colour - c1)) >= MIN_CONTRAST:
            return colour


def _draw_distractors(image: np.ndarray, rng: np.random.Generator) -> None:
    """Small dots, ellipses and line segments in random colours, drawn into ``image``."""
    for _ in range(int(rng.integers(*DISTRACTORS))):
        colour = tuple(float(c) for c in _colour(rng))
        x, y = rng.uniform(0, IMAGE_SIZE, size=2)
        kind = rng.integers(3)
        if kind == 0:  # a dot
            r = rng.uniform(1, DISTRACTOR_MAX / 2)
            cv2.circle(image, (int(x * _ONE), int(y * _ONE)), int(r * _ONE), colour, -1,
                       cv2.LINE_AA, _SHIFT)
        elif kind == 1:  # a thin ellipse: elongated, so it never looks like a circle
            a = rng.uniform(2, DISTRACTOR_MAX / 2)
            axes = (int(a * _ONE), int(a * rng.uniform(0.2, 0.45) * _ONE))
            cv2.ellipse(image, (int(x * _ONE), int(y * _ONE)), axes, rng.uniform(0, 180), 0, 360,
                        colour, -1, cv2.LINE_AA, _SHIFT)
        else:  # a line segment
            length, phi = rng.uniform(6, 20), rng.uniform(0, np.pi)
            dx, dy = 0.5 * length * math.cos(phi), 0.5 * length * math.sin(phi)
            cv2.line(image, (int((x - dx) * _ONE), int((y - dy) * _ONE)),
                     (int((x + dx) * _ONE), int((y + dy) * _ONE)), colour,
                     int(rng.integers(1, 3)), cv2.LINE_AA, _SHIFT)


def object_mask(label: int, size: float, angle: float, x0: float, y0: float) -> np.ndarray:
    """The pixels of one object: bool (64, 64).

    label: class index into CLASS_NAMES; size: larger side of the object's extent in pixels;
    angle: rotation in radians (ignored for a circle); (x0, y0): top-left corner of the extent,
    in pixels (x across, y down).
    """
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    outline = _unit_outline(label, angle)
    if outline is None:
        r = size / 2
        centre = (int((x0 + r) * _ONE), int((y0 + r) * _ONE))
        # radius 0.5 px short: cv2 fills every pixel the circle touches
        cv2.circle(mask, centre, int((r - 0.5) * _ONE), 1, -1, cv2.LINE_8, _SHIFT)
    else:
        extent = outline.max(axis=0) - outline.min(axis=0)  # (2,) width, height at unit scale
        points = (outline - outline.min(axis=0)) * ((size - 1) / extent.max()) + (x0, y0)
        cv2.fillPoly(mask, [np.round(points * _ONE).astype(np.int32)], 1, cv2.LINE_8, _SHIFT)
    return mask.astype(bool)


def box_of(mask: np.ndarray) -> np.ndarray:
    """The bounding box of the True pixels of ``mask`` (H, W): int64 (4,) as
    (row0, row1, col0, col1), half-open, so the object is ``image[row0:row1, col0:col1]``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([rows[0], rows[-1] + 1, cols[0], cols[-1] + 1], np.int64)


def _render(seed: int, index: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Image ``index`` of the set with ``seed``: (uint8 (64, 64, 3), label, object mask bool)."""
    rng = np.random.default_rng((seed, index))
    label = index % len(CLASS_NAMES)
    image, c0, c1 = _background(rng)
    _draw_distractors(image, rng)

    size = rng.uniform(SIZE_RANGE[0] + 0.5, SIZE_RANGE[1] - 0.5)  # drawn extent: +-1 px
    angle = rng.uniform(0, 2 * np.pi)
    x0, y0 = rng.uniform(0, IMAGE_SIZE - size, size=2)
    mask = object_mask(label, size, angle, x0, y0)
    image[mask] = _object_colour(rng, c0, c1)  # on top of everything: no pixel is hidden

    image += rng.normal(0, NOISE_STD, size=image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), label, mask


def make_shape(seed: int, index: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Image ``index`` of the set with ``seed``: (uint8 (64, 64, 3), label, box int64 (4,))."""
    image, label, mask = _render(seed, index)
    return image, label, box_of(mask)


def shape_mask(seed: int, index: int) -> np.ndarray:
    """The object's pixels in image ``index`` of the set with ``seed``: bool (64, 64)."""
    return _render(seed, index)[2]


def make_shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images of the shapes set with ``seed``.

    Returns images uint8 (n, 64, 64, 3) RGB, labels int64 (n,) with ``labels[i] == i % 4``
    (indices into CLASS_NAMES), and boxes int64 (n, 4) as (row0, row1, col0, col1), half-open:
    object ``i`` lies in ``images[i, row0:row1, col0:col1]``.
    """
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    labels = np.empty(n, np.int64)
    boxes = np.empty((n, 4), np.int64)
    for i in range(n):
        images[i], labels[i], boxes[i] = make_shape(seed, i)
    return images, labels, boxes


@lru_cache(maxsize=1)
def shapes_heldout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The held-out set: ``make_shapes(HELDOUT_IMAGES, HELDOUT_SEED)``, cached and read-only.

    Never used for training or choosing settings; the model card's accuracy is measured on it,
    and the Grad-CAM pointing game uses its boxes.
    """
    arrays = make_shapes(HELDOUT_IMAGES, HELDOUT_SEED)
    for array in arrays:
        array.flags.writeable = False
    return arrays
