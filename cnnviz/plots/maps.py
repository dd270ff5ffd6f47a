"""Pictures of what a network holds: maps as mosaics (Overview, Feature maps), a map to click
a unit on (Receptive fields), filters and kernels (Filters, Training), heat maps (Grad-CAM)
and image patches (What a channel detects). Maps are red-blue around 0 (``MAPS_SCALE``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnviz.plots.figure import (
    HIGHLIGHT,
    MAPS_SCALE,
    Box,
    RawFigure,
    axis_name,
    axis_ref,
    box_path,
    colour_lut,
    heatmap,
    on_axes,
    picture,
    picture_cell,
    picture_grid_figure,
    png_uri,
    scale_stops,
    subplot_grid,
)

__all__ = [
    "LAYER_KINDS",
    "MAX_PICK_SIDE",
    "MOSAIC_GAP_RGB",
    "filter_grid",
    "heat_picture",
    "hot_spot_text",
    "kernel_slices",
    "map_mosaic",
    "maps_figure",
    "network_figure",
    "patch_grid",
    "unit_picker",
    "vector_grid",
]


#: A map with more units than this along a side gets a click marker on every k-th unit only,
#: k = ceil(side / MAX_PICK_SIDE), which keeps the figure small (VGG-16's first maps are
#: 224×224); any unit can still be chosen by number.
MAX_PICK_SIDE = 112


def hot_spot_text(values: np.ndarray) -> str:
    """Where a heat map (h, w) is strongest, in words for a text alternative: "strongest at
    the top left (row 2, column 3 of 14×14); 9% of its cells above half the peak"."""
    values = np.asarray(values, dtype=np.float64)
    h, w = values.shape
    peak = float(values.max()) if values.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return "no positive values anywhere"
    r, c = np.unravel_index(int(np.argmax(values)), values.shape)
    vertical = ("top", "middle", "bottom")[min(3 * r // h, 2)]
    horizontal = ("left", "centre", "right")[min(3 * c // w, 2)]
    where = "centre" if (vertical, horizontal) == ("middle", "centre") else \
        f"{vertical} {horizontal}".replace("middle ", "").replace(" centre", "")
    share = float((values > peak / 2).mean())
    amount = "under 1%" if share < 0.005 else f"{share:.0%}"
    return (f"strongest at the {where} (row {r}, column {c} of {h}×{w}); {amount} of its "
            "cells above half the peak")


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
    axes, cells, notes = subplot_grid([1.0] * cols, rows, set(), titles, h_space=0.02,
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
                             "RGB %{z}<extra></extra>", **on_axes(k)))
        else:
            f = w[i, 0] if channels == 1 else w[i].mean(axis=0)  # (kh, kw)
            m = float(np.abs(f).max()) or 1.0
            data.append(heatmap(f, k, colorscale="RdBu_r", zmin=-m, zmax=m, show_text=False,
                                 name=f"filter {i}"))
        picture_cell(axes, k, (0, kh), (0, kw), showline=False)
    return picture_grid_figure(data, axes, notes, cells, n, rows, cols,
                                body_px=rows * cell_px + 40, top=20, title=title)


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
    axes, cells, notes = subplot_grid([1.0] * cols, rows, set(),
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
        data.append(heatmap(k[i], cell, colorscale=MAPS_SCALE, zmin=-mi, zmax=mi,
                             show_text=show_text, name=names[i]))
        picture_cell(axes, cell, (0, kh), (0, kw))
    data.append(_scale_bar(None if own_scale else m, "weight", **on_axes(1)))
    per_cell = cell_px if cols <= 3 else max(70, cell_px * 3 // cols)
    return picture_grid_figure(data, axes, notes, cells, n, rows, cols,
                                body_px=rows * per_cell + 40, top=30, title=title)


#: Colour of the gaps between the tiles of a mosaic: a grey, which neither end nor the white
#: middle of the red-blue scale uses.
MOSAIC_GAP_RGB = (175, 175, 175)
MOSAIC_GAP_PX = 1
#: Maps smaller than this (pixels) are zoomed by a whole factor in a mosaic, so the one-pixel
#: gaps between tiles stay thin beside them.
MOSAIC_MIN_TILE = 48


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
    lut = colour_lut(MAPS_SCALE)
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
    rgb = colour_lut(MAPS_SCALE)[index.astype(np.uint8)]
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
                marker=dict(colorscale=scale_stops(MAPS_SCALE), cmin=-m, cmax=m, color=[-m],
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
        dict(type="image", source=png_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"),
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


#: Height of a column title in the overview (four lines at 10 px), and of a group's label
#: over a run of columns ("stage 4"), in pixels.
TITLE_PX, GROUP_LABEL_PX = 58, 18
#: The tints of alternate groups, so neighbouring stages stay apart.
GROUP_TINTS = ("rgba(99, 110, 250, 0.10)", "rgba(0, 150, 136, 0.10)")


def _group_bands(groups: Sequence[str], per_row: int, cells: dict, axes: dict, *,
                 title_px: int, fig_h: int) -> tuple[list[dict], list[dict]]:
    """A tinted band behind each run of neighbouring columns of one group (a network's
    stage), on each row it spans, with the group's name over it: (shapes, annotations)."""
    shapes: list[dict] = []
    labels: list[dict] = []
    runs: list[tuple[str, int, int]] = []  # (group, first column, last column)
    for i, group in enumerate(groups):
        if group and runs and runs[-1][0] == group and runs[-1][2] == i - 1 \
                and i % per_row != 0:
            runs[-1] = (group, runs[-1][1], i)
        elif group:
            runs.append((group, i, i))
    for n, (group, first, last) in enumerate(runs):
        row = first // per_row
        x0 = axes[axis_name("x", cells[(row, first % per_row)])]["domain"][0]
        x1 = axes[axis_name("x", cells[(row, last % per_row)])]["domain"][1]
        y0, y1 = axes[axis_name("y", cells[(row, first % per_row)])]["domain"]
        top = y1 + title_px / fig_h
        pad = 0.004
        shapes.append(dict(type="rect", xref="paper", yref="paper", x0=x0 - pad, x1=x1 + pad,
                           y0=y0 - pad, y1=top, layer="below", line=dict(width=0),
                           fillcolor=GROUP_TINTS[n % len(GROUP_TINTS)]))
        labels.append(dict(text=f"<b>{group}</b>", x=(x0 + x1) / 2, y=top, xref="paper",
                           yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                           font=dict(size=11)))
    return shapes, labels


def network_figure(columns: Sequence, limits: Sequence[np.ndarray], *, shown: int = 8,
                   shared_limit: float | None = None, per_row: int = 12, tile_px: int = 64,
                   tile_height_px: int = 62) -> RawFigure:
    """The whole network at a glance: one column per layer, its first `shown` maps stacked
    top to bottom (a vector: its values as a grid of cells), wrapped into rows of at most
    `per_row` columns.

    columns: objects with ``name``, ``kind``, ``values`` (float (C, h, w) or (n,)) and
    ``shape`` (optionally a short ``title``, and a ``group``: neighbouring columns of one
    group, such as EfficientNet's stages, share a tinted band with the group's name over
    it), such as ``cnnviz.network.layers.LayerOutput``.
    limits: per column, the colour
    limit of each drawn map (a vector: one), from ``layers.color_limits``.
    shared_limit: the one limit of every map (real values on the colour bar) or None
    (relative colour bar). A click on a map selects a point whose ``customdata`` is
    [column index, channel] (channel -1 for a vector cell).
    """
    n = len(columns)
    rows = -(-n // per_row)
    per_row = -(-n // rows)  # balanced rows: 13 columns make 7 + 6, not 12 + 1
    groups = [getattr(col, "group", "") for col in columns]
    band_px = GROUP_LABEL_PX if any(groups) else 0
    row_px = shown * tile_height_px + 80 + band_px
    fig_h = rows * row_px + 20
    titles = {}
    for i, col in enumerate(columns):
        shape = "×".join(str(s) for s in col.shape)
        more = f"<br>{shown} of {col.shape[0]}" if (
            col.values.ndim == 3 and col.shape[0] > shown) else "<br> "
        kind = LAYER_KINDS.get(col.kind, col.kind.split(" · ")[0])  # "Conv 3×3 /2 · BN · ..."
        title = getattr(col, "title", col.name)
        titles[(i // per_row, i % per_row)] = f"<b>{title}</b><br>{kind}<br>{shape}{more}"
    axes, cells, notes = subplot_grid([1.0] * per_row, rows, set(), titles, h_space=0.012,
                               v_space=(80 + band_px) / fig_h if rows > 1 else 0.0)
    for note in notes:
        note.update(font=dict(size=10), yshift=2)
    bands, labels = _group_bands(groups, per_row, cells, axes, title_px=TITLE_PX, fig_h=fig_h)
    notes += labels
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
        data.append(dict(type="image", source=png_uri(rgb), x0=0, y0=0, dx=1, dy=1,
                         hoverinfo="skip", **on_axes(k)))
        data.append(_pick_markers(xs, ys, size, text, custom, **on_axes(k)))
        hidden = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="",
                      constrain="domain")
        axes[axis_name("x", k)].update(range=[-0.5, w - 0.5], **hidden)
        # Every column spans the height of `shown` tiles of its own width, so tiles look the
        # same size in every column; short ones (the input, a pooled 1×1 map) sit at the top.
        span = max(h, round(w * shown * (1 + MOSAIC_GAP_PX / max(w, 1))))
        axes[axis_name("y", k)].update(range=[span - 0.5, -0.5], autorange=False,
                                        scaleanchor=axis_ref("x", k), **hidden)
    for i in range(n, rows * per_row):  # empty cells of the last row
        k = cells[(i // per_row, i % per_row)]
        axes[axis_name("x", k)]["visible"] = False
        axes[axis_name("y", k)]["visible"] = False
    data.append(_scale_bar(shared_limit, "value" if shared_limit else "relative", **on_axes(1)))
    layout = dict(axes, annotations=notes, shapes=bands, showlegend=False, height=fig_h,
                  margin=dict(l=5, r=5, t=70 + band_px, b=5), hovermode="closest",
                  clickmode="event+select", dragmode=False)
    return RawFigure(dict(data=data, layout=layout))


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


#: The two greys of the checkerboard that marks pixels outside the image in a patch.
OUTSIDE_RGB = ((205, 205, 205), (160, 160, 160))
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
    axes, cells, notes = subplot_grid([1.0] * cols, rows, set(),
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
        data.append(dict(type="image", source=png_uri(rgb), x0=c0, y0=r0, dx=1, dy=1,
                         name=titles[i], hovertemplate="pixel (row %{y}, col %{x})"
                         "<extra></extra>", **on_axes(cell)))
        xs, ys = box_path((r0, r0 + h, c0, c0 + w))  # a frame: white ink meets white paper
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip",
                         line=dict(color=PATCH_FRAME, width=1), showlegend=False, **on_axes(cell)))
        picture_cell(axes, cell, (r0, r0 + h), (c0, c0 + w))
    return picture_grid_figure(data, axes, notes, cells, k, rows, cols,
                                body_px=rows * cell_px + 30, top=30, title=title)
