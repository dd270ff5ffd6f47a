"""Every Plotly figure of the app. Functions take plain data (numpy arrays, step
dataclasses) and return figures; they compute nothing that a page shows as a number.

Big pictures (a 512×512 output map) travel as one PNG inside the figure, not as a
heatmap of 262,144 numbers: that keeps the payload sent to the browser small.
Step-throughs are Plotly animations whose frames play in the browser.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from collections.abc import Sequence

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
    """(zmin, zmax, diverging) for a map: symmetric around 0 when it has both signs."""
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
    scaled = (np.nan_to_num(values, nan=zmin).astype(np.float32) - np.float32(zmin)) * np.float32(
        255.0 / span)
    index = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return _lut(colorscale_name(diverging))[index]


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
        super().__init__()
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
                                        font=dict(size=15), yshift=18))
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


# --- still pictures ----------------------------------------------------------------------


def picture(
    image: np.ndarray,
    *,
    title: str = "",
    box: Box | None = None,
    colorbar_title: str = "",
    height: int = 420,
) -> RawFigure:
    """An image or a map as one PNG/JPEG, with an optional highlighted box.

    image: uint8 (H, W, 3) is shown as it is; a float (H, W) map is coloured with
    Viridis, or RdBu around 0 when it has both signs, and gets a colour bar.
    box: (row0, row1, col0, col1) half-open, in pixels.
    """
    data: list[dict] = []
    if image.ndim == 3:
        rgb = image.astype(np.uint8)
        h, w = rgb.shape[:2]
    else:
        values = image.astype(np.float64)
        h, w = values.shape
        zmin, zmax, diverging = value_range(values)
        rgb = colorize(values, zmin, zmax, diverging)
        # An invisible marker carries the colour bar of the picture.
        data.append(dict(
            type="scatter", x=[None], y=[None], mode="markers", showlegend=False,
            hoverinfo="skip",
            marker=dict(colorscale=_scale(colorscale_name(diverging)), cmin=zmin, cmax=zmax,
                        color=[zmin], showscale=True,
                        colorbar=dict(title=dict(text=colorbar_title), thickness=14)),
        ))
    data.append(dict(type="image", source=_png_uri(rgb), x0=0, y0=0, dx=1, dy=1,
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
    r = np.asarray(tap_rows, dtype=float)
    c = np.asarray(tap_cols, dtype=float)
    contiguous = np.all(np.diff(r) == 1) and np.all(np.diff(c) == 1)
    if contiguous:
        return _box_path((int(r[0]), int(r[-1]) + 1, int(c[0]), int(c[-1]) + 1))
    rr, cc = np.meshgrid(r, c, indexing="ij")
    rr, cc = rr.ravel()[:, None], cc.ravel()[:, None]
    # Each square: 5 corners then a gap (NaN -> None breaks the line).
    xs = np.hstack([cc - 0.5, cc + 0.5, cc + 0.5, cc - 0.5, cc - 0.5, np.full_like(cc, np.nan)])
    ys = np.hstack([rr - 0.5, rr - 0.5, rr + 0.5, rr + 0.5, rr - 0.5, np.full_like(rr, np.nan)])
    return _with_gaps(xs.ravel()), _with_gaps(ys.ravel())


def _with_gaps(values: np.ndarray) -> list:
    return [None if v != v else v for v in values.tolist()]


def _cell_outline(r: int, c: int) -> tuple[list, list]:
    return _box_path((r, r + 1, c, c + 1))


def _cover(k: int, i: int, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int],
           origin: tuple[int, int]) -> list[dict]:
    """White rectangles over the output cells not computed yet after step i.

    The output grid holds every value from the start, and each frame moves these
    covers: two rectangles a frame instead of the whole grid, so a 26×26 output
    stepped cell by cell stays a small payload. Steps run row by row.
    """
    r, c = int(rows[i]), int(cols[i])
    height, width = shape
    r0, c0 = origin
    order = rows.astype(np.int64) * width + cols
    if np.any(np.diff(order) <= 0):
        raise ValueError("the steps must run row by row over the output region")

    def rect(row0: int, row1: int, col0: int, col1: int) -> dict:
        return dict(type="rect", xref=_axis_ref("x", k), yref=_axis_ref("y", k),
                    x0=c0 + col0 - 0.5, x1=c0 + col1 - 0.5, y0=r0 + row0 - 0.5,
                    y1=r0 + row1 - 0.5, fillcolor="white", line=dict(width=0), layer="above")

    covers = []
    if c + 1 < width:
        covers.append(rect(r, r + 1, c + 1, width))
    if r + 1 < height:
        covers.append(rect(r + 1, height, 0, width))
    return covers


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


def conv_step_figure(
    steps: ConvSteps,
    *,
    start: int = 0,
    frame_ms: int = 600,
    channel_names: Sequence[str] | None = None,
    height: int | None = None,
) -> RawFigure:
    """The animated step-through of a convolution over the region in `steps`.

    Columns: the padded input around the region (window highlighted; the image edge
    dotted), then per channel the patch, the kernel slice and the element-wise
    products, then the output region filling in cell by cell. A caption gives the
    sum. Frame i shows step i; the figure opens on step `start`.
    """
    n = len(steps.sums)
    if n == 0:
        raise ValueError("no steps to show")
    start = int(np.clip(start, 0, n - 1))
    channels = steps.padded.shape[2]
    names = list(channel_names or (["R", "G", "B"] if channels == 3 else
                                   [f"channel {c}" for c in range(channels)]))
    kh, kw = steps.kernel.shape[:2]
    show_cell_text = kh * kw <= 49

    # The part of the padded input that the region's windows touch, and the output region.
    r0, r1 = int(steps.tap_rows.min()), int(steps.tap_rows.max()) + 1
    c0, c1 = int(steps.tap_cols.min()), int(steps.tap_cols.max()) + 1
    crop = steps.padded[r0:r1, c0:c1]  # (h, w, C)
    or0, or1 = int(steps.out_rows.min()), int(steps.out_rows.max()) + 1
    oc0, oc1 = int(steps.out_cols.min()), int(steps.out_cols.max()) + 1

    titles = {(0, 0): "Padded input", (0, 4): "Output"}
    for c in range(channels):
        suffix = f" ({names[c]})" if channels > 1 else ""
        titles[(c, 1)] = f"Patch{suffix}"
        titles[(c, 2)] = f"Kernel{suffix}"
        titles[(c, 3)] = f"Patch × kernel{suffix}"
    axes, cells, title_notes = _grid([0.3, 0.15, 0.15, 0.15, 0.25], channels, {0, 4}, titles)
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

    patch_digits, product_digits = _decimals(steps.patches), _decimals(steps.products)
    patches = np.round(steps.patches, patch_digits)
    products = np.round(steps.products, product_digits)
    frames_data = []
    for i in range(n):
        frame = [dict(zip(("x", "y"), _taps_outline(steps.tap_rows[i], steps.tap_cols[i]),
                          strict=True))]
        frame += [{"z": patches[i, :, :, c].tolist()} for c in range(channels)]
        frame += [{"z": products[i, :, :, c].tolist()} for c in range(channels)]
        frame.append(dict(zip(("x", "y"), _cell_outline(int(steps.out_rows[i]),
                                                          int(steps.out_cols[i])), strict=True)))
        frames_data.append(frame)
    traces = [window_trace, *patch_traces, *product_traces, cell_trace]
    labels = [f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]"
              for i in range(n)]
    covers = [_cover(k_out, i, rows, cols, shape, (or0, oc0)) for i in range(n)]
    layout = dict(axes, annotations=title_notes, height=height or (280 + 170 * channels),
                  margin=dict(l=10, r=10, t=90, b=110))
    return _animated(data, layout, frames_data, traces, [caption(i) for i in range(n)], covers,
                     labels, start, frame_ms)


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
    covers = [_cover(k_out, i, rows, cols, shape, (or0, oc0)) for i in range(n)]
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
        _square(axes, k, (0, kh), (0, kw))
        _hide_ticks(axes, k)
        for kind in "xy":  # no tick marks or grid lines over the tiny pictures
            axes[_axis_name(kind, k)].update(ticks="", showgrid=False, showline=False)
    for i in range(n, rows * cols):  # empty cells of the last row
        k = cells[(i // cols, i % cols)]
        axes[_axis_name("x", k)]["visible"] = False
        axes[_axis_name("y", k)]["visible"] = False
    layout = dict(axes, annotations=notes, showlegend=False,
                  height=rows * cell_px + 40 + (30 if title else 0),
                  margin=dict(l=5, r=5, t=20 + (30 if title else 0), b=5))
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))
