"""Learned filters: a conv layer's kernels as arrays, how they compare with the hand-made
presets, and whether one can travel to the Convolution page.

A learned kernel is handed out in the Convolution page's orientation, ``(kh, kw)`` or
``(kh, kw, C)`` (slice c for input channel c, as ``cnnviz.kernels.parse_kernel_slices``
reads it), while ``conv_weights`` keeps PyTorch's ``(F, C, kh, kw)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from cnnviz.kernels import MAX_KERNEL_SIZE, PRESETS, format_kernel_slices
from cnnviz.network.hooks import LayerError, conv_layers
from cnnviz.ops import conv2d

__all__ = [
    "COMPARED_PRESETS",
    "PresetMatch",
    "carry_problem",
    "closest_filters",
    "conv_groups",
    "conv_weights",
    "kernel_of",
    "preset_responses",
    "weights_text",
]

#: The hand-made kernels the Filters page sets beside the learned ones.
COMPARED_PRESETS = ("sobel_x", "sobel_y", "gaussian_blur", "laplacian")
#: Input channels a kernel may have to be used on the Convolution page (grey or RGB).
CARRIED_CHANNELS = (1, 3)


def _conv(model: nn.Module, layer: str) -> nn.Conv2d:
    module = dict(model.named_modules()).get(layer) if isinstance(layer, str) else None
    if not isinstance(module, nn.Conv2d):
        convs = ", ".join(conv_layers(model))
        raise LayerError(f"{layer!r} is not a convolution of this model; these are: {convs}.")
    return module


def conv_groups(model: nn.Module, layer: str) -> tuple[int, int]:
    """(groups, input channels) of a convolution: a depthwise one has groups equal to its
    input channels, so each filter has one slice."""
    conv = _conv(model, layer)
    return int(conv.groups), int(conv.in_channels)


def conv_weights(model: nn.Module, layer: str) -> np.ndarray:
    """A copy of the layer's weights: float32 (F, C, kh, kw), F filters of C input slices."""
    w = _conv(model, layer).weight.detach()
    return w.to(device="cpu", copy=True).float().numpy()


def kernel_of(model: nn.Module, layer: str, channel: int) -> np.ndarray:
    """Filter ``channel`` of ``layer`` as the Convolution page takes kernels: float32
    ``(kh, kw)`` for one input channel, ``(kh, kw, C)`` for C."""
    w = _conv(model, layer).weight
    if not 0 <= channel < w.shape[0]:
        raise LayerError(f"{layer!r} has {w.shape[0]} filters; there is no filter {channel}.")
    k = w[channel].detach().to(device="cpu", copy=True).float().numpy()  # (C, kh, kw)
    return k[0] if k.shape[0] == 1 else np.ascontiguousarray(k.transpose(1, 2, 0))


def carry_problem(kernel: np.ndarray) -> str | None:
    """Why the Convolution page cannot use this kernel, in a sentence; None when it can."""
    channels = 1 if kernel.ndim == 2 else kernel.shape[2]
    if channels not in CARRIED_CHANNELS:
        return (f"this filter has {channels} input slices, one per channel of the layer before "
                "it, but the Convolution page slides a kernel over an image, which has 1 "
                "(grey) or 3 (RGB) channels")
    if max(kernel.shape[:2]) > MAX_KERNEL_SIZE:
        return (f"this filter is {kernel.shape[0]}×{kernel.shape[1]}; the Convolution page "
                f"takes kernels up to {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE}")
    return None


def weights_text(kernel: np.ndarray) -> str:
    """The kernel as the Convolution page's ``weights`` URL value: rows joined by ``;``,
    channel slices by ``|``. ``parse_kernel_slices`` reads it back exactly (float32)."""
    lines = format_kernel_slices(np.asarray(kernel, dtype=np.float32)).splitlines()
    return ";".join(line.strip() for line in lines if line.strip())


def preset_responses(gray: np.ndarray, names: Sequence[str] = COMPARED_PRESETS) -> np.ndarray:
    """Each preset kernel slid over a grey image, same-size output.

    gray: float (H, W). Returns float32 (len(names), H, W): cross-correlation with zero
    padding, as a conv layer with ``padding="same"`` computes it.
    """
    return np.stack([
        conv2d(gray, PRESETS[n].kernel, padding="same", dtype=np.float32) for n in names
    ]).astype(np.float32)


@dataclass(frozen=True)
class PresetMatch:
    """The learned filter most like a preset, and how much alike they are."""

    preset: str
    filter: int
    cosine: float  # -1..1 on the channel-summed kernels; negative: the pattern inverted


def closest_filters(weights: np.ndarray, names: Sequence[str] = COMPARED_PRESETS,
                    ) -> list[PresetMatch]:
    """For each preset, the learned filter most like it (largest |cosine|).

    weights: float (F, C, kh, kw). A filter is compared through the sum of its C slices:
    on a grey image, where every channel holds the same pixels, that sum is exactly the
    kernel the filter applies. Presets of another size than (kh, kw) are skipped, so the
    result is empty for the 7×7 and 11×11 first layers of ResNet and AlexNet.
    """
    w = np.asarray(weights, dtype=np.float64).sum(axis=1)  # (F, kh, kw)
    flat = w.reshape(len(w), -1)
    norms = np.linalg.norm(flat, axis=1)
    matches = []
    for name in names:
        p = PRESETS[name].kernel.astype(np.float64)
        if p.shape != w.shape[1:]:
            continue
        p = p.ravel()
        cos = flat @ p / np.maximum(norms * np.linalg.norm(p), 1e-12)
        best = int(np.argmax(np.abs(cos)))
        matches.append(PresetMatch(name, best, float(cos[best])))
    return matches
