"""Turn a user's picture into the tensor a model expects.

Each preprocessing recipe is one function ``image -> (1, C, H, W) float32 tensor`` listed in
``PREPROCESSORS``; a model names its recipe in its ``ModelSpec.preprocessing``.

The ``"mnist"`` recipe re-does what the MNIST authors did to their scans, so that a digit drawn
anywhere, at any size, in any polarity, looks like an MNIST digit before it reaches the network:

1. grey levels; if the border is light (ink on paper) the image is inverted, so ink is bright;
2. the background level (border median) is subtracted, grey levels within the border's noise
   are set to zero, and contrast is stretched to 0..255;
3. the image is cropped to the ink and resized, keeping the aspect ratio, to fit a 20x20 box;
4. the box is placed in a 28x28 field so that the ink's centre of mass sits at pixel (14, 14);
5. values are scaled to 0..1 and standardised with the MNIST mean and std.

A real MNIST digit is already in this form and comes out of steps 1-4 unchanged (up to the
contrast stretch of step 2 when its brightest pixel is 254). The training script passes its
images through the same function, so training and prediction see identical inputs.

The ``"shapes_rgb"`` recipe stretches any picture to 64x64 RGB (so a heat map of the input maps
back onto the original by a plain resize) and standardises it exactly as ``training`` does
with the 64x64 images of ``cnnviz.shapes``, through the same ``normalize_shapes``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from cnnviz.images import ensure_rgb, to_gray

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MNIST_MEAN",
    "MNIST_SIZE",
    "MNIST_STD",
    "PREPROCESSORS",
    "RECIPE_SUMMARIES",
    "SHAPES_MEAN",
    "SHAPES_SIZE",
    "SHAPES_STD",
    "TFLITE_MEAN",
    "TFLITE_STD",
    "STANDARDISATION",
    "digit_inputs",
    "mnist_digit",
    "normalize_mnist",
    "normalize_shapes",
    "preprocess_digits",
    "preprocess_gray",
    "preprocess_imagenet",
    "preprocess_mnist",
    "preprocess_shapes",
    "preprocess_tflite",
    "to_picture",
]

# Standardisation of the 0..1 MNIST pixels (the usual full-MNIST statistics).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
MNIST_SIZE = 28  # side of the field
MNIST_BOX = 20  # side of the box the ink is fitted into
MNIST_CENTRE = 14.0  # where MNIST puts the ink's centre of mass (row, col), measured on the data

# Ink contrast (0..255) below which an image counts as blank.
BLANK_CONTRAST = 32.0

# Standardisation of the 0..1 shapes pixels. Colours in cnnviz.shapes are uniform on 0..255,
# so every channel has mean 0.5 and std 1/sqrt(12) = 0.29 (measured on the training set:
# means 0.50-0.51, stds 0.289-0.294).
SHAPES_MEAN = 0.5
SHAPES_STD = 0.29
SHAPES_SIZE = 64  # side of the shapes images

# ImageNet statistics used by the torchvision classics.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TF-Lite's scaling of the EfficientNet-Lite models: (x - 127) / 128 on 0..255, written on 0..1.
TFLITE_MEAN = (127.0 / 255.0,) * 3  # 0.498
TFLITE_STD = (128.0 / 255.0,) * 3  # 0.502


def _border(grey: np.ndarray) -> np.ndarray:
    """Pixels of a frame about 5% of the image wide (at least one pixel)."""
    h, w = grey.shape
    m = max(1, round(0.05 * min(h, w)))
    mask = np.ones_like(grey, dtype=bool)
    mask[m : h - m, m : w - m] = False
    return grey[mask]


def mnist_digit(image: np.ndarray) -> np.ndarray:
    """An image of one digit, made to look like an MNIST digit.

    image: uint8 (H, W) or (H, W, 3), any size, light ink on dark or dark ink on light.
    Returns float32 (28, 28) in 0..1 with bright ink on black, the ink fitted into a 20x20 box
    and its centre of mass at pixel (14, 14). A blank image (ink contrast below
    ``BLANK_CONTRAST`` grey levels) gives all zeros.
    """
    grey = to_gray(image).astype(np.float32)  # (H, W), 0..255
    if np.median(_border(grey)) > 127:  # light paper, dark ink: make ink bright
        grey = 255.0 - grey
    border = _border(grey)
    background = np.median(border)
    # Ink threshold: six robust standard deviations (1.4826 MAD) of the border, so paper noise
    # is removed while a stroke touching the border does not count as noise. It is zero for
    # clean (drawn or MNIST) images, which therefore keep every faint pixel.
    noise = 6 * 1.4826 * np.median(np.abs(border - background))
    grey = grey - background
    grey = np.where(grey > noise, grey, 0.0).astype(np.float32)
    if grey.max() < BLANK_CONTRAST:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    grey *= 255.0 / grey.max()

    rows = np.flatnonzero(grey.any(axis=1))
    cols = np.flatnonzero(grey.any(axis=0))
    ink = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w)
    h, w = ink.shape
    scale = MNIST_BOX / max(h, w)
    if scale != 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))  # cv2 wants (width, height)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        ink = cv2.resize(ink, size, interpolation=interpolation)
    h, w = ink.shape

    # Integer shift that puts the centre of mass at MNIST_CENTRE (as MNIST did).
    total = ink.sum()
    com_r = (ink.sum(axis=1) * np.arange(h)).sum() / total
    com_c = (ink.sum(axis=0) * np.arange(w)).sum() / total
    top = int(np.clip(round(MNIST_CENTRE - com_r), 0, MNIST_SIZE - h))
    left = int(np.clip(round(MNIST_CENTRE - com_c), 0, MNIST_SIZE - w))
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    field[top : top + h, left : left + w] = ink
    return np.clip(field / 255.0, 0.0, 1.0)


def normalize_mnist(x: torch.Tensor) -> torch.Tensor:
    """Standardise 0..1 MNIST pixels, any shape, with MNIST_MEAN and MNIST_STD."""
    return (x - MNIST_MEAN) / MNIST_STD


def preprocess_digits(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) digits -> float32 (N, 1, 28, 28) in 0..1, through ``mnist_digit``
    (not standardised: training keeps its images in this form)."""
    return torch.from_numpy(np.stack([mnist_digit(im) for im in images]))[:, None]


def digit_inputs(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) digits -> the digit models' input float32 (N, 1, 28, 28):
    ``mnist_digit`` and the MNIST standardisation, exactly as in training and ``preprocess``."""
    return normalize_mnist(preprocess_digits(images))


def preprocess_mnist(image: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """The "mnist" recipe: ``mnist_digit`` then standardisation. Returns (1, 1, 28, 28)."""
    if input_size != (1, MNIST_SIZE, MNIST_SIZE):
        raise ValueError(f"the mnist recipe makes (1, 28, 28) inputs, not {input_size}")
    digit = torch.from_numpy(mnist_digit(image))
    return normalize_mnist(digit)[None, None]  # (1, 1, 28, 28)


def normalize_shapes(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 (B, 3, H, W) -> standardised float32: (x / 255 - mean) / std."""
    return (x.float() / 255.0 - SHAPES_MEAN) / SHAPES_STD


def preprocess_shapes(image: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """The "shapes_rgb" recipe: stretch to the input's side (64x64 for the shapes CNN; a
    larger square when its receptive fields are measured at a larger input) RGB, then
    ``normalize_shapes``.

    The whole picture is resized (area averaging when shrinking, bilinear when enlarging)
    without cropping, so the aspect ratio changes for non-square pictures but nothing is cut
    off. A picture of the input's size is used as it is. Returns (1, 3, side, side).
    """
    c, side, side_w = input_size
    if c != 3 or side != side_w:
        raise ValueError(f"the shapes_rgb recipe makes square RGB inputs such as (3, 64, 64), "
                         f"not {input_size}")
    image = ensure_rgb(image)
    h, w = image.shape[:2]
    if (h, w) != (side, side):
        shrink = h * w > side * side
        image = cv2.resize(image, (side, side),
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    x = torch.tensor(image).permute(2, 0, 1)[None]  # (1, 3, side, side) uint8; a copy: the
    # caller's array may be read-only (cached samples are)
    return normalize_shapes(x)


def _centre_crop(image: np.ndarray, input_size: tuple[int, int, int],
                 mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Shorter side to 256/224 of the crop, the centre cropped to input_size[1:], RGB values
    scaled to 0..1 and standardised with ``mean`` and ``std``. Returns (1, 3, H, W)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)
    _, crop_h, crop_w = input_size
    h, w = image.shape[:2]
    short = round(max(crop_h, crop_w) * 256 / 224)
    scale = short / min(h, w)
    size = (max(crop_w, round(w * scale)), max(crop_h, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image, size, interpolation=interpolation)
    top = (image.shape[0] - crop_h) // 2
    left = (image.shape[1] - crop_w) // 2
    image = image[top : top + crop_h, left : left + crop_w]
    x = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0  # (3, H, W)
    m = torch.tensor(mean)[:, None, None]
    s = torch.tensor(std)[:, None, None]
    return ((x - m) / s)[None]  # (1, 3, H, W)


def preprocess_imagenet(image: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """The "imagenet" recipe of torchvision's classic models.

    The shorter side is resized to 256/224 of the crop size, the centre is cropped to
    (H, W) = input_size[1:], and RGB values are standardised with the ImageNet mean and std.
    Grey images are repeated over three channels. Returns (1, 3, H, W).
    """
    return _centre_crop(image, input_size, IMAGENET_MEAN, IMAGENET_STD)


def preprocess_tflite(image: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """The "tflite" recipe of EfficientNet-Lite: the same resize and centre crop as
    "imagenet" (TensorFlow's eval crop keeps 224 of 256), then ``(x/255 − 0.498)/0.502``,
    i.e. ``(x − 127)/128`` on 0..255, the scaling the TF-Lite weights were trained with.
    Returns (1, 3, H, W)."""
    return _centre_crop(image, input_size, TFLITE_MEAN, TFLITE_STD)


def preprocess_gray(image: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """The "gray" recipe: grey levels, stretched to (H, W) = input_size[1:], scaled to 0..1.

    No standardisation. Used by the receptive-field lesson network. Returns (1, 1, H, W).
    """
    if input_size[0] != 1:
        raise ValueError(f"the gray recipe makes one-channel inputs, not {input_size}")
    grey = to_gray(image).astype(np.float32)  # (H, W), 0..255
    _, h, w = input_size
    if grey.shape != (h, w):
        shrink = grey.shape[0] * grey.shape[1] > h * w
        grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA if shrink
                          else cv2.INTER_LINEAR)
    return torch.from_numpy(np.clip(grey, 0, 255) / 255.0)[None, None]  # (1, 1, H, W)


Preprocessor = Callable[[np.ndarray, tuple[int, int, int]], torch.Tensor]

# Recipe name (ModelSpec.preprocessing) -> function. Add a recipe here to add a kind of input.
PREPROCESSORS: dict[str, Preprocessor] = {
    "mnist": preprocess_mnist,
    "imagenet": preprocess_imagenet,
    "tflite": preprocess_tflite,
    "shapes_rgb": preprocess_shapes,
    "gray": preprocess_gray,
}

# Each recipe in a sentence, for model cards.
RECIPE_SUMMARIES: dict[str, str] = {
    "mnist": "mnist_digit: invert if light background, crop to ink, fit 20x20, "
             "centre of mass at (14, 14) in 28x28, standardise",
    "imagenet": "resize the shorter side to 256, centre-crop 224x224, ImageNet mean and std",
    "tflite": "resize the shorter side to 256, centre-crop 224x224, (x/255 − 0.498) / 0.502 "
              "(TF-Lite's (x − 127) / 128)",
    "shapes_rgb": "stretch to 64x64 RGB (grey repeated, alpha dropped), "
                  f"(x / 255 - {SHAPES_MEAN}) / {SHAPES_STD}",
    "gray": "grey levels stretched to the input size, x / 255",
}

# Per-channel (mean, std) of each recipe's standardisation, to turn an input back into a
# picture; the grey recipes' single values apply to every channel.
STANDARDISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((MNIST_MEAN,), (MNIST_STD,)),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "tflite": (TFLITE_MEAN, TFLITE_STD),
    "shapes_rgb": ((SHAPES_MEAN,), (SHAPES_STD,)),
    "gray": ((0.0,), (1.0,)),
}


def to_picture(x: torch.Tensor | np.ndarray, recipe: str) -> np.ndarray:
    """A preprocessed input back as the picture the network sees: uint8 (H, W, 3).

    x: (1, C, H, W) or (C, H, W), standardised by ``recipe`` (a key of ``PREPROCESSORS``);
    the standardisation is undone (``x · std + mean``), values are clipped to 0..1 and scaled
    to 0..255, and one channel is repeated over three. So the 28×28 digit, the 64×64 shapes
    input or the 224×224 ImageNet crop can be drawn with boxes in the model's own coordinates.
    """
    arr = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, np.float32)
    if arr.ndim == 4:
        arr = arr[0]
    if arr.ndim != 3:
        raise ValueError(f"expected a (1, C, H, W) or (C, H, W) input, got {arr.shape}")
    mean, std = (np.asarray(v, np.float32)[:, None, None] for v in STANDARDISATION[recipe])
    unit = np.clip(arr * std + mean, 0.0, 1.0)  # (C, H, W)
    rgb = np.round(unit * 255.0).astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)
    return ensure_rgb(rgb)
