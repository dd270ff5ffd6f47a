"""Animated GIFs of the convolution and pooling step-throughs, for lecture slides.

`conv_steps_gif` and `pool_steps_gif` turn the data of `cnnviz.ops.conv_steps`
and `pool_steps` into one looping GIF. Every frame shows, left to right: the
part of the padded input the windows read (padding hatched), the current
window outlined tap by tap (so dilation shows as gaps), the kernel (pooling:
the current window enlarged), the output filling in cell by cell, and a
caption with the arithmetic of the current step.

Nothing is recomputed here: every number drawn comes from the steps object. Numbers are
written and values coloured as on the page: ``plots.figure.format_value``, ``value_range`` and
``pixel_range`` are the one home of those rules, so a sum reads the same in the GIF and in the
page's step-through, and a cell has the same colour in both.
Drawing is split in two so long animations stay fast: what never changes
(input grid, kernel, empty output) is painted once with numpy, output cells
are added to a running canvas as their steps go by, and each frame copies
that canvas and draws only the highlights and the caption on top.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnviz.arithmetic import ParameterError
from cnnviz.ops import ConvSteps, PoolSteps
from cnnviz.plots.figure import colorize, format_value, pixel_range, value_range

__all__ = ["conv_steps_gif", "pool_steps_gif"]

# ---------------------------------------------------------------------------
# Visual constants

RGB = tuple[int, int, int]

BACKGROUND: RGB = (255, 255, 255)
INK: RGB = (33, 33, 33)
MUTED: RGB = (110, 110, 110)
GRID_LINE: RGB = (185, 185, 185)
PENDING: RGB = (238, 238, 238)  # output cell whose step has not come yet
WINDOW: RGB = (255, 128, 0)  # outline of the taps the kernel reads, and the current output cell
WINNER: RGB = (0, 176, 80)  # the maximum a max pool picks
PAD_TINT: RGB = (120, 150, 230)  # padding cells are mixed with this colour...
PAD_HATCH: RGB = (60, 90, 190)  # ...and striped with this one (light cells)
PAD_HATCH_ON_DARK: RGB = (150, 175, 245)  # (dark cells)
PAD_EMPTY: RGB = (225, 232, 250)  # a padding cell holding -inf (max pooling)
CHANNEL_MARKS: tuple[RGB, ...] = ((220, 30, 30), (20, 170, 40), (30, 80, 230))  # R, G, B winners

MARGIN = 16  # px around the frame
PANEL_GAP = 48  # px between panels; the operator sign sits in the middle
TITLE_PX = 17  # font sizes
SUBTITLE_PX = 12
CAPTION_PX = 19
DETAIL_PX = 14
INPUT_PANEL_PX = 448  # the automatic cell size fits the input region in about this many px
MAX_CELL_PX = 56
MIN_CELL_PX = 2
LABELLED_CELLS = 16  # values are written in the cells of grids up to this many cells a side
MIN_LABEL_CELL_PX = 16  # ...whose cells are at least this big
MIN_TEXT_PX = 8  # smaller numbers are left out rather than shrunk further
GRID_LINE_MIN_CELL_PX = 8  # smaller cells get no grid lines, which would hide them
SMALL_CELL_PX = 12  # smaller cells are outlined from outside, so their colour stays visible
KERNEL_PANEL_PX = 240  # the kernel (or the enlarged pooling window) fits in about this many px
MAX_KERNEL_SLICES = 3  # a kernel with different slices per channel shows at most this many
MIN_FRAME_MS = 20  # browsers play shorter GIF frames at 100 ms


# ---------------------------------------------------------------------------
# Fonts and text


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where the system has it (it has Σ, ×, ∞), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


@lru_cache(maxsize=1)
def _symbols() -> dict[str, str]:
    """Maths signs, or ASCII stand-ins when the font lacks them (Pillow's Aileron does)."""
    font = _font(CAPTION_PX)
    name = font.getname()[0] if isinstance(font, ImageFont.FreeTypeFont) else ""
    if name.startswith("DejaVu"):
        return {"sum": "Σ", "times": "×", "inf": "∞", "to": "→", "dash": "–", "dot": "·"}
    return {"sum": "sum", "times": "x", "inf": "inf", "to": "->", "dash": "-", "dot": "|"}


def _fmt(v: float) -> str:
    """A value as the page writes it (``format_value``), with this font's infinity sign."""
    return format_value(v, inf=_symbols()["inf"])


def _luminance(colours: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (...) perceived brightness, 0-255."""
    return colours[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _ink_on(colour: RGB) -> RGB:
    """Dark text on light cells, white text on dark ones."""
    return INK if _luminance(np.array(colour)) > 140 else BACKGROUND


def _fitted_font(text: str, width: int, size: int):
    """The font at `size` or smaller so that `text` fits in `width` px; None if unreadable."""
    while _font(size).getlength(text) > width:
        size -= 1
        if size < MIN_TEXT_PX:
            return None
    return _font(size)


def _cell_text(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str,
               fill: RGB) -> None:
    x0, y0, x1, y1 = box
    cell = x1 - x0
    font = _fitted_font(text, int(cell * 0.9), max(MIN_TEXT_PX, int(cell * 0.36)))
    if font is None:
        return  # the colour still shows the value
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=fill, font=font, anchor="mm")


# ---------------------------------------------------------------------------
# Colours of values


def _pixel_colours(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(..., C) values -> (..., 3) uint8: RGB colour for C = 3, else grey of the channel mean."""
    t = np.clip((np.nan_to_num(values, neginf=lo, posinf=hi) - lo) / (hi - lo), 0.0, 1.0)
    rgb = t if t.shape[-1] == 3 else np.repeat(t.mean(axis=-1, keepdims=True), 3, axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def _map_colours(values: np.ndarray, of: np.ndarray | None = None) -> np.ndarray:
    """(...) values -> (..., 3) uint8 in the page's colours for them: ``colorize`` over the
    ``value_range`` of ``of`` (default ``values``; the whole kernel for one of its slices),
    red-blue around 0 when it has both signs, Viridis else."""
    flat = np.asarray(values, dtype=np.float64).reshape(1, -1)
    colour = value_range(np.asarray(values if of is None else of, dtype=np.float64))
    return colorize(flat, *colour).reshape(*np.shape(values), 3)


def _with_padding_marked(colours: np.ndarray, values: np.ndarray, is_pad: np.ndarray) -> np.ndarray:
    """Tint padding cells towards PAD_TINT; -inf padding (max pooling) becomes PAD_EMPTY."""
    out = colours.astype(np.float64)
    out[is_pad] = 0.6 * out[is_pad] + 0.4 * np.array(PAD_TINT)
    out[is_pad & ~np.isfinite(values).all(axis=-1)] = PAD_EMPTY
    return np.round(out).astype(np.uint8)


# ---------------------------------------------------------------------------
# Geometry of a grid of cells on the canvas


@dataclass(frozen=True)
class _Grid:
    x: int  # top-left pixel of the grid
    y: int
    rows: int
    cols: int
    cell: int  # px a side, grid line included

    @property
    def width(self) -> int:
        return self.cols * self.cell + 1

    @property
    def height(self) -> int:
        return self.rows * self.cell + 1

    @property
    def labelled(self) -> bool:
        """Whether values fit in the cells as text."""
        return max(self.rows, self.cols) <= LABELLED_CELLS and self.cell >= MIN_LABEL_CELL_PX

    @property
    def line(self) -> int:
        """Width of highlight outlines."""
        return max(2, self.cell // 12)

    @property
    def small(self) -> bool:
        return self.cell < SMALL_CELL_PX

    def outline_box(self, r0: int, c0: int, r1: int, c1: int) -> tuple[int, int, int, int]:
        """Box to outline cells r0..r1, c0..c1 (inclusive): outside small cells, on big ones."""
        x0, y0, _, _ = self.box(r0, c0)
        _, _, x1, y1 = self.box(r1, c1)
        grow = self.line if self.small else 0
        return (x0 - grow, y0 - grow, x1 + grow, y1 + grow)

    def box(self, r: int, c: int, inset: int = 0) -> tuple[int, int, int, int]:
        """Pixel box of cell (r, c), grid lines on both sides included."""
        x0, y0 = self.x + int(c) * self.cell, self.y + int(r) * self.cell
        return (x0 + inset, y0 + inset, x0 + self.cell - inset, y0 + self.cell - inset)

    def inner(self, r: int, c: int) -> tuple[int, int, int, int]:
        """Pixel box of the inside of cell (r, c), without grid lines."""
        gap = 1 if self.cell >= GRID_LINE_MIN_CELL_PX else 0
        x0, y0, x1, y1 = self.box(r, c)
        return (x0 + gap, y0 + gap, x1 - 1, y1 - 1)


def _paint_grid(canvas: np.ndarray, grid: _Grid, colours: np.ndarray,
                hatched: np.ndarray | None = None) -> None:
    """Paint (rows, cols, 3) uint8 cell colours into the (H, W, 3) canvas, with grid lines."""
    cell = grid.cell
    block = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)  # (rows*cell, cols*cell, 3)
    if hatched is not None and hatched.any():
        mask = np.repeat(np.repeat(hatched, cell, axis=0), cell, axis=1)
        yy, xx = np.ogrid[: mask.shape[0], : mask.shape[1]]
        spacing = max(3, cell // 4)
        dark = np.repeat(np.repeat(_luminance(colours) < 110, cell, axis=0), cell, axis=1)
        stripes = mask & ((yy + xx) % spacing == 0)
        block[stripes & ~dark] = PAD_HATCH
        block[stripes & dark] = PAD_HATCH_ON_DARK
    if cell >= GRID_LINE_MIN_CELL_PX:
        block[::cell, :] = GRID_LINE
        block[:, ::cell] = GRID_LINE
    h, w = block.shape[:2]
    canvas[grid.y : grid.y + h, grid.x : grid.x + w] = block
    canvas[grid.y + h, grid.x : grid.x + w + 1] = GRID_LINE  # bottom and right border
    canvas[grid.y : grid.y + h + 1, grid.x + w] = GRID_LINE


def _label_cells(draw: ImageDraw.ImageDraw, grid: _Grid, labels: np.ndarray,
                 colours: np.ndarray) -> None:
    for r in range(grid.rows):
        for c in range(grid.cols):
            if labels[r, c]:
                _cell_text(draw, grid.inner(r, c), labels[r, c], _ink_on(tuple(colours[r, c])))


# ---------------------------------------------------------------------------
# What to draw, independent of how: built from ConvSteps or PoolSteps


@dataclass(frozen=True, eq=False)
class _Cells:
    """A grid of cells: colours, optional text, optional hatching."""

    title: str
    colours: np.ndarray  # (rows, cols, 3) uint8
    labels: np.ndarray | None  # (rows, cols) str, "" for none
    hatched: np.ndarray | None  # (rows, cols) bool


@dataclass(frozen=True, eq=False)
class _Animation:
    """Everything a frame shows, as plain data; region coordinates throughout."""

    input: _Cells
    input_title: str
    input_subtitle: str
    middle: list[_Cells]  # static panels (conv kernel slices); empty when `window` is drawn
    middle_title: str
    middle_subtitle: str
    window: Callable[[int], _Cells] | None  # pooling: the enlarged window of step i
    window_shape: tuple[int, int]  # (kh, kw)
    window_winners: np.ndarray | None  # (n, C, 2) winner in window coordinates
    output_shape: tuple[int, int]  # cells of the output panel
    output_title: str
    output_subtitle: str
    out_cells: np.ndarray  # (n, 2): output cell of each step
    out_colours: np.ndarray  # (n, 3) uint8
    out_labels: list[str]  # (n,)
    tap_rows: np.ndarray  # (n, kh)
    tap_cols: np.ndarray  # (n, kw)
    winners: np.ndarray | None  # (n, C, 2) in input-region coordinates
    operators: tuple[str, str]  # signs between the panels
    caption: Callable[[int], tuple[str, str]]  # step -> (formula, details)


def _input_region(steps: ConvSteps | PoolSteps) -> tuple[int, int, int, int]:
    """Bounding box (r0, r1, c0, c1) of every tap of every step, padded coordinates."""
    return (int(steps.tap_rows.min()), int(steps.tap_rows.max()) + 1,
            int(steps.tap_cols.min()), int(steps.tap_cols.max()) + 1)


def _is_padding(steps: ConvSteps | PoolSteps, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows), len(cols)) bool: which padded-coordinate cells are padding."""
    top, bottom, left, right = steps.pads
    hp, wp = steps.padded.shape[:2]
    row_pad = (rows < top) | (rows >= hp - bottom)
    col_pad = (cols < left) | (cols >= wp - right)
    return row_pad[:, None] | col_pad[None, :]


def _pixel_cells(title: str, values: np.ndarray, is_pad: np.ndarray,
                 lo: float, hi: float, labelled: bool) -> _Cells:
    """(rows, cols, C) pixel values -> cells; numbers only for one channel."""
    colours = _with_padding_marked(_pixel_colours(values, lo, hi), values, is_pad)
    labels = None
    if labelled and values.shape[-1] == 1:
        labels = np.vectorize(_fmt, otypes=[object])(values[..., 0])
    return _Cells(title, colours, labels, is_pad)


def _input_panel(steps: ConvSteps | PoolSteps, cell: int) -> tuple[_Cells, str, str]:
    """The input cells, title and subtitle."""
    r0, r1, c0, c1 = _input_region(steps)
    values = steps.padded[r0:r1, c0:c1]  # (rows, cols, C)
    is_pad = _is_padding(steps, np.arange(r0, r1), np.arange(c0, c1))
    lo, hi = pixel_range(steps.padded)
    labelled = max(r1 - r0, c1 - c0) <= LABELLED_CELLS and cell >= MIN_LABEL_CELL_PX
    cells = _pixel_cells("", values, is_pad, lo, hi, labelled)
    hp, wp = steps.padded.shape[:2]
    title = "padded input" if any(steps.pads) else "input"
    dash, times = _symbols()["dash"], _symbols()["times"]
    notes = []
    if (r0, r1, c0, c1) != (0, hp, 0, wp):
        notes.append(f"rows {r0}{dash}{r1 - 1}, cols {c0}{dash}{c1 - 1} of {hp}{times}{wp}")
    if is_pad.any():
        notes.append("hatched = padding")
    return cells, title, ", ".join(notes)


def _output_panel(steps: ConvSteps | PoolSteps) -> tuple[tuple[int, int], np.ndarray, str]:
    o_r0, o_c0 = int(steps.out_rows.min()), int(steps.out_cols.min())
    shape = (int(steps.out_rows.max()) + 1 - o_r0, int(steps.out_cols.max()) + 1 - o_c0)
    cells = np.stack([steps.out_rows - o_r0, steps.out_cols - o_c0], axis=1)  # (n, 2)
    h_out, w_out = steps.output.shape[:2]
    subtitle = ""
    if shape != (h_out, w_out):
        dash, times = _symbols()["dash"], _symbols()["times"]
        subtitle = (f"rows {o_r0}{dash}{o_r0 + shape[0] - 1}, "
                    f"cols {o_c0}{dash}{o_c0 + shape[1] - 1} of {h_out}{times}{w_out}")
    return shape, cells, subtitle


def _auto_cell_px(steps: ConvSteps | PoolSteps, cell_px: int | None) -> int:
    if cell_px is not None:
        return cell_px
    r0, r1, c0, c1 = _input_region(steps)
    return int(np.clip(INPUT_PANEL_PX // max(r1 - r0, c1 - c0), MIN_CELL_PX, MAX_CELL_PX))


def _kernel_cell_px(kh: int, kw: int) -> int:
    return int(np.clip(KERNEL_PANEL_PX // max(kh, kw), 6, 48))


def _channel_name(c: int, channels: int) -> str:
    return "RGB"[c] if channels == 3 else f"ch {c}"


def _conv_animation(steps: ConvSteps, cell: int) -> _Animation:
    sym = _symbols()
    inp, in_title, in_sub = _input_panel(steps, cell)
    r0, _, c0, _ = _input_region(steps)
    kh, kw, channels = steps.kernel.shape
    same = bool(np.all(steps.kernel == steps.kernel[:, :, :1]))
    shown = 1 if same else min(channels, MAX_KERNEL_SLICES)
    middle = []
    for c in range(shown):
        k = steps.kernel[:, :, c]
        labels = None
        if max(kh, kw) <= LABELLED_CELLS:
            labels = np.vectorize(_fmt, otypes=[object])(k)
        name = "" if same else _channel_name(c, channels)
        middle.append(_Cells(name, _map_colours(k, steps.kernel), labels, None))
    sub = []
    if same and channels > 1:
        sub.append("same for every channel")
    if not same and channels > shown:
        sub.append(f"first {shown} of {channels} channels")
    if steps.dilation != (1, 1):
        sub.append(f"dilation {steps.dilation[0]}{sym['times']}{steps.dilation[1]}")
    if steps.bias:
        sub.append(f"bias {_fmt(steps.bias)}")
    out_shape, out_cells, out_sub = _output_panel(steps)
    labelled = max(out_shape) <= LABELLED_CELLS and cell >= MIN_LABEL_CELL_PX
    n = len(steps.sums)
    stride = f"stride {steps.stride[0]}{sym['times']}{steps.stride[1]}"

    def caption(i: int) -> tuple[str, str]:
        total = steps.sums[i]
        formula = (f"out[{steps.out_rows[i]}, {steps.out_cols[i]}] = "
                   f"{sym['sum']}(patch {sym['times']} kernel) + bias = ")
        if steps.bias:
            formula += f"{_fmt(total - steps.bias)} + {_fmt(steps.bias)} = "
        formula += _fmt(total)
        details = [f"step {i + 1} of {n}", stride]
        if channels > 1:
            parts = [f"{_channel_name(c, channels)} {_fmt(v)}"
                     for c, v in enumerate(steps.channel_sums[i])]
            details.insert(1, "per channel " + " + ".join(parts))
        return formula, f"  {sym['dot']}  ".join(details)

    return _Animation(
        input=inp, input_title=in_title, input_subtitle=in_sub,
        middle=middle, middle_title="kernel", middle_subtitle=", ".join(sub),
        window=None, window_shape=(kh, kw), window_winners=None,
        output_shape=out_shape, output_title="output", output_subtitle=out_sub,
        out_cells=out_cells, out_colours=_map_colours(steps.sums),
        out_labels=[_fmt(v) for v in steps.sums] if labelled else [""] * n,
        tap_rows=steps.tap_rows - r0, tap_cols=steps.tap_cols - c0, winners=None,
        operators=(sym["times"], "="), caption=caption,
    )


def _pool_animation(steps: PoolSteps, cell: int) -> _Animation:
    sym = _symbols()
    inp, in_title, in_sub = _input_panel(steps, cell)
    r0, _, c0, _ = _input_region(steps)
    lo, hi = pixel_range(steps.padded)  # the window and output use the input's grey scale
    kh, kw = steps.size
    n, channels = steps.values.shape
    kcell = _kernel_cell_px(kh, kw)
    window_labelled = max(kh, kw) <= LABELLED_CELLS and kcell >= MIN_LABEL_CELL_PX

    def window(i: int) -> _Cells:
        return _pixel_cells("", steps.patches[i], steps.from_padding[i], lo, hi, window_labelled)

    out_shape, out_cells, out_sub = _output_panel(steps)
    labelled = max(out_shape) <= LABELLED_CELLS and cell >= MIN_LABEL_CELL_PX
    out_colours = _pixel_colours(steps.values, lo, hi)
    out_labels = [""] * n
    if labelled and channels == 1:
        out_labels = [_fmt(v) for v in steps.values[:, 0]]
    winners = window_winners = None
    if steps.winner is not None:
        winners = steps.winner - np.array([r0, c0])
        window_winners = steps.winner - np.stack([steps.window_rows, steps.window_cols],
                                                 axis=1)[:, None, :]
    word = "max" if steps.kind == "max" else "mean"
    times = sym["times"]
    stride = f"stride {steps.stride[0]}{times}{steps.stride[1]}"

    def caption(i: int) -> tuple[str, str]:
        values = steps.values[i]
        if channels == 1:
            result = _fmt(values[0])
        else:
            result = "(" + ", ".join(
                f"{_channel_name(c, channels)} {_fmt(v)}" for c, v in enumerate(values)) + ")"
        formula = f"out[{steps.out_rows[i]}, {steps.out_cols[i]}] = {word} = {result}"
        details = [f"step {i + 1} of {n}", f"{kh}{times}{kw} window", stride]
        if steps.kind == "avg" and steps.from_padding[i].any():
            details.append("padding zeros count in the mean")
        return formula, f"  {sym['dot']}  ".join(details)

    subtitle = f"{word} of {kh}{times}{kw}"
    if steps.kind == "max":
        subtitle += ", winner in green" if channels == 1 else ", dots mark each channel's max"
    return _Animation(
        input=inp, input_title=in_title, input_subtitle=in_sub,
        middle=[], middle_title="window", middle_subtitle=subtitle,
        window=window, window_shape=(kh, kw), window_winners=window_winners,
        output_shape=out_shape, output_title="output", output_subtitle=out_sub,
        out_cells=out_cells, out_colours=out_colours, out_labels=out_labels,
        tap_rows=steps.tap_rows - r0, tap_cols=steps.tap_cols - c0, winners=winners,
        operators=(sym["to"], sym["to"]), caption=caption,
    )


# ---------------------------------------------------------------------------
# Drawing frames


@dataclass(frozen=True)
class _Layout:
    size: tuple[int, int]  # (width, height) of a frame
    input: _Grid
    middle: list[_Grid]  # one per kernel slice, or the enlarged window
    output: _Grid
    titles_y: int
    caption_y: int


def _text_width(title: str, subtitle: str) -> int:
    return int(max(_font(TITLE_PX).getlength(title), _font(SUBTITLE_PX).getlength(subtitle))) + 1


def _layout(anim: _Animation, cell: int, caption_width: int) -> _Layout:
    """Where everything goes; a panel is as wide as its grid or its title, whichever is wider."""
    top = MARGIN + TITLE_PX + SUBTITLE_PX + 14  # below the titles
    rows, cols = anim.input.colours.shape[:2]
    x = MARGIN
    input_grid = _Grid(x, top, rows, cols, cell)
    x += max(input_grid.width, _text_width(anim.input_title, anim.input_subtitle)) + PANEL_GAP
    kh, kw = anim.window_shape
    kcell = _kernel_cell_px(kh, kw)
    middle, y = [], top
    for panel in anim.middle or [None]:
        if panel is not None and panel.title:
            y += SUBTITLE_PX + 4  # room for the slice name
        middle.append(_Grid(x, y, kh, kw, kcell))
        y += middle[-1].height + 8
    x += max(middle[0].width, _text_width(anim.middle_title, anim.middle_subtitle)) + PANEL_GAP
    out_rows, out_cols = anim.output_shape
    output_grid = _Grid(x, top, out_rows, out_cols, cell)
    x += max(output_grid.width, _text_width(anim.output_title, anim.output_subtitle))
    width = max(x, MARGIN + caption_width) + MARGIN
    panels_bottom = max(input_grid.y + input_grid.height, y, output_grid.y + output_grid.height)
    caption_y = panels_bottom + 18
    height = caption_y + CAPTION_PX + DETAIL_PX + 14 + MARGIN
    return _Layout((width, height), input_grid, middle, output_grid, MARGIN, caption_y)


def _draw_cells(draw: ImageDraw.ImageDraw, grid: _Grid, cells: _Cells) -> None:
    """Draw a small grid with ImageDraw (the per-frame pooling window)."""
    for r in range(grid.rows):
        for c in range(grid.cols):
            colour = tuple(int(v) for v in cells.colours[r, c])
            draw.rectangle(grid.box(r, c), fill=colour, outline=GRID_LINE)
            if cells.hatched is not None and cells.hatched[r, c]:
                x0, y0, x1, y1 = grid.box(r, c)
                step = max(3, grid.cell // 4)
                hatch = PAD_HATCH if _luminance(np.array(colour)) >= 110 else PAD_HATCH_ON_DARK
                for d in range(step, 2 * grid.cell, step):  # diagonal stripes, clipped to the cell
                    a = (x0 + max(0, d - grid.cell), y0 + min(d, grid.cell))
                    b = (x0 + min(d, grid.cell), y0 + max(0, d - grid.cell))
                    draw.line([a, b], fill=hatch, width=1)
            if cells.labels is not None and cells.labels[r, c]:
                _cell_text(draw, grid.inner(r, c), cells.labels[r, c], _ink_on(colour))


def _base_frame(anim: _Animation, lay: _Layout) -> Image.Image:
    """What every frame shares: titles, input grid, kernel, the empty output."""
    width, height = lay.size
    canvas = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    _paint_grid(canvas, lay.input, anim.input.colours, anim.input.hatched)
    for grid, panel in zip(lay.middle, anim.middle, strict=False):
        _paint_grid(canvas, grid, panel.colours)
    out_rows, out_cols = anim.output_shape
    pending = np.full((out_rows, out_cols, 3), PENDING, dtype=np.uint8)
    _paint_grid(canvas, lay.output, pending)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    if anim.input.labels is not None:
        _label_cells(draw, lay.input, anim.input.labels, anim.input.colours)
    for grid, panel in zip(lay.middle, anim.middle, strict=False):
        if panel.labels is not None:
            _label_cells(draw, grid, panel.labels, panel.colours)
        if panel.title:
            draw.text((grid.x, grid.y - 3), panel.title, fill=MUTED, font=_font(SUBTITLE_PX),
                      anchor="ld")
    for grid, title, subtitle in (
        (lay.input, anim.input_title, anim.input_subtitle),
        (lay.middle[0], anim.middle_title, anim.middle_subtitle),
        (lay.output, anim.output_title, anim.output_subtitle),
    ):
        draw.text((grid.x, lay.titles_y), title, fill=INK, font=_font(TITLE_PX))
        draw.text((grid.x, lay.titles_y + TITLE_PX + 5), subtitle, fill=MUTED,
                  font=_font(SUBTITLE_PX))
    sign_font = _font(28)
    mid_y = lay.input.y + min(lay.input.height, lay.middle[0].height) / 2
    for sign, right in zip(anim.operators, (lay.middle[0], lay.output), strict=True):
        draw.text((right.x - PANEL_GAP / 2, mid_y), sign, fill=MUTED, font=sign_font, anchor="mm")
    return image


def _add_output_cell(draw: ImageDraw.ImageDraw, anim: _Animation, grid: _Grid, i: int) -> None:
    r, c = anim.out_cells[i]
    colour = tuple(int(v) for v in anim.out_colours[i])
    draw.rectangle(grid.inner(r, c), fill=colour)
    if anim.out_labels[i]:
        _cell_text(draw, grid.inner(r, c), anim.out_labels[i], _ink_on(colour))


def _mark_winners(draw: ImageDraw.ImageDraw, grid: _Grid, winners: np.ndarray) -> None:
    """Max pooling: a green inner frame (one channel) or one dot per channel."""
    channels = len(winners)
    if channels == 1:
        r, c = winners[0]
        draw.rectangle(grid.box(r, c, inset=grid.line + 1), outline=WINNER, width=grid.line)
        return
    radius = max(1.5, grid.cell / 9)
    for ch, (r, c) in enumerate(winners):
        x0, y0, x1, y1 = grid.box(r, c)
        cx = x0 + (x1 - x0) * (ch + 1) / (channels + 1)
        cy = (y0 + y1) / 2
        colour = CHANNEL_MARKS[ch] if channels == 3 else WINNER
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour,
                     outline=BACKGROUND)


def _draw_step(image: Image.Image, anim: _Animation, lay: _Layout, i: int) -> None:
    """The highlights of step i on top of a copy of the running canvas."""
    draw = ImageDraw.Draw(image)
    grid = lay.input
    rows, cols = anim.tap_rows[i], anim.tap_cols[i]  # (kh,), (kw,)
    span = grid.outline_box(rows[0], cols[0], rows[-1], cols[-1])
    dilated = bool(np.any(np.diff(rows) > 1) or np.any(np.diff(cols) > 1))
    if dilated:  # a thin frame shows the span, thick ones the taps actually read
        draw.rectangle((span[0] - 2, span[1] - 2, span[2] + 2, span[3] + 2), outline=WINDOW)
    if grid.small and not dilated:
        draw.rectangle(span, outline=WINDOW, width=grid.line)
    else:
        width = 1 if grid.small else grid.line
        for r in rows:
            for c in cols:
                draw.rectangle(grid.box(r, c), outline=WINDOW, width=width)
    if anim.window is not None:
        window = lay.middle[0]
        _draw_cells(draw, window, anim.window(i))
        draw.rectangle((window.x, window.y, window.x + window.width - 1,
                        window.y + window.height - 1), outline=WINDOW, width=window.line)
    if anim.winners is not None:
        _mark_winners(draw, grid, anim.winners[i])
        _mark_winners(draw, lay.middle[0], anim.window_winners[i])
    r, c = anim.out_cells[i]
    draw.rectangle(lay.output.outline_box(r, c, r, c), outline=WINDOW, width=lay.output.line)
    formula, details = anim.caption(i)
    draw.text((MARGIN, lay.caption_y), formula, fill=INK, font=_font(CAPTION_PX))
    draw.text((MARGIN, lay.caption_y + CAPTION_PX + 8), details, fill=MUTED,
              font=_font(DETAIL_PX))


def _frame_indices(n: int, max_frames: int) -> np.ndarray:
    """Steps to show: all of them, or `max_frames` spread evenly, first and last included."""
    if n <= max_frames:
        return np.arange(n)
    if max_frames == 1:
        return np.array([n - 1])
    return np.round(np.linspace(0, n - 1, max_frames)).astype(np.int64)  # distinct: n > max_frames


def _palette(sample: Image.Image) -> Image.Image:
    """One 256-colour palette for every frame, so that unchanged pixels stay unchanged.

    The interface colours are reserved exactly (a median cut would average the
    white background with its anti-aliased neighbours); the rest of the
    palette is a median cut of `sample`, the fullest frame.
    """
    reserved = [BACKGROUND, INK, MUTED, GRID_LINE, PENDING, WINDOW, WINNER, PAD_HATCH,
                PAD_HATCH_ON_DARK, PAD_EMPTY, *CHANNEL_MARKS]
    cut = sample.quantize(colors=256 - len(reserved), method=Image.Quantize.MEDIANCUT,
                          dither=Image.Dither.NONE)
    found = np.array(cut.getpalette()[: 3 * (256 - len(reserved))]).reshape(-1, 3)
    # Pillow maps colours through a cache of 4x4x4 boxes: a found colour close to a
    # reserved one could capture it, so those go (the reserved one stands in for them).
    near = np.abs(found[:, None, :] - np.array(reserved)[None]).max(axis=2) <= 8
    found = found[~near.any(axis=1)]
    entries = [v for colour in reserved for v in colour] + found.ravel().tolist()
    palette = Image.new("P", (1, 1))
    palette.putpalette(entries + [0] * (768 - len(entries)))
    return palette


def _render(anim: _Animation, n: int, *, frame_ms: int, max_frames: int, cell: int) -> bytes:
    indices = _frame_indices(n, max_frames)
    captions = [anim.caption(int(i)) for i in indices]
    caption_width = int(max(
        max(_font(CAPTION_PX).getlength(f), _font(DETAIL_PX).getlength(d)) for f, d in captions))
    lay = _layout(anim, cell, caption_width)
    base = _base_frame(anim, lay)

    # the palette comes from the fullest frame: every output cell and the last highlights
    full = base.copy()
    full_draw = ImageDraw.Draw(full)
    for i in range(n):
        _add_output_cell(full_draw, anim, lay.output, i)
    _draw_step(full, anim, lay, int(indices[-1]))
    palette = _palette(full)

    running = base  # output cells accumulate here as their steps go by
    running_draw = ImageDraw.Draw(running)
    frames, done = [], 0
    for i in indices:
        i = int(i)
        for j in range(done, i + 1):
            _add_output_cell(running_draw, anim, lay.output, j)
        done = i + 1
        frame = running.copy()
        _draw_step(frame, anim, lay, i)
        frames.append(frame.quantize(palette=palette, dither=Image.Dither.NONE))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                   duration=frame_ms, loop=0, optimize=True, disposal=1)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# Public functions


def _check_options(frame_ms: int, max_frames: int, cell_px: int | None) -> None:
    def whole(value: object, name: str) -> int:
        if isinstance(value, bool):
            raise ParameterError(f"{name} must be a whole number, not {value!r}.")
        try:
            return operator.index(value)
        except TypeError:
            raise ParameterError(f"{name} must be a whole number, not {value!r}.") from None

    if whole(frame_ms, "The frame time") < MIN_FRAME_MS:
        raise ParameterError(
            f"Each frame must last at least {MIN_FRAME_MS} ms: browsers play faster GIFs "
            "at 100 ms per frame."
        )
    if whole(max_frames, "The number of frames") < 1:
        raise ParameterError("A GIF needs at least one frame.")
    if cell_px is not None and not MIN_CELL_PX <= whole(cell_px, "The cell size") <= 200:
        raise ParameterError(f"The cell size must be between {MIN_CELL_PX} and 200 pixels.")


def conv_steps_gif(
    steps: ConvSteps,
    *,
    frame_ms: int = 500,
    max_frames: int = 144,
    cell_px: int | None = None,
) -> bytes:
    """A looping animated GIF of a convolution step-through, one frame per output pixel.

    steps: from `cnnviz.ops.conv_steps`; only the padded input its windows read
        is drawn, so a zoom box on a large image works.
    frame_ms: time per frame (GIFs count in 10 ms units; at least 20).
    max_frames: with more steps, this many are shown, spread evenly, the last
        one included; output cells of skipped steps still fill in.
    cell_px: size of an input/output cell in pixels (default: the input region
        fits in about 450 px, cells at most 56 px).
    Returns the GIF file as bytes (palette GIF, loops forever).
    Bad options raise ParameterError.
    """
    if not isinstance(steps, ConvSteps):
        raise TypeError(f"conv_steps_gif needs ConvSteps, not {type(steps).__name__}.")
    _check_options(frame_ms, max_frames, cell_px)
    cell = _auto_cell_px(steps, cell_px)
    anim = _conv_animation(steps, cell)
    return _render(anim, len(steps.sums), frame_ms=frame_ms, max_frames=max_frames, cell=cell)


def pool_steps_gif(
    steps: PoolSteps,
    *,
    frame_ms: int = 500,
    max_frames: int = 144,
    cell_px: int | None = None,
) -> bytes:
    """A looping animated GIF of a max or average pooling step-through.

    Like `conv_steps_gif`; the middle panel shows the current window enlarged,
    and for max pooling the winning pixel is marked (one dot per channel for
    colour images). Returns the GIF file as bytes.
    """
    if not isinstance(steps, PoolSteps):
        raise TypeError(f"pool_steps_gif needs PoolSteps, not {type(steps).__name__}.")
    _check_options(frame_ms, max_frames, cell_px)
    cell = _auto_cell_px(steps, cell_px)
    anim = _pool_animation(steps, cell)
    return _render(anim, len(steps.values), frame_ms=frame_ms, max_frames=max_frames, cell=cell)
