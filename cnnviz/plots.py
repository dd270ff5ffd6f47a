"""Every Plotly figure of the app. Functions take plain data (numpy arrays, step
dataclasses) and return figures; they compute nothing that a page shows as a number.

Big pictures (a 512×512 output map) travel as one PNG inside the figure, not as a
heatmap of 262,144 numbers: that keeps the payload sent to the browser small.
Step-throughs are Plotly animations whose frames play in the browser.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.ops import ConvSteps, PoolSteps

Box = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, in pixels

HIGHLIGHT = "#ffb000"  # the current window / cell: amber reads well on a projector
PADDING_TINT = "rgba(120, 120, 120, 0.35)"
CHANNEL_SCALES = {"R": "Reds", "G": "Greens", "B": "Blues"}
#: Above this many cells a heatmap shows no numbers in its cells: they would be unreadable.
MAX_TEXT_CELLS = 256


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


def colorize(values: np.ndarray, zmin: float, zmax: float, diverging: bool) -> np.ndarray:
    """float (H, W) -> uint8 (H, W, 3) RGB, with the colour scale `colorscale_name` names."""
    span = zmax - zmin if zmax > zmin else 1.0
    scaled = np.clip((np.nan_to_num(values, nan=zmin) - zmin) / span, 0.0, 1.0)
    u8 = np.round(scaled * 255).astype(np.uint8)
    colormap = cv2.COLORMAP_TWILIGHT_SHIFTED if diverging else cv2.COLORMAP_VIRIDIS
    if diverging:
        # blue (negative) - white (0) - red (positive), as RdBu_r
        t = scaled[..., None]
        blue, white, red = np.array([33, 102, 172.0]), np.array([247, 247, 247.0]), np.array(
            [178, 24, 43.0])
        rgb = np.where(t < 0.5, blue + (white - blue) * (t / 0.5),
                       white + (red - white) * ((t - 0.5) / 0.5))
        return np.round(rgb).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, colormap), cv2.COLOR_BGR2RGB)


def colorscale_name(diverging: bool) -> str:
    return "RdBu_r" if diverging else "Viridis"


#: Pictures with more pixels than this travel as JPEG (a tenth of the bytes of a PNG for a
#: photo); smaller ones, such as teaching matrices, as PNG so every pixel is exact.
JPEG_ABOVE_PIXELS = 128 * 128


def _png_uri(rgb: np.ndarray) -> str:
    """uint8 (H, W, 3) -> a data URI the browser can show (PNG, or JPEG for big pictures)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    if rgb.shape[0] * rgb.shape[1] > JPEG_ABOVE_PIXELS:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        mime = "image/jpeg"
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        mime = "image/png"
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB array
        raise RuntimeError("image encoding failed")
    return f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _box_path(box: Box) -> tuple[list[float], list[float]]:
    """Closed outline of a half-open pixel box, through pixel edges."""
    r0, r1, c0, c1 = box
    xs = [c0 - 0.5, c1 - 0.5, c1 - 0.5, c0 - 0.5, c0 - 0.5]
    ys = [r0 - 0.5, r0 - 0.5, r1 - 0.5, r1 - 0.5, r0 - 0.5]
    return xs, ys


# --- still pictures ----------------------------------------------------------------------


def picture(
    image: np.ndarray,
    *,
    title: str = "",
    box: Box | None = None,
    colorbar_title: str = "",
    height: int = 420,
) -> go.Figure:
    """An image or a map as one PNG, with an optional highlighted box.

    image: uint8 (H, W, 3) is shown as it is; a float (H, W) map is coloured with
    Viridis, or RdBu around 0 when it has both signs, and gets a colour bar.
    box: (row0, row1, col0, col1) half-open, in pixels.
    """
    fig = go.Figure()
    if image.ndim == 3:
        rgb = image.astype(np.uint8)
        h, w = rgb.shape[:2]
    else:
        values = image.astype(np.float64)
        h, w = values.shape
        zmin, zmax, diverging = value_range(values)
        rgb = colorize(values, zmin, zmax, diverging)
        # An invisible marker carries the colour bar of the picture.
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker=dict(colorscale=colorscale_name(diverging), cmin=zmin, cmax=zmax,
                        color=[zmin], showscale=True,
                        colorbar=dict(title=colorbar_title, thickness=14)),
        ))
    fig.add_trace(go.Image(source=_png_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="x+y",
                           name=title or "image"))
    if box is not None:
        xs, ys = _box_path(box)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=HIGHLIGHT, width=3),
                                 hoverinfo="skip", showlegend=False))
    fig.update_xaxes(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[h - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x",
                     constrain="domain")
    fig.update_layout(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def payload_bytes(fig: go.Figure | dict) -> int:
    """Size in bytes of the JSON that Streamlit sends to the browser for `fig`."""
    if isinstance(fig, dict):
        return len(go.Figure(fig).to_json().encode())
    return len(fig.to_json().encode())


# --- step-throughs -----------------------------------------------------------------------


class AnimatedFigure(go.Figure):
    """A figure whose animation frames are plain dicts.

    Plotly validates every property of every ``go.Frame``: for a step-through of 64
    frames that is most of a second, which a page rerun cannot afford. The still
    part of the figure is a validated ``go.Figure``; the frames only repeat trace
    types and properties used there, and travel as they are.
    """

    def __init__(self, base: go.Figure, frames: list[dict]):
        super().__init__(base)
        self._raw_frames = frames

    def to_dict(self) -> dict:
        spec = super().to_dict()
        spec["frames"] = self._raw_frames
        return spec

    def to_plotly_json(self) -> dict:
        return self.to_dict()

    @property
    def frame_dicts(self) -> list[dict]:
        return self._raw_frames


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


def _grid_heatmap(z: np.ndarray, *, colorscale: str, zmin: float, zmax: float,
                  show_text: bool, name: str, x0: int = 0, y0: int = 0) -> go.Heatmap:
    return go.Heatmap(
        z=z, x0=x0, y0=y0, dx=1, dy=1, colorscale=colorscale, zmin=zmin, zmax=zmax,
        showscale=False, xgap=1, ygap=1, name=name,
        texttemplate="%{z:.3g}" if show_text else None, textfont=dict(size=11),
        hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}<br>%{{z:.5g}}<extra></extra>",
    )


def conv_step_figure(
    steps: ConvSteps,
    *,
    start: int = 0,
    frame_ms: int = 600,
    channel_names: Sequence[str] | None = None,
    height: int | None = None,
) -> go.Figure:
    """The animated step-through of a convolution over the region in `steps`.

    Columns: the padded input around the region (window highlighted; padding
    tinted), then per channel the patch, the kernel slice and the element-wise
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

    # The part of the padded input that the region's windows touch.
    r0, r1 = int(steps.tap_rows.min()), int(steps.tap_rows.max()) + 1
    c0, c1 = int(steps.tap_cols.min()), int(steps.tap_cols.max()) + 1
    crop = steps.padded[r0:r1, c0:c1]  # (h, w, C)
    # Output region bounds.
    or0, or1 = int(steps.out_rows.min()), int(steps.out_rows.max()) + 1
    oc0, oc1 = int(steps.out_cols.min()), int(steps.out_cols.max()) + 1

    specs = [[{"rowspan": channels}, {}, {}, {}, {"rowspan": channels}]]
    specs += [[None, {}, {}, {}, None] for _ in range(channels - 1)]
    titles = ["Padded input"]
    for c in range(channels):
        suffix = f" ({names[c]})" if channels > 1 else ""
        titles += [f"Patch{suffix}", f"Kernel{suffix}", f"Patch × kernel{suffix}"]
        if c == 0:
            titles.append("Output")
    fig = make_subplots(rows=channels, cols=5, specs=specs, subplot_titles=titles,
                        column_widths=[0.3, 0.15, 0.15, 0.15, 0.25],
                        horizontal_spacing=0.04, vertical_spacing=0.08)

    # 1. padded input (static) + the moving window outline (trace index recorded).
    lo, hi, _ = value_range(steps.padded)
    if channels == 3:
        scale = 255.0 / hi if hi > 0 else 1.0
        rgb = np.clip(crop * scale, 0, 255).astype(np.uint8)
        fig.add_trace(go.Image(z=rgb, x0=c0, y0=r0, dx=1, dy=1, name="padded input",
                               hovertemplate="row %{y}, col %{x}<extra></extra>"), row=1, col=1)
    else:
        fig.add_trace(_grid_heatmap(crop[:, :, 0], colorscale="gray", zmin=lo, zmax=hi,
                                    show_text=crop.shape[0] * crop.shape[1] <= MAX_TEXT_CELLS,
                                    name="padded input", x0=c0, y0=r0), row=1, col=1)
    pad_t, _, pad_l, _ = steps.pads
    in_h = steps.padded.shape[0] - steps.pads[0] - steps.pads[1]
    in_w = steps.padded.shape[1] - steps.pads[2] - steps.pads[3]
    # Tint the padding: everything outside the real image inside the crop.
    image_box = (pad_t, pad_t + in_h, pad_l, pad_l + in_w)
    xs, ys = _box_path(image_box)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#4a4a4a", width=1,
                                                                  dash="dot"),
                             hoverinfo="skip", showlegend=False, name="image edge"),
                  row=1, col=1)

    def window_outline(i: int) -> tuple[list[float], list[float]]:
        # One small square per tap, so dilation gaps are visible.
        xs: list[float | None] = []
        ys: list[float | None] = []
        for r in steps.tap_rows[i]:
            for c in steps.tap_cols[i]:
                bx, by = _box_path((int(r), int(r) + 1, int(c), int(c) + 1))
                xs += [*bx, None]
                ys += [*by, None]
        return xs, ys

    wx, wy = window_outline(start)
    window_trace = len(fig.data)
    fig.add_trace(go.Scatter(x=wx, y=wy, mode="lines", line=dict(color=HIGHLIGHT, width=3),
                             hoverinfo="skip", showlegend=False, name="window"), row=1, col=1)

    # 2. per channel: patch, kernel (static), products.
    patch_lo, patch_hi, _ = value_range(steps.patches)
    prod_lo, prod_hi, prod_div = value_range(steps.products)
    k_lo, k_hi, k_div = value_range(steps.kernel)
    patch_traces, product_traces = [], []
    for c in range(channels):
        cs = CHANNEL_SCALES.get(names[c], "gray") if channels == 3 else "gray"
        patch_traces.append(len(fig.data))
        fig.add_trace(_grid_heatmap(steps.patches[start, :, :, c], colorscale=cs,
                                    zmin=patch_lo, zmax=patch_hi, show_text=show_cell_text,
                                    name=f"patch {names[c]}"), row=c + 1, col=2)
        fig.add_trace(_grid_heatmap(steps.kernel[:, :, c], colorscale=colorscale_name(k_div),
                                    zmin=k_lo, zmax=k_hi, show_text=show_cell_text,
                                    name=f"kernel {names[c]}"), row=c + 1, col=3)
        product_traces.append(len(fig.data))
        fig.add_trace(_grid_heatmap(steps.products[start, :, :, c],
                                    colorscale=colorscale_name(prod_div), zmin=prod_lo,
                                    zmax=prod_hi, show_text=show_cell_text,
                                    name=f"products {names[c]}"), row=c + 1, col=4)

    # 3. output region, filling in.
    out_lo, out_hi, out_div = value_range(steps.sums)
    region_shape = (or1 - or0, oc1 - oc0)

    def output_so_far(i: int) -> np.ndarray:
        z = np.full(region_shape, np.nan)
        z[steps.out_rows[: i + 1] - or0, steps.out_cols[: i + 1] - oc0] = steps.sums[: i + 1]
        return z

    output_trace = len(fig.data)
    fig.add_trace(_grid_heatmap(output_so_far(start), colorscale=colorscale_name(out_div),
                                zmin=out_lo, zmax=out_hi,
                                show_text=region_shape[0] * region_shape[1] <= MAX_TEXT_CELLS
                                and show_cell_text, name="output", x0=oc0, y0=or0),
                  row=1, col=5)

    def cell_outline(i: int) -> tuple[list[float], list[float]]:
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        return _box_path((r, r + 1, c, c + 1))

    cx, cy = cell_outline(start)
    cell_trace = len(fig.data)
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", line=dict(color=HIGHLIGHT, width=3),
                             hoverinfo="skip", showlegend=False, name="current cell"),
                  row=1, col=5)

    def caption(i: int) -> str:
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        parts = _sum_text(list(steps.channel_sums[i]) + ([steps.bias] if steps.bias else []))
        bias = " + bias" if steps.bias else ""
        if channels > 1:
            named = " + ".join(f"Σ{names[ch]}" for ch in range(channels))
            return (f"<b>out[{r}, {c}]</b> = {named}{bias} = "
                    f"{parts} = <b>{_fmt(steps.sums[i])}</b>")
        return f"<b>out[{r}, {c}]</b> = Σ(patch × kernel){bias} = {parts} = " \
               f"<b>{_fmt(steps.sums[i])}</b>"

    # Axes: pixel rows go down; every grid is square.
    for row in range(1, channels + 1):
        for col in range(1, 6):
            if (col in (1, 5)) and row > 1:
                continue
            fig.update_yaxes(autorange="reversed", scaleanchor=None, row=row, col=col,
                             showgrid=False, zeroline=False)
            fig.update_xaxes(showgrid=False, zeroline=False, row=row, col=col, side="top")
    fig.update_xaxes(range=[c0 - 0.5, c1 - 0.5], row=1, col=1)
    fig.update_yaxes(range=[r1 - 0.5, r0 - 0.5], autorange=False, row=1, col=1)
    # Square cells in the input and output grids.
    for col in (1, 5):
        x_name = fig.get_subplot(1, col).yaxis.anchor
        fig.update_yaxes(scaleanchor=x_name, constrain="domain", row=1, col=col)
        fig.update_xaxes(constrain="domain", row=1, col=col)
    fig.update_xaxes(range=[oc0 - 0.5, oc1 - 0.5], row=1, col=5)
    fig.update_yaxes(range=[or1 - 0.5, or0 - 0.5], autorange=False, row=1, col=5)
    for col in (2, 3, 4):
        for row in range(1, channels + 1):
            fig.update_xaxes(showticklabels=False, row=row, col=col)
            fig.update_yaxes(showticklabels=False, row=row, col=col)

    titles = _titles(fig)
    frames = []
    labels = []
    traces = [window_trace, *patch_traces, *product_traces, output_trace, cell_trace]
    for i in range(n):
        data = [_xy(*window_outline(i))]
        data += [_z(steps.patches[i, :, :, c]) for c in range(channels)]
        data += [_z(steps.products[i, :, :, c]) for c in range(channels)]
        data += [_z(output_so_far(i)), _xy(*cell_outline(i))]
        frames.append({"name": str(i), "data": data, "traces": traces,
                       "layout": {"annotations": _annotations(titles, caption(i))}})
        labels.append(f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]")
    sliders, menus = _step_slider(n, start, frame_ms, labels)
    fig.update_layout(
        annotations=_annotations(titles, caption(start)), sliders=sliders, updatemenus=menus,
        height=height or (260 + 170 * channels), margin=dict(l=10, r=10, t=60, b=110),
        showlegend=False,
    )
    return AnimatedFigure(fig, frames)


def _annotations(titles: list[dict], caption: str) -> list[dict]:
    """The subplot titles plus the step caption (frames replace the whole list)."""
    return [*titles, dict(name="caption", text=caption, x=0.5, y=-0.02, xref="paper",
                          yref="paper", xanchor="center", yanchor="top", showarrow=False,
                          font=dict(size=16))]


def _titles(fig: go.Figure) -> list[dict]:
    return [a.to_plotly_json() for a in fig.layout.annotations]


def _xy(xs: list, ys: list) -> dict:
    return {"type": "scatter", "x": xs, "y": ys}


def _compact(z: np.ndarray, digits: int = 5) -> list:
    """`z` rounded to `digits` significant digits (of its largest value), NaN -> None.

    The browser shows at most 4 significant digits; sending 17 would triple the payload.
    """
    finite = np.isfinite(z)
    biggest = float(np.abs(z[finite]).max()) if finite.any() else 0.0
    decimals = digits - 1 - int(np.floor(np.log10(biggest))) if biggest > 0 else digits
    rounded = np.round(z, max(decimals, 0))
    return np.where(finite, rounded, None).tolist()


def _z(z: np.ndarray) -> dict:
    return {"type": "heatmap", "z": _compact(z)}


def pool_step_figure(
    steps: PoolSteps,
    *,
    start: int = 0,
    frame_ms: int = 600,
    channel: int = 0,
    height: int = 430,
) -> go.Figure:
    """The animated step-through of pooling on one channel of the region in `steps`.

    Columns: the padded input around the region (window highlighted; for max
    pooling the winning cell marked), the window's values, and the output region
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
    region_shape = (or1 - or0, oc1 - oc0)
    lo, hi, _ = value_range(finite_crop)
    kh, kw = steps.patches.shape[1:3]
    fig = make_subplots(rows=1, cols=3, column_widths=[0.45, 0.2, 0.35], horizontal_spacing=0.06,
                        subplot_titles=["Padded input", "Window", f"Output ({kind} pooling)"])
    fig.add_trace(_grid_heatmap(finite_crop, colorscale="gray", zmin=lo, zmax=hi,
                                show_text=crop.size <= MAX_TEXT_CELLS, name="padded input",
                                x0=c0, y0=r0), row=1, col=1)

    def window(i: int) -> tuple[list, list]:
        xs: list = []
        ys: list = []
        for r in steps.tap_rows[i]:
            for c in steps.tap_cols[i]:
                bx, by = _box_path((int(r), int(r) + 1, int(c), int(c) + 1))
                xs += [*bx, None]
                ys += [*by, None]
        return xs, ys

    def winner(i: int) -> tuple[list, list]:
        if steps.winner is None:
            return [None], [None]
        r, c = (int(v) for v in steps.winner[i, channel])
        return [c], [r]

    window_trace = len(fig.data)
    wx, wy = window(start)
    fig.add_trace(go.Scatter(x=wx, y=wy, mode="lines", line=dict(color=HIGHLIGHT, width=3),
                             hoverinfo="skip", name="window"), row=1, col=1)
    winner_trace = len(fig.data)
    mx, my = winner(start)
    fig.add_trace(go.Scatter(x=mx, y=my, mode="markers", name="winner",
                             marker=dict(symbol="star", size=18, color="#e8175d",
                                         line=dict(color="white", width=1)),
                             hovertemplate="the maximum<extra></extra>"), row=1, col=1)
    patch_trace = len(fig.data)
    patch = np.where(np.isfinite(steps.patches), steps.patches, np.nan)
    fig.add_trace(_grid_heatmap(patch[start, :, :, channel], colorscale="gray", zmin=lo, zmax=hi,
                                show_text=kh * kw <= 64, name="window values"), row=1, col=2)
    out_lo, out_hi, _ = value_range(steps.values[:, channel])

    def output_so_far(i: int) -> np.ndarray:
        z = np.full(region_shape, np.nan)
        z[steps.out_rows[: i + 1] - or0, steps.out_cols[: i + 1] - oc0] = steps.values[: i + 1,
                                                                                      channel]
        return z

    output_trace = len(fig.data)
    fig.add_trace(_grid_heatmap(output_so_far(start), colorscale="Viridis", zmin=out_lo,
                                zmax=out_hi, show_text=region_shape[0] * region_shape[1] <= 144,
                                name="output", x0=oc0, y0=or0), row=1, col=3)
    cell_trace = len(fig.data)

    def cell(i: int) -> tuple[list, list]:
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        return _box_path((r, r + 1, c, c + 1))

    cx, cy = cell(start)
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", line=dict(color=HIGHLIGHT, width=3),
                             hoverinfo="skip", name="current cell"), row=1, col=3)

    def caption(i: int) -> str:
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        v = _fmt(steps.values[i, channel])
        if kind == "max":
            wr, wc = (int(x) for x in steps.winner[i, channel])
            return f"<b>out[{r}, {c}]</b> = max of the window = <b>{v}</b> " \
                   f"(from padded row {wr}, col {wc})"
        return f"<b>out[{r}, {c}]</b> = mean of the {kh}×{kw} window = <b>{v}</b>"

    for col in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", showgrid=False, zeroline=False, row=1, col=col)
        fig.update_xaxes(showgrid=False, zeroline=False, side="top", row=1, col=col)
    fig.update_xaxes(showticklabels=False, row=1, col=2)
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    titles = _titles(fig)
    frames, labels = [], []
    traces = [window_trace, winner_trace, patch_trace, output_trace, cell_trace]
    for i in range(n):
        frames.append({
            "name": str(i),
            "data": [_xy(*window(i)), _xy(*winner(i)), _z(patch[i, :, :, channel]),
                     _z(output_so_far(i)), _xy(*cell(i))],
            "traces": traces,
            "layout": {"annotations": _annotations(titles, caption(i))},
        })
        labels.append(f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]")
    sliders, menus = _step_slider(n, start, frame_ms, labels)
    fig.update_layout(annotations=_annotations(titles, caption(start)), sliders=sliders,
                      updatemenus=menus, height=height, showlegend=False,
                      margin=dict(l=10, r=10, t=60, b=110))
    return AnimatedFigure(fig, frames)
