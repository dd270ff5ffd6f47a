"""The step-throughs of the whole layer: a transposed convolution's stamps, and the backward
pass window by window, as Plotly animations that play in the browser.

Two pictures serve three views:
- ``stamp_figure``: cells of a source map each add a scaled kernel (a stamp) onto a canvas,
  which fills in step by step: the transposed convolution's scatter (source: its input)
  and the input gradient (source: dL/dout; stamps Σ_f dL/dout · W[f]);
- ``weight_grad_figure``: window by window, dL/dout[i, j] × the window's patch adds to
  dL/dW, whose running sum is shown.
Every number comes from the library's step data (``cnnviz.layer``, ``cnnviz.backward``),
which the tests check against torch; nothing is computed here but where to draw it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnviz.backward import GradSteps
from cnnviz.layer import TransposeScatter
from cnnviz.plots.figure import (
    MAX_TEXT_CELLS,
    NARROWEST_FIGURE_PX,
    RawFigure,
    box_path,
    colorscale_name,
    compact,
    fitting_text_px,
    format_value,
    heatmap,
    hide_ticks,
    outline,
    significant_decimals,
    square_cells,
    subplot_grid,
    value_range,
    widest_text,
)
from cnnviz.plots.steps import animated, cell_outline, taps_outline

__all__ = [
    "STAMP_COLUMNS",
    "grad_stamps_figure",
    "stamp_figure",
    "scatter_captions",
    "scatter_figure",
    "weight_grad_figure",
]

#: Columns of a stamp figure: the source map, the stamp, the canvas filling in.
STAMP_COLUMNS = (0.3, 0.2, 0.5)
MARGINS = dict(l=10, r=10, t=90, b=110)


def _crop(rows: np.ndarray, cols: np.ndarray) -> tuple[int, int, int, int]:
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def stamp_figure(source: np.ndarray, cells: tuple[np.ndarray, np.ndarray], stamps: np.ndarray,
                 taps: tuple[np.ndarray, np.ndarray], out_box: tuple[int, int, int, int],
                 captions: Sequence[str], titles: tuple[str, str, str], *, start: int = 0,
                 frame_ms: int = 600, height: int = 470) -> RawFigure:
    """Source cells (rows, cols) add stamps[i] (kh, kw) at canvas rows taps[0][i] and
    columns taps[1][i]; the canvas shows the sum so far, on the part the stamps reach, with
    `out_box` (half-open canvas rows and columns) dotted: what is kept of it."""
    n = len(stamps)
    if n == 0:
        raise ValueError("no steps to show")
    start = int(np.clip(start, 0, n - 1))
    rows, cols = cells
    tap_r, tap_c = taps
    r0, r1, c0, c1 = _crop(tap_r, tap_c)
    partial = np.zeros((n, r1 - r0, c1 - c0))
    running = np.zeros((r1 - r0, c1 - c0))
    for i in range(n):
        running[np.ix_(tap_r[i] - r0, tap_c[i] - c0)] += stamps[i]
        partial[i] = running
    axes, grid, notes = subplot_grid(STAMP_COLUMNS, 1, set(),
                                     {(0, 0): titles[0], (0, 1): titles[1], (0, 2): titles[2]},
                                     h_space=0.06)
    k_src, k_stamp, k_canvas = grid[(0, 0)], grid[(0, 1)], grid[(0, 2)]
    s_lo, s_hi, s_div = value_range(source)
    h, w = source.shape
    data = [heatmap(source, k_src, colorscale=colorscale_name(s_div), zmin=s_lo, zmax=s_hi,
                    show_text=h * w <= MAX_TEXT_CELLS, name=titles[0].lower(),
                    text_size=fitting_text_px((NARROWEST_FIGURE_PX * 0.3) / w,
                                              widest_text(source)))]
    cell_trace = len(data)
    data.append(outline(k_src, [], [], "current cell"))
    st_lo, st_hi, st_div = value_range(stamps)
    kh, kw = stamps.shape[1:]
    stamp_trace = len(data)
    data.append(heatmap(stamps[start], k_stamp, colorscale=colorscale_name(st_div), zmin=st_lo,
                        zmax=st_hi, show_text=kh * kw <= 49, name="stamp",
                        text_size=fitting_text_px((NARROWEST_FIGURE_PX * 0.2) / kw,
                                                  widest_text(stamps))))
    hide_ticks(axes, k_stamp)
    c_lo, c_hi, c_div = value_range(partial)
    canvas_trace = len(data)
    data.append(heatmap(partial[start], k_canvas, colorscale=colorscale_name(c_div),
                        zmin=c_lo, zmax=c_hi, show_text=partial[0].size <= MAX_TEXT_CELLS,
                        name="sum so far", x0=c0, y0=r0,
                        text_size=fitting_text_px((NARROWEST_FIGURE_PX * 0.5) / (c1 - c0),
                                                  widest_text(partial[-1]))))
    data.append(outline(k_canvas, *box_path(out_box), "kept", dash="dot", color="#4a4a4a",
                        width=2))
    taps_trace = len(data)
    data.append(outline(k_canvas, [], [], "stamp"))
    square_cells(axes, k_src, (0, h), (0, w))
    square_cells(axes, k_canvas, (r0, r1), (c0, c1))
    digits = significant_decimals(partial)
    frames = []
    for i in range(n):
        frames.append([
            dict(zip(("x", "y"), cell_outline(int(rows[i]), int(cols[i])), strict=True)),
            {"z": compact(stamps[i])},
            {"z": compact(partial[i], digits)},
            dict(zip(("x", "y"), taps_outline(tap_r[i], tap_c[i]), strict=True)),
        ])
    labels = [f"{i + 1} · [{int(rows[i])}, {int(cols[i])}]" for i in range(n)]
    covers = [[] for _ in range(n)]
    layout = dict(axes, annotations=notes, height=height, margin=MARGINS)
    return animated(data, layout, frames, [cell_trace, stamp_trace, canvas_trace, taps_trace],
                    list(captions), covers, labels, start, frame_ms)


def scatter_captions(scatter: TransposeScatter) -> list[str]:
    """Per stamp: which input cell, its value, where its stamp lands (canvas coordinates)."""
    out = []
    several = scatter.values.shape[1] > 1
    for i in range(len(scatter.stamps)):
        r, c = int(scatter.in_rows[i]), int(scatter.in_cols[i])
        value = ("Σ over its channels of in × kernel slice" if several else
                 f"in[{r}, {c}] = <b>{format_value(scatter.values[i, 0])}</b>, times the kernel")
        rows, cols = scatter.tap_rows[i], scatter.tap_cols[i]
        out.append(f"<b>Stamp {i + 1}</b>: {value}, added at rows {int(rows[0])}–"
                   f"{int(rows[-1])}, columns {int(cols[0])}–{int(cols[-1])}")
    return out


def scatter_figure(scatter: TransposeScatter, source: np.ndarray, *, start: int = 0,
                   frame_ms: int = 600) -> RawFigure:
    """The transposed convolution as stamps: `source` (H, W) is the input channel drawn on
    the left (the group's first when it has several)."""
    (ph, pw), (h, w) = scatter.padding, scatter.output.shape
    return stamp_figure(source, (scatter.in_rows, scatter.in_cols), scatter.stamps,
                        (scatter.tap_rows, scatter.tap_cols), (ph, ph + h, pw, pw + w),
                        scatter_captions(scatter),
                        ("Input", "Stamp: value × kernel", "Output so far (dotted: kept)"),
                        start=start, frame_ms=frame_ms)


def grad_stamps_figure(steps: GradSteps, grad_map: np.ndarray, channel: int = 0, *,
                       start: int = 0, frame_ms: int = 600) -> RawFigure:
    """The input gradient as stamps on input channel `channel`: output cell (i, j) adds
    Σ_f dL/dout[i, j, f] · W[f, channel] over its window. `grad_map` (H_out, W_out) is the
    dL/dout map drawn on the left (one filter's, or their sum)."""
    top, _, left, _ = steps.pads
    captions = []
    for i in range(len(steps.contributions)):
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        captions.append(f"<b>Window {i + 1}</b>: dL/dout[{r}, {c}] × W goes back over the "
                        f"pixels it read, rows {int(steps.tap_rows[i, 0]) - top}–"
                        f"{int(steps.tap_rows[i, -1]) - top}, columns "
                        f"{int(steps.tap_cols[i, 0]) - left}–{int(steps.tap_cols[i, -1]) - left}")
    return stamp_figure(grad_map, (steps.out_rows, steps.out_cols),
                        steps.contributions[:, :, :, channel],
                        (steps.tap_rows, steps.tap_cols),
                        (top, top + steps.in_hw[0], left, left + steps.in_hw[1]), captions,
                        ("dL/dout", "Σ_f dL/dout · W[f]", "dL/dinput so far (dotted: image)"),
                        start=start, frame_ms=frame_ms)


def weight_grad_figure(steps: GradSteps, partial: np.ndarray, padded: np.ndarray,
                       grad_map: np.ndarray, *, start: int = 0, frame_ms: int = 600,
                       channel_names: Sequence[str] | None = None) -> RawFigure:
    """The weight gradient of one filter, window by window: the padded input with the
    window, dL/dout with its cell, then per channel the patch × dL/dout[i, j] and the
    running sum dL/dW (``partial``, (n, kh, kw, C))."""
    n = len(steps.contributions)
    if n == 0:
        raise ValueError("no steps to show")
    start = int(np.clip(start, 0, n - 1))
    channels = partial.shape[3]
    names = list(channel_names or ([f"channel {c}" for c in range(channels)]))
    titles = {(0, 0): "Padded input", (0, 1): "dL/dout"}
    for c in range(channels):
        suffix = f" ({names[c]})" if channels > 1 else ""
        titles[(c, 2)] = f"dL/dout · patch{suffix}"
        titles[(c, 3)] = f"dL/dW so far{suffix}"
    height = 300 + 170 * channels
    axes, grid, notes = subplot_grid((0.3, 0.24, 0.22, 0.24), channels, {0, 1}, titles,
                                     h_space=0.05, v_space=min(0.3, 80 / (height - 200)))
    k_in, k_grad = grid[(0, 0)], grid[(0, 1)]
    r0, r1, c0, c1 = _crop(steps.tap_rows, steps.tap_cols)
    crop = padded[r0:r1, c0:c1].mean(axis=2) if padded.shape[2] > 1 else padded[r0:r1, c0:c1, 0]
    lo, hi, div = value_range(crop)
    data = [heatmap(crop, k_in, colorscale=colorscale_name(div) if div else "gray", zmin=lo,
                    zmax=hi, show_text=crop.size <= MAX_TEXT_CELLS, name="padded input",
                    x0=c0, y0=r0, text_size=fitting_text_px(NARROWEST_FIGURE_PX * 0.3 /
                                                            (c1 - c0), widest_text(crop)))]
    window_trace = len(data)
    data.append(outline(k_in, [], [], "window"))
    g_lo, g_hi, g_div = value_range(grad_map)
    data.append(heatmap(grad_map, k_grad, colorscale=colorscale_name(g_div), zmin=g_lo,
                        zmax=g_hi, show_text=grad_map.size <= MAX_TEXT_CELLS, name="dL/dout",
                        text_size=fitting_text_px(NARROWEST_FIGURE_PX * 0.24 /
                                                  grad_map.shape[1], widest_text(grad_map))))
    cell_trace = len(data)
    data.append(outline(k_grad, [], [], "current cell"))
    p_lo, p_hi, p_div = value_range(steps.contributions)
    s_lo, s_hi, s_div = value_range(partial)
    kw = partial.shape[2]
    sizes = [fitting_text_px(NARROWEST_FIGURE_PX * share / kw, widest_text(values))
             for share, values in ((0.22, steps.contributions), (0.24, partial))]
    moving = []
    for c in range(channels):
        moving.append(len(data))
        data.append(heatmap(steps.contributions[start, :, :, c], grid[(c, 2)],
                            colorscale=colorscale_name(p_div), zmin=p_lo, zmax=p_hi,
                            show_text=kw * kw <= 49, name=f"contribution {names[c]}",
                            text_size=sizes[0]))
        moving.append(len(data))
        data.append(heatmap(partial[start, :, :, c], grid[(c, 3)],
                            colorscale=colorscale_name(s_div), zmin=s_lo, zmax=s_hi,
                            show_text=kw * kw <= 49, name=f"dL/dW {names[c]}",
                            text_size=sizes[1]))
        hide_ticks(axes, grid[(c, 2)])
        hide_ticks(axes, grid[(c, 3)])
    square_cells(axes, k_in, (r0, r1), (c0, c1))
    square_cells(axes, k_grad, (0, grad_map.shape[0]), (0, grad_map.shape[1]))
    frames, captions = [], []
    for i in range(n):
        r, c = int(steps.out_rows[i]), int(steps.out_cols[i])
        update = [dict(zip(("x", "y"), taps_outline(steps.tap_rows[i], steps.tap_cols[i]),
                           strict=True)),
                  dict(zip(("x", "y"), cell_outline(r, c), strict=True))]
        for ch in range(channels):
            update += [{"z": compact(steps.contributions[i, :, :, ch])},
                       {"z": compact(partial[i, :, :, ch])}]
        frames.append(update)
        captions.append(f"<b>dL/dW += dL/dout[{r}, {c}] × patch</b>, dL/dout[{r}, {c}] = "
                        f"<b>{format_value(float(steps.grads[i]))}</b> (window {i + 1} of {n})")
    labels = [f"{i + 1} · [{int(steps.out_rows[i])}, {int(steps.out_cols[i])}]"
              for i in range(n)]
    layout = dict(axes, annotations=notes, height=height, margin=MARGINS)
    return animated(data, layout, frames, [window_trace, cell_trace, *moving], captions,
                    [[] for _ in range(n)], labels, start, frame_ms)
