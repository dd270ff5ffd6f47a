"""Every Plotly figure of the app. Functions take plain data (numpy arrays, step
dataclasses) and return figures; they compute nothing that a page shows as a number.

Big pictures (a 512×512 output map) travel as one PNG inside the figure, not as a
heatmap of 262,144 numbers: that keeps the payload sent to the browser small.
Step-throughs are Plotly animations whose frames play in the browser.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from cnnviz.images import encode_for_display
from cnnviz.ops import ConvSteps, PoolSteps

Box = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, in pixels

HIGHLIGHT = "#ffb000"  # the current window / cell: amber reads well on a projector
PADDING_TINT = "rgba(120, 120, 120, 0.35)"
CHANNEL_SCALES = {"R": "Reds", "G": "Greens", "B": "Blues"}
#: Above this many cells a heatmap shows no numbers in its cells: they would be unreadable.
MAX_TEXT_CELLS = 144


# --- colour maps -------------------------------------------------------------------------


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
def _lut(colorscale: str) -> np.ndarray:
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
    return np.take(_lut(colorscale_name(diverging)), scaled.astype(np.uint8), axis=0)


@lru_cache(maxsize=16)
def _scale(name: str) -> tuple:
    """A colour scale as explicit [position, colour] stops.

    The figures here are plain dicts that skip Plotly's Python layer, which is what
    turns names such as "RdBu_r" or "gray" into stops; plotly.js alone knows neither.
    """
    from plotly.colors import get_colorscale

    return tuple(tuple(stop) for stop in get_colorscale(name))


def colorscale_name(diverging: bool) -> str:
    return "RdBu_r" if diverging else "Viridis"


def _png_uri(rgb: np.ndarray) -> str:
    """uint8 (H, W, 3) -> a data URI the browser can show (PNG, or JPEG for big pictures)."""
    data, mime = encode_for_display(rgb)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _box_path(box: Box) -> tuple[list[float], list[float]]:
    """Closed outline of a half-open pixel box, through pixel edges."""
    r0, r1, c0, c1 = box
    xs = [c0 - 0.5, c1 - 0.5, c1 - 0.5, c0 - 0.5, c0 - 0.5]
    ys = [r0 - 0.5, r0 - 0.5, r1 - 0.5, r1 - 0.5, r0 - 0.5]
    return xs, ys


# --- figures as plain dicts ---------------------------------------------------------------


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


def _axis_name(kind: str, k: int) -> str:
    """Layout key of subplot k's axis: "xaxis", "xaxis2", ..."""
    return f"{kind}axis" if k == 1 else f"{kind}axis{k}"


def _axis_ref(kind: str, k: int) -> str:
    """Trace reference of subplot k's axis: "x", "x2", ..."""
    return kind if k == 1 else f"{kind}{k}"


def _grid(col_widths: Sequence[float], rows: int, spanning: set[int], titles: dict,
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
            axes[_axis_name("x", k)] = dict(domain=[x0, x1], anchor=_axis_ref("y", k),
                                            showgrid=False, zeroline=False, side="top")
            axes[_axis_name("y", k)] = dict(domain=[y0, y1], anchor=_axis_ref("x", k),
                                            showgrid=False, zeroline=False,
                                            autorange="reversed")
            if (r, c) in titles:
                annotations.append(dict(text=titles[(r, c)], x=(x0 + x1) / 2, y=y1,
                                        xref="paper", yref="paper", xanchor="center",
                                        yanchor="bottom", showarrow=False,
                                        font=dict(size=15), yshift=30))  # over the top ticks
    return axes, cells, annotations


def _on(k: int) -> dict:
    return {"xaxis": _axis_ref("x", k), "yaxis": _axis_ref("y", k)}


def _square(axes: dict, k: int, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Fix subplot k's view to rows [r0, r1) x cols [c0, c1), with square cells."""
    axes[_axis_name("x", k)].update(range=[cols[0] - 0.5, cols[1] - 0.5], constrain="domain",
                                    **_integer_ticks(cols[1] - cols[0]))
    axes[_axis_name("y", k)].update(range=[rows[1] - 0.5, rows[0] - 0.5], autorange=False,
                                    scaleanchor=_axis_ref("x", k), constrain="domain",
                                    **_integer_ticks(rows[1] - rows[0]))


def _integer_ticks(cells: int) -> dict:
    """Ticks on whole rows/columns only (no "1.5" between two pixels)."""
    return dict(dtick=1 if cells <= 16 else max(1, round(cells / 8)), tick0=0)


def _hide_ticks(axes: dict, k: int) -> None:
    axes[_axis_name("x", k)]["showticklabels"] = False
    axes[_axis_name("y", k)]["showticklabels"] = False


def _picture_cell(axes: dict, k: int, rows: tuple[int, int], cols: tuple[int, int],
                  **axis) -> None:
    """Subplot k of a grid of small pictures: square pixels over rows × cols, and no tick
    labels, tick marks or grid lines (``axis``: more settings for both axes)."""
    _square(axes, k, rows, cols)
    _hide_ticks(axes, k)
    for kind in "xy":
        axes[_axis_name(kind, k)].update(ticks="", showgrid=False, **axis)


def _picture_grid_figure(data: list[dict], axes: dict, notes: list[dict], cells: dict, n: int,
                         rows: int, cols: int, *, body_px: int, top: int,
                         title: str) -> RawFigure:
    """The figure of `n` small pictures in a rows × cols `_grid`: the empty cells of the
    last row hidden, `title` (if any) above; `body_px` and `top` are the height and top
    margin without the title."""
    for i in range(n, rows * cols):
        cell = cells[(i // cols, i % cols)]
        axes[_axis_name("x", cell)]["visible"] = False
        axes[_axis_name("y", cell)]["visible"] = False
    title_px = 30 if title else 0
    layout = dict(axes, annotations=notes, showlegend=False, height=body_px + title_px,
                  margin=dict(l=5, r=5, t=top + title_px, b=5))
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))


# --- still pictures ----------------------------------------------------------------------


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
    return PictureSource(_png_uri(rgb), rgb.shape[0], rgb.shape[1], colour)


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
            marker=dict(colorscale=_scale(colorscale_name(diverging)), cmin=zmin, cmax=zmax,
                        color=[zmin], showscale=True,
                        colorbar=dict(title=dict(text=colorbar_title), thickness=14)),
        ))
    data.append(dict(type="image", source=source.uri, x0=0, y0=0, dx=1, dy=1,
                     hoverinfo="x+y", name=title or "image"))
    if box is not None:
        xs, ys = _box_path(box)
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines",
                         line=dict(color=HIGHLIGHT, width=3), hoverinfo="skip",
                         showlegend=False))
    layout = dict(
        title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain",
                   **(_integer_ticks(w) if w <= 64 else {})),
        yaxis=dict(range=[h - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x",
                   constrain="domain", **(_integer_ticks(h) if h <= 64 else {})),
    )
    return RawFigure(dict(data=data, layout=layout))


def payload_bytes(fig: go.Figure | dict) -> int:
    """Size in bytes of the JSON that Streamlit sends to the browser for `fig`."""
    import plotly.io as pio

    spec = fig if isinstance(fig, dict) else fig.to_dict()
    return len(pio.to_json(spec, validate=False).encode())


# --- step-throughs -----------------------------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _sum_text(values) -> str:
    """[1.5, -0.25, 2] -> "1.5 − 0.25 + 2"."""
    out = _fmt(values[0])
    for v in values[1:]:
        out += f" − {_fmt(-v)}" if v < 0 else f" + {_fmt(v)}"
    return out


def _step_slider(n: int, start: int, frame_ms: int, labels: Sequence[str]) -> tuple[list, list]:
    """The scrubber and play/pause buttons of an animation with frames "0".."n-1"."""
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    slider = dict(
        active=start, x=0.2, len=0.8, y=0, yanchor="top", pad=dict(t=30, b=10),
        currentvalue=dict(prefix="Step ", visible=True, xanchor="left"),
        steps=[dict(method="animate", label=labels[i], args=[[str(i)], still]) for i in range(n)],
    )
    play = dict(frame=dict(duration=frame_ms, redraw=True), fromcurrent=True,
                transition=dict(duration=0), mode="immediate")
    menu = dict(
        type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
        pad=dict(t=36, r=10), showactive=False,
        buttons=[
            dict(label="▶ Play", method="animate", args=[None, play]),
            dict(label="❚❚ Pause", method="animate",
                 args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                    transition=dict(duration=0))]),
        ],
    )
    return [slider], [menu]


def _decimals(z: np.ndarray, digits: int = 5) -> int:
    """Decimals that keep `digits` significant digits of the largest value of `z`."""
    finite = np.isfinite(z)
    biggest = float(np.abs(z[finite]).max()) if finite.any() else 0.0
    decimals = digits - 1 - int(np.floor(np.log10(biggest))) if biggest > 0 else digits
    return max(decimals, 0)


def _compact(z: np.ndarray, decimals: int | None = None) -> list:
    """`z` rounded to 5 significant digits (of its largest value), NaN -> None.

    The browser shows at most 5 significant digits; sending 17 would triple the payload.
    Pass `decimals` (from `_decimals` of a whole stack) to round many frames alike.
    """
    rounded = np.round(z, _decimals(z) if decimals is None else decimals)
    if np.isfinite(rounded).all():
        return rounded.tolist()
    return np.where(np.isfinite(rounded), rounded, None).tolist()


def _typed_matrices(stack: np.ndarray) -> list[list[dict]]:
    """(n, kh, kw, C) step matrices -> [step][channel] plotly.js typed arrays (float32).

    A step-through carries two matrices per channel per step: 46,000 numbers for 64 steps
    of an 11×11 kernel on 3 channels. As JSON numbers that is 400 kB and a Python float
    each; as plotly.js's typed-array spec ({"dtype": "f4", "bdata": base64}) it is 60%
    of the bytes and one base64 call per matrix. Float32 keeps 7 significant digits; the
    figures show at most 5. NaN stays NaN, which a heatmap draws as a gap.
    """
    arrays = np.ascontiguousarray(stack.transpose(0, 3, 1, 2), dtype="<f4")  # (n, C, kh, kw)
    shape = f"{arrays.shape[2]},{arrays.shape[3]}"
    size = arrays.shape[2] * arrays.shape[3] * 4
    raw = arrays.tobytes()
    out, offset = [], 0
    for _ in range(arrays.shape[0]):
        row = []
        for _ in range(arrays.shape[1]):
            row.append({"dtype": "f4", "shape": shape,
                        "bdata": base64.b64encode(raw[offset:offset + size]).decode("ascii")})
            offset += size
        out.append(row)
    return out


def matrix(z) -> np.ndarray:
    """A heatmap's ``z`` as a float array, whether a nested list or a typed-array spec."""
    if isinstance(z, dict) and "bdata" in z:
        shape = tuple(int(v) for v in str(z["shape"]).split(","))
        dtype = {"f4": "<f4", "f8": "<f8"}[z["dtype"]]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=dtype).reshape(shape).astype(
            np.float64)
    return np.array(z, dtype=np.float64)


def _heatmap(z: np.ndarray, k: int, *, colorscale: str, zmin: float, zmax: float,
             show_text: bool, name: str, x0: int = 0, y0: int = 0) -> dict:
    trace = dict(
        type="heatmap", z=_compact(z), x0=x0, y0=y0, dx=1, dy=1, colorscale=_scale(colorscale),
        zmin=zmin, zmax=zmax, showscale=False, xgap=1, ygap=1, name=name,
        hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}<br>%{{z:.5g}}<extra></extra>",
        **_on(k),
    )
    if show_text:
        trace.update(texttemplate="%{z:.3g}", textfont=dict(size=11))
    return trace


def _outline(k: int, xs: list, ys: list, name: str, dash: str | None = None,
             color: str = HIGHLIGHT, width: int = 3) -> dict:
    line = dict(color=color, width=width)
    if dash:
        line["dash"] = dash
    return dict(type="scatter", x=xs, y=ys, mode="lines", line=line, hoverinfo="skip",
                showlegend=False, name=name, **_on(k))


def _taps_outline(tap_rows: np.ndarray, tap_cols: np.ndarray) -> tuple[list, list]:
    """Outline of the cells a window reads: one rectangle when they touch, else one small
    square per tap, so the gaps of a dilated kernel show."""
    r, c = tap_rows.tolist(), tap_cols.tolist()  # increasing: touching when span = count - 1
    if r[-1] - r[0] == len(r) - 1 and c[-1] - c[0] == len(c) - 1:
        return _box_path((int(r[0]), int(r[-1]) + 1, int(c[0]), int(c[-1]) + 1))
    rr, cc = np.meshgrid(np.asarray(r, float), np.asarray(c, float), indexing="ij")
    rr, cc = rr.ravel()[:, None], cc.ravel()[:, None]
    # Each square: 5 corners then a gap (NaN -> None breaks the line).
    xs = np.hstack([cc - 0.5, cc + 0.5, cc + 0.5, cc - 0.5, cc - 0.5, np.full_like(cc, np.nan)])
    ys = np.hstack([rr - 0.5, rr - 0.5, rr + 0.5, rr + 0.5, rr - 0.5, np.full_like(rr, np.nan)])
    return _with_gaps(xs.ravel()), _with_gaps(ys.ravel())


def _with_gaps(values: np.ndarray) -> list:
    return [None if v != v else v for v in values.tolist()]


def _cell_outline(r: int, c: int) -> tuple[list, list]:
    return _box_path((r, r + 1, c, c + 1))


def _covers(k: int, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int],
            origin: tuple[int, int]) -> list[list[dict]]:
    """Per step i: white rectangles over the output cells not computed yet after step i.

    The output grid holds every value from the start, and each frame moves these
    covers: two rectangles a frame instead of the whole grid, so a 26×26 output
    stepped cell by cell stays a small payload. Steps run row by row.
    """
    height, width = shape
    r0, c0 = origin
    order = rows.astype(np.int64) * width + cols
    if np.any(np.diff(order) <= 0):
        raise ValueError("the steps must run row by row over the output region")
    xref, yref = _axis_ref("x", k), _axis_ref("y", k)

    def rect(row0: int, row1: int, col0: int, col1: int) -> dict:
        return dict(type="rect", xref=xref, yref=yref,
                    x0=c0 + col0 - 0.5, x1=c0 + col1 - 0.5, y0=r0 + row0 - 0.5,
                    y1=r0 + row1 - 0.5, fillcolor="white", line=dict(width=0), layer="above")

    out = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        covers = []
        if c + 1 < width:
            covers.append(rect(r, r + 1, c + 1, width))
        if r + 1 < height:
            covers.append(rect(r + 1, height, 0, width))
        out.append(covers)
    return out


def _region_grid(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray,
                 values: np.ndarray) -> np.ndarray:
    z = np.full(shape, np.nan)
    z[rows, cols] = values
    return z


def _animated(data: list[dict], layout: dict, frames_data: list[list[dict]], traces: list[int],
              captions: list[str], covers: list[list[dict]], labels: list[str], start: int,
              frame_ms: int) -> RawFigure:
    """Assemble an animation: frame i replaces `traces` with frames_data[i], the caption
    (the figure's title) with captions[i], and the output covers with covers[i]."""
    def title(text: str) -> dict:
        return dict(text=text, x=0.5, xanchor="center", y=0.995, yanchor="top",
                    font=dict(size=16))

    frames = [
        {"name": str(i), "data": frames_data[i], "traces": traces,
         "layout": {"title": title(captions[i]), "shapes": covers[i]}}
        for i in range(len(frames_data))
    ]
    # The still figure shows step `start`: its traces take that frame's values.
    data = [dict(d) for d in data]
    for index, update in zip(traces, frames_data[start], strict=True):
        data[index] = {**data[index], **update}
    sliders, menus = _step_slider(len(frames), start, frame_ms, labels)
    layout = {**layout, "title": title(captions[start]), "shapes": covers[start],
              "sliders": sliders, "updatemenus": menus, "showlegend": False}
    return RawFigure(dict(data=data, layout=layout, frames=frames))


@dataclass(frozen=True, eq=False)
class StepFrames:
    """What a convolution step-through's frames carry that depends on the windows alone.

    The window and cell outlines, the patches and products, the output covers and the
    slider labels change with the image, kernel, stride, padding, dilation and zoom box,
    but not with the bias, the ReLU, the opening step or the speed. A page can keep them
    (``conv_step_frames``) and rebuild only the rest when those change.
    """

    updates: list[list[dict]]  # per step: the new x/y or z of the moving traces
    covers: list[list[dict]]  # per step: the rectangles over the output cells still to come
    labels: list[str]  # per step: the slider's label


def _conv_grid(channels: int, names: Sequence[str]) -> tuple[dict, dict, list[dict]]:
    titles = {(0, 0): "Padded input", (0, 4): "Output"}
    for c in range(channels):
        suffix = f" ({names[c]})" if channels > 1 else ""
        titles[(c, 1)] = f"Patch{suffix}"
        titles[(c, 2)] = f"Kernel{suffix}"
        titles[(c, 3)] = f"Patch × kernel{suffix}"
    return _grid([0.3, 0.15, 0.15, 0.15, 0.25], channels, {0, 4}, titles)


def _channel_names(channels: int, channel_names: Sequence[str] | None) -> list[str]:
    return list(channel_names or (["R", "G", "B"] if channels == 3 else
                                  [f"channel {c}" for c in range(channels)]))


def conv_step_frames(steps: ConvSteps) -> StepFrames:
    """The frames' parts of `conv_step_figure` that only the windows decide (see StepFrames)."""
    n = len(steps.sums)
    channels = steps.padded.shape[2]
    _, cells, _ = _conv_grid(channels, _channel_names(channels, None))
    or0, or1 = int(steps.out_rows.min()), int(steps.out_rows.max()) + 1
    oc0, oc1 = int(steps.out_cols.min()), int(steps.out_cols.max()) + 1
    shape = (or1 - or0, oc1 - oc0)
    rows, cols = steps.out_rows - or0, steps.out_cols - oc0
    patches = _typed_matrices(steps.patches)
    products = _typed_matrices(steps.products)
    updates = []
    for i in range(n):
        frame = [dict(zip(("x", "y"), _taps_outline(steps.tap_rows[i], steps.tap_cols[i]),
                          strict=True))]
        frame += [{"z": z} for z in patches[i]]
        frame += [{"z": z} for z in products[i]]
        frame.append(dict(zip(("x", "y"), _cell_outline(int(steps.out_rows[i]),
                                                          int(steps.out_cols[i])), strict=True)))
        updates.append(frame)
    labels = [f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]"
              for i in range(n)]
    covers = _covers(cells[(0, 4)], rows, cols, shape, (or0, oc0))
    return StepFrames(updates, covers, labels)


def conv_step_figure(
    steps: ConvSteps,
    *,
    start: int = 0,
    frame_ms: int = 600,
    channel_names: Sequence[str] | None = None,
    height: int | None = None,
    frames: StepFrames | None = None,
) -> RawFigure:
    """The animated step-through of a convolution over the region in `steps`.

    Columns: the padded input around the region (window highlighted; the image edge
    dotted), then per channel the patch, the kernel slice and the element-wise
    products, then the output region filling in cell by cell. A caption gives the
    sum. Frame i shows step i; the figure opens on step `start`.

    `frames`: ``conv_step_frames(s)`` of steps `s` with the same windows (the same
    image, kernel and geometry; the bias may differ), kept from an earlier call.
    """
    n = len(steps.sums)
    if n == 0:
        raise ValueError("no steps to show")
    start = int(np.clip(start, 0, n - 1))
    channels = steps.padded.shape[2]
    names = _channel_names(channels, channel_names)
    kh, kw = steps.kernel.shape[:2]
    show_cell_text = kh * kw <= 49

    # The part of the padded input that the region's windows touch, and the output region.
    r0, r1 = int(steps.tap_rows.min()), int(steps.tap_rows.max()) + 1
    c0, c1 = int(steps.tap_cols.min()), int(steps.tap_cols.max()) + 1
    crop = steps.padded[r0:r1, c0:c1]  # (h, w, C)
    or0, or1 = int(steps.out_rows.min()), int(steps.out_rows.max()) + 1
    oc0, oc1 = int(steps.out_cols.min()), int(steps.out_cols.max()) + 1

    axes, cells, title_notes = _conv_grid(channels, names)
    k_in, k_out = cells[(0, 0)], cells[(0, 4)]
    data: list[dict] = []
    # 1. padded input (still), the image edge, and the moving window.
    lo, hi, _ = value_range(steps.padded)
    if channels == 3:
        scale = 255.0 / hi if hi > 0 else 1.0
        rgb = np.clip(crop * scale, 0, 255).astype(np.uint8)
        data.append(dict(type="image", source=_png_uri(rgb), x0=c0, y0=r0, dx=1, dy=1,
                         name="padded input", hovertemplate="row %{y}, col %{x}<extra></extra>",
                         **_on(k_in)))
    else:
        data.append(_heatmap(crop[:, :, 0], k_in, colorscale="gray", zmin=lo, zmax=hi,
                             show_text=crop.shape[0] * crop.shape[1] <= MAX_TEXT_CELLS,
                             name="padded input", x0=c0, y0=r0))
    top, bottom, left, right = steps.pads
    in_h = steps.padded.shape[0] - top - bottom
    in_w = steps.padded.shape[1] - left - right
    data.append(_outline(k_in, *_box_path((top, top + in_h, left, left + in_w)), "image edge",
                         dash="dot", color="#4a4a4a", width=1))
    window_trace = len(data)
    data.append(_outline(k_in, [], [], "window"))

    # 2. per channel: patch and products (moving), kernel (still).
    patch_lo, patch_hi, _ = value_range(steps.patches)
    prod_lo, prod_hi, prod_div = value_range(steps.products)
    k_lo, k_hi, k_div = value_range(steps.kernel)
    patch_traces, product_traces = [], []
    for c in range(channels):
        scale_c = CHANNEL_SCALES.get(names[c], "gray") if channels == 3 else "gray"
        patch_traces.append(len(data))
        data.append(_heatmap(steps.patches[start, :, :, c], cells[(c, 1)], colorscale=scale_c,
                             zmin=patch_lo, zmax=patch_hi, show_text=show_cell_text,
                             name=f"patch {names[c]}"))
        data.append(_heatmap(steps.kernel[:, :, c], cells[(c, 2)],
                             colorscale=colorscale_name(k_div), zmin=k_lo, zmax=k_hi,
                             show_text=show_cell_text, name=f"kernel {names[c]}"))
        product_traces.append(len(data))
        data.append(_heatmap(steps.products[start, :, :, c], cells[(c, 3)],
                             colorscale=colorscale_name(prod_div), zmin=prod_lo, zmax=prod_hi,
                             show_text=show_cell_text, name=f"products {names[c]}"))
        for col in (1, 2, 3):
            _hide_ticks(axes, cells[(c, col)])

    # 3. the output region, filling in, and the current cell.
    out_lo, out_hi, out_div = value_range(steps.sums)
    shape = (or1 - or0, oc1 - oc0)
    rows, cols = steps.out_rows - or0, steps.out_cols - oc0
    data.append(_heatmap(_region_grid(shape, rows, cols, steps.sums), k_out,
                         colorscale=colorscale_name(out_div), zmin=out_lo, zmax=out_hi,
                         show_text=shape[0] * shape[1] <= MAX_TEXT_CELLS and show_cell_text,
                         name="output", x0=oc0, y0=or0))
    cell_trace = len(data)
    data.append(_outline(k_out, [], [], "current cell"))
    _square(axes, k_in, (r0, r1), (c0, c1))
    _square(axes, k_out, (or0, or1), (oc0, oc1))

    def caption(i: int) -> str:
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        parts = _sum_text(list(steps.channel_sums[i]) + ([steps.bias] if steps.bias else []))
        bias = " + bias" if steps.bias else ""
        total = f"<b>{_fmt(steps.sums[i])}</b>"
        if channels > 1:
            named = " + ".join(f"Σ{names[ch]}" for ch in range(channels))
            return f"<b>out[{r}, {c}]</b> = {named}{bias} = {parts} = {total}"
        if kh * kw <= 9:  # small enough to write every product out
            every = list(steps.products[i].ravel()) + ([steps.bias] if steps.bias else [])
            return f"<b>out[{r}, {c}]</b> = Σ(patch × kernel){bias} = {_sum_text(every)} = {total}"
        return f"<b>out[{r}, {c}]</b> = Σ(patch × kernel){bias} = {parts} = {total}"

    if frames is None:
        frames = conv_step_frames(steps)
    if len(frames.updates) != n:
        raise ValueError("the frames belong to other steps")
    traces = [window_trace, *patch_traces, *product_traces, cell_trace]
    layout = dict(axes, annotations=title_notes, height=height or (280 + 170 * channels),
                  margin=dict(l=10, r=10, t=90, b=110))
    return _animated(data, layout, frames.updates, traces, [caption(i) for i in range(n)],
                     frames.covers, frames.labels, start, frame_ms)


def pool_step_figure(
    steps: PoolSteps,
    *,
    start: int = 0,
    frame_ms: int = 600,
    channel: int = 0,
    height: int = 430,
) -> RawFigure:
    """The animated step-through of pooling on one channel of the region in `steps`.

    Columns: the padded input around the region (window highlighted; for max
    pooling the winning cell starred), the window's values, and the output region
    filling in. Frame i shows step i.
    """
    n = len(steps.values)
    if n == 0:
        raise ValueError("no steps to show")
    start = int(np.clip(start, 0, n - 1))
    kind = "max" if steps.winner is not None else "avg"
    r0, r1 = int(steps.tap_rows.min()), int(steps.tap_rows.max()) + 1
    c0, c1 = int(steps.tap_cols.min()), int(steps.tap_cols.max()) + 1
    crop = steps.padded[r0:r1, c0:c1, channel]
    finite_crop = np.where(np.isfinite(crop), crop, np.nan)  # -inf padding shows as a gap
    or0, or1 = int(steps.out_rows.min()), int(steps.out_rows.max()) + 1
    oc0, oc1 = int(steps.out_cols.min()), int(steps.out_cols.max()) + 1
    shape = (or1 - or0, oc1 - oc0)
    lo, hi, _ = value_range(finite_crop)
    kh, kw = steps.patches.shape[1:3]
    axes, cells, title_notes = _grid(
        [0.45, 0.2, 0.35], 1, set(),
        {(0, 0): "Padded input", (0, 1): "Window", (0, 2): f"Output ({kind} pooling)"},
        h_space=0.06)
    k_in, k_win, k_out = cells[(0, 0)], cells[(0, 1)], cells[(0, 2)]
    data = [_heatmap(finite_crop, k_in, colorscale="gray", zmin=lo, zmax=hi,
                     show_text=crop.size <= MAX_TEXT_CELLS, name="padded input", x0=c0, y0=r0)]
    window_trace = len(data)
    data.append(_outline(k_in, [], [], "window"))
    winner_trace = len(data)
    data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="winner",
                     marker=dict(symbol="star", size=18, color="#e8175d",
                                 line=dict(color="white", width=1)),
                     hovertemplate="the maximum<extra></extra>", **_on(k_in)))
    patch = np.where(np.isfinite(steps.patches), steps.patches, np.nan)
    patch_trace = len(data)
    data.append(_heatmap(patch[start, :, :, channel], k_win, colorscale="gray", zmin=lo,
                         zmax=hi, show_text=kh * kw <= 64, name="window values"))
    _hide_ticks(axes, k_win)
    out_lo, out_hi, _ = value_range(steps.values[:, channel])
    rows, cols = steps.out_rows - or0, steps.out_cols - oc0
    data.append(_heatmap(_region_grid(shape, rows, cols, steps.values[:, channel]), k_out,
                         colorscale="Viridis", zmin=out_lo, zmax=out_hi,
                         show_text=shape[0] * shape[1] <= 144, name="output", x0=oc0, y0=or0))
    cell_trace = len(data)
    data.append(_outline(k_out, [], [], "current cell"))
    _square(axes, k_in, (r0, r1), (c0, c1))
    _square(axes, k_out, (or0, or1), (oc0, oc1))

    def caption(i: int) -> str:
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        v = _fmt(steps.values[i, channel])
        if kind == "max":
            wr, wc = (int(x) for x in steps.winner[i, channel])
            return (f"<b>out[{r}, {c}]</b> = max of the window = <b>{v}</b> "
                    f"(from padded row {wr}, col {wc})")
        return f"<b>out[{r}, {c}]</b> = mean of the {kh}×{kw} window = <b>{v}</b>"

    patch_digits = _decimals(patch)
    frames_data = []
    for i in range(n):
        if steps.winner is None:
            star = {"x": [None], "y": [None]}
        else:
            wr, wc = (int(v) for v in steps.winner[i, channel])
            star = {"x": [wc], "y": [wr]}
        frames_data.append([
            dict(zip(("x", "y"), _taps_outline(steps.tap_rows[i], steps.tap_cols[i]),
                     strict=True)),
            star,
            {"z": _compact(patch[i, :, :, channel], patch_digits)},
            dict(zip(("x", "y"), _cell_outline(int(steps.out_rows[i]), int(steps.out_cols[i])),
                     strict=True)),
        ])
    traces = [window_trace, winner_trace, patch_trace, cell_trace]
    labels = [f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]"
              for i in range(n)]
    covers = _covers(k_out, rows, cols, shape, (or0, oc0))
    layout = dict(axes, annotations=title_notes, height=height + 30,
                  margin=dict(l=10, r=10, t=90, b=110))
    return _animated(data, layout, frames_data, traces, [caption(i) for i in range(n)], covers,
                     labels, start, frame_ms)


# --- training ----------------------------------------------------------------------------

LOSS_COLOUR = "#d62728"
TRAIN_COLOUR = "#1f77b4"
HELDOUT_COLOUR = "#2ca02c"


def training_curves(history: Sequence, *, epochs: int | None = None,
                    height: int = 320) -> RawFigure:
    """Loss (left) and accuracy (right) per epoch of a training run.

    history: one record per finished epoch with ``epoch`` (1-based), ``loss`` (mean training
    cross-entropy), ``train_accuracy`` and ``heldout_accuracy`` (0..1), such as
    ``cnnviz.training.EpochReport``. epochs: the planned number of epochs; it fixes the x
    range, so a live plot does not rescale after every epoch.
    """
    x = [int(r.epoch) for r in history]
    loss = [round(float(r.loss), 5) for r in history]
    train = [round(100 * float(r.train_accuracy), 3) for r in history]
    heldout = [round(100 * float(r.heldout_accuracy), 3) for r in history]
    last = max([epochs or 0, *x, 1])
    x_range = [0.5, last + 0.5]
    line = dict(type="scatter", mode="lines+markers", x=x)
    data = [
        {**line, "y": loss, "name": "training loss", "line": dict(color=LOSS_COLOUR, width=3),
         "hovertemplate": "epoch %{x}<br>loss %{y:.4f}<extra></extra>"},
        {**line, "y": train, "name": "training accuracy", "xaxis": "x2", "yaxis": "y2",
         "line": dict(color=TRAIN_COLOUR, width=3),
         "hovertemplate": "epoch %{x}<br>training %{y:.1f}%<extra></extra>"},
        {**line, "y": heldout, "name": "held-out accuracy", "xaxis": "x2", "yaxis": "y2",
         "line": dict(color=HELDOUT_COLOUR, width=3, dash="dash"),
         "hovertemplate": "epoch %{x}<br>held-out %{y:.1f}%<extra></extra>"},
    ]
    ticks = dict(tickmode="linear", tick0=1, dtick=max(1, round(last / 10)))
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.12, yanchor="bottom"),
        xaxis=dict(domain=[0, 0.45], range=x_range, title=dict(text="epoch"), **ticks),
        yaxis=dict(title=dict(text="loss (cross-entropy)"), rangemode="tozero"),
        xaxis2=dict(domain=[0.55, 1], range=x_range, anchor="y2", title=dict(text="epoch"),
                    **ticks),
        yaxis2=dict(anchor="x2", range=[0, 100], title=dict(text="accuracy (%)"),
                    ticksuffix="%"),
        annotations=[
            dict(text="Loss: lower is better", x=0.225, y=1.0, xref="paper", yref="paper",
                 xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=14)),
            dict(text="Accuracy: higher is better", x=0.775, y=1.0, xref="paper",
                 yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                 font=dict(size=14)),
        ],
    )
    return RawFigure(dict(data=data, layout=layout))


def filter_grid(weights: np.ndarray, *, title: str = "", columns: int = 8,
                cell_px: int = 84) -> RawFigure:
    """The filters of a conv layer as a grid of small pictures.

    weights: float (F, C, kh, kw), e.g. ``conv1.weight``. One-channel filters are heatmaps
    in red (positive) and blue (negative), each on its own scale symmetric around 0 so its
    pattern shows whatever its size; hovering gives the weight. Three-channel filters are
    colour images, each stretched to 0..255 on its own (the usual way of showing AlexNet's
    first layer). Other channel counts show the mean over channels.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"expected weights of shape (F, C, kh, kw), got {w.shape}")
    n, channels, kh, kw = w.shape
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    titles = {(i // cols, i % cols): f"#{i}" for i in range(n)}
    axes, cells, notes = _grid([1.0] * cols, rows, set(), titles, h_space=0.02,
                               v_space=0.25 / rows)
    for note in notes:
        note.update(font=dict(size=11), yshift=2)
    data: list[dict] = []
    for i in range(n):
        k = cells[(i // cols, i % cols)]
        if channels == 3:
            f = w[i].transpose(1, 2, 0)  # (kh, kw, 3)
            lo, hi = f.min(), f.max()
            rgb = np.round((f - lo) / (hi - lo) * 255 if hi > lo else np.full_like(f, 128))
            data.append(dict(type="image", z=rgb.astype(np.uint8).tolist(), x0=0, y0=0,
                             dx=1, dy=1, name=f"filter {i}",
                             hovertemplate=f"filter {i}<br>row %{{y}}, col %{{x}}<br>"
                             "RGB %{z}<extra></extra>", **_on(k)))
        else:
            f = w[i, 0] if channels == 1 else w[i].mean(axis=0)  # (kh, kw)
            m = float(np.abs(f).max()) or 1.0
            data.append(_heatmap(f, k, colorscale="RdBu_r", zmin=-m, zmax=m, show_text=False,
                                 name=f"filter {i}"))
        _picture_cell(axes, k, (0, kh), (0, kw), showline=False)
    return _picture_grid_figure(data, axes, notes, cells, n, rows, cols,
                                body_px=rows * cell_px + 40, top=20, title=title)


# --- inside a network: receptive fields, sizes, history ---------------------------------

#: A map with more units than this along a side gets a click marker on every k-th unit only,
#: k = ceil(side / MAX_PICK_SIDE), which keeps the figure small (VGG-16's first maps are
#: 224×224); any unit can still be chosen by number.
MAX_PICK_SIDE = 112
GROWTH_COLOUR = "#1f77b4"
JUMP_COLOUR = "#d62728"


def unit_picker(values: np.ndarray, *, unit: tuple[int, int] | None = None, title: str = "",
                height: int = 420) -> RawFigure:
    """A map to click on: ``picture(values)`` plus a near-invisible square marker on the
    centre of every unit, x = column and y = row.

    values: float (h, w), e.g. a feature map averaged over channels. unit: (row, col) to
    outline. A click on a heatmap or image trace gives Streamlit an empty selection
    (streamlit#8760); a click on a marker gives its point with ``x`` (column) and ``y`` (row),
    so ``st.plotly_chart(..., on_select=..., selection_mode="points")`` tells which unit was
    clicked. Markers have opacity 0.01: invisible, but they still take the click and the hover
    ("unit (row, col)" and the value).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a map of shape (h, w), got {values.shape}")
    h, w = values.shape
    box = None if unit is None else (unit[0], unit[0] + 1, unit[1], unit[1] + 1)
    spec = picture(values, title=title, box=box, height=height).spec
    step = max(1, -(-max(h, w) // MAX_PICK_SIDE))
    rows, cols = np.meshgrid(np.arange(0, h, step), np.arange(0, w, step), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    text = [f"{v:.3g}" for v in values[rows, cols]]
    side_px = max(3, min(40, round((height - 60) / max(h, w) * step)))
    invisible = dict(marker=dict(opacity=0.01))
    spec["data"].append(dict(
        type="scatter", mode="markers", x=cols.tolist(), y=rows.tolist(), text=text,
        name="units", showlegend=False,
        marker=dict(symbol="square", size=side_px, color=HIGHLIGHT, opacity=0.01),
        selected=invisible, unselected=invisible,
        hovertemplate="unit (%{y}, %{x})<br>value %{text}<extra></extra>",
    ))
    spec["layout"].update(hovermode="closest", clickmode="event+select", dragmode="pan")
    return RawFigure(spec)


def receptive_field_growth(layers: Sequence[str], sizes: Sequence[int], jumps: Sequence[int],
                           *, input_side: int | None = None, title: str = "",
                           height: int = 380) -> RawFigure:
    """Receptive-field size (bars, left axis) and jump (line, right axis) layer by layer.

    layers: names in forward order; sizes: field side in input pixels; jumps: input pixels
    between neighbouring units' fields. input_side: draws the input's side as a dashed line,
    so a field larger than the image shows.
    """
    names = [str(n) for n in layers]
    data: list[dict] = [
        dict(type="bar", x=names, y=[int(s) for s in sizes], name="receptive field (px)",
             marker=dict(color=GROWTH_COLOUR), text=[str(int(s)) for s in sizes],
             textposition="outside", cliponaxis=False,
             hovertemplate="%{x}<br>receptive field %{y} px<extra></extra>"),
        dict(type="scatter", mode="lines+markers", x=names, y=[int(j) for j in jumps],
             name="jump (px between units)", yaxis="y2", line=dict(color=JUMP_COLOUR, width=3,
                                                                    shape="hv"),
             hovertemplate="%{x}<br>jump %{y} px<extra></extra>"),
    ]
    shapes = []
    if input_side:
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=input_side,
                           y1=input_side, line=dict(color="gray", dash="dash", width=2)))
    top = max([*map(int, sizes), input_side or 0, 1])
    # whole-pixel ticks on the jump axis: a power of two, about four of them
    jump_tick = 2 ** max(0, int(np.floor(np.log2(max([*map(int, jumps), 1]) / 4))))
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=60 if title else 30, b=10),
        barmode="overlay", shapes=shapes,
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        xaxis=dict(type="category", tickangle=-45 if len(names) > 8 else 0,
                   title=dict(text="layer (forward order)")),
        yaxis=dict(title=dict(text="receptive field (input pixels)"), range=[0, top * 1.15],
                   rangemode="tozero"),
        yaxis2=dict(title=dict(text="jump (pixels)"), overlaying="y", side="right",
                    rangemode="tozero", showgrid=False, tick0=0, dtick=jump_tick,
                    range=[0, max([*map(int, jumps), 1]) * 1.15]),
    )
    if input_side:
        layout["annotations"] = [dict(text=f"input side {input_side} px", xref="paper", x=0,
                                      xanchor="left", y=input_side, yref="y",
                                      yanchor="bottom", showarrow=False,
                                      font=dict(color="gray"))]
    if title:
        layout["title"] = dict(text=title)
    return RawFigure(dict(data=data, layout=layout))


def _short_count(n: float) -> str:
    """138357544 -> "138.4M"; 61706 -> "61.7k"."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.1f}{suffix}"
    return f"{n:g}"


def model_sizes(names: Sequence[str], params: Sequence[int], macs: Sequence[int], *,
                height: int = 360) -> RawFigure:
    """Parameters (left) and multiply-adds per image (right) of several models, log scale."""
    names = [str(n) for n in names]

    def bars(values: Sequence[int], axis: str, colour: str, what: str) -> dict:
        return dict(type="bar", x=names, y=[int(v) for v in values], xaxis="x" + axis,
                    yaxis="y" + axis, marker=dict(color=colour), showlegend=False,
                    text=[_short_count(v) for v in values], textposition="outside",
                    cliponaxis=False, hovertemplate=f"%{{x}}<br>%{{y:,}} {what}<extra></extra>")

    log = dict(type="log", showgrid=True, dtick=1, tickformat="~s")  # 10k, 100k, 1M, ...
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(domain=[0, 0.46], type="category"),
        yaxis=dict(title=dict(text="parameters"), **log),
        xaxis2=dict(domain=[0.54, 1], type="category", anchor="y2"),
        yaxis2=dict(title=dict(text="multiply-adds per image"), anchor="x2", **log),
        annotations=[
            dict(text="Parameters (log scale)", x=0.23, y=1.0, xref="paper", yref="paper",
                 xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=14),
                 yshift=8),
            dict(text="Multiply-adds per image (log scale)", x=0.77, y=1.0, xref="paper",
                 yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                 font=dict(size=14), yshift=8),
        ],
    )
    data = [bars(params, "", GROWTH_COLOUR, "parameters"),
            bars(macs, "2", JUMP_COLOUR, "multiply-adds")]
    return RawFigure(dict(data=data, layout=layout))


def architecture_timeline(years: Sequence[int], names: Sequence[str], params: Sequence[int],
                          notes: Sequence[str], *, height: int = 380) -> RawFigure:
    """Landmark networks by year (x) and parameter count (y, log scale), with what each
    introduced in the hover text."""
    data = [dict(
        type="scatter", mode="markers+text", x=[int(y) for y in years],
        y=[int(p) for p in params], text=[str(n) for n in names], textposition="top center",
        customdata=[[str(note), _short_count(p)] for note, p in zip(notes, params, strict=True)],
        marker=dict(size=14, color=GROWTH_COLOUR),
        hovertemplate="%{text} (%{x})<br>%{customdata[1]} parameters<br>%{customdata[0]}"
                      "<extra></extra>",
        showlegend=False, cliponaxis=False,
    )]
    lo, hi = min(map(int, years)), max(map(int, years))
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title=dict(text="year"), range=[lo - 1.5, hi + 1.5], dtick=2),
        yaxis=dict(title=dict(text="parameters (log scale)"), type="log", dtick=1,
                   tickformat="~s"),
    )
    return RawFigure(dict(data=data, layout=layout))


# --- a network's maps as mosaics (Overview, Feature maps, Filters) ----------------------------

#: Colour of the gaps between the tiles of a mosaic: a grey, which neither end nor the white
#: middle of the red-blue scale uses.
MOSAIC_GAP_RGB = (175, 175, 175)
MOSAIC_GAP_PX = 1
#: Maps smaller than this (pixels) are zoomed by a whole factor in a mosaic, so the one-pixel
#: gaps between tiles stay thin beside them.
MOSAIC_MIN_TILE = 48
MAPS_SCALE = "RdBu_r"  # every map of the network pages: blue < 0 < red, white = 0


def _zoom(h: int, w: int) -> int:
    return max(1, -(-MOSAIC_MIN_TILE // max(h, w)))


def _tile_size(h: int, w: int, tile_px: int) -> tuple[int, int]:
    """(height, width) of a tile for an (h, w) map: a small map zoomed by a whole factor to
    at least MOSAIC_MIN_TILE, a big one shrunk to `tile_px` on its longer side. (plotly.js
    draws image traces with ``image-rendering: pixelated``: each value stays a sharp
    square at any size, so the zoom is only for the gaps.)"""
    if max(h, w) <= tile_px:
        f = _zoom(h, w)
        return h * f, w * f
    s = tile_px / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def _resize_map(values: np.ndarray, tile_px: int) -> np.ndarray:
    """A map at its tile size (``_tile_size``): zoomed by repeating, or shrunk by area."""
    h, w = values.shape
    if max(h, w) <= tile_px:
        f = _zoom(h, w)
        return values if f == 1 else np.repeat(np.repeat(values, f, axis=0), f, axis=1)
    from cnnviz.images import fit_within  # OpenCV's area shrink, as for photos

    return fit_within(values.astype(np.float32), tile_px)


def map_mosaic(maps: np.ndarray, limits: Sequence[float], *, columns: int, tile_px: int = 64,
               gap: int | None = None) -> tuple[np.ndarray, list[Box]]:
    """Several maps tiled into one picture, row by row.

    maps: float (N, h, w). limits: N positive numbers; map i is coloured red-blue on
    [-limits[i], +limits[i]] (white is 0). Tiles are ``_tile_size``: small maps zoomed,
    maps bigger than `tile_px` shrunk. `gap`: pixels between tiles. Returns (uint8 (H, W, 3),
    the box (row0, row1, col0, col1) of every tile in the picture's pixels).
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or len(maps) == 0:
        raise ValueError(f"expected maps of shape (N, h, w), got {maps.shape}")
    n, h, w = maps.shape
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    th, tw = _tile_size(h, w, tile_px)
    gap = MOSAIC_GAP_PX if gap is None else gap
    out = np.empty((rows * (th + gap) - gap, cols * (tw + gap) - gap, 3), np.uint8)
    out[:] = MOSAIC_GAP_RGB
    lut = _lut(MAPS_SCALE)
    boxes = []
    for i in range(n):
        r0, c0 = (i // cols) * (th + gap), (i % cols) * (tw + gap)
        m = float(limits[i]) or 1.0
        tile = _resize_map(maps[i], tile_px)
        index = np.clip((np.nan_to_num(tile) + m) * (255.0 / (2 * m)) + 0.5, 0, 255)
        out[r0:r0 + th, c0:c0 + tw] = np.take(lut, index.astype(np.uint8), axis=0)
        boxes.append((r0, r0 + th, c0, c0 + tw))
    return out, boxes


def vector_grid(values: np.ndarray, aspect: float = 8.0) -> np.ndarray:
    """A vector as a grid of cells, row by row, about `aspect` times taller than wide: float
    (rows, k) with NaN in the cells past the end (shown as gaps)."""
    v = np.asarray(values, dtype=np.float32).ravel()
    k = max(1, round(float(np.sqrt(len(v) / aspect))))
    rows = -(-len(v) // k)
    grid = np.full(rows * k, np.nan, np.float32)
    grid[: len(v)] = v
    return grid.reshape(rows, k)


def _vector_picture(grid: np.ndarray, limit: float) -> np.ndarray:
    """uint8 RGB of a ``vector_grid``: one pixel per value, gaps grey."""
    m = float(limit) or 1.0
    index = np.clip((np.nan_to_num(grid, nan=0.0) + m) * (255.0 / (2 * m)) + 0.5, 0, 255)
    rgb = _lut(MAPS_SCALE)[index.astype(np.uint8)]
    rgb[np.isnan(grid)] = MOSAIC_GAP_RGB
    return rgb


def _scale_bar(limit: float | None, title: str, **on) -> dict:
    """An invisible marker that carries the red-blue colour bar: real values on
    [-limit, +limit], or (limit None) relative ones, "−max … +max" of each map."""
    relative = limit is None
    m = 1.0 if relative else float(limit) or 1.0
    bar = dict(title=dict(text=title, side="right"), thickness=14, len=0.9)
    if relative:
        bar.update(tickvals=[-1, 0, 1], ticktext=["−max", "0", "+max"])
    return dict(type="scatter", x=[None], y=[None], mode="markers", showlegend=False,
                hoverinfo="skip",
                marker=dict(colorscale=_scale(MAPS_SCALE), cmin=-m, cmax=m, color=[-m],
                            showscale=True, colorbar=bar), **on)


def _pick_markers(xs: list, ys: list, size: int, text: list[str], customdata: list,
                  **on) -> dict:
    """Near-invisible squares that take clicks and hovers (a click on an image trace gives
    Streamlit an empty selection, streamlit#8760)."""
    invisible = dict(marker=dict(opacity=0.01))
    return dict(type="scatter", mode="markers", x=xs, y=ys, text=text, customdata=customdata,
                name="maps", showlegend=False,
                marker=dict(symbol="square", size=max(4, size), color=HIGHLIGHT, opacity=0.01),
                selected=invisible, unselected=invisible,
                hovertemplate="%{text}<extra></extra>", **on)


def _map_text(name: str, values: np.ndarray) -> str:
    return (f"{name}<br>min {float(values.min()):.3g} · max {float(values.max()):.3g}"
            f"<br>mean {float(values.mean()):.3g}")


def maps_figure(maps: np.ndarray, limits: Sequence[float], *, labels: Sequence[str],
                columns: int = 8, tile_px: int = 96, shared_limit: float | None = None,
                colorbar_title: str = "value", title: str = "",
                width_px: int = 560, show_labels: bool = False) -> RawFigure:
    """Maps as one mosaic picture, with a red-blue colour bar and a click target per map.

    maps: float (N, h, w); limits: each map's colour limit (see ``map_mosaic``).
    labels: N names for the hover ("channel 3"). shared_limit: the one limit every map uses
    (the colour bar then shows real values); None: each map has its own and the colour bar
    is relative. width_px: about how wide the figure will be drawn; the height follows the
    mosaic's shape. show_labels: write each label in its tile's corner. A click on a map
    selects a point whose ``customdata`` is its index.
    """
    rgb, boxes = map_mosaic(maps, limits, columns=columns, tile_px=tile_px)
    h, w = rgb.shape[:2]
    xs = [(b[2] + b[3] - 1) / 2 for b in boxes]
    ys = [(b[0] + b[1] - 1) / 2 for b in boxes]
    text = [_map_text(label, m) for label, m in zip(labels, maps, strict=True)]
    top = 40 if title else 10
    scale = (width_px - 90) / w  # screen pixels per mosaic pixel; the colour bar takes ~90
    fig_h = int(min(1100, max(100, h * scale + top + 10)))
    scale = min(scale, (fig_h - top - 10) / h)
    marker_px = round(scale * (boxes[0][1] - boxes[0][0]) * 0.9)
    data = [
        dict(type="image", source=_png_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"),
        _pick_markers(xs, ys, marker_px, text, list(range(len(boxes)))),
        _scale_bar(shared_limit, colorbar_title),
    ]
    hidden = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="")
    layout = dict(
        height=fig_h, margin=dict(l=5, r=5, t=top, b=10),
        xaxis=dict(range=[-0.5, w - 0.5], constrain="domain", **hidden),
        yaxis=dict(range=[h - 0.5, -0.5], scaleanchor="x", constrain="domain", **hidden),
        hovermode="closest", clickmode="event+select", dragmode=False,
    )
    if show_labels:
        layout["annotations"] = [
            dict(text=label, x=b[2] - 0.5, y=b[0] - 0.5, xref="x", yref="y", xanchor="left",
                 yanchor="top", showarrow=False, font=dict(size=12, color="#222"),
                 bgcolor="rgba(255,255,255,0.75)")
            for label, b in zip(labels, boxes, strict=True)]
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))


#: Short names of layer kinds for the overview's narrow column titles.
LAYER_KINDS = {
    "Conv2d": "conv", "MaxPool2d": "max pool", "AvgPool2d": "avg pool",
    "AdaptiveAvgPool2d": "avg pool", "AdaptiveMaxPool2d": "max pool",
    "BatchNorm2d": "batch norm", "Linear": "dense", "Flatten": "flatten", "Tanh": "tanh",
    "BasicBlock": "res block", "Input": "input",
}


def network_figure(columns: Sequence, limits: Sequence[np.ndarray], *, shown: int = 8,
                   shared_limit: float | None = None, per_row: int = 12, tile_px: int = 64,
                   tile_height_px: int = 62) -> RawFigure:
    """The whole network at a glance: one column per layer, its first `shown` maps stacked
    top to bottom (a vector: its values as a grid of cells), wrapped into rows of at most
    `per_row` columns.

    columns: objects with ``name``, ``kind``, ``values`` (float (C, h, w) or (n,)) and
    ``shape``, such as ``cnnviz.activations.LayerOutput``. limits: per column, the colour
    limit of each drawn map (a vector: one), from ``activations.color_limits``.
    shared_limit: the one limit of every map (real values on the colour bar) or None
    (relative colour bar). A click on a map selects a point whose ``customdata`` is
    [column index, channel] (channel -1 for a vector cell).
    """
    n = len(columns)
    rows = -(-n // per_row)
    per_row = -(-n // rows)  # balanced rows: 13 columns make 7 + 6, not 12 + 1
    row_px = shown * tile_height_px + 80
    fig_h = rows * row_px + 20
    titles = {}
    for i, col in enumerate(columns):
        shape = "×".join(str(s) for s in col.shape)
        more = f"<br>{shown} of {col.shape[0]}" if (
            col.values.ndim == 3 and col.shape[0] > shown) else "<br> "
        kind = LAYER_KINDS.get(col.kind, col.kind)
        titles[(i // per_row, i % per_row)] = f"<b>{col.name}</b><br>{kind}<br>{shape}{more}"
    axes, cells, notes = _grid([1.0] * per_row, rows, set(), titles, h_space=0.012,
                               v_space=80 / fig_h if rows > 1 else 0.0)
    for note in notes:
        note.update(font=dict(size=10), yshift=2)
    data: list[dict] = []
    for i, col in enumerate(columns):
        k = cells[(i // per_row, i % per_row)]
        lim = np.asarray(limits[i], dtype=np.float64)
        if col.values.ndim == 3:
            maps = col.values[:shown]
            rgb, boxes = map_mosaic(maps, lim[: len(maps)], columns=1, tile_px=tile_px)
            xs = [(b[2] + b[3] - 1) / 2 for b in boxes]
            ys = [(b[0] + b[1] - 1) / 2 for b in boxes]
            text = [_map_text(f"{col.name} ({col.kind}) · channel {c}", m)
                    for c, m in enumerate(maps)]
            custom = [[i, c] for c in range(len(maps))]
            size = round(tile_height_px * 0.9)
        else:
            grid = vector_grid(col.values, shown)
            rgb = _vector_picture(grid, float(lim[0]))
            idx = np.arange(min(col.values.size, 1024))  # a hover per value up to 1,024
            xs = (idx % grid.shape[1]).tolist()
            ys = (idx // grid.shape[1]).tolist()
            text = [f"{col.name} ({col.kind})[{j}] = {float(col.values[j]):.3g}" for j in idx]
            custom = [[i, -1]] * len(idx)
            size = max(4, round(shown * tile_height_px / grid.shape[0] * 0.9))
        h, w = rgb.shape[:2]
        data.append(dict(type="image", source=_png_uri(rgb), x0=0, y0=0, dx=1, dy=1,
                         hoverinfo="skip", **_on(k)))
        data.append(_pick_markers(xs, ys, size, text, custom, **_on(k)))
        hidden = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="",
                      constrain="domain")
        axes[_axis_name("x", k)].update(range=[-0.5, w - 0.5], **hidden)
        # Every column spans the height of `shown` tiles of its own width, so tiles look the
        # same size in every column; short ones (the input, a pooled 1×1 map) sit at the top.
        span = max(h, round(w * shown * (1 + MOSAIC_GAP_PX / max(w, 1))))
        axes[_axis_name("y", k)].update(range=[span - 0.5, -0.5], autorange=False,
                                        scaleanchor=_axis_ref("x", k), **hidden)
    for i in range(n, rows * per_row):  # empty cells of the last row
        k = cells[(i // per_row, i % per_row)]
        axes[_axis_name("x", k)]["visible"] = False
        axes[_axis_name("y", k)]["visible"] = False
    data.append(_scale_bar(shared_limit, "value" if shared_limit else "relative", **_on(1)))
    layout = dict(axes, annotations=notes, showlegend=False, height=fig_h,
                  margin=dict(l=5, r=5, t=70, b=5), hovermode="closest",
                  clickmode="event+select", dragmode=False)
    return RawFigure(dict(data=data, layout=layout))


def probability_bars(labels: Sequence[str], probs: Sequence[float], *, top: int = 10,
                     title: str = "", height: int | None = None) -> RawFigure:
    """The `top` most likely classes as horizontal bars, most likely at the top.

    labels: class names; probs: their probabilities (0..1), in the same order.
    """
    p = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:top]
    full = [str(labels[i]) for i in order][::-1]
    names = [n if len(n) <= 16 else n[:15] + "…" for n in full]  # the column is narrow
    values = [round(float(p[i]), 5) for i in order][::-1]
    data = [dict(type="bar", orientation="h", x=values, y=names, customdata=full,
                 text=[f"{v:.1%}" for v in values], textposition="auto",
                 marker=dict(color="#1f77b4"),
                 hovertemplate="%{customdata}: %{x:.2%}<extra></extra>", cliponaxis=False)]
    layout = dict(
        height=height or 80 + 28 * len(order), margin=dict(l=10, r=10, t=40 if title else 10,
                                                           b=10),
        xaxis=dict(range=[0, 1], tickformat=".0%", title=dict(text="probability")),
        yaxis=dict(type="category", automargin=True),
    )
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))


def channel_ranking(means: Sequence[float], order: Sequence[int], *, max_bars: int = 64,
                    title: str = "", height: int = 320) -> RawFigure:
    """Channels as bars in rank order (`order`, largest mean first), the first `max_bars`.

    means: each channel's mean activation, indexed by channel.
    """
    shown = [int(c) for c in order[:max_bars]]
    data = [dict(type="bar", x=[f"#{c}" for c in shown],
                 y=[round(float(means[c]), 6) for c in shown], customdata=shown,
                 marker=dict(color=["#d6604d" if means[c] >= 0 else "#4393c3" for c in shown]),
                 hovertemplate="channel %{customdata}<br>mean %{y:.4g}<extra></extra>")]
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(type="category", title=dict(text="channel, in rank order"),
                   tickangle=-90 if len(shown) > 24 else 0),
        yaxis=dict(title=dict(text="mean activation")),
    )
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))


def kernel_slices(kernel: np.ndarray, *, names: Sequence[str] | None = None,
                  max_slices: int = 16, columns: int = 8, title: str = "",
                  cell_px: int = 150, own_scale: bool = False) -> RawFigure:
    """One filter's weights, one heatmap per input-channel slice, on one red-blue scale.

    kernel: float (C, kh, kw), e.g. ``conv.weight[f]``. names: a title per slice (default
    "in 0", "in 1", ...). Only the first `max_slices` slices are drawn; small kernels with
    at most 3 slices (own_scale: at most 8) show their numbers in the cells.
    own_scale: each slice on its own scale symmetric around 0 (to compare the patterns of
    kernels of different sizes, such as presets and learned filters); the colour bar is
    then relative.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 3:
        raise ValueError(f"expected a kernel of shape (C, kh, kw), got {k.shape}")
    c_in, kh, kw = k.shape
    n = min(c_in, max_slices)
    names = list(names) if names is not None else [f"in {i}" for i in range(c_in)]
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    axes, cells, notes = _grid([1.0] * cols, rows, set(),
                               {(i // cols, i % cols): names[i] for i in range(n)},
                               h_space=0.03, v_space=0.3 / rows if rows > 1 else 0.0)
    for note in notes:
        note.update(font=dict(size=12), yshift=2)
    m = float(np.abs(k[:n]).max()) or 1.0
    show_text = (c_in <= 8 if own_scale else c_in <= 3) and kh * kw <= 49
    data: list[dict] = []
    for i in range(n):
        cell = cells[(i // cols, i % cols)]
        mi = (float(np.abs(k[i]).max()) or 1.0) if own_scale else m
        data.append(_heatmap(k[i], cell, colorscale=MAPS_SCALE, zmin=-mi, zmax=mi,
                             show_text=show_text, name=names[i]))
        _picture_cell(axes, cell, (0, kh), (0, kw))
    data.append(_scale_bar(None if own_scale else m, "weight", **_on(1)))
    per_cell = cell_px if cols <= 3 else max(70, cell_px * 3 // cols)
    return _picture_grid_figure(data, axes, notes, cells, n, rows, cols,
                                body_px=rows * per_cell + 40, top=30, title=title)


# --- attribution (the Grad-CAM page) ------------------------------------------------------


def heat_picture(rgb: np.ndarray, *, stops: Sequence[tuple[float, str]], zmin: float = 0.0,
                 zmax: float = 1.0, title: str = "", colorbar_title: str = "",
                 height: int = 360) -> RawFigure:
    """A coloured heat map or an overlay (uint8 (H, W, 3), coloured by the caller) with a
    colour bar of the colour map that coloured it.

    stops: explicit [position, colour] pairs (``images.colormap_stops``); zmin..zmax: the
    values the ends of the bar stand for.
    """
    fig = picture(rgb, title=title, height=height)
    fig.spec["data"].insert(0, dict(
        type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(colorscale=[list(s) for s in stops], cmin=zmin, cmax=zmax, color=[zmin],
                    showscale=True,
                    colorbar=dict(title=dict(text=colorbar_title), thickness=14)),
    ))
    return fig


def deletion_figure(fractions: Sequence[float], probabilities: Sequence[float], *,
                    auc: float, label: str, title: str = "", height: int = 320) -> RawFigure:
    """The deletion curve: the class probability as the most important pixels are removed.

    fractions, probabilities: 0..1 each, the same length; auc: the area under the curve.
    """
    xs = [round(float(v), 4) for v in fractions]
    ys = [round(float(v), 5) for v in probabilities]
    data = [dict(type="scatter", x=xs, y=ys, mode="lines+markers", fill="tozeroy",
                 line=dict(color=LOSS_COLOUR), name=label,
                 hovertemplate="%{x:.0%} removed: p = %{y:.1%}<extra></extra>")]
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=40, b=10), showlegend=False,
        title=dict(text=title or f"Deletion curve of {label} (area {auc:.3f})", x=0,
                   xanchor="left", font=dict(size=15)),
        xaxis=dict(range=[0, 1], tickformat=".0%",
                   title=dict(text="share of pixels removed, most important first")),
        yaxis=dict(range=[0, 1], tickformat=".0%", title=dict(text=f"probability of {label}")),
    )
    return RawFigure(dict(data=data, layout=layout))


# --- what a channel detects ---------------------------------------------------------------

#: The two greys of the checkerboard that marks pixels outside the image in a patch.
OUTSIDE_RGB = ((205, 205, 205), (160, 160, 160))
OBJECTIVE_COLOUR = "#1f77b4"
PATCH_FRAME = "#666666"


def patch_grid(crops: np.ndarray, inside: np.ndarray, *, titles: Sequence[str],
               origins: Sequence[tuple[int, int]] | None = None, columns: int = 3,
               cell_px: int = 150, title: str = "") -> RawFigure:
    """Image patches in a grid, pixels outside the image drawn as a grey checkerboard.

    crops: uint8 (k, h, w, 3); inside: bool (k, h, w), False where a patch reaches past the
    image border (e.g. a receptive field in the padding); titles: k titles. origins: the
    (row, col) of each patch's top-left pixel in its image, so hovering gives image
    coordinates (default (0, 0)).
    """
    crops = np.asarray(crops, dtype=np.uint8)
    inside = np.asarray(inside, dtype=bool)
    if crops.ndim != 4 or crops.shape[3] != 3 or inside.shape != crops.shape[:3]:
        raise ValueError(f"expected crops (k, h, w, 3) and inside (k, h, w), got {crops.shape} "
                         f"and {inside.shape}")
    k, h, w = inside.shape
    cols = max(1, min(columns, k))
    rows = -(-k // cols)
    axes, cells, notes = _grid([1.0] * cols, rows, set(),
                               {(i // cols, i % cols): titles[i] for i in range(k)},
                               h_space=0.03, v_space=0.3 / rows if rows > 1 else 0.0)
    for note in notes:
        note.update(font=dict(size=12), yshift=2)
    checker = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(bool)  # (h, w)
    origins = list(origins) if origins is not None else [(0, 0)] * k
    data: list[dict] = []
    for i in range(k):
        cell = cells[(i // cols, i % cols)]
        rgb = crops[i].copy()
        outside = ~inside[i]
        rgb[outside & checker] = OUTSIDE_RGB[0]
        rgb[outside & ~checker] = OUTSIDE_RGB[1]
        r0, c0 = (int(v) for v in origins[i])
        data.append(dict(type="image", source=_png_uri(rgb), x0=c0, y0=r0, dx=1, dy=1,
                         name=titles[i], hovertemplate="pixel (row %{y}, col %{x})"
                         "<extra></extra>", **_on(cell)))
        xs, ys = _box_path((r0, r0 + h, c0, c0 + w))  # a frame: white ink meets white paper
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip",
                         line=dict(color=PATCH_FRAME, width=1), showlegend=False, **_on(cell)))
        _picture_cell(axes, cell, (r0, r0 + h), (c0, c0 + w))
    return _picture_grid_figure(data, axes, notes, cells, k, rows, cols,
                                body_px=rows * cell_px + 30, top=30, title=title)


def objective_curve(history: Sequence[float], *, start: float | None = None, title: str = "",
                    height: int = 220) -> RawFigure:
    """The objective of a gradient ascent, step by step (``channels.Synthesis.history``).

    start: the objective of the starting image, drawn as a dashed line.
    """
    values = [round(float(v), 6) for v in history]
    steps = list(range(1, len(values) + 1))
    data = [dict(type="scatter", x=steps, y=values, mode="lines",
                 line=dict(color=OBJECTIVE_COLOUR, width=2), name="objective",
                 hovertemplate="step %{x}: %{y:.4g}<extra></extra>")]
    shapes = []
    if start is not None:
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=float(start),
                           y1=float(start), line=dict(color="gray", dash="dash", width=1)))
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), showlegend=False,
        shapes=shapes, xaxis=dict(title=dict(text="step"), rangemode="tozero"),
        yaxis=dict(title=dict(text="objective")),
    )
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))
