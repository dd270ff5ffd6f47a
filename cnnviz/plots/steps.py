"""The step-throughs: convolution and pooling, window by window, as Plotly animations.

Frame i shows step i of a ``cnnviz.ops.ConvSteps`` / ``PoolSteps``; the frames play in the
browser (▶ Play, the scrubber) with no server round trip. Nothing is computed here that a
page shows as a number: every value comes from the steps, written by ``format_value`` and
coloured by ``value_range`` / ``pixel_range``, as the GIF export does.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnviz.ops import ConvSteps, PoolSteps
from cnnviz.plots.figure import (
    CHANNEL_SCALES,
    MAX_TEXT_CELLS,
    NARROWEST_FIGURE_PX,
    ROW_GAP_PX,
    RawFigure,
    axis_ref,
    box_path,
    colorscale_name,
    compact,
    fitting_text_px,
    format_value,
    heatmap,
    hide_ticks,
    on_axes,
    outline,
    pixel_range,
    png_uri,
    significant_decimals,
    square_cells,
    subplot_grid,
    value_range,
    widest_text,
)

__all__ = [
    "CONV_COLUMNS",
    "CONV_MARGINS",
    "StepFrames",
    "conv_caption",
    "conv_figure_height",
    "conv_step_figure",
    "conv_step_frames",
    "animated",
    "cell_outline",
    "taps_outline",
    "plain",
    "pool_caption",
    "pool_step_figure",
    "step_alt",
]


def _sum_text(values) -> str:
    """[1.5, -0.25, 2] -> "1.5 − 0.25 + 2"."""
    out = format_value(values[0])
    for v in values[1:]:
        out += f" − {format_value(-v)}" if v < 0 else f" + {format_value(v)}"
    return out


def _step_slider(n: int, start: int, frame_ms: int, labels: Sequence[str]) -> tuple[list, list]:
    """The scrubber and play/pause buttons of an animation with frames "0".."n-1"."""
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    slider = dict(
        active=start, x=0.2, len=0.8, y=0, yanchor="top", pad=dict(t=30, b=10),
        currentvalue=dict(prefix="Step ", visible=True, xanchor="left"),
        transition=dict(duration=0),  # the handle jumps from step to step: no tweening
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


def taps_outline(tap_rows: np.ndarray, tap_cols: np.ndarray) -> tuple[list, list]:
    """Outline of the cells a window reads: one rectangle when they touch, else one small
    square per tap, so the gaps of a dilated kernel show."""
    r, c = tap_rows.tolist(), tap_cols.tolist()  # increasing: touching when span = count - 1
    if r[-1] - r[0] == len(r) - 1 and c[-1] - c[0] == len(c) - 1:
        return box_path((int(r[0]), int(r[-1]) + 1, int(c[0]), int(c[-1]) + 1))
    rr, cc = np.meshgrid(np.asarray(r, float), np.asarray(c, float), indexing="ij")
    rr, cc = rr.ravel()[:, None], cc.ravel()[:, None]
    # Each square: 5 corners then a gap (NaN -> None breaks the line).
    xs = np.hstack([cc - 0.5, cc + 0.5, cc + 0.5, cc - 0.5, cc - 0.5, np.full_like(cc, np.nan)])
    ys = np.hstack([rr - 0.5, rr - 0.5, rr + 0.5, rr + 0.5, rr - 0.5, np.full_like(rr, np.nan)])
    return _with_gaps(xs.ravel()), _with_gaps(ys.ravel())


def _with_gaps(values: np.ndarray) -> list:
    return [None if v != v else v for v in values.tolist()]


def cell_outline(r: int, c: int) -> tuple[list, list]:
    return box_path((r, r + 1, c, c + 1))


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
    xref, yref = axis_ref("x", k), axis_ref("y", k)

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


def animated(data: list[dict], layout: dict, frames_data: list[list[dict]], traces: list[int],
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


#: The step-through's columns: padded input, patch, kernel, products, output (their shares).
CONV_COLUMNS = (0.22, 0.14, 0.14, 0.14, 0.36)
#: Its margins: the caption and the column titles above, the slider and buttons below.
CONV_MARGINS = dict(l=10, r=10, t=90, b=110)


def _column_px(column: int) -> float:
    """How wide column ``column`` of the step-through is, at the narrowest figure."""
    return (NARROWEST_FIGURE_PX - 20) * CONV_COLUMNS[column] / sum(CONV_COLUMNS)


def conv_figure_height(channels: int) -> int:
    """The step-through's height in pixels: rows of about 170 px, and ROW_GAP_PX between
    them for the titles."""
    return 290 + 170 * channels + ROW_GAP_PX * (channels - 1)


def _conv_grid(channels: int, names: Sequence[str], height: int
               ) -> tuple[dict, dict, list[dict]]:
    titles = {(0, 0): "Padded input", (0, 4): "Output"}
    for c in range(channels):
        suffix = f" ({names[c]})" if channels > 1 else ""
        titles[(c, 1)] = f"Patch{suffix}"
        titles[(c, 2)] = f"Kernel{suffix}"
        titles[(c, 3)] = f"Patch × kernel{suffix}"
    plot_px = height - CONV_MARGINS["t"] - CONV_MARGINS["b"]
    return subplot_grid(CONV_COLUMNS, channels, {0, 4}, titles,
                        v_space=min(0.3, ROW_GAP_PX / plot_px))


def _channel_names(channels: int, channel_names: Sequence[str] | None) -> list[str]:
    return list(channel_names or (["R", "G", "B"] if channels == 3 else
                                  [f"channel {c}" for c in range(channels)]))


def conv_step_frames(steps: ConvSteps) -> StepFrames:
    """The frames' parts of `conv_step_figure` that only the windows decide (see StepFrames)."""
    n = len(steps.sums)
    channels = steps.padded.shape[2]
    _, cells, _ = _conv_grid(channels, _channel_names(channels, None),
                             conv_figure_height(channels))
    or0, or1 = int(steps.out_rows.min()), int(steps.out_rows.max()) + 1
    oc0, oc1 = int(steps.out_cols.min()), int(steps.out_cols.max()) + 1
    shape = (or1 - or0, oc1 - oc0)
    rows, cols = steps.out_rows - or0, steps.out_cols - oc0
    patches = _typed_matrices(steps.patches)
    products = _typed_matrices(steps.products)
    updates = []
    for i in range(n):
        frame = [dict(zip(("x", "y"), taps_outline(steps.tap_rows[i], steps.tap_cols[i]),
                          strict=True))]
        frame += [{"z": z} for z in patches[i]]
        frame += [{"z": z} for z in products[i]]
        frame.append(dict(zip(("x", "y"), cell_outline(int(steps.out_rows[i]),
                                                          int(steps.out_cols[i])), strict=True)))
        updates.append(frame)
    labels = [f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]"
              for i in range(n)]
    covers = _covers(cells[(0, 4)], rows, cols, shape, (or0, oc0))
    return StepFrames(updates, covers, labels)


def conv_caption(steps: ConvSteps, i: int, names: Sequence[str] | None = None) -> str:
    """The caption of step i: the sum that fills its output cell, written out (HTML bold).

    Per channel for a colour image (ΣR + ΣG + ΣB), every product for kernels up to 3×3, the
    bias when there is one; every number through ``format_value``, as in the GIF.
    """
    channels = steps.padded.shape[2]
    names = _channel_names(channels, names)
    kh, kw = steps.kernel.shape[:2]
    r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
    bias_term = [steps.bias] if steps.bias else []
    parts = _sum_text(list(steps.channel_sums[i]) + bias_term)
    bias = " + bias" if steps.bias else ""
    total = f"<b>{format_value(steps.sums[i])}</b>"
    if channels > 1:
        named = " + ".join(f"Σ{names[ch]}" for ch in range(channels))
        return f"<b>out[{r}, {c}]</b> = {named}{bias} = {parts} = {total}"
    if kh * kw <= 9:  # small enough to write every product out
        every = list(steps.products[i].ravel()) + bias_term
        return f"<b>out[{r}, {c}]</b> = Σ(patch × kernel){bias} = {_sum_text(every)} = {total}"
    return f"<b>out[{r}, {c}]</b> = Σ(patch × kernel){bias} = {parts} = {total}"


def pool_caption(steps: PoolSteps, i: int, channel: int = 0) -> str:
    """The caption of pooling step i on `channel`: the value that fills its output cell and,
    for max pooling, where it came from (HTML bold)."""
    r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
    v = format_value(steps.values[i, channel])
    if steps.winner is not None:
        wr, wc = (int(x) for x in steps.winner[i, channel])
        return (f"<b>out[{r}, {c}]</b> = max of the window = <b>{v}</b> "
                f"(from padded row {wr}, col {wc})")
    kh, kw = steps.patches.shape[1:3]
    return f"<b>out[{r}, {c}]</b> = mean of the {kh}×{kw} window = <b>{v}</b>"


def step_alt(steps: ConvSteps | PoolSteps, i: int, *, channel_names: Sequence[str] | None = None,
             channel: int = 0) -> str:
    """A text alternative for a step-through showing step i: what the figure is, where the
    window is, and the caption's sum in plain text (a screen reader reads the figure's
    accessible name, not its SVG)."""
    n = len(steps.sums) if isinstance(steps, ConvSteps) else len(steps.values)
    r, c = int(steps.window_rows[i]), int(steps.window_cols[i])
    if isinstance(steps, ConvSteps):
        what = "Convolution"
        caption = conv_caption(steps, i, channel_names)
    else:
        kind = "Max" if steps.winner is not None else "Average"
        what = f"{kind} pooling (channel {channel})"
        caption = pool_caption(steps, i, channel)
    return (f"{what} step-through, window {i + 1} of {n}; its top-left corner at padded "
            f"row {r}, column {c}: {plain(caption)}")


def plain(caption: str) -> str:
    """A caption without its HTML (<b>, <br>), for a text alternative."""
    return re.sub(r"<[^>]+>", "", caption)


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

    height = height or conv_figure_height(channels)
    axes, cells, title_notes = _conv_grid(channels, names, height)
    k_in, k_out = cells[(0, 0)], cells[(0, 4)]
    data: list[dict] = []
    # 1. padded input (still), the image edge, and the moving window.
    lo, hi = pixel_range(steps.padded)  # as the GIF draws it
    if channels == 3:
        rgb = np.clip(np.round((crop - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
        data.append(dict(type="image", source=png_uri(rgb), x0=c0, y0=r0, dx=1, dy=1,
                         name="padded input", hovertemplate="row %{y}, col %{x}<extra></extra>",
                         **on_axes(k_in)))
    else:
        data.append(heatmap(crop[:, :, 0], k_in, colorscale="gray", zmin=lo, zmax=hi,
                             show_text=crop.shape[0] * crop.shape[1] <= MAX_TEXT_CELLS,
                             name="padded input", x0=c0, y0=r0,
                             text_size=fitting_text_px(_column_px(0) / crop.shape[1],
                                                       widest_text(crop))))
    top, bottom, left, right = steps.pads
    in_h = steps.padded.shape[0] - top - bottom
    in_w = steps.padded.shape[1] - left - right
    data.append(outline(k_in, *box_path((top, top + in_h, left, left + in_w)), "image edge",
                         dash="dot", color="#4a4a4a", width=1))
    window_trace = len(data)
    data.append(outline(k_in, [], [], "window"))

    # 2. per channel: patch and products (moving), kernel (still).
    patch_lo, patch_hi, _ = value_range(steps.patches)
    prod_lo, prod_hi, prod_div = value_range(steps.products)
    k_lo, k_hi, k_div = value_range(steps.kernel)
    # the numbers fit their cells: smaller text for wider kernels and longer numbers
    sizes = [fitting_text_px(_column_px(col) / kw, widest_text(values))
             for col, values in ((1, steps.patches), (2, steps.kernel), (3, steps.products))]
    patch_traces, product_traces = [], []
    for c in range(channels):
        scale_c = CHANNEL_SCALES.get(names[c], "gray") if channels == 3 else "gray"
        patch_traces.append(len(data))
        data.append(heatmap(steps.patches[start, :, :, c], cells[(c, 1)], colorscale=scale_c,
                             zmin=patch_lo, zmax=patch_hi, show_text=show_cell_text,
                             name=f"patch {names[c]}", text_size=sizes[0]))
        data.append(heatmap(steps.kernel[:, :, c], cells[(c, 2)],
                             colorscale=colorscale_name(k_div), zmin=k_lo, zmax=k_hi,
                             show_text=show_cell_text, name=f"kernel {names[c]}",
                             text_size=sizes[1]))
        product_traces.append(len(data))
        data.append(heatmap(steps.products[start, :, :, c], cells[(c, 3)],
                             colorscale=colorscale_name(prod_div), zmin=prod_lo, zmax=prod_hi,
                             show_text=show_cell_text, name=f"products {names[c]}",
                             text_size=sizes[2]))
        for col in (1, 2, 3):
            hide_ticks(axes, cells[(c, col)])

    # 3. the output region, filling in, and the current cell.
    out_lo, out_hi, out_div = value_range(steps.sums)
    shape = (or1 - or0, oc1 - oc0)
    rows, cols = steps.out_rows - or0, steps.out_cols - oc0
    # each output cell wide enough for its number: the text shrinks with the cells
    cell_px = _column_px(4) / shape[1]
    longest = widest_text(steps.sums)
    data.append(heatmap(_region_grid(shape, rows, cols, steps.sums), k_out,
                         colorscale=colorscale_name(out_div), zmin=out_lo, zmax=out_hi,
                         show_text=shape[0] * shape[1] <= MAX_TEXT_CELLS and show_cell_text,
                         name="output", x0=oc0, y0=or0,
                         text_size=fitting_text_px(cell_px, longest)))
    cell_trace = len(data)
    data.append(outline(k_out, [], [], "current cell"))
    square_cells(axes, k_in, (r0, r1), (c0, c1))
    square_cells(axes, k_out, (or0, or1), (oc0, oc1))

    if frames is None:
        frames = conv_step_frames(steps)
    if len(frames.updates) != n:
        raise ValueError("the frames belong to other steps")
    traces = [window_trace, *patch_traces, *product_traces, cell_trace]
    layout = dict(axes, annotations=title_notes, height=height, margin=CONV_MARGINS)
    captions = [conv_caption(steps, i, names) for i in range(n)]
    return animated(data, layout, frames.updates, traces, captions, frames.covers,
                     frames.labels, start, frame_ms)


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
    lo, hi = pixel_range(steps.padded)  # as the GIF draws it
    kh, kw = steps.patches.shape[1:3]
    axes, cells, title_notes = subplot_grid(
        [0.45, 0.2, 0.35], 1, set(),
        {(0, 0): "Padded input", (0, 1): "Window", (0, 2): f"Output ({kind} pooling)"},
        h_space=0.06)
    k_in, k_win, k_out = cells[(0, 0)], cells[(0, 1)], cells[(0, 2)]
    data = [heatmap(finite_crop, k_in, colorscale="gray", zmin=lo, zmax=hi,
                     show_text=crop.size <= MAX_TEXT_CELLS, name="padded input", x0=c0, y0=r0)]
    window_trace = len(data)
    data.append(outline(k_in, [], [], "window"))
    winner_trace = len(data)
    data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="winner",
                     marker=dict(symbol="star", size=18, color="#e8175d",
                                 line=dict(color="white", width=1)),
                     hovertemplate="the maximum<extra></extra>", **on_axes(k_in)))
    patch = np.where(np.isfinite(steps.patches), steps.patches, np.nan)
    patch_trace = len(data)
    data.append(heatmap(patch[start, :, :, channel], k_win, colorscale="gray", zmin=lo,
                         zmax=hi, show_text=kh * kw <= 64, name="window values"))
    hide_ticks(axes, k_win)
    out_lo, out_hi, _ = value_range(steps.values[:, channel])
    rows, cols = steps.out_rows - or0, steps.out_cols - oc0
    cell_px = (NARROWEST_FIGURE_PX - 20) * 0.35 / shape[1]
    values = steps.values[:, channel]
    longest = max((len(f"{v:.3g}") for v in values[np.isfinite(values)]), default=1)
    data.append(heatmap(_region_grid(shape, rows, cols, values), k_out,
                         colorscale="Viridis", zmin=out_lo, zmax=out_hi,
                         show_text=shape[0] * shape[1] <= MAX_TEXT_CELLS, name="output",
                         x0=oc0, y0=or0, text_size=fitting_text_px(cell_px, longest)))
    cell_trace = len(data)
    data.append(outline(k_out, [], [], "current cell"))
    square_cells(axes, k_in, (r0, r1), (c0, c1))
    square_cells(axes, k_out, (or0, or1), (oc0, oc1))

    patch_digits = significant_decimals(patch)
    frames_data = []
    for i in range(n):
        if steps.winner is None:
            star = {"x": [None], "y": [None]}
        else:
            wr, wc = (int(v) for v in steps.winner[i, channel])
            star = {"x": [wc], "y": [wr]}
        frames_data.append([
            dict(zip(("x", "y"), taps_outline(steps.tap_rows[i], steps.tap_cols[i]),
                     strict=True)),
            star,
            {"z": compact(patch[i, :, :, channel], patch_digits)},
            dict(zip(("x", "y"), cell_outline(int(steps.out_rows[i]), int(steps.out_cols[i])),
                     strict=True)),
        ])
    traces = [window_trace, winner_trace, patch_trace, cell_trace]
    labels = [f"{i + 1} · out[{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]"
              for i in range(n)]
    covers = _covers(k_out, rows, cols, shape, (or0, oc0))
    layout = dict(axes, annotations=title_notes, height=height + 30,
                  margin=dict(l=10, r=10, t=90, b=110))
    captions = [pool_caption(steps, i, channel) for i in range(n)]
    return animated(data, layout, frames_data, traces, captions, covers, labels, start,
                     frame_ms)
