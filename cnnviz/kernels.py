"""Kernel presets and the text format students type kernels in.

A kernel is a float32 array of shape (kh, kw). The text format is one row
per line (or rows separated by ";"), numbers separated by commas or spaces;
fractions such as ``1/9`` are allowed:

    1/16, 2/16, 1/16
    2/16, 4/16, 2/16
    1/16, 2/16, 1/16
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_KERNEL_SIZE",
    "MAX_KERNEL_VALUE",
    "PRESETS",
    "KernelError",
    "Preset",
    "format_kernel",
    "format_kernel_slices",
    "get_preset",
    "parse_kernel",
    "parse_kernel_slices",
    "parse_number",
    "slices_for",
]

MAX_KERNEL_SIZE = 11  # largest kernel height/width the playground accepts
MAX_KERNEL_VALUE = 1e6  # larger magnitudes are almost certainly typos
_MAX_TEXT_LENGTH = 20_000  # 11 x 11 numbers with generous decimals fit easily


class KernelError(ValueError):
    """A kernel that cannot be used, explained in one sentence for a student."""


@dataclass(frozen=True, eq=False)
class Preset:
    """A named kernel: `name` is the URL value, `label` the text on buttons."""

    name: str
    label: str
    kernel: np.ndarray  # float32 (kh, kw), read-only
    explanation: str  # one line: what the kernel responds to


def _preset(name: str, label: str, rows: list[list[float]], explanation: str, scale=1.0) -> Preset:
    kernel = np.asarray(rows, dtype=np.float64) * scale
    kernel = kernel.astype(np.float32)
    kernel.setflags(write=False)
    return Preset(name, label, kernel, explanation)


# Values are the textbook ones. cnnviz applies kernels as cross-correlation
# (like every deep-learning library), so sobel_x is positive where the image
# gets brighter from left to right.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        _preset(
            "identity",
            "Identity",
            [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
            "Copies each pixel unchanged: the output equals the input.",
        ),
        _preset(
            "box_blur",
            "Box blur",
            [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
            "Replaces each pixel with the mean of its 3×3 neighbourhood, smoothing detail.",
            scale=1 / 9,
        ),
        _preset(
            "gaussian_blur",
            "Gaussian blur",
            [[1, 2, 1], [2, 4, 2], [1, 2, 1]],
            "A weighted mean that favours the centre: a gentler blur than the box.",
            scale=1 / 16,
        ),
        _preset(
            "sharpen",
            "Sharpen",
            [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
            "Boosts a pixel against its neighbours, making edges and detail crisper.",
        ),
        _preset(
            "sobel_x",
            "Sobel x",
            [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
            "Responds to vertical edges: positive where brightness increases to the right.",
        ),
        _preset(
            "sobel_y",
            "Sobel y",
            [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
            "Responds to horizontal edges: positive where brightness increases downwards.",
        ),
        _preset(
            "prewitt_x",
            "Prewitt x",
            [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
            "Like Sobel x without the extra weight on the centre row: vertical edges.",
        ),
        _preset(
            "prewitt_y",
            "Prewitt y",
            [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
            "Like Sobel y without the extra weight on the centre column: horizontal edges.",
        ),
        _preset(
            "laplacian",
            "Laplacian",
            [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
            "Second derivative: responds to edges and spots in every direction, "
            "zero on flat areas.",
        ),
        _preset(
            "emboss",
            "Emboss",
            [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
            "Lights edges facing the bottom right and shades the others, like a relief.",
        ),
        _preset(
            "outline",
            "Outline",
            [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
            "Zero on flat areas and strong on edges in every direction: draws outlines.",
        ),
        _preset(
            "x_shape",
            "X shape",
            [[1, 0, 1], [0, 1, 0], [1, 0, 1]],
            "Counts bright pixels on the two diagonals: strongest where an X pattern sits.",
        ),
    ]
}


def get_preset(name: str) -> Preset:
    """The preset called `name` (a URL value such as "sobel_x")."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        choices = ", ".join(PRESETS)
        raise KernelError(
            f"There is no kernel preset called {name!r}; choose one of {choices}."
        ) from None


_ROW_SEPARATOR = re.compile(r"[;\n\r]")
_NUMBER_SEPARATOR = re.compile(r"[,\s]+")


def parse_number(token: str, row: int, col: int) -> float:
    """One kernel weight typed as text: a number or a fraction such as 1/9, finite and within
    ±MAX_KERNEL_VALUE. `row` and `col` (1-based) name the cell in the KernelError."""
    where = f"row {row}, column {col}"
    parts = token.split("/")
    if len(parts) > 2:
        raise KernelError(f"{token!r} ({where}) has more than one '/': write a fraction as 1/9.")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise KernelError(
            f"{token!r} ({where}) is not a number: use digits like 2, -0.5 or 1/9."
        ) from None
    value = values[0]
    if len(values) == 2:
        if values[1] == 0:
            raise KernelError(f"{token!r} ({where}) divides by zero.")
        try:
            value = values[0] / values[1]
        except ArithmeticError:
            value = math.inf
    if not math.isfinite(value) or any(not math.isfinite(v) for v in values):
        raise KernelError(
            f"{token!r} ({where}) is not a finite number: a kernel needs real values."
        )
    if abs(value) > MAX_KERNEL_VALUE:
        raise KernelError(
            f"{token!r} ({where}) is too large: kernel values must stay between "
            f"-{MAX_KERNEL_VALUE:,.0f} and {MAX_KERNEL_VALUE:,.0f}."
        )
    return value


def parse_kernel(text: str) -> np.ndarray:
    """Parse a kernel typed as text into a float32 array of shape (kh, kw).

    Rows are separated by newlines or ";", numbers by commas or spaces, and a
    number may be a fraction such as 1/9. Square brackets (as printed by
    numpy or Python) are accepted too. Anything else raises KernelError,
    never another exception.
    """
    if not isinstance(text, str):
        raise KernelError("A kernel must be given as text, for example '1, 0, -1'.")
    if len(text) > _MAX_TEXT_LENGTH:
        raise KernelError(
            "That text is too long for a kernel of at most "
            f"{MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE} numbers."
        )
    # "[[1, 2], [3, 4]]": a closing bracket ends a row, opening brackets are noise.
    cleaned = text.replace("]", ";").replace("[", " ")
    rows: list[list[float]] = []
    for line in _ROW_SEPARATOR.split(cleaned):
        tokens = [t for t in _NUMBER_SEPARATOR.split(line) if t]
        if not tokens:
            continue  # blank lines and trailing separators are harmless
        if len(rows) >= MAX_KERNEL_SIZE or len(tokens) > MAX_KERNEL_SIZE:
            raise KernelError(
                f"A kernel can be at most {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE}: "
                "use fewer rows or fewer numbers per row."
            )
        rows.append([parse_number(t, len(rows) + 1, j + 1) for j, t in enumerate(tokens)])
    if not rows:
        raise KernelError("The kernel is empty: type at least one number, for example '1'.")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        counts = ", ".join(str(len(r)) for r in rows)
        raise KernelError(
            f"Every row of a kernel needs the same number of values, but the rows have {counts}."
        )
    return np.asarray(rows, dtype=np.float32)


def _format_value(v: np.float32) -> str:
    if v == 0:
        return "0"
    if 1e-4 <= abs(v) < 1e7:
        return np.format_float_positional(v, unique=True, trim="-")
    return np.format_float_scientific(v, unique=True, trim="-")


def format_kernel(kernel: np.ndarray) -> str:
    """Write a (kh, kw) kernel as text that `parse_kernel` reads back unchanged (as float32).

    One row per line, values separated by ", " and right-aligned in columns.
    """
    k = np.asarray(kernel)
    if k.ndim != 2 or k.size == 0:
        raise KernelError(
            f"Only a non-empty 2-D kernel can be written as text, not shape {k.shape}."
        )
    texts = [[_format_value(np.float32(v)) for v in row] for row in k]
    width = max(len(t) for row in texts for t in row)
    return "\n".join(", ".join(t.rjust(width) for t in row) for row in texts)


def parse_kernel_slices(text: str) -> np.ndarray:
    """A kernel with one slice per channel: blocks separated by ``|``.

    ``"1 0; 0 1"`` gives float32 (2, 2); ``"1 0; 0 1 | 0 1; 1 0 | 1 1; 1 1"`` gives
    (2, 2, 3), slice c for channel c. Each block is read by :func:`parse_kernel`.

    Raises:
        KernelError: a block cannot be read, or the blocks differ in size.
    """
    if not isinstance(text, str):
        raise KernelError("A kernel must be written as text, one row per line.")
    blocks = [b for b in text.split("|")]
    if len(blocks) == 1:
        return parse_kernel(blocks[0])
    if len(blocks) > 16:
        raise KernelError("A kernel can have at most 16 channel slices.")
    slices = []
    for i, block in enumerate(blocks, start=1):
        try:
            slices.append(parse_kernel(block))
        except KernelError as err:
            raise KernelError(f"Channel slice {i}: {err}") from None
    if len({s.shape for s in slices}) != 1:
        shapes = ", ".join(f"{s.shape[0]}×{s.shape[1]}" for s in slices)
        raise KernelError(f"Every channel slice must have the same size; these are {shapes}.")
    return np.stack(slices, axis=2)


def format_kernel_slices(kernel: np.ndarray) -> str:
    """Inverse of :func:`parse_kernel_slices`: slices joined by a line holding ``|``."""
    if kernel.ndim == 2:
        return format_kernel(kernel)
    return "\n|\n".join(format_kernel(kernel[:, :, c]) for c in range(kernel.shape[2]))


def slices_for(kernel: np.ndarray, channels: int) -> np.ndarray:
    """``kernel`` if it fits an image of ``channels`` channels: one slice (used on every
    channel) or one slice per channel. KernelError saying what to give otherwise."""
    if kernel.ndim == 3 and kernel.shape[2] != channels:
        raise KernelError(
            f"The kernel has {kernel.shape[2]} channel slices but the image has {channels} "
            f"channel{'s' if channels > 1 else ''}: give {channels} slices, or one slice to use "
            "on every channel."
        )
    return kernel
