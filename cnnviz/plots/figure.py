"""The building blocks every figure of ``cnnviz.plots`` is made of, and the one home of how
values are coloured and written.

- **Colours.** ``value_range`` (a map's colour range: symmetric around 0 when it has both
  signs), ``pixel_range`` (pixels: absolute brightness for photos), ``colorscale_name`` and
  ``colorize``, which colours a picture with exactly the stops of its colour bar
  (``colour_lut``). ``cnnviz.export`` colours its GIFs with the same functions.
- **Numbers.** ``format_value``: how a number of a step-through reads, on the page and in
  the GIF.
- **Figures as plain dicts.** ``RawFigure`` skips Plotly's validation; ``subplot_grid`` and
  its helpers lay out subplots without ``make_subplots``.
- **Pictures.** ``picture`` shows an image or a map as one PNG/JPEG (a 512×512 map as a
  heatmap would be 262,144 numbers); ``picture_source`` is the costly encoding, kept apart.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from cnnviz.images import encode_for_display

__all__ = [
    "CELL_FORMAT",
    "CELL_TEXT_PX",
    "CHANNEL_SCALES",
    "HIGHLIGHT",
    "MAPS_SCALE",
    "MAX_TEXT_CELLS",
    "NARROWEST_FIGURE_PX",
    "ROW_GAP_PX",
    "TITLE_FONT_PX",
    "TITLE_SHIFT_PX",
    "Box",
    "PictureSource",
    "RawFigure",
    "axis_name",
    "axis_ref",
    "cell_text",
    "box_path",
    "colorize",
    "colorscale_name",
    "colour_lut",
    "compact",
    "fitting_text_px",
    "format_value",
    "heatmap",
    "hide_ticks",
    "integer_ticks",
    "matrix",
    "on_axes",
    "outline",
    "payload_bytes",
    "picture",
    "picture_cell",
    "picture_grid_figure",
    "picture_source",
    "pixel_range",
    "png_uri",
    "scale_stops",
    "significant_decimals",
    "square_cells",
    "subplot_grid",
    "value_range",
    "widest_text",
]

Box = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, in pixels

HIGHLIGHT = "#ffb000"  # the current window / cell: amber reads well on a projector
CHANNEL_SCALES = {"R": "Reds", "G": "Greens", "B": "Blues"}
#: Above this many cells a heatmap shows no numbers in its cells: they would be unreadable.
MAX_TEXT_CELLS = 144
MAPS_SCALE = "RdBu_r"  # every map of the network pages: blue < 0 < red, white = 0
#: A subplot title sits TITLE_SHIFT_PX above its plot (over the top tick labels), in
#: TITLE_FONT_PX text; rows of a grid keep ROW_GAP_PX between them so that a title never
#: runs into the row above (at the default size and in presenter mode alike).
TITLE_SHIFT_PX = 30
TITLE_FONT_PX = 15
ROW_GAP_PX = TITLE_SHIFT_PX + 2 * TITLE_FONT_PX + 20
#: The number written in a heatmap cell, and the narrowest figure it is planned for (the
#: page's main column at a 1400 px window with the sidebar open, and on a projector).
CELL_TEXT_PX = 11
NARROWEST_FIGURE_PX = 860
#: How wide a digit of CELL_TEXT_PX-high text is, per pixel of height (Source Sans).
DIGIT_WIDTH = 0.6


#: How a heatmap cell writes its number: 3 significant digits, trailing zeros trimmed
#: (d3-format's "~g": 1 -> "1", 0.670 -> "0.67", 1234 -> "1.23e+3").
CELL_FORMAT = "%{z:.3~g}"


def _trimmed(digits: str) -> str:
    return digits.rstrip("0").rstrip(".") if "." in digits else digits


def cell_text(v: float) -> str:
    """A cell's number as plotly.js writes CELL_FORMAT: JavaScript's ``toPrecision(3)``
    (exponents from 1e3 and below 1e-6) with the trailing zeros trimmed, as d3-format's "~"
    does: 1 -> "1", -0.00120 -> "-0.0012", 1234 -> "1.23e+3"."""
    if v == 0 or not np.isfinite(v):
        return "0" if v == 0 else str(v)
    exponent = int(np.floor(np.log10(abs(float(f"{v:.2e}")))))
    if exponent < -6 or exponent >= 3:
        mantissa, power = f"{v:.2e}".split("e")
        return f"{_trimmed(mantissa)}e{'+' if int(power) >= 0 else '-'}{abs(int(power))}"
    return _trimmed(f"{v:.{max(0, 2 - exponent)}f}")


def widest_text(values: np.ndarray, sample: int = 64) -> int:
    """The most characters a cell's number takes (CELL_FORMAT, as heatmap writes it:
    ``cell_text``), over ``values``: the values that write longest (the extremes, and the
    negative and positive ones nearest zero, which take the most leading zeros) and an
    evenly strided sample of ``sample`` others, so that a rerun spends well under a
    millisecond on it."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 1
    negative, positive = flat[flat < 0], flat[flat > 0]
    picked = [flat[:: max(1, flat.size // sample)], [flat.min(), flat.max()]]
    if negative.size:
        picked.append([negative.max()])
    if positive.size:
        picked.append([positive.min()])
    return max(len(cell_text(v)) for v in np.concatenate(picked).tolist())


def fitting_text_px(cell_px: float, chars: int, largest: int = CELL_TEXT_PX,
                    smallest: int = 8) -> int:
    """The text size that writes ``chars`` characters inside a cell ``cell_px`` wide, with a
    pixel to spare on each side: at most ``largest``; 0 when even ``smallest`` would run
    over the cell's edge (the cell then shows no number: its value is in the hover and the
    caption)."""
    fit = int((cell_px - 2) / (DIGIT_WIDTH * max(chars, 1)))
    return min(largest, fit) if fit >= smallest else 0


# --- colours and numbers -------------------------------------------------------------------


def value_range(values: np.ndarray) -> tuple[float, float, bool]:
    """(zmin, zmax, diverging) for a map: symmetric around 0 when it has both signs.

    Infinite and NaN values (max pooling's -inf padding) are left out.
    """
    if values.size == 0:
        return 0.0, 1.0, False
    lo, hi = float(values.min()), float(values.max())  # two passes, no copy: the common case
    if not (np.isfinite(lo) and np.isfinite(hi)):
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return 0.0, 1.0, False
        lo, hi = float(finite.min()), float(finite.max())
    if lo < 0 < hi:
        m = max(-lo, hi)
        return -m, m, True
    if lo == hi:
        return lo - 0.5, hi + 0.5, False
    return lo, hi, False


@lru_cache(maxsize=8)
def colour_lut(colorscale: str) -> np.ndarray:
    """uint8 (256, 3): Plotly's colour scale sampled at 256 points, so that a picture's
    colours are exactly those of its colour bar."""
    from plotly.colors import get_colorscale, sample_colorscale

    samples = sample_colorscale(get_colorscale(colorscale), np.linspace(0, 1, 256).tolist(),
                                colortype="tuple")
    return np.round(np.array(samples) * (255 if max(map(max, samples)) <= 1 else 1)).astype(
        np.uint8)


def colorize(values: np.ndarray, zmin: float, zmax: float, diverging: bool) -> np.ndarray:
    """float (H, W) -> uint8 (H, W, 3) RGB in the colour scale `colorscale_name` names."""
    span = zmax - zmin if zmax > zmin else 1.0
    # One float32 copy, then in place: a 512×512 map is coloured on every rerun.
    scaled = np.subtract(values, np.float32(zmin), dtype=np.float32)
    scaled *= np.float32(255.0 / span)
    scaled += np.float32(0.5)
    if np.isnan(scaled).any():
        np.nan_to_num(scaled, copy=False, nan=0.5)  # NaN is drawn as zmin
    np.clip(scaled, 0, 255, out=scaled)
    # np.take, not lut[index]: fancy indexing of a 512×512 map is 4x slower.
    return np.take(colour_lut(colorscale_name(diverging)), scaled.astype(np.uint8), axis=0)


@lru_cache(maxsize=16)
def scale_stops(name: str) -> tuple:
    """A colour scale as explicit [position, colour] stops.

    The figures here are plain dicts that skip Plotly's Python layer, which is what
    turns names such as "RdBu_r" or "gray" into stops; plotly.js alone knows neither.
    """
    from plotly.colors import get_colorscale

    return tuple(tuple(stop) for stop in get_colorscale(name))


def colorscale_name(diverging: bool) -> str:
    """The colour scale of a map: red-blue around 0 when it has both signs, Viridis else."""
    return "RdBu_r" if diverging else "Viridis"


def format_value(v: float, inf: str = "∞") -> str:
    """How a number of a step-through reads, on the page and in the GIF alike: 4 significant
    digits, whole thousands written out ("12345", not "1.234e+04": sums over 0-255 pixels are
    often that big), no "-0", and infinities (max pooling's padding) as ``inf`` with a sign."""
    v = float(v)
    if not np.isfinite(v):
        return ("-" if v < 0 else "") + inf
    text = f"{v:.0f}" if 1e3 <= abs(v) < 1e5 else f"{v:.4g}"
    return "0" if text == "-0" else text


def pixel_range(values: np.ndarray) -> tuple[float, float]:
    """(lo, hi) that pixel values are drawn from black to white with, in the step-throughs on
    the page and in the GIF alike.

    Photos (0-255, reaching past 128) and images in [0, 1] keep their absolute brightness,
    so a zoom into a dark corner stays dark; anything else, such as a small integer example,
    is stretched from its minimum to its maximum. Infinite and NaN values (max pooling's -inf
    padding) are left out.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    if lo >= 0 and 128 < hi <= 255:
        return 0.0, 255.0
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)


def significant_decimals(z: np.ndarray, digits: int = 5) -> int:
    """Decimals that keep `digits` significant digits of the largest value of `z`."""
    finite = np.isfinite(z)
    biggest = float(np.abs(z[finite]).max()) if finite.any() else 0.0
    decimals = digits - 1 - int(np.floor(np.log10(biggest))) if biggest > 0 else digits
    return max(decimals, 0)


def compact(z: np.ndarray, decimals: int | None = None) -> list:
    """`z` rounded to 5 significant digits (of its largest value), NaN -> None.

    The browser shows at most 5 significant digits; sending 17 would triple the payload.
    Pass `decimals` (from `significant_decimals` of a whole stack) to round many frames alike.
    """
    rounded = np.round(z, significant_decimals(z) if decimals is None else decimals)
    if np.isfinite(rounded).all():
        return rounded.tolist()
    return np.where(np.isfinite(rounded), rounded, None).tolist()


def matrix(z) -> np.ndarray:
    """A heatmap's ``z`` as a float array, whether a nested list or a typed-array spec."""
    if isinstance(z, dict) and "bdata" in z:
        shape = tuple(int(v) for v in str(z["shape"]).split(","))
        dtype = {"f4": "<f4", "f8": "<f8"}[z["dtype"]]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=dtype).reshape(shape).astype(
            np.float64)
    return np.array(z, dtype=np.float64)


# --- figures as plain dicts -----------------------------------------------------------------


def png_uri(rgb: np.ndarray) -> str:
    """uint8 (H, W, 3) -> a data URI the browser can show (PNG, or JPEG for big pictures)."""
    data, mime = encode_for_display(rgb)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def box_path(box: Box) -> tuple[list[float], list[float]]:
    """Closed outline of a half-open pixel box, through pixel edges."""
    r0, r1, c0, c1 = box
    xs = [c0 - 0.5, c1 - 0.5, c1 - 0.5, c0 - 0.5, c0 - 0.5]
    ys = [r0 - 0.5, r0 - 0.5, r1 - 0.5, r1 - 0.5, r0 - 0.5]
    return xs, ys


class RawFigure(go.Figure):
    """A figure given as a plain dict, sent to the browser as it is.

    Plotly's object model validates every property as it is set: for a step-through
    with 64 frames that is most of a second, which a page rerun cannot afford. The
    figures here are written as dicts in Plotly's JSON schema instead; tests render
    them in Chromium. ``st.plotly_chart`` and ``to_json`` read ``to_dict()``.
    """

    def __init__(self, spec: dict):
        # go.Figure.__init__ is skipped on purpose: it builds an empty layout and template
        # (about 2 ms) that nothing reads. st.plotly_chart and plotly.io only call
        # to_dict(); the object model (fig.data, fig.layout) is not available.
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec

    def to_plotly_json(self) -> dict:
        return self._spec

    @property
    def spec(self) -> dict:
        return self._spec

    def __reduce__(self):
        return (RawFigure, (self._spec,))


def axis_name(kind: str, k: int) -> str:
    """Layout key of subplot k's axis: "xaxis", "xaxis2", ..."""
    return f"{kind}axis" if k == 1 else f"{kind}axis{k}"


def axis_ref(kind: str, k: int) -> str:
    """Trace reference of subplot k's axis: "x", "x2", ..."""
    return kind if k == 1 else f"{kind}{k}"


def subplot_grid(col_widths: Sequence[float], rows: int, spanning: set[int], titles: dict,
          h_space: float = 0.04, v_space: float = 0.08) -> tuple[dict, dict, list[dict]]:
    """A subplot grid without make_subplots.

    Columns in `spanning` (0-based) cover every row. Returns (layout axes, cell ->
    subplot number, title annotations); `titles` maps (row, col) to a title.
    """
    total = sum(col_widths)
    usable = 1 - h_space * (len(col_widths) - 1)
    x_domains, x = [], 0.0
    for w in col_widths:
        width = usable * w / total
        x_domains.append((x, x + width))
        x += width + h_space
    row_h = (1 - v_space * (rows - 1)) / rows
    y_domains = [(1 - r * (row_h + v_space) - row_h, 1 - r * (row_h + v_space))
                 for r in range(rows)]
    axes: dict = {}
    cells: dict = {}
    annotations: list[dict] = []
    k = 0
    for r in range(rows):
        for c in range(len(col_widths)):
            if c in spanning and r > 0:
                continue
            k += 1
            cells[(r, c)] = k
            y0, y1 = (y_domains[-1][0], y_domains[0][1]) if c in spanning else y_domains[r]
            x0, x1 = x_domains[c]
            axes[axis_name("x", k)] = dict(domain=[x0, x1], anchor=axis_ref("y", k),
                                            showgrid=False, zeroline=False, side="top")
            axes[axis_name("y", k)] = dict(domain=[y0, y1], anchor=axis_ref("x", k),
                                            showgrid=False, zeroline=False,
                                            autorange="reversed")
            if (r, c) in titles:
                annotations.append(dict(text=titles[(r, c)], x=(x0 + x1) / 2, y=y1,
                                        xref="paper", yref="paper", xanchor="center",
                                        yanchor="bottom", showarrow=False,
                                        font=dict(size=TITLE_FONT_PX),
                                        yshift=TITLE_SHIFT_PX))  # over the top ticks
    return axes, cells, annotations


def on_axes(k: int) -> dict:
    """The axis references that put a trace on subplot k."""
    return {"xaxis": axis_ref("x", k), "yaxis": axis_ref("y", k)}


def square_cells(axes: dict, k: int, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Fix subplot k's view to rows [r0, r1) x cols [c0, c1), with square cells."""
    axes[axis_name("x", k)].update(range=[cols[0] - 0.5, cols[1] - 0.5], constrain="domain",
                                    **integer_ticks(cols[1] - cols[0]))
    axes[axis_name("y", k)].update(range=[rows[1] - 0.5, rows[0] - 0.5], autorange=False,
                                    scaleanchor=axis_ref("x", k), constrain="domain",
                                    **integer_ticks(rows[1] - rows[0]))


def integer_ticks(cells: int) -> dict:
    """Ticks on whole rows/columns only (no "1.5" between two pixels)."""
    return dict(dtick=1 if cells <= 16 else max(1, round(cells / 8)), tick0=0)


def hide_ticks(axes: dict, k: int) -> None:
    """No tick labels on subplot k."""
    axes[axis_name("x", k)]["showticklabels"] = False
    axes[axis_name("y", k)]["showticklabels"] = False


def picture_cell(axes: dict, k: int, rows: tuple[int, int], cols: tuple[int, int],
                  **axis) -> None:
    """Subplot k of a grid of small pictures: square pixels over rows × cols, and no tick
    labels, tick marks or grid lines (``axis``: more settings for both axes)."""
    square_cells(axes, k, rows, cols)
    hide_ticks(axes, k)
    for kind in "xy":
        axes[axis_name(kind, k)].update(ticks="", showgrid=False, **axis)


def picture_grid_figure(data: list[dict], axes: dict, notes: list[dict], cells: dict, n: int,
                         rows: int, cols: int, *, body_px: int, top: int,
                         title: str) -> RawFigure:
    """The figure of `n` small pictures in a rows × cols `subplot_grid`: the empty cells of the
    last row hidden, `title` (if any) above; `body_px` and `top` are the height and top
    margin without the title."""
    for i in range(n, rows * cols):
        cell = cells[(i // cols, i % cols)]
        axes[axis_name("x", cell)]["visible"] = False
        axes[axis_name("y", cell)]["visible"] = False
    title_px = 30 if title else 0
    layout = dict(axes, annotations=notes, showlegend=False, height=body_px + title_px,
                  margin=dict(l=5, r=5, t=top + title_px, b=5))
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))


def heatmap(z: np.ndarray, k: int, *, colorscale: str, zmin: float, zmax: float,
            show_text: bool, name: str, x0: int = 0, y0: int = 0,
            text_size: int = CELL_TEXT_PX) -> dict:
    """A heatmap trace of z (h, w) on subplot k, cells one unit apart from (x0, y0), values
    rounded by ``compact``; ``show_text`` writes each cell's value in it, ``text_size`` px
    high."""
    trace = dict(
        type="heatmap", z=compact(z), x0=x0, y0=y0, dx=1, dy=1, colorscale=scale_stops(colorscale),
        zmin=zmin, zmax=zmax, showscale=False, xgap=1, ygap=1, name=name,
        hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}<br>%{{z:.5g}}<extra></extra>",
        **on_axes(k),
    )
    if show_text and text_size > 0:
        trace.update(texttemplate=CELL_FORMAT, textfont=dict(size=text_size))
    return trace


def outline(k: int, xs: list, ys: list, name: str, dash: str | None = None,
            color: str = HIGHLIGHT, width: int = 3) -> dict:
    """A line trace through (xs, ys) on subplot k: the highlight of a window or a cell."""
    line = dict(color=color, width=width)
    if dash:
        line["dash"] = dash
    return dict(type="scatter", x=xs, y=ys, mode="lines", line=line, hoverinfo="skip",
                showlegend=False, name=name, **on_axes(k))


# --- still pictures ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PictureSource:
    """A picture encoded for the browser (`picture_source`), ready for `picture`.

    Encoding is the costly part of a picture (a 512×512 JPEG, and colouring a map): a page
    that keeps the source redraws the figure with a new box or title for free.
    """

    uri: str  # data: URI of the PNG/JPEG
    height: int
    width: int
    colour: tuple[float, float, bool] | None  # a map's (zmin, zmax, diverging); None: RGB


def picture_source(image: np.ndarray) -> PictureSource:
    """uint8 (H, W, 3) as it is, or a float (H, W) map coloured as `picture` says."""
    if image.ndim == 3:
        rgb, colour = image.astype(np.uint8), None
    else:
        values = np.asarray(image)
        colour = value_range(values)
        rgb = colorize(values, *colour)
    return PictureSource(png_uri(rgb), rgb.shape[0], rgb.shape[1], colour)


def picture(
    image: np.ndarray | None = None,
    *,
    title: str = "",
    box: Box | None = None,
    colorbar_title: str = "",
    height: int = 420,
    source: PictureSource | None = None,
) -> RawFigure:
    """An image or a map as one PNG/JPEG, with an optional highlighted box.

    image: uint8 (H, W, 3) is shown as it is; a float (H, W) map is coloured with
    Viridis, or RdBu around 0 when it has both signs, and gets a colour bar.
    box: (row0, row1, col0, col1) half-open, in pixels.
    source: ``picture_source(image)`` made earlier, instead of `image`.
    """
    if source is None:
        if image is None:
            raise ValueError("picture needs an image or its source")
        source = picture_source(image)
    h, w = source.height, source.width
    data: list[dict] = []
    if source.colour is not None:
        zmin, zmax, diverging = source.colour
        # An invisible marker carries the colour bar of the picture.
        data.append(dict(
            type="scatter", x=[None], y=[None], mode="markers", showlegend=False,
            hoverinfo="skip",
            marker=dict(colorscale=scale_stops(colorscale_name(diverging)), cmin=zmin, cmax=zmax,
                        color=[zmin], showscale=True,
                        colorbar=dict(title=dict(text=colorbar_title), thickness=14)),
        ))
    data.append(dict(type="image", source=source.uri, x0=0, y0=0, dx=1, dy=1,
                     hoverinfo="x+y", name=title or "image"))
    if box is not None:
        xs, ys = box_path(box)
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines",
                         line=dict(color=HIGHLIGHT, width=3), hoverinfo="skip",
                         showlegend=False))
    layout = dict(
        title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain",
                   **(integer_ticks(w) if w <= 64 else {})),
        yaxis=dict(range=[h - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x",
                   constrain="domain", **(integer_ticks(h) if h <= 64 else {})),
    )
    return RawFigure(dict(data=data, layout=layout))


def payload_bytes(fig: go.Figure | dict) -> int:
    """Size in bytes of the JSON that Streamlit sends to the browser for `fig`."""
    import plotly.io as pio

    spec = fig if isinstance(fig, dict) else fig.to_dict()
    return len(pio.to_json(spec, validate=False).encode())
