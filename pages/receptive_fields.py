"""Receptive fields: which input pixels one unit of a layer sees, and how that grows."""

from ui.boot import ensure_app_navigation

ensure_app_navigation()


import re

import streamlit as st

from cnnviz import MODELS, LayerError, ModelError
from ui import compute, state, structure
from ui.urlstate import UrlParam, choice, publish, seed

P = "rf."  # widget-key prefix of this page
CHOICES = (structure.LESSON, *MODELS)
MEAN = "mean"  # channel choice: the mean over channels
AUTO = -1  # unit row/column "the centre of the map"


# --- URL values -----------------------------------------------------------------------------


def _unit_in(h: int, w: int):
    """Parser of "y,x": a unit of an h×w map."""

    def parse(text: str) -> tuple[int, int]:
        parts = text.replace(" ", "").split(",")
        if len(parts) != 2:
            raise ValueError("expected y,x")
        y, x = int(parts[0]), int(parts[1])
        if not (0 <= y < h and 0 <= x < w):
            raise ValueError("outside the map")
        return y, x

    return parse


def _format_unit(unit: tuple[int, int]) -> str:
    return f"{unit[0]},{unit[1]}"


def _channel_in(channels: int):
    def parse(text: str) -> str | int:
        if text == MEAN:
            return MEAN
        value = int(text)
        if not 0 <= value < channels:
            raise ValueError("no such channel")
        return value

    return parse


def _pair(value: tuple[int, ...]) -> str:
    """(3, 3) -> "3"; (7, 5) -> "7×5"."""
    return str(value[0]) if len(set(value)) == 1 else "×".join(str(v) for v in value)


def _default_layer(name: str, names: list[str]) -> str:
    """The middle convolution: conv3 of the lesson (field 7), conv2 of the digits structure."""
    convs = [row["name"] for row in structure.rf_table(name) if row["type"] == "Conv2d"]
    return convs[len(convs) // 2] if convs else names[0]


# --- callbacks: run before the rerun, so the widgets below show the new values ---------------


def _model_changed() -> None:
    name = st.session_state[P + "model"]
    try:
        names = [row["name"] for row in structure.rf_table(name)]
    except ModelError:
        return  # the page shows the error
    st.session_state[P + "layer"] = _default_layer(name, names)
    _layer_changed()


def _layer_changed() -> None:
    st.session_state[P + "unit_y"] = AUTO
    st.session_state[P + "unit_x"] = AUTO
    st.session_state[P + "channel"] = MEAN


def _take_click() -> None:
    """A click on a unit of the map (a point of the invisible marker overlay)."""
    points = st.session_state[P + "map"]["selection"]["points"]
    if points:
        st.session_state[P + "unit_y"] = int(round(points[0]["y"]))
        st.session_state[P + "unit_x"] = int(round(points[0]["x"]))


def _seed(params: list[UrlParam]) -> None:
    """Seed controls from the link in steps (the layers depend on the model, the units on
    the layer); one notice, in ``notice_slot``, names every value the link got wrong."""
    for notice in seed(params, "page"):
        bad_keys.extend(re.findall(r"`([^`]+)`", notice))
    if bad_keys:
        keys = ", ".join(f"`{k}`" for k in bad_keys)
        notice_slot.warning(f"The link had values this page cannot use ({keys}); the "
                            "defaults are shown instead.", icon=":material/link_off:")


# --- the page -------------------------------------------------------------------------------

image = state.current_image()
model_param = UrlParam("model", (P + "model",), structure.LESSON, choice(CHOICES))
bad_keys: list[str] = []

st.title("Receptive fields")
st.markdown(
    "A unit of a convolutional layer looks at a small window of the layer before it, and "
    "each unit of that layer looks at a window of *its* input: so the deeper the layer, the "
    "more input pixels one unit sees. That patch of the input is the unit's **receptive "
    "field**. Two numbers describe it layer by layer: its size *r* and the **jump** *j*, the "
    "distance in input pixels between the fields of two neighbouring units. A layer with "
    "kernel *k*, stride *s* and dilation *d* gives `r_out = r_in + (k−1)·d·j_in` and "
    "`j_out = j_in·s`."
)

lesson_rows = structure.rf_table(structure.LESSON)
steps = " → ".join(
    f"{row['name']} **{_pair(row['rf'])}**"
    + (f" (jump {_pair(row['jump'])})" if row["jump"] != row["jump_in"] else "")
    for row in lesson_rows
)
st.markdown(
    f"**The lesson example.** Three 3×3 convolutions see 3 → 5 → 7 pixels: each adds "
    f"(3−1)·1 = 2. A 2×2 pool then doubles the jump, so every later 3×3 convolution adds "
    f"twice as much. In the lesson network: {steps}."
)

notice_slot = st.empty()
_seed([model_param])
name = st.selectbox(
    "Network", CHOICES, key=P + "model", persist_state="session", on_change=_model_changed,
    format_func=lambda n: f"{n}: {structure.spec(n).description}",
)
try:
    with st.spinner(f"Loading {name}…"):
        structure.model(name)  # loads it, or says why it cannot
        table = structure.rf_table(name)
except (ModelError, LayerError) as err:
    st.error(str(err), icon=":material/error:")
    publish([model_param])
    st.stop()

spec = structure.spec(name)
_, in_h, in_w = spec.input_size
names = [row["name"] for row in table]
layer_param = UrlParam("layer", (P + "layer",), _default_layer(name, names), choice(names))
_seed([layer_param])
if st.session_state[P + "layer"] not in names:  # e.g. a layer of the network shown before
    st.session_state[P + "layer"] = layer_param.default

if name == structure.LESSON:
    st.caption("Every kernel of the lesson network averages its window (all weights 1/9, "
               "pools average too) and there are no activations, so the effective field "
               "below shows the geometry alone.")
elif structure.is_pretrained(name):
    st.badge("trained weights", icon=":material/check_circle:", color="green")
else:
    st.badge("untrained: random weights", icon=":material/warning:", color="orange",
             help="Sizes, jumps and boxes are exact: they depend only on the architecture. "
             "The feature maps and the effective receptive field use these random weights.")

# --- the table and the growth -----------------------------------------------------------------
st.subheader("Layer by layer")
st.dataframe(
    [{"layer": row["name"], "type": row["type"], "kernel": _pair(row["kernel"]),
      "stride": _pair(row["stride"]), "padding": _pair(row["padding"]),
      "dilation": _pair(row["dilation"]), "field in": _pair(row["rf_in"]),
      "jump in": _pair(row["jump_in"]), "field": _pair(row["rf"]), "jump": _pair(row["jump"]),
      "recurrence r_in + (k−1)·d·j_in": row["formula"]} for row in table],
    hide_index=True,
)
st.plotly_chart(structure.growth(name), key=P + "growth")
# Several paths: some layer's input is not the output of the row before it (a skip path).
branched = any(row["rf_in"] != prev["rf"] or row["jump_in"] != prev["jump"]
               for prev, row in zip(table, table[1:]))
if branched or name == "resnet18":
    st.info(
        "This network has several paths: each residual block adds its input back, "
        "F(x) + x, and some blocks take a 1×1 shortcut convolution. A unit after the "
        "addition sees the union of the two paths' fields. The fields here are measured by "
        "autograd on the network's own forward pass (the input gradient of one unit, with all "
        "weights made positive), so skip connections are counted exactly; the recurrence in "
        "each row starts from the field of that layer's actual input, which is why *field "
        "in* is not always the field of the row above.",
        icon=":material/alt_route:",
    )

# --- click a unit -----------------------------------------------------------------------------
st.subheader("Click a unit")
layer_col, channel_col, y_col, x_col = st.columns([2, 1.2, 1, 1])
with layer_col:
    layer = st.selectbox(
        "Layer", names, key=P + "layer", persist_state="session", on_change=_layer_changed,
        format_func=lambda n: f"{n} (field {_pair(table[names.index(n)]['rf'])} px)",
    )
x, picture = structure.model_input(name, image.digest, image.pixels)
maps = structure.layer_output(name, image.digest, x, layer)
channels, out_h, out_w = maps.shape
more = [
    UrlParam("channel", (P + "channel",), MEAN, _channel_in(channels), str),
    UrlParam("unit", (P + "unit_y", P + "unit_x"), (out_h // 2, out_w // 2),
             _unit_in(out_h, out_w), _format_unit),
]
_seed(more)
for key, size in ((P + "unit_y", out_h), (P + "unit_x", out_w)):
    value = int(st.session_state.get(key, AUTO))
    st.session_state[key] = size // 2 if value == AUTO else min(max(value, 0), size - 1)
if st.session_state.get(P + "channel") not in (MEAN, *range(channels)):
    st.session_state[P + "channel"] = MEAN

with channel_col:
    channel = st.selectbox(
        "Map", (MEAN, *range(channels)), key=P + "channel", persist_state="session",
        format_func=lambda c: (f"mean of {channels} channels" if channels > 1 else
                               "the only channel") if c == MEAN else f"channel {c}",
    )
with y_col:
    uy = st.number_input("Unit row (y)", 0, out_h - 1, key=P + "unit_y",
                         persist_state="session")
with x_col:
    ux = st.number_input("Unit column (x)", 0, out_w - 1, key=P + "unit_x",
                         persist_state="session")
uy, ux = int(uy), int(ux)
c = None if channel == MEAN else int(channel)

try:
    box = structure.unit_box(name, layer, uy, ux)
    erf = structure.effective_field(name, image.digest, x, layer, (c, uy, ux))
except LayerError as err:
    st.error(str(err), icon=":material/error:")
    publish([model_param, layer_param, *more])
    st.stop()

row = table[names.index(layer)]
r0, r1, c0, c1 = box
field = row["rf"]
clipped = (r1 - r0, c1 - c0) != tuple(field)
st.markdown(
    f"**unit ({uy}, {ux})** of `{layer}` sees rows {r0}–{r1 - 1} and columns {c0}–{c1 - 1} "
    f"of the {in_h}×{in_w} input: its field is {field[0]}×{field[1]} pixels"
    + (f", cut to {r1 - r0}×{c1 - c0} by the border." if clipped else ".")
)
map_col, input_col, erf_col = st.columns(3)
what = "mean" if c is None else f"channel {c}"
with map_col:
    st.plotly_chart(
        structure.unit_picker(name, image.digest, layer, c, (uy, ux),
                                structure.layer_map(name, image.digest, x, layer, c),
                                f"{layer}: {out_h}×{out_w} ({what})"),
        key=P + "map", on_select=_take_click, selection_mode="points",
    )
    st.caption("Click a unit of the map (or type its row and column above).")
with input_col:
    st.plotly_chart(compute.picture(picture, f"Input the network sees ({in_h}×{in_w})",
                                        box), key=P + "input")
    st.caption("The box: the unit's theoretical receptive field, every pixel that can "
               "change its value.")
    if picture.min() == picture.max():
        st.caption(f"This image gives the {name} network a blank input: its preprocessing "
                   "looks for the ink of one digit and found none. Pick a digit sample or "
                   "draw one in the sidebar; the fields above do not depend on it.")
with erf_col:
    st.plotly_chart(compute.picture(erf, "Effective field |∂unit/∂input|", box,
                                        "relative"), key=P + "erf")
    st.caption(
        "How strongly each pixel moves this unit on the real network (the gradient's size, "
        "1 = the strongest pixel). It fades towards the edges of the box: the centre of a "
        "receptive field is reached by many more paths than its border (Luo et al., 2016)."
    )

publish([model_param, layer_param, *more])
