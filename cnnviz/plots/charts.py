"""Charts: training curves, receptive-field growth, model sizes and history, class
probabilities, channel rankings, the deletion curve, a gradient ascent's objective and a
confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnviz.plots.figure import RawFigure

__all__ = [
    "architecture_timeline",
    "block_diagram",
    "channel_ranking",
    "confusion_figure",
    "deletion_figure",
    "model_sizes",
    "objective_curve",
    "probability_bars",
    "receptive_field_growth",
    "training_curves",
]


# Line and bar colours (Plotly's first colours): red for loss, blue for accuracy and sizes.
LOSS_COLOUR = "#d62728"
TRAIN_COLOUR = "#1f77b4"
HELDOUT_COLOUR = "#2ca02c"
GROWTH_COLOUR = "#1f77b4"
JUMP_COLOUR = "#d62728"
OBJECTIVE_COLOUR = "#1f77b4"


def training_curves(history: Sequence, *, epochs: int | None = None,
                    height: int = 320) -> RawFigure:
    """Loss (left) and accuracy (right) per epoch of a training run.

    history: one record per finished epoch with ``epoch`` (1-based), ``loss`` (mean training
    cross-entropy), ``train_accuracy`` and ``heldout_accuracy`` (0..1), such as
    ``cnnviz.models.training.EpochReport``. epochs: the planned number of epochs; it fixes the x
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


def objective_curve(history: Sequence[float], *, start: float | None = None, title: str = "",
                    height: int = 220, name: str = "objective", first_step: int = 1
                    ) -> RawFigure:
    """The objective of a gradient ascent, step by step (``channels.Synthesis.history``), or
    a loss falling under gradient descent (``name="loss"``, ``first_step=0``: the first value
    is before any step).

    start: the objective of the starting image, drawn as a dashed line.
    """
    values = [round(float(v), 6) for v in history]
    steps = list(range(first_step, first_step + len(values)))
    data = [dict(type="scatter", x=steps, y=values, mode="lines+markers" if first_step == 0
                 else "lines", line=dict(color=OBJECTIVE_COLOUR, width=2), name=name,
                 hovertemplate="step %{x}: %{y:.4g}<extra></extra>")]
    shapes = []
    if start is not None:
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=float(start),
                           y1=float(start), line=dict(color="gray", dash="dash", width=1)))
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), showlegend=False,
        shapes=shapes, xaxis=dict(title=dict(text="step"), rangemode="tozero"),
        yaxis=dict(title=dict(text=name)),
    )
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))


BLOCK_COLOURS = {"expand": "#9ecae1", "depthwise": "#fdae6b", "project": "#a1d99b"}


def block_diagram(shape_in: Sequence[int], parts: Sequence[tuple[str, str, Sequence[int]]],
                  *, skip: bool, title: str = "", height: int = 300) -> RawFigure:
    """A block drawn as boxes left to right: its input, then each part (name, kind, output
    shape (C, H, W)), with arrows, and the skip connection as an arc into a final ⊕ when
    ``skip``. A box's height grows with the square root of its channels, so the expansion
    (24 → 144 channels) reads as a widening, its width with the map side."""
    boxes = [("input", "", tuple(shape_in))] + [(n, k, tuple(sh)) for n, k, sh in parts]
    most = max(b[2][0] for b in boxes)
    shapes, notes = [], []
    gap, x = 1.4, 0.0
    centres = []
    tallest = 0.0
    for i, (name, kind, shape) in enumerate(boxes):
        c = shape[0]
        half_h = 0.4 + 1.6 * (c / most) ** 0.5
        tallest = max(tallest, half_h)
        width = 0.5 + 0.5 * min(shape[1] / max(boxes[0][2][1], 1), 1.0)
        colour = next((v for key, v in BLOCK_COLOURS.items() if name.endswith(key)), "#d9d9d9")
        shapes.append(dict(type="rect", x0=x, x1=x + width, y0=-half_h, y1=half_h,
                           line=dict(color="#444", width=1), fillcolor=colour))
        label = name.rsplit(".", 1)[-1]
        notes.append(dict(x=x + width / 2, y=half_h, yshift=4, yanchor="bottom",
                          text=f"<b>{label}</b>" + (f"<br>{kind}" if kind else ""),
                          showarrow=False, font=dict(size=12)))
        notes.append(dict(x=x + width / 2, y=-half_h, yshift=-4, yanchor="top",
                          text="×".join(str(v) for v in shape), showarrow=False,
                          font=dict(size=12)))
        if i:
            notes.append(dict(x=x, y=0, ax=centres[-1][1], ay=0, xref="x", yref="y",
                              axref="x", ayref="y", text="", showarrow=True, arrowhead=2,
                              arrowwidth=1.5, arrowcolor="#444"))
        centres.append((x, x + width))
        x += width + gap
    if skip:
        end = x - gap + 0.9
        notes.append(dict(x=end, y=0, text="<b>⊕</b>", showarrow=False, font=dict(size=22)))
        notes.append(dict(x=end - 0.2, y=0, ax=centres[-1][1], ay=0, xref="x", yref="y",
                          axref="x", ayref="y", text="", showarrow=True, arrowhead=2,
                          arrowwidth=1.5, arrowcolor="#444"))
        top = tallest + 1.5  # above the two lines of every box's label
        start = (centres[0][0] + centres[0][1]) / 2
        shapes.append(dict(type="path", path=f"M {start},{top - 1.0} L {start},{top} "
                           f"L {end},{top} L {end},0.25", line=dict(color="#d62728", width=2)))
        notes.append(dict(x=(start + end) / 2, y=top, yshift=4, yanchor="bottom",
                          text="skip: the block's input is added", showarrow=False,
                          font=dict(size=12, color="#d62728")))
        x = end + 0.6
    hidden = dict(visible=False, fixedrange=True)
    layout = dict(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                  shapes=shapes, annotations=notes, showlegend=False,
                  xaxis=dict(range=[-0.4, x], **hidden),
                  yaxis=dict(range=[-tallest - 0.8, tallest + 2.2], **hidden),
                  plot_bgcolor="white")
    if title:
        layout["title"] = dict(text=title, x=0.01, font=dict(size=14))
    return RawFigure(dict(data=[], layout=layout))


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], *, title: str = "",
                     height: int | None = None) -> RawFigure:
    """A confusion matrix: row = the true class (top to bottom in ``class_names`` order),
    column = the class the network said; each cell shows its count, and the diagonal (right
    answers) is what a good network fills. Shading is the share of the row."""
    counts = np.asarray(confusion, dtype=np.int64)
    n = len(class_names)
    names = [str(c) if len(str(c)) <= 14 else str(c)[:13] + "…" for c in class_names]
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    data = [dict(type="heatmap", z=share.round(4).tolist(), x=names, y=names,
                 text=counts.tolist(), texttemplate="%{text}", textfont=dict(size=14),
                 customdata=counts.tolist(), zmin=0, zmax=1, colorscale="Blues",
                 showscale=False, xgap=2, ygap=2,
                 hovertemplate="true %{y}, said %{x}: %{customdata} "
                 "(%{z:.0%} of the row)<extra></extra>")]
    layout = dict(
        height=height or 120 + 44 * n, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(type="category", title=dict(text="what the network said"), side="bottom",
                   automargin=True),
        yaxis=dict(type="category", title=dict(text="true class"), autorange="reversed",
                   automargin=True),
    )
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return RawFigure(dict(data=data, layout=layout))
