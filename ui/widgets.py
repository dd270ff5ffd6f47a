"""Controls the pages share, drawn from their declarations.

- **Declared controls.** ``number``, ``select``, ``segmented``, ``select_slider``, ``slider``,
  ``toggle`` and ``multiselect`` draw the widget of a ``UrlParam``: its session key, its
  bounds and its options come from the declaration, so they are written once.
- **Network pages.** The model picker and its trained/untrained badge, the channel box.
- **Playground pages.** The pixel controls, the zoom box, the step controls, the formula of
  impossible settings.
- **Predictions.** The top-3 bars of a model on the current image.
"""

from __future__ import annotations

import base64
import functools
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from torch import nn

from cnnviz import (
    MODELS,
    OUTPUT_SIZE_FORMULA,
    ImageError,
    LayerError,
    LayerStep,
    ModelError,
    ModelSpec,
    ensure_rgb,
    to_gray,
)
from ui.cache import models, networks
from ui.cache.predictions import TOP_K, top_classes
from ui.catalog import PageInfo
from ui.state import CurrentImage
from ui.urlstate import (
    Link,
    UrlParam,
    choice_param,
    format_pair,
    int_param,
    one_of,
    pair_param,
)

__all__ = [
    "AUTO",
    "SPEEDS",
    "WHOLE_OUTPUT_CELLS",
    "ZOOM_SIZES",
    "NetworkControls",
    "channel_box",
    "choose_region",
    "display_pixels",
    "model_label",
    "model_param",
    "model_picker",
    "multiselect",
    "number",
    "pixel_controls",
    "progress_bar",
    "region_text",
    "segmented",
    "select",
    "select_slider",
    "show_formula_inputs",
    "shape_text",
    "show_top",
    "top_k",
    "image_grid",
    "kernel_alt",
    "known_classes_note",
    "slice_names",
    "slider",
    "step_controls",
    "step_params",
    "toggle",
    "weights_badge",
]

Where = object  # st, a column or a container: anything with Streamlit's widget methods


# --- declared controls --------------------------------------------------------------------


def number(param: UrlParam, label: str, where: Where = st, *, index: int = 0, **kwargs):
    """A number input over ``param.bounds`` for widget ``index`` of ``param``."""
    lo, hi = param.bounds
    return where.number_input(label, lo, hi, key=param.widgets[index], persist_state="session",
                              **kwargs)


def slider(param: UrlParam, label: str, where: Where = st, **kwargs):
    lo, hi = param.bounds
    return where.slider(label, lo, hi, key=param.widget, persist_state="session", **kwargs)


def select(param: UrlParam, label: str, where: Where = st, **kwargs):
    """A select box over ``param.options``."""
    return where.selectbox(label, param.options, key=param.widget, persist_state="session",
                           **kwargs)


def segmented(param: UrlParam, label: str, where: Where = st, **kwargs):
    """A segmented control over ``param.options``, one always chosen."""
    return where.segmented_control(label, param.options, key=param.widget, required=True,
                                   persist_state="session", **kwargs)


def select_slider(param: UrlParam, label: str, where: Where = st, **kwargs):
    return where.select_slider(label, param.options, key=param.widget,
                               persist_state="session", **kwargs)


def multiselect(param: UrlParam, label: str, where: Where = st, **kwargs):
    return where.multiselect(label, param.options, key=param.widget, persist_state="session",
                             **kwargs)


def toggle(param: UrlParam, label: str, where: Where = st, **kwargs):
    return where.toggle(label, key=param.widget, persist_state="session", **kwargs)


# --- the network pages ------------------------------------------------------------------------


def model_label(name: str) -> str:
    found = models.own(name)
    if found is not None:
        return found.label
    c, h, w = MODELS[name].input_size
    return f"{name} · {'grey' if c == 1 else 'RGB'} {h}×{w}"


def model_param(page: PageInfo, default: str = "digits") -> UrlParam:
    """The ``model`` URL key of a network page: any registry model, or one of this session's
    own networks (``ui.cache.models.names``)."""
    return choice_param("model", page.key("model"), default, models.names())


def model_picker(param: UrlParam, on_change: Callable[[], None] | None = None,
                 where: Where = st) -> str:
    return select(param, "Model", where, format_func=models.labeller(param.options, model_label),
                  on_change=on_change,
                  help="digits and shapes ship trained with the app; lenet5 and the ImageNet "
                  "classics run with random weights unless their weights are available.")


@dataclass
class NetworkControls:
    """The model, layer and channel (or filter) controls of a network page, and what changes
    with the model: its layers, and the controls ``more(name)`` declares."""

    page: PageInfo
    default_model: str
    default_layer: Callable[[str], str]  # model name -> the layer the page opens on
    layers: Callable[[str], Sequence[str]]  # model name -> the layers to choose from
    unit: str = "channel"  # the URL key of the channel box: "channel", or "filter"
    more: Callable[[str], list[UrlParam]] = field(default=lambda name: [])
    follows_model: tuple[str, ...] = ()  # URL keys of ``more`` reset to the new model's default
    model: UrlParam = field(init=False)
    layer: UrlParam = field(init=False)
    channel: UrlParam = field(init=False)  # the channel (or filter) box

    def seed(self, link: Link) -> list[UrlParam]:
        """Seed the model from the link, then the layer, unit and ``more`` of that model;
        returns ``more``'s params."""
        self.model = model_param(self.page, self.default_model)
        link.seed([self.model])
        name = st.session_state[self.model.widget]
        self.layer = choice_param("layer", self.page.key("layer"), self.default_layer(name),
                                  tuple(self.layers(name)))
        self.channel = int_param(self.unit, self.page.key(self.unit), 0, 0, 4095)
        link.seed([self.layer, self.channel])
        return link.seed(self.more(name))

    def picker(self, where: Where = st) -> str:
        """The model picker; a new model starts on its default layer and unit 0."""
        return model_picker(self.model, on_change=self._model_changed, where=where)

    def _model_changed(self) -> None:
        name = st.session_state[self.model.widget]
        try:
            st.session_state[self.layer.widget] = self.default_layer(name)
            fresh = {p.widget: p.default for p in self.more(name) if p.key in self.follows_model}
        except (ModelError, LayerError):
            return  # the page shows the error
        st.session_state[self.channel.widget] = 0
        st.session_state.update(fresh)

    def layer_picker(self, name: str, label: str, where: Where = st,
                     steps: Sequence[LayerStep] = (), **kwargs) -> str:
        """The layer select box over ``layers(name)``, each layer with its kind and output
        shape when ``steps`` are given; a layer of another model (kept in the session) gives
        way to the default first."""
        options = tuple(self.layers(name))
        if st.session_state[self.layer.widget] not in options:
            st.session_state[self.layer.widget] = self.default_layer(name)
        if steps:
            by_name = {s.name: s for s in steps}
            kwargs.setdefault("format_func", lambda n: f"{n} · {by_name[n].kind} · "
                              f"{shape_text(by_name[n].output_shape)}")
        return where.selectbox(label, options, key=self.layer.widget, persist_state="session",
                               **kwargs)


def shape_text(shape: Sequence[int] | None) -> str:
    """(16, 14, 14) -> "16×14×14"; None -> "—"."""
    return "—" if shape is None else "×".join(str(v) for v in shape)


def slice_names(name: str, layer: str, slices: int) -> list[str] | None:
    """Names of a kernel's input slices: R, G, B (or grey) for a first-layer kernel of model
    ``name``, which meets the image's channels; None (numbered) for a deeper one."""
    if layer != networks.conv_layers(name)[0]:
        return None
    if slices == 3 and models.spec(name).input_size[0] == 3:
        return ["R", "G", "B"]
    return ["grey"] if slices == 1 else None


def progress_bar(text: str) -> tuple[object, Callable[[int, int, float], None]]:
    """A progress bar for a run of steps and its ``report(step, total, value)``, which moves
    it about 50 times whatever the number of steps."""
    bar = st.progress(0.0, text=text)

    def report(step: int, total: int, value: float) -> None:
        if step % max(1, total // 50) == 0 or step == total:
            bar.progress(step / total, text=f"Step {step} of {total} · objective {value:.4g}")

    return bar, report


def channel_box(param: UrlParam, channels: int, where: Where = st) -> int:
    """The channel number box of a layer with ``channels`` channels. A value kept from another
    layer or model is brought into range first, so the box never sees one it cannot show."""
    key = param.widget
    st.session_state[key] = min(max(int(st.session_state[key]), 0), channels - 1)
    return int(where.number_input(f"Channel (0–{channels - 1})", 0, channels - 1, key=key,
                                  persist_state="session"))


def weights_badge(net: nn.Module, untrained_help: str | None = None) -> bool:
    """The trained / untrained badge, as on the Models page. Returns True when trained."""
    if getattr(net, "cnnviz_pretrained", False):
        st.badge("trained weights", icon=":material/check_circle:", color="green")
        return True
    st.badge("untrained: random weights", icon=":material/warning:", color="orange",
             help=untrained_help or "The layers, shapes and sizes are those of the real "
             "network; its weights are random, so its maps and answers show no learned pattern.")
    return False


# --- the playground pages (Convolution, Pooling) ------------------------------------------

#: Outputs up to this many cells are stepped through whole; larger ones through a zoom box.
WHOLE_OUTPUT_CELLS = 32 * 32
ZOOM_SIZES = (4, 6, 8, 12, 16)
SPEEDS = {"slow": 1200, "normal": 600, "fast": 250, "very fast": 80}  # ms per step
AUTO = -1  # zoom position "centre of the output"
MAX_ZOOM_POSITION = 100_000
MAX_STEP = 100_000


def step_params(page: PageInfo) -> list[UrlParam]:
    """The zoom box, the step and the speed: the same URL keys on both playground pages."""
    return [
        pair_param("zoom", (page.key("zoom_r"), page.key("zoom_c")), (AUTO, AUTO), 0,
                   MAX_ZOOM_POSITION),
        UrlParam("zoom_size", (page.key("zoom_size"),), 8, one_of(ZOOM_SIZES, int),
                 options=ZOOM_SIZES),
        int_param("step", page.key("step"), 1, 1, MAX_STEP),
        choice_param("speed", page.key("speed"), "normal", tuple(SPEEDS)),
    ]


def pixel_controls(gray: UrlParam, scale: UrlParam, gray_help: str) -> None:
    """The grayscale toggle and the 0-1 / 0-255 choice, the same on both playground pages."""
    toggle(gray, "Grayscale (one channel)", help=gray_help)
    segmented(scale, "Pixel values", format_func={"unit": "0 – 1", "raw": "0 – 255"}.get)


def image_grid(tiles: Sequence[tuple[bytes, str, str]], columns: int, where: Where = st) -> None:
    """Small PNG pictures in a grid, as one HTML element: (png, caption, text alternative)
    each. One element instead of one st.image per tile (and its columns): the strip of a
    network's 20 layers costs a rerun about 1 ms instead of 25."""
    where.html(_grid_html(tuple(tiles), int(columns)))


@functools.lru_cache(maxsize=8)  # the same tiles (kept bytes objects) on the next rerun
def _grid_html(tiles: tuple[tuple[bytes, str, str], ...], columns: int) -> str:
    cells = "".join(
        f'<figure style="margin:0"><img src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}" alt="{html.escape(alt)}" style="width:100%;'
        f'image-rendering:pixelated;display:block"><figcaption style="font-size:0.8rem;'
        f'text-align:center;overflow-wrap:anywhere">{html.escape(caption)}</figcaption>'
        "</figure>" for png, caption, alt in tiles)
    return (f'<div style="display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));'
            f'gap:0.75rem">{cells}</div>')


def kernel_alt(what: str, weights, max_slices: int = 16) -> str:
    """A text alternative for ``kernel_slices`` of one filter's weights (C, kh, kw)."""
    c, kh, kw = weights.shape
    return (f"{what}: {c} slice{'s' if c > 1 else ''} of {kh}×{kw} weights"
            + (f", the first {max_slices} drawn" if c > max_slices else "")
            + ", red positive and blue negative")


def region_text(region: tuple[int, int, int, int]) -> str:
    """A half-open (row0, row1, col0, col1) box in words: "rows 3 to 7, columns 0 to 4"."""
    r0, r1, c0, c1 = region
    return f"rows {r0} to {r1 - 1}, columns {c0} to {c1 - 1}"


def choose_region(params: list[UrlParam], out_h: int, out_w: int, what: str = "output"
                  ) -> tuple[int, int, int, int]:
    """The cells of ``what`` (the output; the input, for stamps) to step through: all of a
    small one, or a zoom box (``params``: ``step_params``)."""
    zoom, zoom_size = params[0], params[1]
    if out_h * out_w <= WHOLE_OUTPUT_CELLS:
        st.caption(f"The {what} is small ({out_h}×{out_w}), so the step-through covers all "
                   "of it.")
        return (0, out_h, 0, out_w)
    c1, c2, c3 = st.columns([1, 2, 2])
    size = select(zoom_size, f"Zoom box ({what} cells)", c1, format_func=lambda s: f"{s}×{s}",
                  help="Stepping over every pixel of a big image teaches nothing: choose a "
                  f"small box of the {what} to step through.")
    size_h, size_w = min(size, out_h), min(size, out_w)
    max_r, max_c = out_h - size_h, out_w - size_w
    row_key, col_key = zoom.widgets
    for key, top, centre in ((row_key, max_r, max_r // 2), (col_key, max_c, max_c // 2)):
        current = st.session_state.get(key, AUTO)
        st.session_state[key] = centre if current == AUTO else min(max(int(current), 0), top)
    r = c2.slider(f"Zoom box: first {what} row", 0, max(max_r, 1), key=row_key,
                  persist_state="session", disabled=max_r == 0)
    c = c3.slider(f"Zoom box: first {what} column", 0, max(max_c, 1), key=col_key,
                  persist_state="session", disabled=max_c == 0)
    r, c = min(r, max_r), min(c, max_c)
    return (r, r + size_h, c, c + size_w)


def display_pixels(pixels: np.ndarray, gray: bool) -> np.ndarray:
    """What the input picture shows: the image, or its grayscale version."""
    return ensure_rgb(to_gray(pixels)) if gray else pixels


def step_controls(params: list[UrlParam], n: int) -> tuple[int, int]:
    """Step number (its +/- buttons step forward and back) and playback speed (``params``:
    ``step_params``). Returns (0-based start step, milliseconds per frame)."""
    step, speed = params[2], params[3]
    key = step.widget
    st.session_state[key] = min(max(int(st.session_state.get(key, 1)), 1), n)
    c1, c2, c3 = st.columns([1, 1, 3])
    chosen = c1.number_input(f"Step (1–{n})", 1, n, key=key, persist_state="session",
                             help="Use − and + to step back and forward; ▶ Play below runs "
                             "the animation in your browser.")
    pace = select(speed, "Speed", c2)
    c3.caption("▶ Play and the slider under the figure animate in the browser; the step "
               "box opens the figure at that step.")
    return int(chosen) - 1, SPEEDS[pace]


def show_formula_inputs(h, w, kh, kw, stride, padding, dilation) -> None:
    """When the settings are impossible, still show the formula and what went in."""
    st.markdown(
        f"Formula: `{OUTPUT_SIZE_FORMULA}` with n = {h}×{w}, k = {kh}×{kw}, "
        f"s = {format_pair(stride)}, p = {padding}, d = {format_pair(dilation)}."
    )


# --- predictions ----------------------------------------------------------------------------


def top_k(spec: ModelSpec) -> int:
    """How many classes a page lists: 5 for an ImageNet network (its neighbours, "tiger cat"
    next to "tabby", are part of the answer), 3 otherwise."""
    return 5 if len(spec.class_names) >= 100 else TOP_K


def known_classes_note(spec: ModelSpec) -> str:
    """A sentence for under a network's guesses: what it can name at all."""
    n = len(spec.class_names)
    if n == 1000:
        return (" It knows the 1,000 ImageNet classes only (animals, objects, food, vehicles; "
                "there is no class for a person): anything else gets the closest of those.")
    return f" It knows {n} classes only: {', '.join(spec.class_names)}." if n <= 10 else ""


def show_top(model: str | nn.Module, image: CurrentImage | np.ndarray, k: int = TOP_K) -> None:
    """Draw the model's ``k`` most likely classes for ``image`` with their probabilities.

    model: a registry name or a session-trained module (``ui.cache.predictions``).
    image: the current image, or uint8 (H, W, 3) pixels.
    """
    try:
        top = top_classes(model, image, k)
    except (ModelError, ImageError, ValueError) as err:
        st.error(f"No prediction. {err}", icon=":material/error:")
        return
    if len({p for _, p in top}) == 1:
        st.caption("Nothing to classify: after the network's preprocessing the image is "
                   "blank, so every class gets the same probability.")
    for label, p in top:
        st.progress(min(max(p, 0.0), 1.0), text=f"**{label}** · {p:.1%}")
